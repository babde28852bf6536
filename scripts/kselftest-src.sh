#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/kselftest-src.sh CACHEDIR
#
# Make sure these kernel-tree files exist under CACHEDIR and print CACHEDIR:
#   kselftest/kselftest_harness.h  kselftest/kselftest.h
#   checkpatch/checkpatch.pl  checkpatch/spelling.txt
#   checkpatch/const_structs.checkpatch
# They come from Debian's linux-source-6.1: the installed tarball
# /usr/src/linux-source-6.1.tar.xz if the package is installed, otherwise the
# .deb fetched with "apt-get download" into CACHEDIR, streamed (the inner
# tarball is never written out) and then deleted.  Only those five members are
# extracted.  Nothing is done when all five files are already there; nothing
# is ever written into the repository.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 CACHEDIR" >&2
	exit 2
fi
mkdir -p "$1"
cache=$(cd "$1" && pwd)
pkg=linux-source-6.1
tarball=/usr/src/$pkg.tar.xz

# tree path (below the tarball's top directory) -> cache path
declare -A files=(
	[tools/testing/selftests/kselftest_harness.h]=kselftest/kselftest_harness.h
	[tools/testing/selftests/kselftest.h]=kselftest/kselftest.h
	[scripts/checkpatch.pl]=checkpatch/checkpatch.pl
	[scripts/spelling.txt]=checkpatch/spelling.txt
	[scripts/const_structs.checkpatch]=checkpatch/const_structs.checkpatch
)

complete() {
	local f
	for f in "${files[@]}"; do
		[ -s "$cache/$f" ] || return 1
	done
}

if complete; then
	printf '%s\n' "$cache"
	exit 0
fi

stage=$(mktemp -d "$cache/.extract.XXXXXX")
deb=
cleanup() {
	rm -rf "$stage"
	[ -z "$deb" ] || rm -f "$deb"
}
trap cleanup EXIT

# One wildcard per member, so the tarball's top directory name does not
# matter.  Read from a file, --occurrence lets tar stop once each has been
# found; read from a pipe, stopping early would kill the writer with SIGPIPE
# and fail the pipeline, so the pipe case reads to the end.
patterns=()
for f in "${!files[@]}"; do
	patterns+=("*/$f")
done
untar() {
	tar -xJf - -C "$stage" --wildcards "$@" "${patterns[@]}"
}

if [ -r "$tarball" ]; then
	origin="$tarball ($(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo unknown))"
	untar --occurrence=1 <"$tarball"
else
	echo "kselftest-src.sh: $tarball missing, downloading $pkg" >&2
	(cd "$cache" && apt-get download -q "$pkg" >&2)
	deb=$(find "$cache" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n 1)
	[ -n "$deb" ] || { echo "kselftest-src.sh: apt-get download gave no .deb" >&2; exit 1; }
	origin="$(basename "$deb")"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xOf - --wildcards "*/usr/src/$pkg.tar.xz" | untar
fi

for f in "${!files[@]}"; do
	src=$(find "$stage" -path "*/$f" -type f | head -n 1)
	if [ -z "$src" ]; then
		echo "kselftest-src.sh: $f not found in $origin" >&2
		exit 1
	fi
	mkdir -p "$cache/$(dirname "${files[$f]}")"
	mv -f "$src" "$cache/${files[$f]}"
done
chmod +x "$cache/checkpatch/checkpatch.pl"
printf '%s\n' "$origin" >"$cache/kselftest/SOURCE"
cp "$cache/kselftest/SOURCE" "$cache/checkpatch/SOURCE"
printf '%s\n' "$cache"
