#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# eptctl in the VM lane (guest side, busybox sh; selftests/vm/lane.sh puts
# it, eptctl and eptctl.schema.json into the QEMU payload and run.sh runs
# it with the module loaded, as root): every subcommand with its tree, JSON
# and DOT output, and every error path. Each case is one eptctl run; what
# it printed and its exit status go to $RESULT between markers,
#
#	# eptctl-case NAME
#	# eptctl-out |LINE          (stdout)
#	# eptctl-err |LINE          (stderr)
#	# eptctl-rc N
#
# and selftests/ctl/check.py compares them on the host with
# selftests/ctl/expected/NAME (host-physical addresses masked) and
# validates every -j document against tools/ctl/eptctl.schema.json.
# The guest decides nothing: this script exits 0 once eptctl ran (1 when
# there is no ./eptctl to run).
E=./eptctl
[ -x "$E" ] || { echo "eptctl-cases: no ./eptctl"; exit 1; }

t() {	# NAME ARGS...: run eptctl ARGS
	name=$1
	shift
	"$E" "$@" >/tmp/ctl.out 2>/tmp/ctl.err
	rc=$?
	{
		echo "# eptctl-case $name"
		sed 's/^/# eptctl-out |/' /tmp/ctl.out
		sed 's/^/# eptctl-err |/' /tmp/ctl.err
		echo "# eptctl-rc $rc"
	} >>"$RESULT"
}

# A layout with a leaf of every size: 4K (anon), 2M (hugetlb), 1G (hugetlb).
MAPS="map --gpa 0 --size 16k --perm rx ; map --gpa 0x200000 --size 4m --perm rw --hugetlb ; map --gpa 0x40000000 --size 1g --perm rwx --hugetlb"

# ---- help, versions, capabilities ----
t help-overview --help
t help-cmd help map
t help-cmd-opt unmap --help
t help-json -j help
t help-cmd-json -j run --help
t version-opt --version
t version-opt-json -jV
t version version
t version-json -j version
t caps caps
t caps-json -j caps
t caps-pretty -jp caps

# ---- a space with every leaf size, in every format ----
printf '%s\n' "$MAPS" 'dump' 'check' 'stats' >/tmp/b1
t dump-tree -b /tmp/b1
printf '%s\n' "$MAPS" 'dump --leaves' >/tmp/b2
t dump-leaves -b /tmp/b2
printf '%s\n' "$MAPS" 'dump --format dot' >/tmp/b3
t dump-dot -b /tmp/b3
printf '%s\n' "$MAPS" 'dump --format json' >/tmp/b4
t dump-format-json -b /tmp/b4
printf '%s\n' "$MAPS" 'dump' 'dump --leaves' 'check' 'stats' 'eptp' \
	'query --gpa 0x3000' 'query --gpa 0x3fffff' 'query --gpa 0x7fffffff' \
	'query --gpa 0x80000000' 'query --gpa 0x8000000000' 'sleep 1' >/tmp/b5
t all-json -j -b /tmp/b5
t all-pretty -p -b /tmp/b5
printf '%s\n' "$MAPS" 'query --gpa 0x3000' 'query --gpa 0x3fffff' \
	'query --gpa 0x7fffffff' 'query --gpa 0x80000000' 'query --gpa 0x8000000000' \
	'eptp' >/tmp/b6
t query-eptp -b /tmp/b6
t empty-space -- dump ';' dump --format dot ';' check ';' stats ';' query --gpa 0
t empty-space-json -j dump ';' check ';' stats ';' query --gpa 0

# ---- changes: split by protect and unmap, memtypes, flags ----
t protect-split -v map --gpa 0x200000 --size 2m --perm rw --hugetlb -- \
	protect --gpa 0x201000 --size 4k --perm r -- query --gpa 0x201000 -- \
	stats -- unmap --gpa 0x200000 --size 2m -- stats -- check
t protect-split-json -j map --gpa 0x200000 --size 2m --perm rw --hugetlb -- \
	protect --gpa 0x201000 --size 4k --perm r -- unmap --gpa 0x300000 --size 4k -- \
	stats -- check
t memtypes -x map --gpa 0 --size 4k --perm rw --memtype uc -- \
	map --gpa 0x1000 --size 4k --perm rw --memtype wc --ipat -- \
	map --gpa 0x2000 --size 4k --perm r --memtype wt --ad -- \
	map --gpa 0x3000 --size 4k --perm rwx --memtype wp -- \
	map --gpa 0x200000 --size 2m --perm rw --hugetlb --max-page 4k -- \
	dump --leaves --format dot -- stats
t memtypes-json -j map --gpa 0 --size 4k --perm rw --memtype uc -- \
	map --gpa 0x1000 --size 4k --perm rw --memtype wc --ipat -- \
	map --gpa 0x2000 --size 4k --perm r --memtype wt --ad -- dump --leaves
t combined-flags -vj map --gpa 0 --size 8k --perm rw ';' unmap --gp 0 --si 4k ';' \
	unmap --gpa 0 --size 1g
