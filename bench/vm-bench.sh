#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: bench/vm-bench.sh [-n ROUNDS] [--timeout SEC] [KVER]
#                                                (what `make vm-bench` runs)
#
# The module's MAP benchmark (Documentation/design.md, "Benchmarks": MAP of
# 1 GiB at 4 KiB within 1.25x of pinning alone, THP-backed memory as 2M
# leaves). In one QEMU TCG boot of kernel KVER (default: the newest that
# selftests/vm/kernels.sh lists, 3 GiB of guest memory), bench/vm_bench
# times MAP + UNMAP of a 1 GiB buffer against registering the same buffer
# with io_uring (which pins the same pages with FOLL_LONGTERM) and
# unregistering it, at 4 KiB and with THP, best of ROUNDS (default 9) after
# a warm-up, the two sides interleaved; and checks STATS after every MAP.
#
# ept_pmap.ko is built in build/vm-bench/KVER/module, a copy of the module
# sources; vm_bench (static) in build/vm-bench; logs in build/vm-bench/KVER/log.
# Emulated timings are only indicative: compare the ratios of one run.
#
# Exit status: 0 when the bench ran to its end and its checks passed,
# whatever the ratios (a MISS is reported, not judged); 1 when a check
# failed, the run did not get to the end, or the guest kernel logged a
# warning or oops; 2 on a usage error. No QEMU or no kernel: SKIP, 0.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

rounds=9
timeout_s=900
kver=
while [ $# -gt 0 ]; do
	case $1 in
	-n) rounds=${2:?}; shift 2 ;;
	--timeout) timeout_s=${2:?}; shift 2 ;;
	-h | --help)
		sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
		exit 2 ;;
	-*) echo "vm-bench: unknown option $1" >&2; exit 2 ;;
	*) kver=$1; shift ;;
	esac
done
case $rounds$timeout_s in
'' | *[!0-9]*) echo "vm-bench: -n and --timeout take numbers" >&2; exit 2 ;;
esac

if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "vm-bench: SKIP (no qemu-system-x86_64: apt-get install qemu-system-x86)"
	exit 0
fi
if [ -z "$kver" ]; then
	kver=$(bash selftests/vm/kernels.sh 2>/dev/null | tail -n 1 || true)
	if [ -z "$kver" ]; then
		echo "vm-bench: SKIP (no kernel with both /boot/vmlinuz-KVER and headers)"
		exit 0
	fi
fi

work=$top/build/vm-bench
mod=$work/$kver/module
payload=$work/$kver/payload
logdir=$work/$kver/log
mkdir -p "$mod"

# A copy of the module sources, by content: a changed file is written anew
# (newer than its object), an unchanged one keeps its time, so the build in
# the copy is incremental and never stale.
echo "vm-bench: building ept_pmap.ko for $kver in ${mod#"$top"/}"
srcs=(Kbuild Makefile src include)
[ -f dkms.conf ] && srcs+=(dkms.conf)
if command -v rsync >/dev/null; then
	rsync -r -l -c --delete --exclude '*.o' --exclude '*.ko' \
		--exclude '*.cmd' --exclude '*.mod' --exclude '*.mod.c' \
		--exclude 'Module.symvers' --exclude 'modules.order' \
		--exclude '*.dwo' "${srcs[@]}" "$mod/"
else
	rm -rf "$mod"
	mkdir -p "$mod"
	cp -r "${srcs[@]}" "$mod/"
	find "$mod" \( -name '*.o' -o -name '*.ko' -o -name '*.cmd' \) -delete
fi
brc=0
make -s -C "$mod" KVER="$kver" module >"$work/$kver/build.log" 2>&1 || brc=$?
grep -v 'Skipping BTF' "$work/$kver/build.log" || true
if [ "$brc" != 0 ] || [ ! -f "$mod/ept_pmap.ko" ]; then
	echo "vm-bench: FAIL (ept_pmap.ko does not build for $kver)"
	exit 1
fi

echo "vm-bench: building vm_bench"
make -s -C lib libept-pmap.a
${CC:-cc} -O2 -Wall -Wextra -Werror -I"$top/lib" -I"$top/include/uapi" -static \
	-o "$work/vm_bench" bench/vm_bench.c lib/libept-pmap.a

rm -rf "$payload" "$logdir"
mkdir -p "$payload" "$logdir"
cp "$mod/ept_pmap.ko" "$work/vm_bench" "$payload/"
cat >"$payload/run.sh" <<RUN
#!/bin/sh
# vm-bench guest side (written by bench/vm-bench.sh)
if ! insmod ./ept_pmap.ko; then
	echo "vm-bench: insmod ept_pmap.ko failed" >>"\$RESULT"
	exit 1
fi
t=/sys/kernel/mm/transparent_hugepage
echo "# \$(uname -r), QEMU TCG, \$(nproc) CPUs," \\
	"\$(sed -n 's/MemTotal: *//p' /proc/meminfo);" \\
	"THP enabled \$(cat \$t/enabled), defrag \$(cat \$t/defrag)" >>"\$RESULT"
./vm_bench -n $rounds >>"\$RESULT" 2>&1
rc=\$?
if ! rmmod ept_pmap; then
	echo "vm-bench: rmmod ept_pmap failed" >>"\$RESULT"
	rc=1
fi
exit \$rc
RUN
chmod 755 "$payload/run.sh"

echo "vm-bench: booting $kver under QEMU TCG (3 GiB), $rounds rounds"
qrc=0
bash selftests/vm/run-qemu.sh --kver "$kver" --payload "$payload" \
	--mem 3072 --timeout "$timeout_s" --log "$logdir" \
	>"$logdir/runner.out" 2>&1 || qrc=$?

echo "---- vm-bench ----"
if [ -f "$logdir/result.log" ]; then
	grep -a -v '^EPM-END rc=' "$logdir/result.log" | tr -d '\r'
fi
echo "---- end of vm-bench ----"
grep -a '^vm: ' "$logdir/runner.out" | grep -v 'logs in' || true

if [ "$qrc" = 0 ] &&
   grep -a -q '^vm_bench: all checks passed' "$logdir/result.log"; then
	exit 0
fi
if ! grep -a -q -E '^vm_bench: (all checks passed|[0-9]+ checks FAILED)' \
	"$logdir/result.log" 2>/dev/null ||
   grep -a -q '^vm_bench: all checks passed' "$logdir/result.log"; then
	# no verdict from the bench, or a kernel problem despite it
	sed -n '/^---- kernel problems/,/^---- end of kernel problems/p' \
		"$logdir/runner.out"
	tail -n 40 "$logdir/console.log" 2>/dev/null | tr -d '\r' || true
fi
echo "vm-bench: FAIL (logs in ${logdir#"$top"/})"
exit 1
