#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/lane.sh [KVER ...]        (what `make vm-test` runs)
#        EPM_LANE=vmx selftests/vm/lane.sh      (selftests/bochs/lane.sh)
#
# The QEMU lane: the module and every selftest, in a TCG guest, on each
# kernel KVER (default: every kernel selftests/vm/kernels.sh lists).  For
# each kernel:
#   1. build ept_pmap.ko against it in build/vm/KVER/module, a copy of the
#      module sources as they were when the run began (build/vm/src): an
#      object file does not say which kernel it was built for, so one tree
#      cannot serve two kernels;
#   2. assemble build/vm/KVER/payload: that ept_pmap.ko, every selftest
#      (selftests/*_test, built once by selftests/Makefile), tools/ctl/eptctl
#      when tools/ctl has a Makefile (with selftests/ctl/cases.sh in the
#      QEMU lane, cases-vmx.sh and the guests of tools/ctl/guests in
#      Bochs), and the guest script run.sh below;
#   3. boot it with run-qemu.sh (3 GiB, one 1G and sixteen 2M hugetlb pages,
#      600 s), logs in build/vm/KVER/log.
# The guest's run.sh loads the module with selftest=1 and wants
# "self-test: pass" in dmesg, runs each *_test (TAP on the console and,
# indented as a subtest, on the result channel), wants rmmod refused while
# /dev/ept-pmap is open and then accepted.
#
# A kernel passes when run-qemu.sh passes (end marker rc=0, no kernel
# warning, oops or leak on the console, no timeout), its result log
# holds no "not ok", and selftests/ctl/check.py finds eptctl's output as
# selftests/ctl/expected says and valid against its schema.  In the VMX
# lane it must also pass selftests/bochs/vmx-count.sh: every vmx_test test
# ran but for the SKIPs that CPU model is allowed (RUN missing from CAPS is
# not one); the count of tests that ran is printed per model.  The summary
# counts every test result: ok, not ok and SKIP (never counted as ok).
# Exit status: 0 when every kernel passed, 1 on any failure or missing
# result, 4 when the lane cannot run here (no QEMU, no kernel with
# headers): scripts/check.sh reports that as SKIP.
#
# With EPM_LANE=vmx the same runs happen in Bochs (Intel VMX with EPT, the
# only emulator here that has it) instead: the newest 6.1 kernel once per
# CPU model of EPM_VMX_CPUS (default: corei7_skylake_x corei7_haswell_4770
# corei7_skylake_x+mitigations) and the newest 6.12 (generic flavour) on
# the first model only, or each KVER given on every model;
# MODEL+mitigations boots MODEL with the kernel's default mitigations
# instead of mitigations=off (but retbleed=off), so that the launcher's
# mitigation paths run. Only the selftests of EPM_VMX_TESTS (default:
# vmx_test; the rest already ran in QEMU), with kvm and kvm_intel in the
# image for the coexistence tests (6.12's kvm.ko turns VMX on when it
# loads, kvm.enable_virt_at_load, 6.1's only while a VM exists: vmx_test
# expects EBUSY either way).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
lane=${EPM_LANE:-vm}
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"
declare -a runner_args=()

