#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: debug/lane.sh                        (what `make vm-test-debug` runs)
#
# The debug-kernel lane: the whole QEMU selftest suite on a kernel with
# generic KASAN, kmemleak, lockdep (PROVE_LOCKING), DEBUG_ATOMIC_SLEEP,
# DEBUG_VM and fault injection, plus two tests of its own:
#   selftests/faultinj_test.c  every allocating call failed at its 1st,
#                          2nd, ... allocation (fail-nth), state/pins checked
#   selftests/stress_test.c  threads, files, forks hammering the device
# (the other lanes leave these two out: EPM_DEBUG_ONLY_TESTS, host-lib.sh)
#
#  1. debug/build-kernel.sh builds or reuses the kernel (cached outside the
#     clone, keyed by the linux-source version and debug/config.fragment);
#  2. ept_pmap.ko is built against it (W=1) in build/vm-debug/module, a copy
#     of the module sources; any compiler warning fails the lane;
#  3. selftests/*_test, the two tests above included, are built
#     (selftests/Makefile); the payload is build/vm-debug/payload;
#  4. selftests/vm/run-qemu.sh boots it (--kernel: the debug tree's bzImage,
#     kmemleak=on, 5 GiB, one 1G and sixteen 2M hugetlb pages), logs in
#     build/vm-debug/log;
#  5. the guest (run.sh below) checks the detectors are live (KASAN
#     initialized, lockdep's debug_locks still 1, kmemleak and fault
#     injection present), clears boot-time kmemleak suspects, loads the
#     module, runs every test binary, scans kmemleak twice with the module
#     loaded (symbolized backtraces) and twice more after rmmod (leaks of
#     module exit), and writes the reports to the result channel;
#  6. the VT-x part, in the background while QEMU runs (Bochs keeps one
#     core busy, QEMU mostly one): selftests/bochs/run-bochs.sh boots the
#     same bzImage in Bochs (corei7_skylake_x, VMX with EPT, 768 MB;
#     --kernel: GRUB's "linux" loader, since a KASAN kernel cannot take the
#     PVH entry) with a second payload, build/vm-debug/vmx-payload: the same
#     run.sh with vmx_test, faultinj_test limited to RUN's first-use setup
#     (EPM_FAULTINJ_ONLY=run_setup; QEMU swept the rest) and stress_test
#     with RUN in its mix (EPM_DEBUG_BOCHS_STRESS_SECONDS, default 10);
#     logs in build/vm-debug/vmx-log. A kmemleak scan takes minutes under
#     Bochs, so this run scans only after rmmod (two scans; attribution by
#     the module's address range and the suite's comms), and neither clears
#     boot-time suspects (they stay unattributed) nor lets /init scan again.
#     The boot is allowed 180 s to reach the payload (--boot-limit): a
#     kernel that takes longer is stopped there, the lane prints the
#     measured time and says the VMX suite ran on the Debian kernel only
#     (the vmx lane), and remembers that per kernel build (bochs-slow.txt
#     next to the tree) so later runs do not spend the 3 minutes again.
#     That is not a failure; a crash, a hang or any problem below after the
#     payload started is. EPM_DEBUG_BOCHS=0 leaves this part out; without
#     bochs it is skipped (and says so), the QEMU part still judged.
#
# Each run is judged alike. The lane FAILS on: a build failure or warning;
# a missing end marker, a non-zero run.sh status or a timeout; any "not ok"
# in the TAP; a faultinj_test that does not report "K injection points
# exercised" with K > 0 (QEMU); vmx_test, faultinj_test or stress_test not
# run and passed, no RUN sweep, no RUN in the stress (Bochs); on the console
# (the live log and the guest's closing dmesg):
# BUG: (KASAN, sleeping function called from invalid context, ...),
# WARNING: (lockdep's possible circular/recursive locking, inconsistent
# lock state, ...), kernel BUG at, Oops, Call Trace, general protection,
# Kernel panic, lockdep turning itself off; and on every kmemleak object
# the suite is responsible for:
#
#   A kmemleak "unreferenced object" counts when a frame of its allocation
#   backtrace is in ept_pmap (a symbol tagged "[ept_pmap]" in the scan made
#   while the module is loaded, or, after rmmod, a raw address inside the
#   module's core range recorded at load) or is the device's open path
#   (misc_open), OR when it was allocated by a process of the suite (comm
#   insmod, rmmod, modprobe or one of the test binaries): those processes
#   exist only to drive the module, so what they leak the module caused
#   (a struct file or mm_struct kept by a missing fput/mmdrop has no module
#   frame, only such a comm). Objects allocated by other tasks (kworkers,
#   kthreads, the init shell) are listed as unattributed and do not fail.
#   Boot-time suspects are cleared before the module loads (QEMU).
#
# run-qemu.sh's and run-bochs.sh's own verdicts are printed but are
# advisory here (apart from a timeout): they fail on any kmemleak report,
# attributed or not; this script judges the same logs with the rule above.
# Exit status: 0 pass, 1 fail, 4 cannot run here (no QEMU, or the kernel
# cannot be built here): scripts/check.sh reports SKIP.
#
# Environment: EPM_STRESS_SECONDS (default 20), EPM_DEBUG_TIMEOUT (whole
# boot-to-poweroff limit, default 2400 s), EPM_DEBUG_TEST_TIMEOUT (per test
# binary, default 1500 s), EPM_DEBUG_BOCHS (0: no Bochs run),
# EPM_DEBUG_BOCHS_TIMEOUT (default 1500 s), EPM_DEBUG_BOCHS_STRESS_SECONDS
# (default 10), EPM_CACHE.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
work=$top/build/vm-debug
vmdir=$top/selftests/vm
# shellcheck source=../selftests/vm/host-lib.sh
. "$vmdir/host-lib.sh"
timeout_s=${EPM_DEBUG_TIMEOUT:-2400}
test_timeout=${EPM_DEBUG_TEST_TIMEOUT:-1500}
stress_s=${EPM_STRESS_SECONDS:-20}
# 5 GiB: the KASAN shadow is allocated (top-down) before the boot-time 1G
# hugetlb page, and at 3 or 4 GiB it leaves no free aligned GiB (measured:
# "HugeTLB: allocating 1 of page size 1.00 GiB failed"); at 5 GiB one stays.
mem=5120
# kmemleak on; a 16 MiB log buffer so the closing dmesg copy is whole;
# loglevel=5 puts errors and warnings (KASAN, lockdep, WARN) on the live
# console as they happen, so a guest that hangs afterwards still shows them.
append="kmemleak=on log_buf_len=16M loglevel=5 printk.time=1 hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=16"
lane_start=$SECONDS

