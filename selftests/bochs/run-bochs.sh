#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/run-bochs.sh [--kver KVER] [--payload DIR] [--cpu MODEL]
#            [--timeout SEC] [--mem MB] [--modules "MOD ..."] [--append "ARGS"]
#            [--log DIR] [--verbose] [--kernel BZIMAGE [--moddir DIR]]
#            [--boot-limit SEC] [--smp N]
#
# The Intel VT-x lane: boot kernel KVER in Bochs, whose CPU models emulate
# VMX with EPT (QEMU TCG has no VMX), with the same busybox initramfs and
# payload contract as selftests/vm/run-qemu.sh: DIR/run.sh is the test, its
# stdout and stderr go to the console (COM1), results to "$RESULT" (the
# guest's ttyS1 = COM2), and /init ends with "EPM-END rc=N" there.
#
#   --kver KVER     guest kernel (default: the newest 6.1 kernel listed by
#                   selftests/vm/kernels.sh, else the newest one)
#   --payload DIR   test directory (default: vmx-smoke next to this script)
#   --cpu MODEL     Bochs CPU model (default corei7_skylake_x; also e.g.
#                   corei7_haswell_4770, corei7_icelake_u, tigerlake;
#                   "bochs --help cpu" lists them)
#   --timeout SEC   hard limit on the emulator run (default 600)
#   --mem MB        guest memory (default 512)
#   --modules MODS  kernel modules to put in the image for modprobe, e.g.
#                   "kvm kvm_intel" (EXTRA_MODULES of mkinitramfs.sh)
#   --append ARGS   extra kernel command line
#   --log DIR       where console.log, result.log, bochs.log and the
#                   generated bochsrc go (default: a new temporary directory)
#   --verbose       show the console live
#   --kernel BZIMAGE  boot this bzImage (KVER is then its release, for the
#                   initramfs' modules) through GRUB's "linux" loader
#                   instead of /boot/vmlinuz-KVER through the shim: slower
#                   (it decompresses itself under emulation) but it works
#                   for every kernel; a KASAN kernel cannot take the PVH
#                   entry (it runs instrumented C code before the shadow
#                   exists and triple-faults)
#   --moddir DIR    take --modules from DIR/lib/modules/KVER (the
#                   MODULES_ROOT of mkinitramfs.sh)
#   --smp N         emulated CPUs (default 1; Bochs runs them on one host
#                   thread, so N CPUs cost about N times the time)
#   --boot-limit SEC  stop Bochs when the payload has not started SEC
#                   seconds after Bochs did: the run FAILs with "payload not
#                   started within SEC s" and this script exits 3
#
# Bochs cannot load a kernel itself, so by default the kernel is booted from
# a GRUB ISO through a multiboot-to-PVH shim (shim.S, mkpvh.py): the guest
# never spends a minute decompressing a bzImage under emulation.  The guest
# is told the rate of Bochs' TSC (tsc_early_khz), so its clock, sleeps and
# timeouts keep Bochs' time.  Signatures of every .ko in the initramfs
# (payload and --modules) are stripped (strip-modsig.py).
# Kernel images, initramfs files and ISOs are cached, named by their inputs,
# in ${EPM_CACHE:-~/.cache/ept-pmap}.  bochs.log records Bochs' info and error
# messages: a failed VM entry is explained there (e.g. "VMFAIL: ...").
#
# The run FAILs, and this script exits 1, when the result channel lacks
# "EPM-END rc=0", when Bochs runs past the timeout, or when the console
# holds a warning, oops or leak report.  The console is reported in two
# parts, kept in the log directory: judged.txt, what the kernel logged
# after the payload started (the live console after /init's "running
# /payload/run.sh" line, and the dmesg copy after its "epm-init: starting
# payload" line), and before.txt, the boot (a problem there is the
# emulator's or the kernel's, not the payload's, but it fails the run all
# the same: see clearcpuid below).  Bochs' exit status is not judged: it
# is 1 even after a clean guest poweroff.  The last line printed is always
#   bochs: KVER MODEL: PASS in N s     or     bochs: KVER MODEL: FAIL (reason) in N s
# and the line before it says when the kernel was entered (PVH only) and
# when the payload started, in seconds after Bochs did:
#   bochs: kernel entered at Ks, payload at Ps, end at Es (...)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vmdir=$(cd "$here/../vm" && pwd)
# shellcheck source=../vm/host-lib.sh
. "$vmdir/host-lib.sh"