printf 'abc' >/tmp/guest.bin
: >/tmp/empty.bin
t load -v map --gpa 0x1000 --size 8k --perm rwx -- load --gpa 0x1ffe /tmp/guest.bin
t err-load-span map --gpa 0x1000 --size 4k --perm rwx -- load --gpa 0x1ffe /tmp/guest.bin
t load-json -j map --gpa 0x1000 --size 8k --perm rwx -- load --gpa 0x1ffe /tmp/guest.bin
t sleep-json -j sleep 0

# ---- every error path: message and exit status ----
t err-no-device -d /nonexistent/ept-pmap caps
t err-no-device-json -j -d /nonexistent/ept-pmap caps
t err-not-device -d /dev/null stats
t err-overlap map --gpa 0 --size 8k --perm r -- map --gpa 0x1000 --size 4k --perm r
t err-overlap-json -j map --gpa 0 --size 8k --perm r -- map --gpa 0x1000 --size 4k --perm r
t err-unaligned map --gpa 0x1001 --size 4k --perm r
t err-size-zero map --gpa 0 --size 0 --perm r
t err-beyond-48 map --gpa 0xfffffffff000 --size 8k --perm r
t err-w-without-r map --gpa 0 --size 4k --perm w
t err-no-perm map --gpa 0 --size 4k --perm none
t err-raw-perm map --gpa 0 --size 4k --perm 8
t err-exec-only map --gpa 0 --size 4k --perm x
t err-memtype map --gpa 0 --size 4k --perm r --memtype 9
t err-max-page map --gpa 0 --size 4k --perm r --max-page 7
t err-uaddr-offset map --gpa 0 --size 4k --perm r --uaddr-offset 1
t err-file map --gpa 0 --size 4k --perm r --file /tmp/regular
t err-hugetlb-none map --gpa 0 --size 64m --perm r --hugetlb
t err-unmap-unaligned unmap --gpa 0 --size 0x800
t err-unmap-beyond unmap --gpa 0x1000000000000 --size 4k
t err-protect-unmapped protect --gpa 0 --size 4k --perm r
t protect-add-w map --gpa 0 --size 4k --perm r -- protect --gpa 0 --size 4k --perm rw
t err-protect-w-only map --gpa 0 --size 4k --perm rw -- protect --gpa 0 --size 4k --perm w
t err-query-beyond query --gpa 0x1000000000000
t err-eptp-ad eptp --ad
t err-run-nodev map --gpa 0x1000 --size 4k --perm rwx -- run --entry 0x1000
t err-run-nodev-json -j run --entry 0x1000
t err-load-unmapped load --gpa 0x1000 /tmp/guest.bin
t err-load-missing-file map --gpa 0 --size 4k --perm rw -- load --gpa 0 /nonexistent.bin
t err-load-empty map --gpa 0 --size 4k --perm rw -- load --gpa 0 /tmp/empty.bin
t err-stops-sequence map --gpa 0 --size 4k --perm r -- protect --gpa 0x1000 --size 4k --perm r -- stats

# ---- usage errors (exit status 2), nothing run ----
t usage-none
t usage-unknown-cmd frobnicate
t usage-unknown-opt unmap --gpa 0 --size 4k --perm r
t usage-ambiguous map --m 4k
t usage-short-opt unmap -q
t usage-global-opt --bogus caps
t usage-global-short -q caps
t usage-no-value map --gpa
t usage-global-no-value -d
t usage-flag-value map --gpa 0 --size 4k --perm r --ipat=1
t usage-missing map --gpa 0 --size 4k
t usage-missing-pos load --gpa 0
t usage-extra-pos load --gpa 0 a b
t usage-bad-number map --gpa 0x --size 4k --perm r
t usage-too-big map --gpa 99999999999999999999 --size 4k --perm r
t usage-bad-perm map --gpa 0 --size 4k --perm rwq
t usage-bad-memtype map --gpa 0 --size 4k --perm r --memtype xx
t usage-bad-format dump --format svg
t usage-backings map --gpa 0 --size 4k --perm r --thp --anon
t usage-run-timeout run --entry 0 --timeout 0
t usage-run-cr3 run --entry 0 --cr3 0x1000
t usage-run-until run --entry 0 --until intr
t usage-run-reg run --entry 0 --reg rip=1
t usage-sequence map --gpa 0 --size 4k --perm r -- frob -- stats
t usage-json -j map --gpa 0 --size 4k
t usage-x-json -xj caps
t usage-batch-args -b /tmp/b1 caps
printf 'map --gpa 0 --size 4k --perm r\n# a comment\nmap --gpa 0 --size 4k --perm "r\n' >/tmp/bq
t usage-batch-quote -b /tmp/bq
printf 'map --gpa 0 --size 4k --perm r ; stats\n\nmap --gpa 0 --size 4k --perm r\n' >/tmp/bl
t err-batch-line -b /tmp/bl
t err-batch-missing -b /nonexistent.batch
t err-batch-line-json -j -b /tmp/bl
exit 0