say() { echo "vm-debug: $*"; }
elapsed() { echo "$((SECONDS - lane_start)) s"; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	say "SKIP: no qemu-system-x86_64 (apt-get install qemu-system-x86)"
	exit 4
fi

# ---- 1. the kernel ------------------------------------------------------------

say "kernel: debug/build-kernel.sh"
t=$SECONDS
tree=$(bash "$here/build-kernel.sh")
krc=$?
if [ $krc -eq 4 ]; then
	say "SKIP: the debug kernel cannot be built here (see above)"
	exit 4
elif [ $krc -ne 0 ] || [ ! -f "$tree/vmlinux" ]; then
	say "FAIL: the debug kernel did not build"
	exit 1
fi
tree=$(printf '%s\n' "$tree" | tail -n 1)
entry=$(dirname "$tree")
release=$(cat "$entry/kernelrelease")
kernel_s=$((SECONDS - t))
say "kernel: $release in $tree ($kernel_s s)"

mkdir -p "$work"
reasons=()

# ---- 2. the module -------------------------------------------------------------

say "module: building against $release (W=1)"
mkdir -p "$work/module"
rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '*.cmd' \
	--exclude '*.mod' --exclude '*.mod.c' --exclude 'Module.symvers' \
	--exclude 'modules.order' --exclude '.*.cmd' \
	"$top/Kbuild" "$top/Makefile" "$top/src" "$top/include" "$work/module/"
out=$(make -C "$work/module" KDIR="$tree" module 2>&1)
mrc=$?
msgs=$(printf '%s\n' "$out" | grep -v -e 'Skipping BTF' | grep -i -E 'warning|error' || true)
if [ $mrc -ne 0 ] || [ ! -f "$work/module/ept_pmap.ko" ]; then
	printf '%s\n' "$out" | tail -n 40
	say "FAIL: ept_pmap.ko does not build against $release"
	exit 1
fi
if [ -n "$msgs" ]; then
	printf '%s\n' "$msgs"
	reasons+=("module build warnings against the debug kernel")
fi

# ---- 3. tests ------------------------------------------------------------------

say "tests: building the selftests (with faultinj_test and stress_test)"
tests=()
build_failures=()
if [ -f "$top/selftests/Makefile" ]; then
	make -s -k -C "$top/selftests" || true
else
	build_failures+=("selftests/Makefile missing")
fi
for c in "$top"/selftests/*_test.c; do
	[ -e "$c" ] || continue
	t=${c%.c}
	if [ -x "$t" ] && [ "$t" -nt "$c" ]; then
		tests+=("$t")
	else
		build_failures+=("selftests/$(basename "$t") did not build")
	fi
done

for f in "${build_failures[@]}"; do
	say "build: $f"
done
[ ${#build_failures[@]} -eq 0 ] || reasons+=("test build failures")

# ---- 4. payloads and guest script -----------------------------------------------

write_guest() {	# FILE: the guest side, the same for QEMU and Bochs
	cat >"$1" <<'GUEST'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ept-pmap debug-kernel lane, guest side (written by debug/lane.sh).
# TAP on $RESULT; kmemleak reports there too, as "# kmemleak: " lines, for
# the host to judge (the console is pattern-checked, the result channel not).
KL=/sys/kernel/debug/kmemleak
export EPM_STRESS_SECONDS=$(cat stress_seconds)
TEST_TIMEOUT=$(cat test_timeout)
# "all": clear boot-time suspects, scan with the module loaded and after
# rmmod; "unloaded": only after rmmod (each scan takes minutes in Bochs)
LEAK_SCANS=$(cat leak_scans)
# e.g. EPM_FAULTINJ_ONLY for the Bochs run
[ -f env ] && . ./env

. ./guest-lib.sh

kasan_on() { dmesg | grep -q 'KernelAddressSanitizer initialized'; }
lockdep_on() { grep -q 'debug_locks: *1' /proc/lockdep_stats; }
faultinj_on() { [ -d /sys/kernel/debug/failslab ] && [ -d /sys/kernel/debug/fail_page_alloc ] && [ -w /proc/self/make-it-fail ]; }
kmemleak_on() { [ -w "$KL" ]; }
# Two scans: kmemleak skips objects whose contents changed since the last
# scan, and anything younger than 5 s.
kmemleak_report() {	# TAG
	kmemleak_on || return 0
	t0=$(date +%s)
	sleep 6
	echo scan >"$KL"
	sleep 1
	echo scan >"$KL"
	cat "$KL" >/tmp/kl.$1
	echo "# kmemleak-section: $1 ($(grep -c '^unreferenced object' /tmp/kl.$1) objects, $(( $(date +%s) - t0 )) s)" >>"$RESULT"
	sed 's/^/# kmemleak: /' /tmp/kl.$1 >>"$RESULT"
}
echo "TAP version 13" >>"$RESULT"
echo "# ept-pmap debug-kernel lane on $(uname -r), $(nproc) CPUs" >>"$RESULT"
echo "lane: $(uname -r); $(grep -E 'MemTotal|HugePages_Total' /proc/meminfo | tr -s ' ' | paste -sd ' ')"

check "KASAN initialized" kasan_on
check "lockdep on (debug_locks 1)" lockdep_on
check "kmemleak on" kmemleak_on
check "fault injection available (failslab, fail_page_alloc, make-it-fail)" faultinj_on
if kmemleak_on && [ "$LEAK_SCANS" = all ]; then
	echo scan >"$KL"; sleep 1; echo scan >"$KL"
	boot=$(grep -c '^unreferenced object' "$KL")
	echo "# kmemleak: $boot boot-time suspects cleared before the module loads" >>"$RESULT"
	echo clear >"$KL"
fi

check "insmod ept_pmap.ko selftest=1" insmod ./ept_pmap.ko selftest=1
if ! module_loaded; then
	echo "Bail out! ept_pmap did not load" >>"$RESULT"
	finish
fi
# where the module lives, to attribute raw addresses after rmmod
awk '$1 == "ept_pmap" { print "# module-range: " $6 " " $2 }' /proc/modules >>"$RESULT"
check "self-test: pass in dmesg" selftest_passed
check "/dev/ept-pmap is a character device" test -c /dev/ept-pmap

for t in $(cat tests.txt); do
	[ -x "$t" ] || continue
	echo "# $t" >>"$RESULT"
	run_selftest "$t" "$TEST_TIMEOUT"
done

[ "$LEAK_SCANS" = all ] && kmemleak_report loaded
check "rmmod refused while /dev/ept-pmap is open" rmmod_refused_while_open
check "rmmod ept_pmap" rmmod ept_pmap
check "module and device gone after rmmod" module_gone
kmemleak_report unloaded
check "lockdep still on after the suite (no splat turned it off)" lockdep_on
# judged by the host; keep /init's own scan to what is new after this
[ -w "$KL" ] && echo clear >"$KL"
finish
GUEST
	chmod 755 "$1"
}

# DIR STRESS_S LEAK_SCANS ENV TEST...: the module, the tests in this
# order, run.sh; LEAK_SCANS "all" or "unloaded" (see run.sh); ENV lines
# for run.sh to source
make_payload() {
	local dir=$1 secs=$2 scans=$3 env=$4 t
	shift 4

	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$work/module/ept_pmap.ko" "$dir/"
	for t in "$@"; do
		cp "$t" "$dir/"
	done
	for t in "$@"; do
		basename "$t"
	done >"$dir/tests.txt"
	printf '%s\n' "$secs" >"$dir/stress_seconds"
	printf '%s\n' "$test_timeout" >"$dir/test_timeout"
	printf '%s\n' "$scans" >"$dir/leak_scans"
	[ -z "$env" ] || printf '%s\n' "$env" >"$dir/env"
	# run.sh's last scan is the last: /init's own would only add minutes
	[ "$scans" = all ] || : >"$dir/no-closing-leak-scan"
	cp "$vmdir/guest-lib.sh" "$dir/"
	write_guest "$dir/run.sh"
}

pick() {	# NAME: the built test of that name, if any
	local t

	for t in "${tests[@]}"; do
		[ "$(basename "$t")" = "$1" ] && printf '%s\n' "$t"
	done
	return 0
}
# QEMU: the selftests first, then the sweep, then the stress
qemu_tests=()
for t in "${tests[@]}"; do
	case $(basename "$t") in
	faultinj_test | stress_test) ;;
	*) qemu_tests+=("$t") ;;
	esac
done
mapfile -t -O ${#qemu_tests[@]} qemu_tests < <(pick faultinj_test; pick stress_test)
# Bochs: the launcher's tests and the stress with RUN in its mix (RUN's
# setup is not swept there: see bochs_want below)
mapfile -t vmx_tests < <(pick vmx_test; pick faultinj_test; pick stress_test)

# ---- 5. judging a run ------------------------------------------------------------

# Kernel problems on the console: host-lib.sh's, the runners' own list.
# kmemleak's "N new suspected memory leaks" and "unreferenced object"
# lines (only /init's closing scan prints them on the console) are left
# to the attribution below.
named=$EPM_KERNEL_PROBLEMS

# kmemleak, by the attribution rule in the header: LOG/kmemleak.txt (the
# guest's reports and /init's closing scan) judged into LOG/kmemleak-judged.txt;
# prints "ATTRIBUTED UNATTRIBUTED".
judge_leaks() {	# LOG COMMS
	local log=$1 comms=$2 range

	range=$(sed -n 's/^# module-range: //p' "$log/result.log" 2>/dev/null | head -n 1)
	sed -n 's/^# kmemleak: //p' "$log/result.log" 2>/dev/null >"$log/kmemleak.txt"
	# /init's closing scan on the console (after the lane's clear): also judged
	tr -d '\r' <"$log/console.log" |
		awk '/^---- leak scan ----/ { on = 1; next } /^---- dmesg ----/ { on = 0 } on' \
		>>"$log/kmemleak.txt"
	awk -v range="$range" -v comms="^($comms)\$" '
	function flush() {
		if (addr == "") return
		if (!(addr in seen)) { order[++n] = addr; seen[addr] = 1 }
		text[addr] = text[addr] block
		if (hit) why[addr] = why[addr] (why[addr] ? "; " : "") hit
		addr = ""; block = ""; hit = ""
	}
	function hex2num(h,   i, c, v) {
		v = 0; h = tolower(h); sub(/^0x/, "", h)
		for (i = 1; i <= length(h); i++) {
			c = index("0123456789abcdef", substr(h, i, 1)) - 1
			if (c < 0) break
			v = v * 16 + c
		}
		return v
	}
	BEGIN {
		split(range, r, " ")
		lo = r[1] != "" ? hex2num(r[1]) : -1
		hi = lo >= 0 ? lo + r[2] : -1
	}
	/^unreferenced object/ { flush(); addr = $3; block = $0 "\n"; next }
	addr == "" { next }
	{ block = block $0 "\n" }
	/^ *comm "/ {
		c = $0; sub(/^ *comm "/, "", c); sub(/".*/, "", c)
		if (c ~ comms) hit = hit (hit ? ", " : "") "allocated by suite process " c
	}
	/\[ept_pmap\]/ { hit = hit (hit ? ", " : "") "ept_pmap frame" }
	/misc_open/ { hit = hit (hit ? ", " : "") "device open path" }
	# "[<hashed>] symbol+off/size [mod]", or "[<hashed>] 0xADDR" once the
	# module (and with it the symbol) is gone: judge that raw address (the
	# hashed pointer reads "(____ptrval____)" before the hash key is ready)
	/^ *\[<[^>]*>\] 0x[0-9a-f]+ *$/ && lo >= 0 {
		v = hex2num($NF)
		if (v >= lo && v < hi) hit = hit (hit ? ", " : "") "frame in the module range"
	}
	END {
		flush()
		for (i = 1; i <= n; i++) {
			a = order[i]
			if (why[a] != "") { att++; printf "ATTRIBUTED %s (%s)\n%s\n", a, why[a], text[a] }
			else { un++; printf "unattributed %s\n%s\n", a, text[a] }
		}
		printf "SUMMARY %d %d\n", att, un
	}' "$log/kmemleak.txt" >"$log/kmemleak-judged.txt"
	awk '/^SUMMARY/ { print $2 + 0, $3 + 0; f = 1 } END { if (!f) print "0 0" }' \
		"$log/kmemleak-judged.txt"
}

