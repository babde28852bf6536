#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/kexec-test.sh [--kver KVER] [--src DIR] [--log DIR]
#            [--verbose]                                (make kexec-test)
#
# Reboot/kexec with a running guest, in Bochs with 2 CPUs: the first kernel
# loads ept_pmap.ko, starts selftests/kexec/guest_loop pinned to CPU 1 (a
# PROT32 "1: jmp 1b" guest RUN for 10 s at a time, forever), and once it
# runs kexecs from CPU 0 (kexec-tools, copied in with its libraries:
# kexec_load of the ELF kernel) into the same kernel with a second, tiny
# initramfs.
# Its /init reports on the result channel how many CPUs came up (nproc,
# /sys/devices/system/cpu/online, the smpboot lines of dmesg), dumps its
# kernel log to the console for the judge, and ends the run with
# "EPM-END rc=0" only when both CPUs are online.
# A CPU stopped by the kexec IPI while in VMX root operation blocks INIT,
# and the second kernel cannot bring it up: the launcher must never take
# interrupts in VMX operation (src/vmx.c's head comment). Measured with
# the launcher of 459a961 (it took interrupts inside VMX operation): the
# second kernel has 1 CPU, on 6.1 ("do_boot_cpu failed(-1) to wakeup
# CPU#1") and on 6.12 ("CPU1 failed to report alive state").
#
#   --kver KVER   guest kernel (default: run-bochs.sh's, the newest 6.1)
#   --src DIR     build the module from DIR (holding Kbuild, Makefile,
#                 src/ and include/) instead of this tree, e.g. an old
#                 commit's sources to see the test fail
#   --log DIR     run-bochs.sh's log directory
#   --verbose     show the console live
# The last line is run-bochs.sh's verdict; the exit status is its.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

kver=
src=$top
logargs=()
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=${2:?}; shift 2 ;;
	--src) src=$(cd "${2:?}" && pwd); shift 2 ;;
	--log) logargs+=(--log "${2:?}"); shift 2 ;;
	-v | --verbose) logargs+=(--verbose); shift ;;
	*) sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2 ;;
	esac
done
die() {
	echo "kexec-test.sh: $*" >&2
	exit 2
}
if [ -z "$kver" ]; then
	kver=$("$top/selftests/vm/kernels.sh" | grep -E '^6\.1\.' | tail -n 1 || true)
	[ -n "$kver" ] || kver=$("$top/selftests/vm/kernels.sh" | tail -n 1)
fi
[ -r "/boot/vmlinuz-$kver" ] || die "no readable /boot/vmlinuz-$kver"
[ -d "/lib/modules/$kver/build" ] || die "no headers for $kver (linux-headers-$kver)"
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"

work=$top/build/kexec/$kver
mod=$work/module
payload=$work/payload
rm -rf "$mod" "$payload"
mkdir -p "$mod" "$payload"

# --- the module, from --src -----------------------------------------------
for f in Kbuild Makefile src include dkms.conf; do
	[ -e "$src/$f" ] && cp -r "$src/$f" "$mod/"
done
find "$mod" \( -name '*.o' -o -name '*.ko' -o -name '*.cmd' \) -delete
make -s -C "$mod" KVER="$kver" module 2>&1 | grep -v 'Skipping BTF' || true
[ -f "$mod/ept_pmap.ko" ] || die "ept_pmap.ko did not build for $kver from $src"
cp "$mod/ept_pmap.ko" "$payload/"

# --- the guest program (the uapi header of this tree) -------------------------
gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$top/include/uapi" \
	-o "$payload/guest_loop" "$top/selftests/kexec/guest_loop.c" || die "guest_loop did not build"

# --- kexec-tools and its libraries, and the ELF kernel ---------------------------
# kexec_file_load() of the bzImage costs the emulated guest minutes (the
# kernel hashes and verifies the image, then it decompresses its xz
# payload itself): kexec-tools loads the uncompressed ELF kernel with
# kexec_load() instead and, with --no-checks, skips purgatory's hashing.
kexec=$(command -v kexec || true)
[ -n "$kexec" ] || die "no kexec (apt-get install kexec-tools)"
mkdir -p "$payload/lib"
cp "$kexec" "$payload/kexec"
ldd "$kexec" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' |
	while read -r lib; do
		cp -L "$lib" "$payload/lib/"
	done
[ -x "$payload/lib/ld-linux-x86-64.so.2" ] || die "no dynamic loader of $kexec found"
cache=${EPM_CACHE:-$HOME/.cache/ept-pmap}
vmlinux=$("$top/selftests/vm/kernel.sh" "$kver" "$cache") || die "cannot extract the ELF kernel of $kver"
cp "$vmlinux" "$payload/vmlinux"

