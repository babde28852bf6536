#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/mkgrubiso.sh OUT.iso KERNEL INITRD "CMDLINE"
#
# Write a BIOS-bootable GRUB ISO (grub-mkrescue; needs grub-pc-bin, xorriso
# and mtools) that boots KERNEL with CMDLINE and INITRD:
#   - a multiboot image made by mkpvh.py (KERNEL.mb) is "multiboot"ed and
#     INITRD passed, still compressed, as the first module: the shim hands
#     it to the kernel as the PVH initrd;
#   - a bzImage (the "HdrS" boot-protocol signature at offset 0x202) is
#     loaded with GRUB's "linux"/"initrd", the ordinary Linux boot protocol
#     (the kernel decompresses itself, slow under emulation, but any kernel
#     can be entered this way; a KASAN kernel cannot take the PVH entry).
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 OUT.iso KERNEL INITRD \"CMDLINE\"" >&2
	exit 2
fi
out=$1 kernel=$2 initrd=$3 cmdline=$4

for tool in grub-mkrescue xorriso mformat; do
	command -v "$tool" >/dev/null ||
		{ echo "mkgrubiso.sh: no $tool (apt-get install grub-pc-bin xorriso mtools)" >&2; exit 1; }
done
[ -d /usr/lib/grub/i386-pc ] ||
	{ echo "mkgrubiso.sh: no /usr/lib/grub/i386-pc (apt-get install grub-pc-bin)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/epm-grubiso.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
cp "$initrd" "$stage/boot/initrd.img"
if [ "$(dd if="$kernel" bs=1 skip=514 count=4 status=none)" = HdrS ]; then
	cp "$kernel" "$stage/boot/bzImage"
	load="linux /boot/bzImage $cmdline
  initrd /boot/initrd.img"
else
	cp "$kernel" "$stage/boot/kernel.mb"
	load="multiboot /boot/kernel.mb $cmdline
  module --nounzip /boot/initrd.img"
fi
cat >"$stage/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
menuentry "ept-pmap test guest" {
  $load
}
CFG
tmp_out=$out.tmp.$$
if ! grub-mkrescue -o "$tmp_out" "$stage" >"$stage.log" 2>&1; then
	cat "$stage.log" >&2
	rm -f "$stage.log" "$tmp_out"
	echo "mkgrubiso.sh: grub-mkrescue failed" >&2
	exit 1
fi
rm -f "$stage.log"
mv -f "$tmp_out" "$out"
printf '%s\n' "$out"
