#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: selftests/bochs/lane.sh [KVER]        (what `make vmx-test` runs)
#
# The VT-x lane: the launcher's selftests in Bochs on every CPU model of
# EPM_VMX_CPUS. The machinery is the QEMU lane's (selftests/vm/lane.sh);
# only the emulator, the kernel and the tests differ.
exec env EPM_LANE=vmx bash "$(dirname "$0")/../vm/lane.sh" "$@"
