#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/vmx-count.sh RESULT_LOG CPU
#
# How many vmx_test tests ran in a VMX lane's guest, and whether that is
# enough. On a CPU model with VMX every vmx_test test must run: a test may
# SKIP only for a reason the model is known to lack (allowed_skips below,
# matched on the start of the SKIP text). Any other SKIP fails, above all
# "RUN cannot launch guests" (CAPS without EPM_CAP_RUN: the launcher broke),
# and so do fewer tests ran than the plan minus the allowed SKIPs. No test
# count is written here: the plan comes from vmx_test's own TAP.
#
# Prints one line, "vmx_test on CPU: R of N ran, S skipped as allowed",
# then one line per reason it fails; exits 0 or 1.
set -uo pipefail

result=$1
cpu=$2

# What a Bochs CPU model cannot give a vmx_test test, and why. Both
# models of the lane share these; a model lacking more (say, execute-only
# EPT) gets its own case on $1 here.
allowed_skips() {	# CPU
	# vmx.no_vmx_enodev is for CPUs without VMX: here it must skip
	echo "RUN works on this CPU"
	# a 2 GiB Bochs guest has no 1 GiB hugetlb page to give
	echo "no hugetlbfs 1G page"
}

# vmx_test's own TAP: the indented lines after "# vmx_test", up to its
# roll-up line. Prints "plan ran notok" and then one SKIP reason a line.
section=$(awk '
	/^# vmx_test$/ { on = 1; next }
	on && /^(not )?ok [0-9]+ selftests: vmx_test/ { on = 0 }
	on' "$result" 2>/dev/null)
plan=$(printf '%s\n' "$section" | sed -n 's/^ *1\.\.\([0-9]*\).*/\1/p' | head -n 1)
ran=$(printf '%s\n' "$section" | grep -E '^ *ok [0-9]+' | grep -c -v '# *SKIP')
notok=$(printf '%s\n' "$section" | grep -c -E '^ *not ok [0-9]+')
mapfile -t skips < <(printf '%s\n' "$section" |
		     grep -E '^ *ok [0-9]+.*# *SKIP' | sed 's/.*# *SKIP *//')
mapfile -t allowed < <(allowed_skips "$cpu")

declare -a why=()
allowed_n=0
for s in "${skips[@]}"; do
	ok=0
	for a in "${allowed[@]}"; do
		case $s in "$a"*) ok=1 ;; esac
	done
	if [ $ok -eq 1 ]; then
		allowed_n=$((allowed_n + 1))
	else
		why+=("SKIP not allowed on $cpu: $s")
	fi
done
if [ -z "$plan" ]; then
	why+=("no vmx_test plan in $result: vmx_test did not run")
	plan=0
else
	must=$((plan - allowed_n))
	[ "$ran" -ge "$must" ] ||
		why+=("$ran vmx_test tests ran, $must must on $cpu ($notok not ok)")
	[ "$plan" -gt 0 ] || why+=("vmx_test has no tests")
fi

echo "vmx_test on $cpu: $ran of $plan ran, $allowed_n skipped as allowed, ${#skips[@]} skipped in all"
# the same reason once, with its count
printf '%s\n' "${why[@]}" | sed '/^$/d' | sort | uniq -c |
	sed 's/^ *\([0-9]*\) /    FAIL x\1: /'
[ ${#why[@]} -eq 0 ]
