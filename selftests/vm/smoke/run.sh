#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/vm/run-qemu.sh --payload selftests/vm/smoke
#
# Smoke test of the VM lane itself (the default payload of run-qemu.sh):
# shows what the guest looks like on the console and reports one TAP test on
# $RESULT, which passes when the guest CPU offers 1 GiB pages.
echo "kernel: $(uname -r)"
echo "cpus:   $(grep -c processor /proc/cpuinfo)"
echo "1g:     $(grep -o -m1 pdpe1gb /proc/cpuinfo)"
echo "npt:    $(grep -o -m1 -w npt /proc/cpuinfo)"
{
	echo "TAP version 13"
	echo "1..1"
	if grep -q -w pdpe1gb /proc/cpuinfo; then
		echo "ok 1 guest has 1 GiB pages"
	else
		echo "not ok 1 guest has 1 GiB pages"
	fi
} >"$RESULT"
grep -q -w pdpe1gb /proc/cpuinfo
