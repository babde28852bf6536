#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/kernels.sh
#
# Print the installed kernel versions that can serve as a test guest and as a
# build target: those with both /boot/vmlinuz-KVER and /lib/modules/KVER/build
# (the headers).  One per line, version-sorted, newest last.  Exits 1 if none.
set -euo pipefail

kvers=()
for image in /boot/vmlinuz-*; do
	[ -e "$image" ] || continue
	kver=${image#/boot/vmlinuz-}
	[ -d "/lib/modules/$kver/build" ] && kvers+=("$kver")
done
if [ ${#kvers[@]} -eq 0 ]; then
	echo "kernels.sh: no kernel with both /boot/vmlinuz-X and headers" >&2
	exit 1
fi
printf '%s\n' "${kvers[@]}" | sort -V
