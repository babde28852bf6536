#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/deps.sh
#
# Install (with apt-get, as root) whatever `make check` needs and this
# machine lacks: Debian's 6.1 and newest 6.12 kernels with headers, QEMU,
# Bochs and what boots it (GRUB, xorriso), busybox, clang's fuzzer runtime,
# sparse, linux-source-6.1 (kselftest harness, checkpatch). Installs nothing
# when everything is there.
set -euo pipefail

want=(gcc make python3 cpio xz-utils zstd busybox-static qemu-system-x86
      sparse clang libclang-rt-14-dev linux-source-6.1 dkms
      linux-headers-amd64 linux-image-amd64
      bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools rsync
      flex bison bc libelf-dev libssl-dev python3-jsonschema pkg-config)

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

# the newest Debian 6.12 kernel (not -rt, not -cloud), with headers
if ! ls -d /lib/modules/6.12.*/build >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && [ ${#missing[@]} -eq 0 ]; then
		apt-get update -q >/dev/null
	fi
	k=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9.]+\+deb12-amd64$' 2>/dev/null |
	    awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n 1)
	if [ -n "$k" ]; then
		missing+=("linux-image-$k" "linux-headers-$k")
	else
		echo "deps: note: no linux-image-6.12 package found; the 6.12 lane will be skipped" >&2
	fi
fi

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything is installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
