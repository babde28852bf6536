#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: bench/vmx-bench.sh [-n ITERATIONS] [--cpu MODEL] [KVER]
#                                                (what `make vmx-bench` runs)
#
# The launcher's benchmark: in one Bochs boot (the Intel VT-x lane of
# selftests/bochs/run-bochs.sh, kernel KVER, default the newest installed
# 6.1), vmx_bench times the round trip of a guest port-I/O exit through
# ept-pmap's RUN, then through KVM's KVM_RUN (kvm_intel loaded in the same
# boot), on the same guest loop, and prints the counts, the times and the
# ratio ours/KVM (target <= 1.0x). Emulated timings are only indicative.
# Without Bochs it says SKIP and exits 0.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

iters=10000
cpu=corei7_skylake_x
kver=
while [ $# -gt 0 ]; do
	case $1 in
	-n) iters=${2:?}; shift 2 ;;
	--cpu) cpu=${2:?}; shift 2 ;;
	-h | --help)
		sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
		exit 2 ;;
	-*) echo "vmx-bench: unknown option $1" >&2; exit 2 ;;
	*) kver=$1; shift ;;
	esac
done
case $iters in
'' | *[!0-9]*) echo "vmx-bench: -n takes a number" >&2; exit 2 ;;
esac

if ! command -v bochs >/dev/null; then
	echo "vmx-bench: SKIP (no Bochs: apt-get install bochs bochsbios vgabios)"
	exit 0
fi
if [ -z "$kver" ]; then
	kvers=$(bash selftests/vm/kernels.sh)
	kver=$(printf '%s\n' "$kvers" | grep -E '^6\.1\.' | tail -n 1 || true)
	[ -n "$kver" ] || kver=$(printf '%s\n' "$kvers" | tail -n 1)
fi

echo "vmx-bench: building ept_pmap.ko for $kver and bench/vmx_bench"
make -s KVER="$kver" module
make -s -C bench vmx_bench

work=$(mktemp -d "${TMPDIR:-/tmp}/epm-vmx-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
payload=$work/payload
mkdir "$payload"
cp ept_pmap.ko bench/vmx_bench "$payload/"
cat >"$payload/run.sh" <<RUN
#!/bin/sh
# ept_pmap first, then kvm_intel: loading kvm_intel does not take VMX on
# 6.1 (a VM does), and vmx_bench runs RUN before it creates its VM.
insmod /payload/ept_pmap.ko || exit 1
if ! modprobe kvm_intel; then
	echo "vmx-bench: modprobe kvm_intel failed" >"\$RESULT"
	exit 1
fi
p=/sys/module/kvm_intel/parameters
{
	echo "# \$(uname -r), Bochs $cpu; kvm_intel ept=\$(cat \$p/ept)" \\
		"unrestricted_guest=\$(cat \$p/unrestricted_guest)"
	/payload/vmx_bench -n $iters 2>&1
} >"\$RESULT"
RUN
chmod +x "$payload/run.sh"

logdir=$work/log
rc=0
bash selftests/bochs/run-bochs.sh --kver "$kver" --cpu "$cpu" \
	--payload "$payload" --modules "kvm kvm_intel" --timeout 600 \
	--log "$logdir" >"$work/vm.out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
	cat "$work/vm.out"
	echo "vmx-bench: FAIL (the Bochs run failed, exit $rc; its output is above)"
	exit 1
fi
echo "---- vmx-bench ----"
grep -a -v '^EPM-END rc=' "$logdir/result.log" | tr -d '\r'
echo "---- end of vmx-bench ----"
grep -a '^bochs: ' "$work/vm.out" | grep -v 'logs in\|images ready\|Bochs log' || true
