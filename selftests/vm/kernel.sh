#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/kernel.sh KVER OUTDIR
#
# Write OUTDIR/vmlinux-KVER, the uncompressed ELF kernel cut out of
# /boot/vmlinuz-KVER, and print its path.  QEMU boots the ELF through PVH,
# saving the guest the seconds it would spend decompressing under TCG.
# Cached: nothing is done while the output is newer than the bzImage.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 KVER OUTDIR" >&2
	exit 2
fi
kver=$1
outdir=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=/boot/vmlinuz-$kver
out=$outdir/vmlinux-$kver

if [ ! -r "$image" ]; then
	echo "kernel.sh: no readable $image" >&2
	exit 1
fi
mkdir -p "$outdir"
if [ ! -s "$out" ] || [ ! "$out" -nt "$image" ]; then
	python3 "$here/extract-vmlinux.py" "$image" "$out"
fi
printf '%s\n' "$out"
