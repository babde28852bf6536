#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side pieces the emulator runners (selftests/vm/run-qemu.sh,
# selftests/bochs/run-bochs.sh) and debug/lane.sh share: ". host-lib.sh".
# One option parser, one console judge, one verdict, so every lane reads a
# run alike. (The guest side has guest-lib.sh.)
#
# The runners keep their results in the array "reasons" (why the run
# failed; empty: it passed) and print, last,
#   NAME: PASS in N s     or     NAME: FAIL (reason; reason) in N s
# which selftests/vm/lane.sh and debug/lane.sh read back.

# ---- options ----------------------------------------------------------------

# epm_parse_opts "OPT ..." ARGS...: parse a runner's command line. OPT
# names the options it takes (without "--"); each sets one variable:
#   kver payload timeout(timeout_s) mem smp cpu append modules log(logdir)
#   verbose(=1; also -v) kernel(kernel_image) moddir boot-limit(boot_limit)
# timeout, mem, smp and boot-limit take numbers; append and modules may be
# empty. -h/--help and anything else call the runner's usage(), which
# exits. $EPM_PROG names the runner in messages.
epm_parse_opts() {
	local allowed=" $1 " opt
	shift

	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage ;;
		-v) opt=verbose ;;
		--*) opt=${1#--} ;;
		*) opt= ;;
		esac
		if [ -z "$opt" ] || [[ $allowed != *" $opt "* ]]; then
			echo "$EPM_PROG: unknown option $1" >&2
			usage
		fi
		if [ "$opt" = verbose ]; then
			verbose=1
			shift
			continue
		fi
		case $opt in
		append | modules) [ $# -ge 2 ] ;;
		*) [ -n "${2:-}" ] ;;
		esac || { echo "$EPM_PROG: $1 needs a value" >&2; exit 2; }
		case $opt in
		timeout | mem | smp | boot-limit)
			case $2 in
			*[!0-9]*) echo "$EPM_PROG: $1 takes a number, not $2" >&2; exit 2 ;;
			esac ;;
		esac
		case $opt in
		kver) kver=$2 ;;
		payload) payload=$2 ;;
		timeout) timeout_s=$2 ;;
		mem) mem=$2 ;;
		smp) smp=$2 ;;
		cpu) cpu=$2 ;;
		append) append=$2 ;;
		modules) modules=$2 ;;
		log) logdir=$2 ;;
		kernel) kernel_image=$2 ;;
		moddir) moddir=$2 ;;
		boot-limit) boot_limit=$2 ;;
		esac
		shift 2
	done
}

# ---- tests ----------------------------------------------------------------------

# Selftests only debug/lane.sh runs: a fault-injection sweep needs the debug
# kernel's fail-nth, and a stress shows its bugs through KASAN and lockdep.
EPM_DEBUG_ONLY_TESTS="faultinj_test stress_test"

# ---- the console judge --------------------------------------------------------

# What on a console is a kernel problem: any of these fails a run. The
# debug kernel's detectors print most of theirs under BUG: or WARNING:
# anyway; they are named so a report says which it was.
EPM_KERNEL_PROBLEMS='BUG: KASAN|possible circular locking|possible recursive locking|inconsistent lock state|sleeping function called from invalid context|scheduling while atomic|suspicious RCU usage|turning off the locking correctness validator|kernel BUG at|BUG:|WARNING:|Oops|Call Trace|general protection|Kernel panic'
# kmemleak's reports (its boot banner also says "kmemleak:", so match the
# report): a problem for the runners; debug/lane.sh judges each object by
# who is responsible for it instead.
EPM_KERNEL_LEAKS='suspected memory leak|unreferenced object'

# epm_problems FILE [PATTERN]: the problems on the console text FILE as
# "A,B" (sorted, each once), nothing when there is none. PATTERN defaults
# to problems and leaks.
epm_problems() {
	local pat=${2:-$EPM_KERNEL_PROBLEMS|$EPM_KERNEL_LEAKS}

	{ tr -d '\r' <"$1" | grep -a -o -E "$pat" | sort -u | paste -sd, -; } || true
}

# epm_judge_console FILE LABEL TITLE LINES: when FILE has problems, add
# "LABEL: A,B" to reasons and show each with its context, at most LINES
# lines, between "---- TITLE ----" and "---- end of TITLE ----".
epm_judge_console() {
	local file=$1 label=$2 title=$3 lines=$4 found

	found=$(epm_problems "$file")
	[ -n "$found" ] || return 0
	reasons+=("$label: $found")
	echo "---- $title ----"
	{ tr -d '\r' <"$file" |
	  grep -a -n -E -B 2 -A 12 "$EPM_KERNEL_PROBLEMS|$EPM_KERNEL_LEAKS" |
	  head -n "$lines"; } || true
	echo "---- end of $title ----"
}

# epm_judge_end RESULT: the guest's end marker on the result channel
# (/init writes "EPM-END rc=N" there) into reasons; status 1 when the
# marker is missing.
epm_judge_end() {
	local end

	end=$(grep -a -o 'EPM-END rc=[0-9]*' "$1" 2>/dev/null | tail -n 1 || true)
	if [ -z "$end" ]; then
		reasons+=("no EPM-END marker")
		return 1
	fi
	[ "$end" = "EPM-END rc=0" ] || reasons+=("run.sh ${end#EPM-END }")
	return 0
}

# ---- the verdict ----------------------------------------------------------------

epm_elapsed() {	# START (date +%s.%N): seconds since, one decimal
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# epm_verdict NAME START CONSOLE: the last line of a run. With no reasons:
# "NAME: PASS in N s", status 0. Otherwise the console's last 150 lines
# (unless $verbose showed it live) and "NAME: FAIL (reasons) in N s",
# status 1.
epm_verdict() {
	local name=$1 start=$2 console=$3 why

	if [ ${#reasons[@]} -eq 0 ]; then
		echo "$name: PASS in $(epm_elapsed "$start") s"
		return 0
	fi
	if [ "${verbose:-0}" != 1 ]; then
		echo "---- console.log (last 150 lines) ----"
		tail -n 150 "$console" | tr -d '\r'
		echo "---- end of console.log ----"
	fi
	why=$(printf '%s; ' "${reasons[@]}")
	echo "$name: FAIL (${why%; }) in $(epm_elapsed "$start") s"
	return 1
}
