#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/run-bochs.sh --modules "kvm kvm_intel" [--cpu MODEL]
#
# Smoke test of the Bochs VT-x lane itself (the default payload of
# run-bochs.sh): shows the guest CPU's VMX features on the console and
# reports TAP on $RESULT: the CPU has VMX and EPT, and Debian's kvm_intel
# loads with ept=Y (skipped when the image has no kvm_intel: no --modules).
echo "kernel:    $(uname -r)"
echo "vmx/ept:   $(grep -o -w -m1 -E 'vmx|ept' /proc/cpuinfo)"
grep flags /proc/cpuinfo | head -n 1
grep 'vmx flags' /proc/cpuinfo | head -n 1

rc=0
{
	echo "TAP version 13"
	echo "1..3"
	if grep -q -w vmx /proc/cpuinfo; then
		echo "ok 1 guest CPU has vmx"
	else
		echo "not ok 1 guest CPU has vmx"
		rc=1
	fi
	if grep -q -E '^vmx flags.*\<ept\>' /proc/cpuinfo; then
		echo "ok 2 guest CPU has ept"
	else
		echo "not ok 2 guest CPU has ept"
		rc=1
	fi
	if [ -z "$(find /lib/modules -name 'kvm-intel.ko' -o -name 'kvm_intel.ko' 2>/dev/null)" ]; then
		echo "ok 3 kvm_intel loads with ept=Y # SKIP no kvm_intel in the image (--modules \"kvm kvm_intel\")"
	elif ! modprobe kvm_intel >/dev/console 2>&1; then
		echo "not ok 3 kvm_intel loads with ept=Y # modprobe failed"
		rc=1
	else
		ept=$(cat /sys/module/kvm_intel/parameters/ept)
		echo "kvm_intel: ept=$ept unrestricted_guest=$(cat /sys/module/kvm_intel/parameters/unrestricted_guest)" >/dev/console
		if [ "$ept" = Y ]; then
			echo "ok 3 kvm_intel loads with ept=Y"
		else
			echo "not ok 3 kvm_intel loads with ept=Y # ept=$ept"
			rc=1
		fi
	fi
} >"$RESULT"
exit $rc
