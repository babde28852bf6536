#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/mkgrubiso.sh OUT.iso KERNEL.mb INITRD "CMDLINE"
#
# Write a BIOS-bootable GRUB ISO (grub-mkrescue; needs grub-pc-bin, xorriso
# and mtools) that "multiboot"s KERNEL.mb (made by mkpvh.py) with CMDLINE and
# passes INITRD, still compressed, as the first module: the shim hands it to
# the kernel as the PVH initrd.
set -euo pipefail

if [ $# -ne 4 ]; then
	echo "usage: $0 OUT.iso KERNEL.mb INITRD \"CMDLINE\"" >&2
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
cp "$kernel" "$stage/boot/kernel.mb"
cp "$initrd" "$stage/boot/initrd.img"
cat >"$stage/boot/grub/grub.cfg" <<CFG
set timeout=0
set default=0
menuentry "ept-pmap test guest" {
  multiboot /boot/kernel.mb $cmdline
  module --nounzip /boot/initrd.img
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
