#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/run-qemu.sh [--kver KVER] [--payload DIR] [--timeout SEC]
#            [--mem MB] [--smp N] [--cpu MODEL] [--append "ARGS"]
#            [--modules "MOD ..."] [--log DIR] [--verbose]
#            [--kernel IMAGE [--moddir DIR]]
#
# Boot kernel KVER (default: newest from kernels.sh) under QEMU TCG with a
# busybox initramfs whose /payload is a copy of DIR (default: the smoke test
# next to this script), and judge the run.  DIR/run.sh is the test: stdout
# and stderr go to the console, results to "$RESULT" (the guest's ttyS1).
#
#   --timeout SEC   hard limit on the whole boot-to-poweroff (default 300)
#   --mem MB        guest memory (default 2048)
#   --smp N         guest CPUs (default 2)
#   --cpu MODEL     QEMU CPU model (default "max"); ",+pdpe1gb" is added
#                   unless MODEL mentions pdpe1gb, so 1 GiB pages exist
#   --append ARGS   extra kernel command line, e.g. "hugepagesz=1G hugepages=1"
#                   (that needs --mem 3072 or more: at 2048 the only aligned
#                   GiB of guest RAM ends in a reserved range)
#   --modules MODS  kernel modules to put in the image for modprobe (same as
#                   the EXTRA_MODULES environment variable of mkinitramfs.sh)
#   --log DIR       where console.log and result.log go (default: a new
#                   temporary directory, printed)
#   --verbose       show the console live
#   --kernel IMAGE  boot IMAGE (an ELF vmlinux with a PVH note, or a bzImage)
#                   instead of /boot/vmlinuz-KVER; needs --kver, which then
#                   only names the run and the module directory
#   --moddir DIR    take --modules from DIR/lib/modules/KVER (a tree made by
#                   `make modules_install INSTALL_MOD_PATH=DIR`) instead of
#                   /lib/modules/KVER
#
# The run FAILs, and this script exits 1, when the result channel lacks
# "EPM-END rc=0", when QEMU runs past the timeout or exits non-zero, or when
# the console log (which ends with the guest's full dmesg) holds a kernel
# warning, oops or leak report.  The last line printed is always
#   vm: KVER: PASS in N s     or     vm: KVER: FAIL (reason) in N s
# Kernel images and initramfs files are cached in ${EPM_CACHE:-~/.cache/ept-pmap}.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"

usage() {
	sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

kver=
payload=$here/smoke
timeout_s=300
mem=2048
smp=2
cpu=max
append=
logdir=
verbose=0
modules=${EXTRA_MODULES:-}
kernel_image=
moddir=

EPM_PROG=run-qemu.sh
epm_parse_opts "kver payload timeout mem smp cpu append modules log verbose kernel moddir" "$@"

if [ -n "$kernel_image" ]; then
	[ -n "$kver" ] || { echo "run-qemu.sh: --kernel needs --kver" >&2; exit 2; }
	[ -r "$kernel_image" ] || { echo "run-qemu.sh: cannot read $kernel_image" >&2; exit 2; }
fi
if [ -z "$kver" ]; then
	kver=$("$here/kernels.sh" | tail -n 1)
fi
if [ -n "$moddir" ] && [ ! -d "$moddir/lib/modules/$kver" ]; then
	echo "run-qemu.sh: no $moddir/lib/modules/$kver" >&2
	exit 2
fi
[ -d "$payload" ] || { echo "run-qemu.sh: no payload dir $payload" >&2; exit 2; }
case $cpu in
*pdpe1gb*) ;;
*) cpu=$cpu,+pdpe1gb ;;
esac

cache=${EPM_CACHE:-$HOME/.cache/ept-pmap}
mkdir -p "$cache"
if [ -z "$logdir" ]; then
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/epm-vm.XXXXXX")
fi
mkdir -p "$logdir"
console=$logdir/console.log
result=$logdir/result.log
rm -f "$console" "$result"
echo "vm: $kver: logs in $logdir"

start=$(date +%s.%N)

if [ -n "$kernel_image" ]; then
	vmlinux=$kernel_image
else
	vmlinux=$("$here/kernel.sh" "$kver" "$cache")
fi

# The initramfs is named by everything that goes into it, so a cached image
# is reused only while the payload, module list and scripts are unchanged.
key=$( {
	printf '%s\n' "$kver" "$modules"
	cat "$here/mkinitramfs.sh" "${BUSYBOX:-/bin/busybox}"
	tar -C "$payload" --sort=name --mtime=@0 --owner=0 --group=0 -cf - .
	# only with --moddir, so the keys of ordinary runs stay as they were
	if [ -n "$moddir" ]; then
		printf 'moddir %s\n' "$moddir"
		cat "$moddir/lib/modules/$kver/modules.dep" 2>/dev/null || true
	fi
} | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$kver-$key.cpio.gz
if [ ! -s "$initrd" ]; then
	EXTRA_MODULES=$modules MODULES_ROOT=$moddir \
		"$here/mkinitramfs.sh" "$kver" "$payload" "$initrd" >/dev/null
	# Keep the cache from growing without bound: one day of images.
	find "$cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' -mtime +1 -delete
fi

cmdline="console=ttyS0 quiet loglevel=3 mitigations=off nokaslr cryptomgr.notests panic=-1"
[ -z "$append" ] || cmdline="$cmdline $append"

qemu=(qemu-system-x86_64 -accel tcg -machine pc -cpu "$cpu" -smp "$smp" -m "$mem"
	-kernel "$vmlinux" -initrd "$initrd" -append "$cmdline"
	-no-reboot -nodefaults -nographic
	-serial "file:$console" -serial "file:$result")

: >"$console"
tail_pid=
if [ "$verbose" = 1 ]; then
	tail -n +1 -f "$console" &
	tail_pid=$!
fi
qrc=0
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null || qrc=$?
if [ -n "$tail_pid" ]; then
	sleep 0.2
	kill "$tail_pid" 2>/dev/null || true
	wait "$tail_pid" 2>/dev/null || true
fi

echo "---- result.log ----"
[ -f "$result" ] && cat "$result"
echo "---- end of result.log ----"

reasons=()
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	reasons+=("timed out after $timeout_s s")
elif [ "$qrc" != 0 ]; then
	reasons+=("qemu exited $qrc")
fi
epm_judge_end "$result" || true
epm_judge_console "$console" "kernel log" "kernel problems in console.log" 200
epm_verdict "vm: $kver" "$start" "$console"
