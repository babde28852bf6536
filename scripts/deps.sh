#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/deps.sh
#
# Install (with apt-get, as root) whatever `make demo` and `make check`
# need and this machine lacks: Debian's 6.1, newest 6.12 and newest 6.12
# PREEMPT_RT (-rt-amd64) kernels with headers, QEMU, Bochs and what boots
# it (GRUB, xorriso), busybox, clang's fuzzer runtime, sparse,
# linux-source-6.1 (kselftest harness, checkpatch), dkms, Graphviz (the
# demo's picture) and groff (the man-page check). Installs nothing when
# everything is there. The package names are Debian 12's: on another
# distribution it prints what Debian would want and goes on (README.md,
# "Other distributions").
set -euo pipefail

want=(gcc make python3 cpio xz-utils zstd busybox-static qemu-system-x86
      sparse clang libclang-rt-14-dev linux-source-6.1 dkms
      linux-headers-amd64 linux-image-amd64
      bochs bochsbios vgabios grub-pc-bin grub-common xorriso mtools rsync
      flex bison bc libelf-dev libssl-dev graphviz groff-base
      python3-jsonschema pkg-config kexec-tools)

debian=0
grep -q -x 'ID=debian' /etc/os-release 2>/dev/null && debian=1
updated=0

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

# The newest Debian 6.12 kernels, with headers: the generic flavour
# (-amd64) and PREEMPT_RT (-rt-amd64; linux-image-rt-amd64 is still 6.1 in
# Debian 12). Not -cloud.
want_612() {	# FLAVOUR
	local flavour=$1 k

	ls -d /lib/modules/6.12.*+deb12-"$flavour"/build >/dev/null 2>&1 && return 0
	# a fresh machine may have no package lists yet: search fresh ones
	if [ "$(id -u)" = 0 ] && [ $debian = 1 ] && [ $updated = 0 ]; then
		apt-get update -q >/dev/null
		updated=1
	fi
	k=$(apt-cache search --names-only "^linux-image-6\.12\.[0-9.]+\+deb12-$flavour\$" 2>/dev/null |
	    awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n 1)
	if [ -n "$k" ]; then
		missing+=("linux-image-$k" "linux-headers-$k")
	else
		echo "deps: note: no linux-image-6.12.*-$flavour package found; that kernel's lanes will be skipped" >&2
	fi
}
want_612 amd64
want_612 rt-amd64

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: everything is installed"
	exit 0
fi
if [ $debian = 0 ]; then
	echo "deps: not Debian, installing nothing; Debian 12 would want: ${missing[*]}" >&2
	echo "deps: install their equivalents (README.md, \"Other distributions\") if a step below fails" >&2
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
[ $updated = 1 ] || apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