usage() {
	sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
	exit 2
}

kver=
payload=$here/vmx-smoke
cpu=corei7_skylake_x
timeout_s=600
mem=512
modules=${EXTRA_MODULES:-}
append=
logdir=
verbose=0
kernel_image=
moddir=
boot_limit=
smp=1

EPM_PROG=run-bochs.sh
epm_parse_opts "kver payload cpu timeout mem smp modules append log verbose kernel moddir boot-limit" "$@"

die() {
	echo "run-bochs.sh: $*" >&2
	exit 2
}

[ "$smp" -ge 1 ] && [ "$smp" -le 8 ] || die "--smp $smp: 1 to 8 CPUs"
[ "$mem" -ge 128 ] || die "--mem $mem is too small (128 MB at least)"
case $cpu in
*[!A-Za-z0-9_]*) die "bad CPU model name $cpu" ;;
esac
for tool in bochs gcc ld python3 sha256sum; do
	command -v "$tool" >/dev/null || die "no $tool (apt-get install bochs bochsbios vgabios gcc python3)"
done
[ -r /usr/share/bochs/BIOS-bochs-latest ] || die "no Bochs BIOS (apt-get install bochsbios)"
[ -r /usr/share/vgabios/vgabios.bin ] || die "no VGA BIOS (apt-get install vgabios)"
if ! bochs --help cpu 2>&1 | grep -x "$cpu" >/dev/null; then
	die "Bochs has no CPU model $cpu (see: bochs --help cpu)"
fi
if [ -z "$kver" ]; then
	kvers=$("$vmdir/kernels.sh")
	kver=$(printf '%s\n' "$kvers" | grep -E '^6\.1\.' | tail -n 1 || true)
	[ -n "$kver" ] || kver=$(printf '%s\n' "$kvers" | tail -n 1)
fi
if [ -n "$kernel_image" ]; then
	[ -r "$kernel_image" ] || die "cannot read --kernel $kernel_image"
	[ "$(dd if="$kernel_image" bs=1 skip=514 count=4 status=none)" = HdrS ] ||
		die "--kernel $kernel_image is not a bzImage (no HdrS at 0x202)"
	kernel_image=$(cd "$(dirname "$kernel_image")" && pwd)/$(basename "$kernel_image")
else
	[ -r "/boot/vmlinuz-$kver" ] || die "no readable /boot/vmlinuz-$kver"
fi
if [ -n "$moddir" ]; then
	[ -d "$moddir/lib/modules/$kver" ] || die "no $moddir/lib/modules/$kver"
	moddir=$(cd "$moddir" && pwd)
	export MODULES_ROOT=$moddir
fi
[ -d "$payload" ] || die "no payload dir $payload"
payload=$(cd "$payload" && pwd)

cache=${EPM_CACHE:-$HOME/.cache/ept-pmap}
mkdir -p "$cache"
if [ -z "$logdir" ]; then
	logdir=$(mktemp -d "${TMPDIR:-/tmp}/epm-bochs.XXXXXX")
fi
mkdir -p "$logdir"
logdir=$(cd "$logdir" && pwd)
console=$logdir/console.log
result=$logdir/result.log
blog=$logdir/bochs.log
rm -f "$console" "$result" "$blog"
echo "bochs: $kver $cpu: logs in $logdir"

start=$(date +%s.%N)

hash_of() {
	sha256sum | cut -c1-16
}

# --- kernel: flat image behind the multiboot-to-PVH shim, or --kernel ---------

