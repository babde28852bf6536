#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/kvm-diff/lane.sh            (what `make kvm-diff` runs)
#
# The differential lane, Intel half: KVM is the oracle for RUN. On the host,
# gen.py makes N random guest programs (a third each in real, prot32 and
# long64 mode, each with its own memory map) from SEED and assembles them;
# kvm_diff runs every one on KVM (kvm_intel) and on ept_pmap's RUN in one
# Bochs boot and compares the two records exit by exit and the memory they
# leave (see kvm_diff.c). Afterwards, for each program reported in full,
# this prints its disassembly (objdump, on the host).
#
# Environment:
#   SEED=S      replay: program i has seed S + i (default: a random SEED,
#               printed); SEED=<a program's seed> N=1 replays that program
#   N=2100      number of programs (a third per mode)
#   FPU_LIVE=1  SSE/x87 values live across exits (gen.py --fpu-live; 0 to
#               leave that part of the mix out)
#   CPU=corei7_skylake_x   Bochs CPU model; KVER: the guest kernel (newest 6.1)
#   VERBOSE=5   programs reported in full
#
# Exit status: 0 when the run completed and nothing diverged, 1 otherwise,
# 4 when the lane cannot run here (no Bochs, no 6.1 kernel): scripts/check.sh
# reports that as SKIP.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"

seed=${SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) ))}
n=${N:-2100}
cpu=${CPU:-corei7_skylake_x}
verbose=${VERBOSE:-5}
genopt=
[ "${FPU_LIVE:-1}" = 0 ] && genopt=--no-fpu-live
case $seed$n$verbose in
*[!0-9]*) echo "kvm-diff: SEED, N and VERBOSE take numbers" >&2; exit 2 ;;
esac

if ! command -v bochs >/dev/null; then
	echo "kvm-diff: SKIP: no bochs (apt-get install bochs bochsbios vgabios)"
	exit 4
fi
kver=${KVER:-$(bash selftests/vm/kernels.sh 2>/dev/null | grep '^6\.1\.' | tail -n 1)}
if [ -z "$kver" ]; then
	echo "kvm-diff: SKIP: no 6.1 kernel with headers"
	exit 4
fi

t0=$SECONDS
work=$top/build/kvm-diff
payload=$work/payload
log=$work/log
rm -rf "$work"
mkdir -p "$payload" "$log"

echo "kvm-diff: SEED=$seed N=$n FPU_LIVE=${FPU_LIVE:-1} on $kver, Bochs $cpu"
python3 "$here/gen.py" --seed "$seed" --count "$n" --out "$work" $genopt || exit 1
make -s KVER="$kver" module 2>&1 | grep -v 'Skipping BTF'
[ -f ept_pmap.ko ] || { echo "kvm-diff: FAIL: ept_pmap.ko did not build"; exit 1; }
${CC:-cc} -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude/uapi \
	-o "$payload/kvm_diff" "$here/kvm_diff.c" || exit 1
cp ept_pmap.ko "$work/progs.bin" "$work/progs.txt" "$payload/"
cat >"$payload/run.sh" <<RUN
#!/bin/sh
insmod /payload/ept_pmap.ko || exit 1
modprobe kvm_intel || { echo "kvm-diff: modprobe kvm_intel failed" >"\$RESULT"; exit 1; }
p=/sys/module/kvm_intel/parameters
echo "# \$(uname -r), Bochs $cpu; kvm_intel ept=\$(cat \$p/ept) unrestricted_guest=\$(cat \$p/unrestricted_guest)" >"\$RESULT"
grep -H . /sys/kernel/mm/transparent_hugepage/enabled >"\$RESULT"
# 1 is a divergence, reported in the result log; 2 a setup failure
/payload/kvm_diff -v $verbose /payload/progs.bin /payload/progs.txt >"\$RESULT" 2>&1
[ \$? -le 1 ]
RUN
chmod +x "$payload/run.sh"
gen_s=$((SECONDS - t0))

rc=0
bash selftests/bochs/run-bochs.sh --kver "$kver" --cpu "$cpu" \
	--payload "$payload" --modules "kvm kvm_intel" --mem 2048 \
	--timeout 1200 --log "$log" >"$work/vm.out" 2>&1 || rc=$?
res=$log/result.log
tr -d '\r' <"$res" 2>/dev/null | grep -a -v '^EPM-END rc=' >"$work/result.txt"
cat "$work/result.txt"

# the programs reported in full, disassembled
grep -a '^DIVERGE prog .* seed .*' "$work/result.txt" | head -n "$verbose" |
while read -r _ _ idx _ pseed _ mode _; do
	set -- $(awk -v i="$idx" '$1 == "P" && $2 == i { print $5, $6, $7; exit }' \
		 "$work/progs.txt")
	off=$1 len=$2 entry=$3
	case $mode in
	real:) m="-m i8086" ;;
	prot32:) m="-m i386" ;;
	*) m="-m i386:x86-64" ;;
	esac
	dd if="$work/progs.bin" of="$work/p$idx.bin" bs=1 skip="$off" \
		count="$len" status=none
	echo "---- program $idx (seed $pseed, ${mode%:}) at gpa $(printf 0x%x "$entry"):"
	objdump -D -b binary $m --adjust-vma="$entry" "$work/p$idx.bin" |
		sed -n '/<.data>:/,$p' | tail -n +2
	echo "     replay: SEED=$pseed N=1 FPU_LIVE=${FPU_LIVE:-1} make kvm-diff"
done

# a kernel report: what ran before may matter, so replay from the one before
grep -a -m1 '^KERNEL after prog .* seed ' "$work/result.txt" |
while read -r _ _ _ idx _ pseed _; do
	[ "$pseed" -gt 0 ] 2>/dev/null || continue
	echo "     kernel report after program $idx: replay with" \
		"SEED=$((pseed - 1)) N=2 FPU_LIVE=${FPU_LIVE:-1} make kvm-diff"
done

grep -a '^bochs: ' "$work/vm.out" | grep -v 'logs in\|images ready\|Bochs log' || true
t=$((SECONDS - t0))
what="SEED=$seed N=$n FPU_LIVE=${FPU_LIVE:-1}"
reasons=()
if [ "$rc" != 0 ]; then
	tail -n 30 "$work/vm.out"
	v=$(grep -a -o 'bochs: .*: FAIL.*' "$work/vm.out" | tail -n 1 | sed 's/^bochs: [^:]*: FAIL //')
	reasons+=("the Bochs run failed: ${v:-exit $rc}")
fi
if ! grep -q -a '^kvm-diff: PASS' "$work/result.txt"; then
	s=$(grep -a -o '[0-9]* divergent' "$work/result.txt" | tail -n 1)
	k=$(grep -a -o '[0-9]* kernel reports' "$work/result.txt" | tail -n 1)
	reasons+=("${s:-no summary from kvm_diff}${k:+, $k}")
fi
if [ ${#reasons[@]} -gt 0 ]; then
	echo "kvm-diff: FAIL ($(printf '%s; ' "${reasons[@]}" | sed 's/; $//')): $what, in $t s (generation $gen_s s; logs: $log)"
	exit 1
fi
echo "kvm-diff: PASS: $what, in $t s (generation $gen_s s)"
