#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/host-lib-test.sh
#
# The console judge and the verdict of host-lib.sh on made-up consoles, no
# VM: every kind of kernel problem fails a run, a clean console and
# kmemleak's boot banner do not, the end marker is read exactly. TAP out;
# exit status 0 when every case held.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/epm-host-lib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0
bad=0
is() {	# WANT GOT NAME
	n=$((n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $n $3"
	else
		echo "not ok $n $3: want '$1', got '$2'"
		bad=$((bad + 1))
	fi
}

# one console line per problem kind, as the kernel prints it
while IFS='|' read -r want line; do
	printf '[    1.0] ok\r\n%s\r\n[    2.0] ok\n' "$line" >"$tmp/console"
	is "$want" "$(epm_problems "$tmp/console")" "problem: $line"
done <<'EOF'
WARNING:|[    0.000000] WARNING: CPU: 0 PID: 0 at arch/x86/kernel/cpu/topology_common.c:57 parse_legacy+0x10e/0x130
BUG:|[   12.3] BUG: unable to handle page fault for address: ffff888000000000
BUG: KASAN|[   12.3] BUG: KASAN: slab-out-of-bounds in epm_map+0x12/0x40 [ept_pmap]
Oops|[   12.3] Oops: 0000 [#1] PREEMPT SMP NOPTI
Call Trace|[   12.3] Call Trace:
general protection|[   12.3] general protection fault, probably for non-canonical address 0xdead000000000100
Kernel panic|[   12.3] Kernel panic - not syncing: Fatal exception
kernel BUG at|[   12.3] kernel BUG at mm/gup.c:123!
possible circular locking|[   12.3] possible circular locking dependency detected
inconsistent lock state|[   12.3] inconsistent lock state
scheduling while atomic|[   12.3] scheduling while atomic: rmmod/123/0x00000002
sleeping function called from invalid context|[   12.3] sleeping function called from invalid context at mm/gup.c:1
suspicious RCU usage|[   12.3] suspicious RCU usage.
turning off the locking correctness validator|[   12.3] turning off the locking correctness validator.
suspected memory leak|[   12.3] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
unreferenced object|unreferenced object 0xffff888003a1c000 (size 4096):
|[    0.5] kmemleak: Kernel memory leak detector initialized (mem pool available: 15763)
|[    3.4] ept_pmap: self-test: pass
EOF

# several at once: each named once, sorted
printf 'WARNING: x\nCall Trace:\nWARNING: y\n' >"$tmp/console"
is "Call Trace,WARNING:" "$(epm_problems "$tmp/console")" "problems listed once each, sorted"
# the debug lane's list leaves kmemleak to its attribution
printf 'unreferenced object 0x1 (size 8):\n' >"$tmp/console"
is "" "$(epm_problems "$tmp/console" "$EPM_KERNEL_PROBLEMS")" "kernel problems alone: no leak"

# judge + verdict, as a runner uses them
verdict() {	# RESULT CONSOLE: "STATUS|LAST LINE"
	local out rc
	reasons=()
	verbose=1
	epm_judge_end "$1" >/dev/null
	epm_judge_console "$2" "kernel log" "problems" 20 >/dev/null
	out=$(epm_verdict "vm: k" "$(date +%s.%N)" "$2")
	rc=$?
	echo "$rc|$(printf '%s\n' "$out" | tail -n 1 | sed 's/ in [0-9.]* s$//')"
}
printf 'EPM-END rc=0\n' >"$tmp/result"
printf 'clean\n' >"$tmp/console"
is "0|vm: k: PASS" "$(verdict "$tmp/result" "$tmp/console")" "clean run passes"
printf 'EPM-END rc=3\n' >"$tmp/result"
is "1|vm: k: FAIL (run.sh rc=3)" "$(verdict "$tmp/result" "$tmp/console")" "run.sh's status fails the run"
: >"$tmp/result"
is "1|vm: k: FAIL (no EPM-END marker)" "$(verdict "$tmp/result" "$tmp/console")" "no end marker fails the run"
printf 'EPM-END rc=0\n' >"$tmp/result"
printf 'WARNING: at foo\nCall Trace:\n' >"$tmp/console"
is "1|vm: k: FAIL (kernel log: Call Trace,WARNING:)" "$(verdict "$tmp/result" "$tmp/console")" "a WARNING fails a passing run"

echo "1..$n"
[ $bad -eq 0 ]
