#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/demo.sh [KVER]        (what `make demo` runs)
#
# Build the module and eptctl, boot a QEMU VM with them, map three regions
# (code, THP-backed data, an uncached page), show one translation and the
# KPT and EPT side by side, verify the lockstep invariant and print stats.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kver=${1:-$(bash selftests/vm/kernels.sh | tail -n 1)}

make -s KVER="$kver" module
make -s -C tools/ctl
payload=$(mktemp -d)
trap 'rm -rf "$payload"' EXIT
cp ept_pmap.ko tools/ctl/eptctl "$payload/"
cat >"$payload/demo.batch" <<'BATCH'
# one address space: every line below acts on it
caps
map --gpa 0 --size 64k --perm rx
map --gpa 0x200000 --size 4m --perm rw --thp
map --gpa 0x1000000 --size 4k --perm r --memtype uc
query --gpa 0x201234
dump --format tree
check
stats
BATCH
cat >"$payload/run.sh" <<'RUN'
#!/bin/sh
insmod /payload/ept_pmap.ko || exit 1
{
	echo '$ eptctl -b demo.batch'
	/payload/eptctl -b /payload/demo.batch 2>&1
	rc=$?
	echo
	echo "RUN (running a guest) comes with the VMX launcher (issue #4);"
	echo "this kernel's CPU has no VMX anyway (QEMU TCG): see 'caps' above."
	exit $rc
} >"$RESULT"
RUN
chmod +x "$payload/run.sh"
exec bash selftests/vm/run-qemu.sh --kver "$kver" --payload "$payload" \
	--timeout 180