# --- the second kernel's initramfs ---------------------------------------------
stage=$(mktemp -d "${TMPDIR:-/tmp}/epm-kexec.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys}
cp "$busybox" "$stage/bin/busybox"
for a in sh mount stty nproc cat grep sed dmesg sleep poweroff echo; do
	ln -s busybox "$stage/bin/$a"
done
[ "$(id -u)" != 0 ] || mknod -m 600 "$stage/dev/console" c 5 1
cat >"$stage/init" <<'INIT'
#!/bin/sh
# PID 1 of the kexec'd kernel (selftests/bochs/kexec-test.sh).
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null || R=/dev/console
n=$(nproc)
online=$(cat /sys/devices/system/cpu/online)
echo "kexec-init: second kernel up, $n CPUs online ($online)"
{
	echo "# second kernel: nproc $n, online $online"
	dmesg | grep -E 'smpboot|Brought up|do_boot_cpu|CPU#?1' | sed 's/^/# /'
	if [ "$n" = 2 ]; then
		echo "ok 3 second kernel brought up 2 CPUs"
		rc=0
	else
		echo "not ok 3 second kernel brought up 2 CPUs # $n online"
		rc=1
	fi
} >$R
echo "---- second kernel dmesg ----"
dmesg
echo "---- end of second kernel dmesg ----"
echo "EPM-END rc=$rc" >$R
# Not "sleep 1": a sleep in the kexec'd kernel was once seen never to end
# (its timers stalled); a bounded busy loop lets the UART drain instead.
i=0
while [ $i -lt 3000 ]; do i=$((i + 1)); done
poweroff -f
INIT
chmod 755 "$stage/init"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc --owner 0:0) | gzip -1 >"$payload/initrd2.cpio.gz"

# --- the first kernel's test ------------------------------------------------------
cat >"$payload/run.sh" <<'RUN'
#!/bin/sh
# Generated by selftests/bochs/kexec-test.sh: guest on CPU 1, kexec on CPU 0.
echo "TAP version 13" >"$RESULT"
echo "1..3" >>"$RESULT"
n=$(nproc)
if [ "$n" != 2 ] || ! insmod ./ept_pmap.ko; then
	echo "not ok 1 first kernel: 2 CPUs ($n), ept_pmap.ko loads" >>"$RESULT"
	exit 1
fi
echo "ok 1 first kernel: 2 CPUs, ept_pmap.ko loads" >>"$RESULT"
./guest_loop 1 >/tmp/guest.out 2>&1 &
pid=$!
i=0
while ! grep -q 'running on CPU 1' /tmp/guest.out; do
	i=$((i + 1))
	if [ $i -gt 60 ] || ! kill -0 $pid 2>/dev/null; then
		cat /tmp/guest.out
		echo "not ok 2 guest running on CPU 1 # $(cat /tmp/guest.out)" >>"$RESULT"
		exit 1
	fi
	sleep 1
done
# Well inside its first 10 s RUN.
sleep 2
cat /tmp/guest.out
if ! kill -0 $pid 2>/dev/null; then
	echo "not ok 2 guest running on CPU 1 # guest_loop ended" >>"$RESULT"
	exit 1
fi
# field 39 of /proc/PID/stat: the CPU it last ran on
cpu=$(sed 's/.*) //' /proc/$pid/stat | cut -d' ' -f37)
echo "ok 2 guest running on CPU 1 (stat says CPU $cpu)" >>"$RESULT"
echo "---- dmesg ----"
dmesg
echo "---- end of dmesg ----"
# From here on the whole kernel log goes to the console (the shutdown).
echo 8 >/proc/sys/kernel/printk
kx() {
	/payload/lib/ld-linux-x86-64.so.2 --library-path /payload/lib /payload/kexec "$@"
}
if ! kx -l --args-linux --no-checks --initrd=/payload/initrd2.cpio.gz \
	--command-line="$(sed 's/ quiet//; s/ tsc=reliable//' /proc/cmdline) loglevel=6" /payload/vmlinux; then
	echo "not ok 3 second kernel brought up 2 CPUs # kexec -l failed" >>"$RESULT"
	exit 1
fi
echo "kexec-test: loaded, kexec from CPU 0"
taskset 1 /payload/lib/ld-linux-x86-64.so.2 --library-path /payload/lib /payload/kexec -e
echo "not ok 3 second kernel brought up 2 CPUs # kexec -e failed" >>"$RESULT"
exit 1
RUN

exec "$here/run-bochs.sh" --kver "$kver" --smp 2 --payload "$payload" \
	--timeout 600 "${logargs[@]}"