# The flat kernel of /boot/vmlinuz-KVER behind the shim, cached as
# bochs-kernel-KVER-HASH.mb; prints its path.
pvh_image() {
	local key img work vmlinux

	key=$( {
		printf '%s\n' "$kver"
		cat "/boot/vmlinuz-$kver" "$here/shim.S" "$here/mkpvh.py" "$vmdir/extract-vmlinux.py"
	} | hash_of)
	img=$cache/bochs-kernel-$kver-$key.mb
	if [ ! -s "$img" ]; then
		# kernel.sh decodes any compressor it knows (xz for 6.1, zstd
		# for 6.12 with /usr/bin/zstd) and says so when it cannot.
		vmlinux=$("$vmdir/kernel.sh" "$kver" "$cache") ||
			die "cannot extract the ELF kernel from /boot/vmlinuz-$kver (a zstd kernel needs zstd: apt-get install zstd)"
		work=$(mktemp -d "${TMPDIR:-/tmp}/epm-shim.XXXXXX")
		if ! { gcc -m32 -c -o "$work/shim.o" "$here/shim.S" &&
			ld -m elf_i386 -Ttext=0xfff000 --oformat=binary -o "$work/shim.bin" "$work/shim.o" &&
			python3 "$here/mkpvh.py" "$vmlinux" "$work/shim.bin" "$img.tmp.$$"; }; then
			rm -rf "$work" "$img.tmp.$$"
			die "building the PVH kernel image failed"
		fi
		rm -rf "$work"
		mv -f "$img.tmp.$$" "$img"
		find "$cache" -maxdepth 1 -name "bochs-kernel-$kver-*.mb" ! -name "${img##*/}" -delete
	fi
	printf '%s\n' "$img"
}

if [ -n "$kernel_image" ]; then
	kimage=$kernel_image
else
	kimage=$(pvh_image) || exit 2
fi
kkey=$(hash_of <"$kimage")

# --- initramfs: mkinitramfs.sh, then module signatures stripped -----------------

