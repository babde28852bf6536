#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/dkms-check.sh [KVER]     (the dkms lane of `make check`, `make dkms-check`)
#
# The module DKMS builds is the module that loads. For KVER (default: the
# newest 6.1 kernel selftests/vm/kernels.sh lists, else the newest):
#   1. `make dkms-install DKMS_ROOT=build/dkms` - the very recipe of `make
#      dkms-install`, pointed at scratch trees (build/dkms/src, .../dkms,
#      .../lib/modules; no depmod) instead of the system's - must leave
#      exactly one module, build/dkms/lib/modules/KVER/updates/dkms/
#      ept_pmap.ko, whose vermagic names KVER; depmod -b indexes that tree;
#   2. one QEMU TCG boot (selftests/vm/run-qemu.sh --moddir build/dkms
#      --modules ept_pmap: the initramfs gets that tree's ept_pmap.ko at the
#      same path and a modules.dep for it, and no other ept_pmap.ko) whose
#      payload runs `modprobe ept_pmap` and reports where modinfo finds the
#      module, its sha256, how many other ept_pmap.ko the image holds,
#      whether /sys/module/ept_pmap is live, whether /dev/ept-pmap is a
#      character device, and whether rmmod then works;
#   3. each of those must be exactly what the host expects (the path under
#      updates/dkms, the sha256 of the file DKMS installed, 0 others, live,
#      yes, yes), and run-qemu.sh's own verdict PASS (no kernel warning).
# Exit status: 0 pass, 1 fail, 4 cannot run here (no dkms, no QEMU, no
# kernel with headers): scripts/check.sh reports that as SKIP.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() {
	echo "dkms: $*"
}
for tool in dkms qemu-system-x86_64 depmod; do
	if ! command -v "$tool" >/dev/null; then
		say "SKIP: no $tool here"
		exit 4
	fi
done
if ! kvers=$(bash selftests/vm/kernels.sh); then
	say "SKIP: no kernel with both an image and headers"
	exit 4
fi
kver=${1:-$(printf '%s\n' "$kvers" | grep -E '^6\.1\.' | tail -n 1 || true)}
[ -n "$kver" ] || kver=$(printf '%s\n' "$kvers" | tail -n 1)

root=$top/build/dkms
rm -rf "$root"
mkdir -p "$root/src" "$root/dkms" "$root/lib/modules/$kver"
log=$root/make.log
start=$SECONDS
if ! make -s dkms-install KVER="$kver" DKMS_ROOT="$root" >"$log" 2>&1; then
	cat "$log"
	say "FAIL: make dkms-install KVER=$kver DKMS_ROOT=$root (output above)"
	exit 1
fi
rel=updates/dkms/ept_pmap.ko
ko=$root/lib/modules/$kver/$rel
found=$(cd "$root/lib/modules" && find . -name '*.ko*' | sort)
if [ "$found" != "./$kver/$rel" ]; then
	say "FAIL: DKMS installed '${found//$'\n'/ }', want ./$kver/$rel only"
	exit 1
fi
vermagic=$(modinfo -F vermagic "$ko")
if [ "${vermagic%% *}" != "$kver" ]; then
	say "FAIL: $ko has vermagic '$vermagic', want $kver"
	exit 1
fi
if ! depmod -b "$root" "$kver" 2>"$root/depmod.err"; then
	cat "$root/depmod.err"
	say "FAIL: depmod -b $root $kver"
	exit 1
fi
sum=$(sha256sum "$ko" | cut -d' ' -f1)
say "DKMS built and installed $kver/$rel in $((SECONDS - start)) s (sha256 ${sum:0:16}...)"

payload=$root/payload
mkdir -p "$payload"
# run-qemu.sh names its cached initramfs by the payload and --moddir's
# modules.dep, not by the modules' contents: this file changes the name
# whenever the module does, so a rebuilt module is never served stale.
echo "$sum" >"$payload/dkms.sha256"
cat >"$payload/run.sh" <<'RUN'
#!/bin/sh
ko=/lib/modules/$(uname -r)/updates/dkms/ept_pmap.ko
{
	modprobe ept_pmap
	echo "modprobe $?"
	echo "path $(modinfo -n ept_pmap)"
	echo "sha256 $(sha256sum "$ko" | cut -d' ' -f1)"
	echo "others $(find / -xdev -name 'ept_pmap.ko*' | grep -v -x -c "$ko")"
	echo "state $(cat /sys/module/ept_pmap/initstate 2>/dev/null)"
	if [ -c /dev/ept-pmap ]; then echo "device yes"; else echo "device no"; fi
	if rmmod ept_pmap; then echo "rmmod yes"; else echo "rmmod no"; fi
} >"$RESULT" 2>&1
RUN
chmod +x "$payload/run.sh"

vmlog=$root/log
out=$root/vm.out
rc=0
bash selftests/vm/run-qemu.sh --kver "$kver" --payload "$payload" \
	--moddir "$root" --modules ept_pmap --timeout 180 --log "$vmlog" \
	>"$out" 2>&1 || rc=$?
verdict=$(tail -n 1 "$out")
if [ $rc -ne 0 ]; then
	cat "$out"
	say "FAIL: the QEMU boot failed: $verdict"
	exit 1
fi

want="modprobe 0
path $(printf '%s' "$ko" | sed "s|^$root||")
sha256 $sum
others 0
state live
device yes
rmmod yes"
got=$(tr -d '\r' <"$vmlog/result.log" | grep -v '^EPM-END rc=')
if [ "$got" != "$want" ]; then
	diff -u <(echo "$want") <(echo "$got") | sed 's/^/  /' || true
	say "FAIL: the guest saw another module than DKMS installed (- want, + guest)"
	exit 1
fi
say "$verdict"
say "PASS: $kver: the guest modprobed /lib/modules/$kver/$rel, the file DKMS installed, and nothing else"
