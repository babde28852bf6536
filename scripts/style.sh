#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/style.sh
#
# checkpatch.pl (from Debian's linux-source-6.1, extracted into the cache by
# kselftest-src.sh, never committed) over every kernel source and header of
# the module, then sparse over the module build. Exits non-zero on any
# checkpatch error/warning or sparse message.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${EPM_CACHE:-$HOME/.cache/ept-pmap}
dir=$(bash "$top/scripts/kselftest-src.sh" "$cache")
cp=$dir/checkpatch/checkpatch.pl
rc=0

cd "$top"
files=(src/*.c src/*.h include/uapi/linux/*.h)
# --no-tree: out of tree; it finds spelling.txt and const_structs beside it
if ! perl "$cp" --no-tree --strict --terse --show-types --quiet \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG,LINUX_VERSION_CODE \
	-f "${files[@]}"; then
	echo "style: checkpatch: FAIL"
	rc=1
else
	echo "style: checkpatch: PASS (${#files[@]} files)"
fi

kver=${KVER:-$(bash "$top/selftests/vm/kernels.sh" | tail -n 1)}
out=$(make -s -C "/lib/modules/$kver/build" M="$top" C=2 W=1 modules 2>&1 |
      grep -v -e 'Skipping BTF' -e '^  [A-Z]' || true)
if [ -n "$out" ]; then
	echo "$out"
	echo "style: sparse ($kver): FAIL"
	rc=1
else
	echo "style: sparse ($kver): PASS"
fi
exit $rc