ikey=$( {
	printf '%s\n' "$kver" "$modules" "${MODULES_ROOT:-}"
	cat "$vmdir/mkinitramfs.sh" "$here/strip-modsig.py" "${BUSYBOX:-/bin/busybox}"
	tar -C "$payload" --sort=name --mtime=@0 --owner=0 --group=0 -cf - .
} | hash_of)
initrd=$cache/bochs-initramfs-$kver-$ikey.cpio.gz
if [ ! -s "$initrd" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/epm-bochs-initrd.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	EXTRA_MODULES=$modules "$vmdir/mkinitramfs.sh" "$kver" "$payload" "$work/in.cpio.gz" >/dev/null
	mkdir "$work/root"
	(cd "$work/root" && gzip -dc "$work/in.cpio.gz" | cpio --quiet -idm --no-absolute-filenames)
	find "$work/root" -name '*.ko' -type f -exec python3 "$here/strip-modsig.py" {} +
	# Packed the way mkinitramfs.sh packs.
	(cd "$work/root" && find . -print0 | LC_ALL=C sort -z |
		cpio --quiet --null -o -H newc --owner 0:0) | gzip -1 >"$initrd.tmp.$$"
	mv -f "$initrd.tmp.$$" "$initrd"
	rm -rf "$work"
	trap - EXIT
	find "$cache" -maxdepth 1 -name 'bochs-initramfs-*.cpio.gz' -mtime +1 -delete
fi

# --- GRUB ISO -------------------------------------------------------------------

# "panic=-1 reboot=t" with reset_on_triple_fault=0 below: a guest panic ends
# Bochs at once instead of a reboot loop.
cmdline="console=ttyS0,115200 quiet nokaslr mitigations=off panic=-1 reboot=t"
cmdline="$cmdline cryptomgr.notests tsc=reliable no_timer_check audit=0 nowatchdog"
# Bochs' TSC counts emulated instructions, IPS of them per guest second
# (the cpu line below), but the CPU models' CPUID says ~3 GHz, which the
# kernel believes (CPUID 0x15 marks the frequency known): the guest's
# clock, sleep(), timeouts and the LAPIC timer then run 30 times slower
# than Bochs' own time (measured: a 5 s sleep took minutes). Telling the
# kernel the real rate keeps guest time and Bochs time one.
ips=100000000
cmdline="$cmdline tsc_early_khz=$((ips / 1000))"
# Bochs' AVX-512 XSAVE layout does not add up (corei7_skylake_x: "XSAVE
# consistency problem: size 2432 != kernel_size 2688", a WARNING with a
# Call Trace at every boot of 6.1): without AVX-512 the kernel uses only
# the x87, SSE and AVX components, whose layout is right. Harmless on
# models without AVX-512.
# And no HT: Bochs sets CPUID.1:EDX.HT whenever it is built for SMP, but
# with one CPU its leaf 0xB subleaf 0 has level type 0 ("invalid"), so
# Linux 6.9+ (arch/x86/kernel/cpu/topology_ext.c) rejects leaf 0xB and
# falls back to parse_legacy() in topology_common.c, where the model's
# fixed leaf 4 (EAX[31:26]: 8 cores on corei7_skylake_x) exceeds the one
# logical CPU of leaf 1 (EBX[23:16]) and HT trips its WARN_ON_ONCE, a
# Call Trace at every boot of 6.12. Without HT the legacy parser takes
# the leaf 4 core count as is. get_cpu_cap() applies clearcpuid before
# both topology parses (early and at identify_cpu). One logical CPU has
# no hyper-threads to lose; 6.1 does not care either way.
cmdline="$cmdline clearcpuid=avx512f,ht"
[ -z "$append" ] || cmdline="$cmdline $append"

isokey=$(printf '%s\n' "$kkey" "$ikey" "$cmdline" "$(cat "$here/mkgrubiso.sh")" | hash_of)
iso=$cache/bochs-$kver-$isokey.iso
if [ ! -s "$iso" ]; then
	"$here/mkgrubiso.sh" "$iso" "$kimage" "$initrd" "$cmdline" >/dev/null ||
		die "building the GRUB ISO failed"
fi
touch "$iso"
# ISOs are big (the flat kernel alone is ~40 MB): keep the 8 most recent.
# shellcheck disable=SC2012 # the names are ours: bochs-KVER-HASH.iso
ls -1t "$cache"/bochs-*.iso 2>/dev/null | tail -n +9 | while read -r old; do
	rm -f "$old"
done
echo "bochs: images ready after $(epm_elapsed "$start") s: $iso"

# --- Bochs ------------------------------------------------------------------------

bochsrc=$logdir/bochsrc
case $iso$logdir in
*[[:space:],\"]*) die "paths in a bochsrc may not hold blanks, commas or quotes: $iso, $logdir" ;;
esac
cat >"$bochsrc" <<RC
# Generated by selftests/bochs/run-bochs.sh
# Debian's Bochs has no "nogui" display; rfb with timeout=0 waits for no client.
display_library: rfb, options="timeout=0"
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=$cpu, count=$smp, ips=$ips, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=$mem, host=$mem
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path=$iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$console
com2: enabled=1, mode=file, dev=$result
clock: sync=none, time0=local
# The ALSA driver aborts Bochs 2.7 ("buffer overflow detected") on machines
# without a sound card: dummy drivers, no speaker.
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
speaker: enabled=0
log: $blog
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
RC
printf 'c\n' >"$logdir/cont.rc"

: >"$console"
: >"$result"
tail_pid=
if [ "$verbose" = 1 ]; then
	tail -n +1 -f "$console" &
	tail_pid=$!
fi
# Note when the kernel is entered (the shim prints the command line) and when
# the payload starts, to report where the time goes; with --boot-limit, stop
# Bochs (through its timeout process) when the payload is late.
bstart=$(date +%s.%N)
(cd "$logdir" && exec timeout -k 10 "$timeout_s" bochs -q -f "$bochsrc" -rc "$logdir/cont.rc" \
	</dev/null >"$logdir/bochs.out" 2>&1) &
bochs_pid=$!
(
	t_kernel=
	while sleep 0.25; do
		if [ -z "$t_kernel" ] && grep -a -q '^pvh-shim: ' "$console" 2>/dev/null; then
			t_kernel=$(epm_elapsed "$bstart")
			echo "kernel $t_kernel" >>"$logdir/.phases"
		fi
		if grep -a -q 'running /payload/run.sh' "$console" 2>/dev/null; then
			echo "payload $(epm_elapsed "$bstart")" >>"$logdir/.phases"
			break
		fi
		if [ -n "$boot_limit" ] &&
		   awk -v t="$(epm_elapsed "$bstart")" -v l="$boot_limit" 'BEGIN { exit !(t > l) }'; then
			echo "late $(epm_elapsed "$bstart")" >>"$logdir/.phases"
			kill "$bochs_pid" 2>/dev/null
			break
		fi
	done
) &
watch_pid=$!
times >"$logdir/.times"
brc=0
wait "$bochs_pid" || brc=$?
btime=$(epm_elapsed "$bstart")
times >>"$logdir/.times"
kill "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
if [ -n "$tail_pid" ]; then
	sleep 0.2
	kill "$tail_pid" 2>/dev/null || true
	wait "$tail_pid" 2>/dev/null || true
fi
phase() {
	awk -v k="$1" '$1 == k { print $2 "s"; f = 1 } END { if (!f) print "-" }' \
		"$logdir/.phases" 2>/dev/null || echo -
}
# CPU seconds Bochs used (user + system): the wall time grows with host load.
# "times" prints the shell's own, then its children's times: lines 2 and 4.
bcpu=$(sed -n '2p;4p' "$logdir/.times" | sed 's/m/ /g; s/s//g' | awk '
	{ t[NR] = $1 * 60 + $2 + $3 * 60 + $4 } END { printf "%.1f", t[2] - t[1] }')
rm -f "$logdir/.times"
phases="kernel entered at $(phase kernel), payload at $(phase payload), end at ${btime}s"
mv -f "$logdir/.phases" "$logdir/.phases.keep" 2>/dev/null || : >"$logdir/.phases.keep"

echo "---- result.log ----"
cat "$result"
echo "---- end of result.log ----"
echo "bochs: $phases (bochs: ${bcpu}s CPU, exit $brc)"
echo "bochs: Bochs log (VM-entry failures are explained there): $blog"

# --- verdict ------------------------------------------------------------------------

reasons=()
late=
if grep -q '^late ' "$logdir/.phases.keep" 2>/dev/null; then
	late=1
	reasons+=("payload not started within $boot_limit s")
elif [ "$brc" = 124 ] || [ "$brc" = 137 ]; then
	reasons+=("timed out after $timeout_s s")
fi
if ! epm_judge_end "$result"; then
	if [ "$brc" != 0 ] && [ "$brc" != 1 ] && [ "$brc" != 124 ] && [ "$brc" != 137 ]; then
		reasons+=("bochs exited $brc")
	fi
	if grep -a -q -E '^[0-9]+p\[' "$blog" 2>/dev/null; then
		echo "---- Bochs panics in $blog ----"
		grep -a -E '^[0-9]+p\[' "$blog" | tail -n 5
	fi
fi

# Split the console into what is judged (after the payload started) and what
# is not.  Live console: judged after /init's "running /payload/run.sh" line.
# The dmesg copy between "---- dmesg ----" and "---- end of dmesg ----":
# judged after the "epm-init: starting payload" line /init wrote to /dev/kmsg,
# or whole if that line is not there (overwritten ring buffer).  Without the
# /init line nothing ran, the run fails anyway, and all of it is judged.
tr -d '\r' <"$console" >"$logdir/console.txt"
awk -v judged="$logdir/judged.txt" -v before="$logdir/before.txt" '
	function out(line, j) { print line > (j ? judged : before) }
	{ lines[NR] = $0 }
	!init && /epm-init: .*running \/payload\/run\.sh/ { init = NR }
	init && !dstart && /^---- dmesg ----$/ { dstart = NR }
	dstart && !dend && /^---- end of dmesg ----$/ { dend = NR }
	dstart && !dend && !kmark && /epm-init: starting payload/ { kmark = NR }
	END {
		printf "" > judged; printf "" > before
		for (i = 1; i <= NR; i++) {
			if (!init)
				j = 1
			else if (i <= init)
				j = 0
			else if (dstart && i > dstart && (!dend || i < dend))
				j = !kmark || i > kmark
			else
				j = 1
			out(lines[i], j)
		}
	}' "$logdir/console.txt"
rm -f "$logdir/console.txt"
epm_judge_console "$logdir/before.txt" "kernel log during boot" \
	"kernel problems during boot, before the payload started" 100
epm_judge_console "$logdir/judged.txt" "kernel log" \
	"kernel problems after the payload started" 200

rm -f "$logdir/.phases.keep"
vrc=0
epm_verdict "bochs: $kver $cpu" "$start" "$console" || vrc=$?
[ $vrc -eq 0 ] || [ -z "$late" ] || exit 3
exit $vrc
