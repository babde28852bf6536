#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/docs-check.sh        (the docs lane of `make check`, `make docs-check`)
#
# The documentation against what it documents, on the host, in seconds:
#   1. man pages: scripts/docs_check.py (eptctl.8 against `eptctl --help`
#      and `eptctl CMD --help`, ept-pmap.4 against the uapi header,
#      README.md's eptctl and ioctl tables, design pointers), then groff
#      -ww: no warnings in either page;
#   2. bash completion: scripts/completion-test.sh;
#   3. install: `make install DESTDIR=... PREFIX=/opt/ept-pmap` must install
#      exactly the files README.md's "Installing" table lists (PREFIX,
#      KVER and VERSION substituted; rows marked libept-pmap only when lib/
#      has a Makefile), with the modes it gives; `make uninstall` with the
#      same variables must leave no file behind.
# Exit status: 0 pass, 1 fail.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

rc=0
step() {
	echo "docs: $*"
}

make -s -C tools/ctl >/dev/null
eptctl=$top/tools/ctl/eptctl

python3 scripts/docs_check.py "$eptctl" || rc=1

for page in Documentation/man/eptctl.8 Documentation/man/ept-pmap.4; do
	warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1 || true)
	if [ -n "$warn" ]; then
		echo "$warn"
		step "$page: groff warns (above)"
		rc=1
	fi
done
[ $rc -ne 0 ] || step "groff -ww: both pages clean"

bash scripts/completion-test.sh "$eptctl" || rc=1

# install into a DESTDIR, compare with README.md
dest=$(mktemp -d "${TMPDIR:-/tmp}/epm-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
prefix=/opt/ept-pmap
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
if ! out=$(make -s install DESTDIR="$dest" PREFIX="$prefix" 2>&1); then
	echo "$out"
	step "make install DESTDIR=$dest PREFIX=$prefix failed"
	exit 1
fi
# the kernel the Makefile chose (its default KVER)
kver=$(ls "$dest/lib/modules" 2>/dev/null || true)
if [ "$(printf '%s\n' "$kver" | grep -c .)" != 1 ]; then
	step "make install: want one kernel under $dest/lib/modules, got '${kver//$'\n'/ }'"
	exit 1
fi
(cd "$dest" && find . \( -type f -o -type l \) -printf '/%P %m\n' | sed 's/ 777$/ link/' | sort) \
	>"$dest.got"
have_lib=0
[ -f lib/Makefile ] && have_lib=1
# README.md, section "Installing": rows "| `PATH` | MODE | what |"
awk '/^## Installing/ { on = 1; next } /^## / { on = 0 } on && /^\| `(\/|PREFIX\/)/' README.md |
	awk -F'|' -v lib=$have_lib '{
		p = $2; m = $3; gsub(/[ `]/, "", p); gsub(/ /, "", m)
		if ($4 ~ /libept-pmap/ && !lib) next
		print p, m }' |
	sed -e "s|PREFIX|$prefix|" -e "s|KVER|$kver|" -e "s|VERSION|$version|g" | sort \
	>"$dest.want"
if [ ! -s "$dest.want" ]; then
	step "README.md: no \"## Installing\" table of \`/path\` rows"
	rc=1
elif ! diff -u "$dest.want" "$dest.got" >"$dest.diff"; then
	sed 's/^/  /' "$dest.diff"
	step "make install: files differ from README.md's \"Installing\" table (- README, + installed)"
	rc=1
else
	step "make install: the $(wc -l <"$dest.want") files README.md lists, modes included"
fi
make -s uninstall DESTDIR="$dest" PREFIX="$prefix" >/dev/null 2>&1 || {
	step "make uninstall failed"
	rc=1
}
left=$(find "$dest" \( -type f -o -type l \) -printf '/%P\n')
if [ -n "$left" ]; then
	printf '  %s\n' $left
	step "make uninstall left files behind"
	rc=1
else
	step "make uninstall: nothing left"
fi
rm -f "$dest.got" "$dest.want" "$dest.diff"

[ $rc -eq 0 ] && step PASS || step FAIL
exit $rc
