#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side helpers shared by the lanes' run.sh scripts (written by
# selftests/vm/lane.sh and debug/lane.sh, which put this file next to them
# in the payload): ". ./guest-lib.sh" there. Busybox sh.
#
# Results go to $RESULT as TAP: one line per step, each selftest's own TAP
# before it, indented four spaces, as a subtest; the console gets the
# selftest's output as it comes and a "lane: " line per step.
n=0
failed=0

result() {		# result ok|"not ok" description
	n=$((n + 1))
	[ "$1" = ok ] || failed=$((failed + 1))
	echo "$1 $n $2" >>"$RESULT"
	echo "lane: $1 $n $2"
}

check() {		# check description command...
	desc=$1
	shift
	if "$@"; then result ok "$desc"; else result "not ok" "$desc"; fi
}

finish() {
	echo "1..$n" >>"$RESULT"
	echo "lane: $n steps, $failed failed"
	exit $((failed > 0))
}

module_loaded() { [ -d /sys/module/ept_pmap ]; }
module_gone() { [ ! -e /sys/module/ept_pmap ] && [ ! -e /dev/ept-pmap ]; }
selftest_passed() { dmesg | grep -q 'ept_pmap: self-test: pass'; }

# rmmod must fail while a file is open, and leave the module working.
rmmod_refused_while_open() {
	exec 3<>/dev/ept-pmap || return 1
	if rmmod ept_pmap; then
		exec 3>&-
		echo "lane: rmmod succeeded with /dev/ept-pmap open"
		return 1
	fi
	exec 3>&-
	module_loaded && [ -c /dev/ept-pmap ]
}

# Run one selftest, killed after TIMEOUT seconds. Fails on a non-zero exit
# (4 is SKIP) or fewer results than its plan; the step says how long it took.
run_selftest() {	# TEST TIMEOUT
	t=$1
	start=$(date +%s)
	( timeout -s KILL "$2" "./$t" 2>&1; echo $? >/tmp/rc ) | tee /tmp/out
	rc=$(cat /tmp/rc)
	sed 's/^/    /' /tmp/out >>"$RESULT"
	plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' /tmp/out | head -n 1)
	got=$(grep -c -E '^(not )?ok [0-9]+' /tmp/out)
	secs=$(( $(date +%s) - start ))
	if [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
		result "not ok" "selftests: $t # exit status $rc after $secs s"
	elif [ -z "$plan" ] || [ "$got" -lt "$plan" ]; then
		result "not ok" "selftests: $t # ${got} of ${plan:-?} results"
	elif [ "$rc" = 4 ]; then
		result ok "selftests: $t # SKIP ($secs s)"
	else
		result ok "selftests: $t ($secs s)"
	fi
}

# The launcher's "RUN mitigations:" line (logged at load) against what the
# kernel says it selected (sysfs): with mitigations=off every path is off
# but the L1D flush before LONG64 guests; with the defaults, VERW follows
# the MDS mitigation, the RSB fill a Spectre v2 mitigation, and the L1D
# flush L1TF.
mitigation_paths() {
	line=$(dmesg | grep -o 'RUN mitigations: .*' | tail -n 1)
	v=/sys/devices/system/cpu/vulnerabilities
	echo "# $line" >>"$RESULT"
	for f in mds spectre_v2 l1tf retbleed; do
		echo "#   $f: $(cat $v/$f 2>/dev/null)" >>"$RESULT"
	done
	echo "lane: $line"
	[ -n "$line" ] || return 1
	l1d=on
	grep -q '^Not affected' $v/l1tf && l1d=off
	case " $(cat /proc/cmdline) " in
	*" mitigations=auto "*)
		verw=off
		grep -q 'Clear CPU buffers' $v/mds && verw=on
		rsb=off
		grep -q '^Mitigation' $v/spectre_v2 && rsb=on
		echo "$line" | grep -q "VERW $verw," || return 1
		if [ $rsb = on ]; then
			echo "$line" | grep -q -E 'RSB fill (on|lite),' || return 1
		else
			echo "$line" | grep -q 'RSB fill off,' || return 1
		fi
		if [ $l1d = on ]; then
			echo "$line" | grep -q -E 'L1D flush (software|FLUSH_CMD),' || return 1
		else
			echo "$line" | grep -q 'L1D flush off,' || return 1
		fi
		;;
	*)
		echo "$line" | grep -q 'VERW off, RSB fill off, SPEC_CTRL rewrite off, BHB clear off,' || return 1
		if [ $l1d = on ]; then
			echo "$line" | grep -q 'L1D flush [A-Za-z_]* (LONG64 only),' || return 1
		else
			echo "$line" | grep -q 'L1D flush off,' || return 1
		fi
		;;
	esac
}
