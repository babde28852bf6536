#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# eptctl run in the Bochs (VMX) lane, guest side: what the QEMU lane's
# cases.sh cannot do there, guests run through RUN. The tools/ctl/guests
# binaries are in the payload. Same markers and same host judge
# (selftests/ctl/check.py --cases cases-vmx.sh), expected/vmx-*; nothing
# here depends on the CPU model beyond VMX with EPT and unrestricted guest.
E=./eptctl
[ -x "$E" ] || { echo "eptctl-cases: no ./eptctl"; exit 1; }

t() {	# NAME ARGS...: run eptctl ARGS
	name=$1
	shift
	"$E" "$@" >/tmp/ctl.out 2>/tmp/ctl.err
	rc=$?
	{
		echo "# eptctl-case $name"
		sed 's/^/# eptctl-out |/' /tmp/ctl.out
		sed 's/^/# eptctl-err |/' /tmp/ctl.err
		echo "# eptctl-rc $rc"
	} >>"$RESULT"
}

CODE="map --gpa 0x1000 --size 4k --perm rx"
t vmx-run-hello $CODE -- load --gpa 0x1000 hello.bin -- run --entry 0x1000 -- stats
t vmx-run-hello-json -j $CODE -- load --gpa 0x1000 hello.bin -- run --entry 0x1000 -- stats
t vmx-run-hello16 $CODE -- load --gpa 0x1000 hello16.bin -- run --entry 0x1000 --mode real
t vmx-run-no-console $CODE -- load --gpa 0x1000 hello.bin -- run --entry 0x1000 --no-console
t vmx-run-add-until $CODE -- load --gpa 0x1000 add.bin -- \
	run --entry 0x1000 --reg rbx=2 --reg rcx=3 --reg rsi=0x10 --until hlt
t vmx-run-add-until-json -j $CODE -- load --gpa 0x1000 add.bin -- \
	run --entry 0x1000 --reg rbx=2 --reg rcx=3 --reg rsi=0x10 --until hlt
t vmx-run-ud2 $CODE -- load --gpa 0x1000 ud2.bin -- run --entry 0x1000
t vmx-run-ud2-guest-exc $CODE -- load --gpa 0x1000 ud2.bin -- run --entry 0x1000 --guest-exc
t vmx-run-fetch-unmapped $CODE -- run --entry 0x5000
t vmx-run-write-ro $CODE -- map --gpa 0x2000 --size 4k --perm r -- \
	load --gpa 0x1000 pattern.bin -- \
	run --entry 0x1000 --reg rax=7 --reg rcx=4 --reg rdi=0x2000
t vmx-run-pattern-json -j $CODE -- map --gpa 0x2000 --size 4k --perm rw -- \
	load --gpa 0x1000 pattern.bin -- \
	run --entry 0x1000 --reg rax=7 --reg rcx=4 --reg rdi=0x2000 -- stats
t vmx-run-timeout $CODE -- load --gpa 0x1000 loop.bin -- run --entry 0x1000 --timeout 20
t vmx-run-until-fails $CODE -- load --gpa 0x1000 ud2.bin -- run --entry 0x1000 --until vmcall
t vmx-run-until-fails-json -j $CODE -- load --gpa 0x1000 ud2.bin -- run --entry 0x1000 --until vmcall
t vmx-run-bad-cr3 $CODE -- run --entry 0x1000 --mode long64 --cr3 0x1001
exit 0
