#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1 OR MIT
#
# Usage: lib/tests/pkgconfig.sh     (make -C lib check runs it)
#
# Install libept-pmap into a temporary DESTDIR (PREFIX /opt/epm: pkg-config
# drops -I/usr/include as a system directory), build a consumer there the
# way a user would (pkg-config --cflags --libs, static and shared), run
# both, and check the installed file list. Also: the module's
# MODULE_VERSION is dkms.conf's PACKAGE_VERSION, the one version of the
# project.
set -euo pipefail
lib=$(cd "$(dirname "$0")/.." && pwd)
top=$(cd "$lib/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "not ok: $*"; exit 1; }

ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
mver=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' "$top/src/main.c")
[ "$mver" = "$ver" ] || fail "MODULE_VERSION \"$mver\" in src/main.c is not dkms.conf's \"$ver\""

make -s -C "$lib" install DESTDIR="$tmp/root" PREFIX=/opt/epm >/dev/null
want="opt/epm/include/ept-pmap.h
opt/epm/include/linux/ept_pmap.h
opt/epm/include/linux/ept_pmap_pte.h
opt/epm/lib/libept-pmap.a
opt/epm/lib/libept-pmap.so
opt/epm/lib/libept-pmap.so.0
opt/epm/lib/libept-pmap.so.$ver
opt/epm/lib/pkgconfig/libept-pmap.pc"
got=$(cd "$tmp/root" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
[ "$got" = "$want" ] || fail "installed files differ: $(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"

cat >"$tmp/consumer.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ept-pmap.h>

int main(void)
{
	/* not the device: every call is ENOTTY */
	int fd = ept_pmap_open("/dev/null");

	if (fd < 0 || ept_pmap_version(fd) != -ENOTTY)
		return 1;
	ept_pmap_close(fd);
	printf("%s %s\n", ept_pmap_lib_version(), ept_pmap_errno_name(ENOTTY));
	return strcmp(ept_pmap_vmx_reason_name(48), "EPT_VIOLATION") != 0;
}
C
export PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR="$tmp/root/opt/epm/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
[ "$(pkg-config --modversion libept-pmap)" = "$ver" ] || fail "pkg-config --modversion is not $ver"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$tmp/shared" "$tmp/consumer.c" \
	$(pkg-config --cflags --libs libept-pmap) -Wl,-rpath,"$tmp/root/opt/epm/lib"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -static -o "$tmp/static" "$tmp/consumer.c" \
	$(pkg-config --cflags --libs --static libept-pmap)
for b in shared static; do
	out=$("$tmp/$b") || fail "$b consumer failed"
	[ "$out" = "$ver ENOTTY" ] || fail "$b consumer printed '$out'"
done
# not "ldd | grep -q": grep's early exit would fail the pipe (pipefail)
deps=$(ldd "$tmp/shared")
[[ $deps == *"libept-pmap.so.0 => $tmp/root/opt/epm/lib/"* ]] ||
	fail "the shared consumer does not use the installed libept-pmap.so.0"
make -s -C "$lib" uninstall DESTDIR="$tmp/root" PREFIX=/opt/epm
left=$(cd "$tmp/root" && find . \( -type f -o -type l \))
[ -z "$left" ] || fail "uninstall left: $left"
echo "ok: install, pkg-config (shared and static consumer), uninstall; version $ver"
