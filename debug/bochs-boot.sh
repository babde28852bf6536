#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: debug/bochs-boot.sh KERNEL_TREE [LIMIT_S]
#
# Measure how long the debug kernel (KERNEL_TREE/arch/x86/boot/bzImage,
# built by debug/build-kernel.sh) takes to boot in Bochs (corei7_skylake_x,
# the VT-x lane's CPU) to a busybox payload (selftests/vm/mkinitramfs.sh)
# and power off. The VT-x lane's fast path -- the flat kernel entered
# through PVH by selftests/bochs/shim.S -- cannot serve a KASAN kernel: its
# PVH entry runs KASAN-instrumented C code before the shadow exists and
# triple-faults (measured in QEMU). So GRUB loads the bzImage with the
# ordinary Linux boot protocol ("linux"/"initrd"), and the guest
# decompresses it under emulation. Bochs is stopped at LIMIT_S (default 180).
#
# Prints one line and caches it next to the kernel tree (bochs-boot.txt,
# reused while the tree's built.stamp is unchanged):
#   bochs-boot: PASS boots to the payload in P s; ...   userspace within LIMIT_S
#   bochs-boot: SLOW no payload within LIMIT_S s (...)  did not get there
#   bochs-boot: FAIL ...                                 crashed before it
#   bochs-boot: SKIP reason                   cannot measure here
# Exit status 0 when it reached the payload within LIMIT_S, 1 when not,
# 4 on SKIP.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
vmdir=$top/selftests/vm
tree=${1:?usage: $0 KERNEL_TREE [LIMIT_S]}
limit=${2:-180}
entry=$(dirname "$tree")
stamp=$entry/built.stamp
out=$entry/bochs-boot.txt

skip() { echo "bochs-boot: SKIP $*"; exit 4; }

bz=$tree/arch/x86/boot/bzImage
[ -f "$bz" ] || skip "no $bz"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(sed -n 2p "$out")" = "$(cat "$stamp") limit=$limit v2" ]; then
	head -n 1 "$out"
	grep -q '^bochs-boot: PASS' "$out"
	exit $?
fi
for tool in bochs grub-mkrescue xorriso mformat; do
	command -v "$tool" >/dev/null || skip "no $tool"
done
[ -r /usr/share/bochs/BIOS-bochs-latest ] || skip "no Bochs BIOS (bochsbios)"
[ -r /usr/share/vgabios/vgabios.bin ] || skip "no VGA BIOS (vgabios)"

work=$(mktemp -d "${TMPDIR:-/tmp}/epm-bochs-debug.XXXXXX")
trap 'rm -rf "$work"' EXIT
release=$(cat "$entry/kernelrelease" 2>/dev/null || echo debug)

mkdir -p "$work/payload"
cat >"$work/payload/run.sh" <<'EOF'
#!/bin/sh
echo "bochs-boot: $(uname -r) up $(cut -d' ' -f1 /proc/uptime) s"
grep -m1 -o -w -E 'vmx' /proc/cpuinfo
dmesg | grep -m1 'KernelAddressSanitizer initialized'
echo "ok 1 booted" >"$RESULT"
EOF
"$vmdir/mkinitramfs.sh" "$release" "$work/payload" "$work/initrd.cpio.gz" >/dev/null ||
	skip "mkinitramfs.sh failed"
cmdline="console=ttyS0,115200 quiet nokaslr mitigations=off panic=-1 reboot=t"
cmdline="$cmdline cryptomgr.notests tsc=reliable no_timer_check audit=0 nowatchdog kmemleak=on"
mkdir -p "$work/iso/boot/grub"
cp "$bz" "$work/iso/boot/bzImage"
cp "$work/initrd.cpio.gz" "$work/iso/boot/initrd.img"
cat >"$work/iso/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
menuentry "ept-pmap debug kernel" {
  linux /boot/bzImage $cmdline
  initrd /boot/initrd.img
}
CFG
grub-mkrescue -o "$work/boot.iso" "$work/iso" >"$work/grub.log" 2>&1 ||
	skip "grub-mkrescue failed: $(tail -n 1 "$work/grub.log")"

cat >"$work/bochsrc" <<RC
display_library: rfb, options="timeout=0"
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=corei7_skylake_x, count=1, ips=100000000, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=1024, host=1024
pci: enabled=1, chipset=i440fx
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path=$work/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$work/console.log
com2: enabled=1, mode=file, dev=$work/result.log
clock: sync=none, time0=local
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
speaker: enabled=0
log: $work/bochs.log
panic: action=fatal
error: action=ignore
info: action=ignore
debug: action=ignore
RC
printf 'c\n' >"$work/cont.rc"
: >"$work/console.log"
: >"$work/result.log"

start=$(date +%s)
(
	while sleep 1; do
		if grep -a -q 'running /payload/run.sh' "$work/console.log" 2>/dev/null; then
			echo $(($(date +%s) - start)) >"$work/payload_at"
			break
		fi
	done
) &
watch=$!
(cd "$work" && timeout -k 5 "$limit" bochs -q -f "$work/bochsrc" -rc "$work/cont.rc" \
	</dev/null >"$work/bochs.out" 2>&1)
brc=$?
took=$(($(date +%s) - start))
kill "$watch" 2>/dev/null
wait "$watch" 2>/dev/null
payload_at=$(cat "$work/payload_at" 2>/dev/null || echo "-")

# "Boots" means reaches the payload (userspace); the end of the run adds
# /init's closing kmemleak scan and dmesg copy, slow under Bochs.
if grep -a -q 'EPM-END rc=0' "$work/result.log"; then
	end="powered off at $took s"
else
	end="no poweroff within $limit s (/init's closing kmemleak scan is slow here)"
fi
if [ "$payload_at" != "-" ] && [ "$payload_at" -le "$limit" ]; then
	line="bochs-boot: PASS boots to the payload in $payload_at s; $end"
elif [ $brc -eq 124 ] || [ $brc -eq 137 ]; then
	last=$(tr -d '\r' <"$work/console.log" | grep -a -v '^$' | tail -n 1 | cut -c1-100)
	line="bochs-boot: SLOW no payload within $limit s (last console line: ${last:-none})"
else
	line="bochs-boot: FAIL after $took s (bochs exit $brc, payload never started)"
fi
echo "$line"
[ -f "$stamp" ] && printf '%s\n%s limit=%s v2\n' "$line" "$(cat "$stamp")" "$limit" >"$out"
case $line in *PASS*) exit 0 ;; *) exit 1 ;; esac