if [ "$lane" = vmx ]; then
	name=vmx-lane
	work=$top/build/vmx
	runner=$top/selftests/bochs/run-bochs.sh
	append=""
	mem=2048
	timeout_s=900
	runner_args=(--modules "kvm kvm_intel")
	read -r -a cpus <<<"${EPM_VMX_CPUS:-corei7_skylake_x corei7_haswell_4770 corei7_skylake_x+mitigations}"
	read -r -a only_tests <<<"${EPM_VMX_TESTS:-vmx_test}"
	if ! command -v bochs >/dev/null; then
		echo "$name: SKIP: no bochs (apt-get install bochs bochsbios vgabios grub-pc-bin xorriso mtools)"
		exit 4
	fi
	kvers=()
	run_cpus=()
	if [ $# -gt 0 ]; then
		# the kernels asked for, each on every CPU model
		for k in "$@"; do
			for c in "${cpus[@]}"; do
				kvers+=("$k")
				run_cpus+=("$c")
			done
		done
	else
		# newest 6.1 on every CPU model; newest 6.12 (not -rt) on the
		# first one only: the models differ in what VMX offers, which
		# 6.1 covers, the kernels in how they boot and share VMX
		listed=$(bash "$here/kernels.sh" 2>/dev/null)
		k=$(printf '%s\n' "$listed" | grep '^6\.1\.' | tail -n 1)
		for c in "${cpus[@]}"; do
			[ -n "$k" ] && kvers+=("$k") && run_cpus+=("$c")
		done
		k=$(printf '%s\n' "$listed" | grep -E '^6\.12\.[0-9]+\+deb[0-9]+-amd64$' | tail -n 1)
		[ -n "$k" ] && [ ${#cpus[@]} -gt 0 ] && kvers+=("$k") && run_cpus+=("${cpus[0]}")
	fi
	cpus=("${run_cpus[@]}")
else
	name=vm-lane
	work=$top/build/vm
	runner=$here/run-qemu.sh
	append="hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=16"
	mem=3072
	timeout_s=600
	cpus=()
	only_tests=()
	if ! command -v qemu-system-x86_64 >/dev/null; then
		echo "$name: SKIP: no qemu-system-x86_64 (apt-get install qemu-system-x86)"
		exit 4
	fi
	if [ $# -gt 0 ]; then
		kvers=("$@")
	else
		mapfile -t kvers < <(bash "$here/kernels.sh" 2>/dev/null)
	fi
fi
if [ ${#kvers[@]} -eq 0 ]; then
	echo "$name: SKIP: no kernel with both /boot/vmlinuz-KVER and headers"
	exit 4
fi

lane_start=$SECONDS
mkdir -p "$work"

# ---- the guest side --------------------------------------------------------

write_run_sh() {
	cat >"$1" <<'GUEST'
#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# ept-pmap VM lane, guest side (written by selftests/vm/lane.sh).  Results
# go to $RESULT as TAP (guest-lib.sh).
. ./guest-lib.sh

echo "TAP version 13" >>"$RESULT"
echo "# ept-pmap VM lane on $(uname -r), $(nproc) CPUs" >>"$RESULT"
echo "lane: $(uname -r); $(grep -E 'MemTotal|HugePages_Total|Hugepagesize' /proc/meminfo | tr -s ' ' | paste -sd ' ')"
grep -H . /sys/kernel/mm/hugepages/*/nr_hugepages

check "insmod ept_pmap.ko selftest=1" insmod ./ept_pmap.ko selftest=1
if ! module_loaded; then
	echo "Bail out! ept_pmap did not load" >>"$RESULT"
	finish
fi
check "self-test: pass in dmesg" selftest_passed
check "/dev/ept-pmap is a character device" test -c /dev/ept-pmap
if grep -qw vmx /proc/cpuinfo; then
	check "RUN takes the mitigation paths this kernel selected" mitigation_paths
fi

for t in *_test; do
	[ -x "$t" ] || continue
	echo "# $t" >>"$RESULT"
	run_selftest "$t" 500
done
# eptctl (QEMU lane): judged on the host by selftests/ctl/check.py
if [ -f eptctl-cases.sh ]; then
	check "eptctl cases ran (judged on the host)" sh ./eptctl-cases.sh
fi

check "rmmod refused while /dev/ept-pmap is open" rmmod_refused_while_open
check "rmmod ept_pmap" rmmod ept_pmap
check "module and device gone after rmmod" module_gone
finish
GUEST
	chmod 755 "$1"
}

# ---- the host side ---------------------------------------------------------

# Copy the module sources to DIR by content: a file whose bytes changed is
# written anew (so it is newer than its object file and make rebuilds it),
# one that did not keeps its time.  Keeping the source's own mtime instead
# could leave an object built from older bytes looking up to date.
sync_sources() {	# FROM DIR
	local from=$1 dir=$2

	mkdir -p "$dir"
	rsync -r -l -c --delete --exclude '*.o' --exclude '*.ko' \
		--exclude '*.cmd' --exclude '*.mod' --exclude '*.mod.c' \
		--exclude 'Module.symvers' --exclude 'modules.order' \
		--exclude '.*.cmd' --exclude '*.dwo' "$from/" "$dir/"
}

# One snapshot of the sources for every kernel of this run, so all of them
# test the same module even while the tree is being edited.
snapshot_sources() {	# DIR
	local dir=$1 f
	local srcs=("$top/Kbuild" "$top/Makefile" "$top/src" "$top/include")

	# the Makefile reads dkms.conf for its dkms-install target
	[ -f "$top/dkms.conf" ] && srcs+=("$top/dkms.conf")
	rm -rf "$dir"
	mkdir -p "$dir"
	for f in "${srcs[@]}"; do
		cp -r "$f" "$dir/" || return 1
	done
	find "$dir" \( -name '*.o' -o -name '*.ko' -o -name '*.cmd' \) -delete
}

build_module() {	# KVER DIR: ept_pmap.ko for KVER, built in DIR
	local k=$1 dir=$2

	sync_sources "$work/src" "$dir" || return 1
	make -s -C "$dir" KVER="$k" module 2>&1 | grep -v 'Skipping BTF'
	[ "${PIPESTATUS[0]}" -eq 0 ] && [ -f "$dir/ept_pmap.ko" ]
}

declare -a selftests=() build_failures=()

build_userspace() {
	local c t

	if [ -f "$top/selftests/Makefile" ]; then
		# -k: one test that does not build must not hide the others
		make -s -k -C "$top/selftests" || true
	else
		build_failures+=("selftests/Makefile missing")
	fi
	for c in "$top"/selftests/*_test.c; do
		[ -e "$c" ] || continue
		t=${c%.c}
		[[ " $EPM_DEBUG_ONLY_TESTS " == *" $(basename "$t") "* ]] && continue
		if [ ${#only_tests[@]} -gt 0 ] &&
		   [[ ! " ${only_tests[*]} " == *" $(basename "$t") "* ]]; then
			continue
		fi
		if [ -x "$t" ] && [ "$t" -nt "$c" ]; then
			selftests+=("$t")
		else
			build_failures+=("selftests/$(basename "$t") did not build")
		fi
	done
	if [ -f "$top/tools/ctl/Makefile" ]; then
		if ! make -s -C "$top/tools/ctl" || [ ! -x "$top/tools/ctl/eptctl" ]; then
			build_failures+=("tools/ctl/eptctl did not build")
		fi
		if [ "$lane" = vmx ] && ! make -s -C "$top/tools/ctl/guests"; then
			build_failures+=("tools/ctl/guests did not build")
		fi
	fi
}

# Count the result lines of a run's TAP: every test the guest ran (the
# subtests' results and run.sh's own steps, not the per-binary roll-ups).
tally() {
	awk '
	/^ *(not )?ok [0-9]+/ {
		line = $0
		sub(/^ */, "", line)
		if (line ~ /^ok [0-9]+ selftests: / || line ~ /^not ok [0-9]+ selftests: /) {
			if (line ~ /^not ok/) rollup_fail++
			next
		}
		if (line ~ /^not ok/) bad++
		else if (line ~ /# *SKIP/) skip++
		else good++
		next
	}
	/^ *1\.\.0 *# *SKIP/ { skip++ }
	END { printf "%d %d %d %d\n", good, bad, skip, rollup_fail }
	' "$1"
}

declare -a summary=()
rc=0

echo "$name: building selftests and tools"
if ! snapshot_sources "$work/src"; then
	echo "$name: FAIL: cannot copy the module sources to $work/src"
	exit 1
fi
build_userspace
for f in "${build_failures[@]}"; do
	echo "$name: build: $f"
done
[ ${#build_failures[@]} -eq 0 ] || rc=1

for i in "${!kvers[@]}"; do
	k=${kvers[$i]}
	cpu=${cpus[$i]:-}
	model=${cpu%+mitigations}
	run_append=$append
	# retbleed=off: the models have no IBRS, so a retpoline kernel could
	# only warn ("RETBleed: WARNING: ...") that RETBleed stays open
	[ "$model" = "$cpu" ] ||
		run_append="${append:+$append }mitigations=auto retbleed=off"
	target=$k${cpu:+ $cpu}
	kdir=$work/$k
	payload=$kdir/payload
	log=$kdir/log${cpu:+-$cpu}
	start=$SECONDS

	echo
	echo "==== $name: $target"
	if [ ! -d "/lib/modules/$k/build" ] || [ ! -r "/boot/vmlinuz-$k" ]; then
		summary+=("$target: FAIL (no /boot/vmlinuz-$k or headers)")
		rc=1
		continue
	fi
	if ! build_module "$k" "$kdir/module"; then
		summary+=("$target: FAIL (ept_pmap.ko does not build)")
		rc=1
		continue
	fi
	rm -rf "$payload" "$log"
	mkdir -p "$payload" "$log"
	cp "$kdir/module/ept_pmap.ko" "$payload/"
	for t in "${selftests[@]}"; do
		cp "$t" "$payload/"
	done
	[ -x "$top/tools/ctl/eptctl" ] && cp "$top/tools/ctl/eptctl" "$payload/"
	cp "$here/guest-lib.sh" "$payload/"
	# eptctl's cases: all of them in QEMU, the guest runs in Bochs
	ctl_cases=cases.sh
	[ "$lane" = vmx ] && ctl_cases=cases-vmx.sh
	if [ -x "$top/tools/ctl/eptctl" ]; then
		cp "$top/selftests/ctl/$ctl_cases" "$payload/eptctl-cases.sh"
		[ "$lane" = vm ] || cp "$top"/tools/ctl/guests/*.bin "$payload/"
	fi
	write_run_sh "$payload/run.sh"

	"$runner" --kver "$k" --payload "$payload" --log "$log" \
		--mem "$mem" --append "$run_append" --timeout "$timeout_s" \
		${model:+--cpu "$model"} "${runner_args[@]}" | tee "$log/runner.out"
	qrc=${PIPESTATUS[0]}
	verdict=$(grep -a -o '\(vm\|bochs\): .*: \(PASS\|FAIL\).*' \
		  "$log/runner.out" | tail -n 1 | sed 's/^[a-z]*: [^:]*: //')

	reasons=()
	[ "$qrc" -eq 0 ] || reasons+=("$(basename "$runner" .sh): ${verdict:-exit $qrc}")
	if [ ! -s "$log/result.log" ]; then
		reasons+=("no result log")
		counts="0 0 0 0"
	else
		counts=$(tally "$log/result.log")
		grep -q -E '^1\.\.[0-9]+' "$log/result.log" ||
			reasons+=("result log has no plan: the guest run was cut short")
	fi
	read -r good bad skip rollup <<<"$counts"
	[ "$bad" -eq 0 ] && [ "$rollup" -eq 0 ] || reasons+=("not ok in the results")
	[ "$good" -gt 0 ] || reasons+=("no test passed")
	# VMX: every vmx_test test runs but for the SKIPs this model allows
	ran_line=
	if [ "$lane" = vmx ] && [[ " ${only_tests[*]} " == *" vmx_test "* ]]; then
		ran_line=$(bash "$top/selftests/bochs/vmx-count.sh" \
			   "$log/result.log" "$cpu") ||
			reasons+=("too few vmx_test tests ran (SKIP not allowed, or missing)")
		printf '%s\n' "$ran_line"
	fi
	if [ -f "$payload/eptctl-cases.sh" ]; then
		# eptctl's output against selftests/ctl/expected and the schema
		python3 "$top/selftests/ctl/check.py" --cases "$ctl_cases" \
			"$log/result.log" >"$log/eptctl.tap" 2>&1
		ctl_rc=$?
		ctl_bad=$(grep -c '^not ok' "$log/eptctl.tap")
		ctl_good=$(grep -c '^ok' "$log/eptctl.tap")
		[ "$ctl_rc" -eq 0 ] ||
			reasons+=("eptctl: $ctl_bad not ok of $((ctl_good + ctl_bad)) (see $log/eptctl.tap)")
		good=$((good + ctl_good))
		bad=$((bad + ctl_bad))
	fi

	t=$((SECONDS - start))
	if [ ${#reasons[@]} -eq 0 ]; then
		verdict="PASS"
	else
		verdict="FAIL ($(printf '%s; ' "${reasons[@]}" | sed 's/; $//'))"
		rc=1
	fi
	summary+=("$target: $verdict: $good ok, $bad not ok, $skip skip, in $t s")
	[ -z "$ran_line" ] || summary+=("$(printf '%s\n' "$ran_line" | sed 's/^/    /')")
	if [ -s "$log/result.log" ]; then
		# every failure as it is; skips grouped by their reason
		{
			grep -a -E '^ *not ok' "$log/result.log" | sed 's/^ */    /'
			grep -a -E '^ *(ok [0-9]+|1\.\.0) .*# *SKIP' "$log/result.log" |
				grep -v '^ok [0-9]* selftests: ' |
				sed 's/.*# *SKIP *//' | sort | uniq -c |
				sed 's/^ *\([0-9]*\) /    SKIP x\1: /'
		} >"$log/notable.txt"
		[ -s "$log/notable.txt" ] && summary+=("$(cat "$log/notable.txt")")
	fi
	summary+=("    logs: $log")
done

echo
echo "==== $name summary ($((SECONDS - lane_start)) s)"
for f in "${build_failures[@]}"; do
	echo "build: FAIL: $f"
done
printf '%s\n' "${summary[@]}"
if [ $rc -eq 0 ]; then
	echo "$name: PASS"
else
	echo "$name: FAIL"
fi
exit $rc