# Judge one run and print its report; the reasons it failed go to $reasons
# prefixed with TAG.
#   TAG      "qemu" or "bochs"
#   LOG      its log directory (console.log, result.log, RUNNER.out)
#   CONSOLE  the console text to scan for kernel problems
#   VERDICT  the runner's last line (advisory, but for a timeout)
#   WANT     what must be in the results, as "word word ...": NAME_test
#            (that test ran and passed, not skipped), "count" (the sweep
#            reported its count, K > 0), "run-sweep" (the sweep swept
#            RUN's setup), "run-stress" (the stress had RUN in its mix),
#            "vmx-count=CPU" (selftests/bochs/vmx-count.sh passes: every
#            vmx_test test ran but for the SKIPs that CPU model allows)
#   TESTS    the payload's tests, for the kmemleak attribution
judge() {	# TAG LOG CONSOLE VERDICT WANT TEST...
	local tag=$1 log=$2 console=$3 verdict=$4 want=$5
	shift 5
	local result=$log/result.log comms end problems good bad skip la lu
	local fi_line fi_points stress_line t vmx_count
	local -a why=()

	comms=$(for t in "$@" insmod rmmod modprobe; do basename "$t"; done |
		cut -c1-15 | paste -sd '|' -)
	case $verdict in
	*"timed out"*) why+=("${verdict##*FAIL }") ;;
	esac
	end=$(grep -a -o 'EPM-END rc=[0-9]*' "$result" 2>/dev/null | tail -n 1)
	if [ -z "$end" ]; then
		why+=("no EPM-END marker (the guest did not finish)")
	elif [ "$end" != "EPM-END rc=0" ]; then
		why+=("guest run.sh ${end#EPM-END }")
	fi
	problems=$(tr -d '\r' <"$console" | grep -a -o -E "$named" | sort | uniq -c | sort -rn |
		   awk '{ c = $1; $1 = ""; sub(/^ /, ""); printf "%s%s x%d", (n++ ? ", " : ""), $0, c }')
	[ -z "$problems" ] || why+=("kernel log: $problems")
	read -r la lu < <(judge_leaks "$log" "$comms")
	[ "$la" -eq 0 ] || why+=("kmemleak: $la unreferenced objects the suite is responsible for")

	# TAP: every result line, subtests included
	read -r good bad skip < <(awk '
		/^ *(not )?ok [0-9]+/ {
			l = $0; sub(/^ */, "", l)
			if (l ~ /^not ok/) bad++
			else if (l ~ /# *SKIP/) skip++
			else good++
		}
		END { printf "%d %d %d\n", good, bad, skip }' "$result" 2>/dev/null || echo "0 0 0")
	[ "${bad:-0}" -eq 0 ] || why+=("$bad not ok in the results")
	[ "${good:-0}" -gt 0 ] || why+=("no test passed")

	fi_line=$(grep -a -o 'faultinj: [0-9]* injection points exercised.*' "$result" 2>/dev/null | tail -n 1)
	stress_line=$(grep -a -o 'stress: [0-9]* s, .*' "$result" 2>/dev/null | tail -n 1)
	for t in $want; do
		case $t in
		count)
			fi_points=$(printf '%s\n' "$fi_line" | sed -n 's/^faultinj: \([0-9]*\) .*/\1/p')
			if [ -z "$fi_points" ]; then
				why+=("faultinj_test reported no injection count")
			elif [ "$fi_points" -le 0 ]; then
				why+=("faultinj_test exercised no injection point")
			fi ;;
		run-sweep)
			grep -a -q -E 'faultinj: RUN [^:]*: [1-9][0-9]* injection points' "$result" 2>/dev/null ||
				why+=("faultinj_test did not sweep RUN's setup") ;;
		run-stress)
			case $stress_line in
			*"RUN in the mix"*) ;;
			*) why+=("stress_test ran without RUN in its mix") ;;
			esac ;;
		vmx-count=*)
			# every vmx_test test ran but for what the model lacks
			vmx_count=$(bash "$top/selftests/bochs/vmx-count.sh" \
				    "$result" "${t#vmx-count=}") ||
				why+=("too few vmx_test tests ran ($(sed -n 2p <<<"$vmx_count" | sed 's/^ *//'))")
			echo "$vmx_count" ;;
		*)
			grep -a -q -E "^ok [0-9]+ selftests: $t \(" "$result" 2>/dev/null ||
				why+=("$t did not run and pass") ;;
		esac
	done

	echo "tests:    $good ok, $bad not ok, $skip skip"
	grep -a -E '^ok [0-9]+ selftests:|^not ok [0-9]+ selftests:' "$result" 2>/dev/null | sed 's/^/    /'
	grep -a -E '^ *not ok' "$result" 2>/dev/null | grep -v 'selftests:' | sed 's/^ */    /' | head -n 40
	grep -a -E '^ *ok [0-9]+ .*# *SKIP' "$result" 2>/dev/null | grep -v 'selftests:' |
		sed 's/.*# *SKIP *//' | sort | uniq -c | sed 's/^ *\([0-9]*\) /    SKIP x\1: /'
	if [ -n "$fi_line" ]; then
		echo "faultinj: ${fi_line#faultinj: }"
		grep -a -o 'faultinj: [^#]*: [0-9]* injection points.*' "$result" 2>/dev/null | sed 's/^/    /'
	fi
	echo "stress:   ${stress_line:-none}"
	grep -a '^# kmemleak-section\|boot-time suspects' "$result" 2>/dev/null | sed 's/^# /          /'
	echo "kmemleak: $la attributed, $lu unattributed (see $log/kmemleak-judged.txt)"
	if [ "$la" -gt 0 ]; then
		awk '/^ATTRIBUTED/ { on = 1 } /^unattributed/ { on = 0 } on' \
			"$log/kmemleak-judged.txt" | head -n 80
	fi
	if [ -n "$problems" ]; then
		echo "---- kernel problems on the console ----"
		tr -d '\r' <"$console" | grep -a -n -E -B 3 -A 25 "$named" | head -n 250
		echo "---- end of kernel problems ----"
	fi
	for t in "${why[@]}"; do
		reasons+=("$tag: $t")
	done
	[ ${#why[@]} -eq 0 ]
}

# ---- 6. the runs: Bochs in the background, QEMU meanwhile ------------------------

# Bochs' part: the VT-x tests, RUN's setup swept, RUN under stress.
bochs_cpu=corei7_skylake_x
bochs_limit=180
bochs_timeout=${EPM_DEBUG_BOCHS_TIMEOUT:-1500}
bochs_stress=${EPM_DEBUG_BOCHS_STRESS_SECONDS:-10}
vlog=$work/vmx-log
slow=$entry/bochs-slow.txt
stamp="$(cat "$entry/built.stamp" 2>/dev/null) cpu=$bochs_cpu limit=$bochs_limit"
bochs_pid=
# No fault-injection sweep of RUN's setup here: its guest FPU image comes
# from the kernel's fpu_alloc_guest_fpstate(), whose vzalloc() prints an
# allocation-failure report (a Call Trace) when a fault is injected into
# it, and no Call Trace may pass.
bochs_want="vmx_test stress_test run-stress vmx-count=$bochs_cpu"
bochs_tests=("${vmx_tests[0]}" "${vmx_tests[2]}")
rm -rf "$vlog"
mkdir -p "$vlog"
if [ "${EPM_DEBUG_BOCHS:-1}" = 0 ]; then
	bochs_line="not run (EPM_DEBUG_BOCHS=0)"
elif ! command -v bochs >/dev/null; then
	bochs_line="SKIP: no bochs (apt-get install bochs bochsbios vgabios grub-pc-bin xorriso mtools)"
elif [ -f "$slow" ] && [ "$(sed -n 2p "$slow")" = "$stamp" ]; then
	bochs_line="$(head -n 1 "$slow") (measured on this build before; rm $slow to measure again)"
elif [ ${#vmx_tests[@]} -ne 3 ]; then
	bochs_line="FAIL: vmx_test, faultinj_test or stress_test did not build"
	reasons+=("bochs: vmx_test, faultinj_test or stress_test did not build")
else
	make_payload "$work/vmx-payload" "$bochs_stress" unloaded "" \
		"${bochs_tests[@]}"
	say "bochs: $release in Bochs $bochs_cpu in the background (the payload within $bochs_limit s, or the VMX suite runs on the Debian kernel only), tests: $(tr '\n' ' ' <"$work/vmx-payload/tests.txt")"
	bochs_start=$SECONDS
	# 768 MB: room for the guests and the stress, and a smaller KASAN
	# shadow and fewer pages for kmemleak's scans (minutes each here).
	# kvm and kvm_intel (built as modules, debug/config.fragment) for the
	# coexistence test
	MODULES_ROOT=$entry/modroot "$top/selftests/bochs/run-bochs.sh" \
		--kver "$release" --cpu "$bochs_cpu" --modules "kvm kvm_intel" \
		--kernel "$tree/arch/x86/boot/bzImage" --payload "$work/vmx-payload" \
		--log "$vlog" --mem 768 --timeout "$bochs_timeout" --boot-limit "$bochs_limit" \
		--append "kmemleak=on log_buf_len=16M loglevel=5 printk.time=1" \
		>"$vlog/run-bochs.out" 2>&1 &
	bochs_pid=$!
fi

payload=$work/payload
log=$work/log
rm -rf "$log"
mkdir -p "$log"
make_payload "$payload" "$stress_s" all "" "${qemu_tests[@]}"
say "qemu: $release in QEMU TCG, tests: $(tr '\n' ' ' <"$payload/tests.txt")"
t=$SECONDS
# bzImage, not the ELF vmlinux: the PVH entry runs C code (xen_prepare_pvh,
# e820 helpers) before the KASAN shadow exists, and KASAN instruments it, so
# a KASAN kernel entered through PVH triple-faults at once (measured).
"$vmdir/run-qemu.sh" --kver "$release" --kernel "$tree/arch/x86/boot/bzImage" \
	--payload "$payload" --log "$log" --mem "$mem" --append "$append" \
	--timeout "$timeout_s" >"$log/run-qemu.out" 2>&1
qrc=$?
vm_s=$((SECONDS - t))
qverdict=$(grep -a -o 'vm: .*: \(PASS\|FAIL\).*' "$log/run-qemu.out" | tail -n 1)
# the guest's uptime when /init started the payload (its kmsg line)
boot_s=$(tr -d '\r' <"$log/console.log" 2>/dev/null |
	 sed -n 's/^\[ *\([0-9.]*\)\] epm-init: starting payload.*/\1/p' | head -n 1)

echo
echo "==== vm-debug lane, QEMU TCG ($release) ===="
echo "kernel:   $tree (build/reuse $kernel_s s)"
echo "boot:     payload started ${boot_s:-?} s after kernel start (guest clock); whole VM run $vm_s s"
echo "run-qemu: ${qverdict:-no verdict} (advisory; exit $qrc)"
judge qemu "$log" "$log/console.log" "$qverdict" count "${qemu_tests[@]}"
echo "logs:     $log (console.log, result.log, run-qemu.out)"

# ---- 7. Bochs' results --------------------------------------------------------------

echo
echo "==== vm-debug lane, Bochs $bochs_cpu ($release) ===="
if [ -n "$bochs_pid" ]; then
	if kill -0 "$bochs_pid" 2>/dev/null; then
		say "bochs: waiting for the Bochs run ($((SECONDS - bochs_start)) s so far)"
	fi
	wait "$bochs_pid"
	brc=$?
	bverdict=$(grep -a -o 'bochs: [^:]*: \(PASS\|FAIL\).*' "$vlog/run-bochs.out" | tail -n 1)
	phases=$(grep -a -o 'bochs: kernel entered at .*' "$vlog/run-bochs.out" | tail -n 1)
	payload_at=$(printf '%s\n' "$phases" | sed -n 's/.*payload at \([0-9.]*\)s.*/\1/p')
	end_at=$(printf '%s\n' "$phases" | sed -n 's/.*end at \([0-9.]*\)s.*/\1/p')
	if [ $brc -eq 3 ]; then
		bochs_line="no payload within $bochs_limit s of Bochs starting (booting in Bochs takes longer than 3 minutes): the VMX suite ran on the Debian kernel only (vmx lane)"
		printf '%s\n%s\n' "$bochs_line" "$stamp" >"$slow"
		echo "boot:     $bochs_line"
	elif [ $brc -eq 2 ]; then
		tail -n 5 "$vlog/run-bochs.out"
		bochs_line="FAIL: run-bochs.sh could not start"
		reasons+=("bochs: run-bochs.sh could not start")
	else
		rm -f "$slow"
		echo "boot:     payload started ${payload_at:-?} s after Bochs started (under 3 minutes: the VMX suite runs here); Bochs ran ${end_at:-?} s"
		echo "bochs:    ${bverdict:-no verdict} (advisory; exit $brc)"
		if judge bochs "$vlog" "$vlog/console.log" "$bverdict" "$bochs_want" \
			"${bochs_tests[@]}"; then
			bochs_line="PASS: payload at ${payload_at:-?} s; ${bochs_tests[*]##*/} on the debug kernel"
		else
			bochs_line="FAIL"
		fi
		echo "logs:     $vlog (console.log, judged.txt, result.log, bochs.log, run-bochs.out)"
	fi
fi
echo "bochs:    $bochs_line"

echo
if [ ${#reasons[@]} -eq 0 ]; then
	say "PASS in $(elapsed)"
	exit 0
fi
say "FAIL ($(printf '%s; ' "${reasons[@]}" | sed 's/; $//')) in $(elapsed)"
exit 1
