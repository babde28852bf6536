#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/demo.sh [KVER]        (what `make demo` runs)
#
# One boot, one address space: build the module (for KVER, default the
# newest installed 6.1 kernel), eptctl and the hello guest, boot a VM with
# them and run one eptctl sequence: caps; map code (rx), THP-backed data
# (rw) and an uncached page; one translation; the KPT and EPT side by side;
# the lockstep check; stats; then load tools/ctl/guests/hello.bin at gpa
# 0x1000 and run it, which prints "hello" (the guest's COM1) and the HLT
# exit record. The same maps dumped as Graphviz DOT come back too, and
# are drawn (dot -Tsvg) into build/demo/address-space.svg.
#
# The VM is Bochs (selftests/bochs/run-bochs.sh), whose CPU models emulate
# VMX with EPT, when Bochs is installed; otherwise QEMU TCG, which has no
# VMX: everything but the run is shown, and the run's ENODEV line.
# DEMO_VM=qemu (or bochs) in the environment chooses. The demo's output
# (the VM's result log) is printed at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

kvers=$(bash selftests/vm/kernels.sh)
kver=${1:-$(printf '%s\n' "$kvers" | grep -E '^6\.1\.' | tail -n 1 || true)}
[ -n "$kver" ] || kver=$(printf '%s\n' "$kvers" | tail -n 1)

if [ -n "${DEMO_VM:-}" ]; then
	vm=$DEMO_VM
	case $vm in
	bochs | qemu) ;;
	*) echo "demo: DEMO_VM=$vm: want bochs or qemu" >&2; exit 2 ;;
	esac
elif command -v bochs >/dev/null && [ -r /usr/share/bochs/BIOS-bochs-latest ] &&
	[ -r /usr/share/vgabios/vgabios.bin ]; then
	vm=bochs
else
	vm=qemu
	echo "demo: note: no Bochs (apt-get install bochs bochsbios vgabios): booting QEMU"
fi
if [ "$vm" = qemu ]; then
	echo "demo: note: QEMU TCG has no VMX: the tables are shown, the hello guest cannot run"
fi

echo "demo: building ept_pmap.ko for $kver, eptctl and the hello guest"
make -s KVER="$kver" module
make -s -C tools/ctl
make -s -C tools/ctl/guests hello.bin

work=$(mktemp -d "${TMPDIR:-/tmp}/epm-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
payload=$work/payload
mkdir "$payload"
cp ept_pmap.ko tools/ctl/eptctl tools/ctl/guests/hello.bin "$payload/"

cat >"$payload/maps.batch" <<'BATCH'
map --gpa 0 --size 64k --perm rx
map --gpa 0x200000 --size 4m --perm rw --thp
map --gpa 0x1000000 --size 4k --perm r --memtype uc
BATCH
{
	echo "# one address space: every line below acts on it"
	echo caps
	cat "$payload/maps.batch"
	printf '%s\n' "query --gpa 0x201234" "dump --format tree" check stats
} >"$payload/demo.batch"
# the same maps once more, as Graphviz DOT for the picture
{ cat "$payload/maps.batch"; echo "dump --format dot"; } >"$payload/dot.batch"
cat >"$payload/guest.batch" <<'BATCH'
# hello.S: 32-bit flat protected mode, loads and starts at gpa 0x1000
load --gpa 0x1000 hello.bin
run --entry 0x1000 --mode prot32 --until hlt
stats
BATCH

cat >"$payload/run.sh" <<'RUN'
#!/bin/sh
insmod /payload/ept_pmap.ko || exit 1
cd /payload
{
	if grep -q -w vmx /proc/cpuinfo; then
		echo "# $(uname -r), a CPU with VMX: the whole sequence in one eptctl"
		cat demo.batch guest.batch >all.batch
		./eptctl -v -x -b all.batch 2>&1 || exit $?
	else
		echo "# $(uname -r), no VMX on this CPU (QEMU TCG): the tables only"
		./eptctl -v -x -b demo.batch 2>&1 || exit $?
		echo
		echo "# the guest needs VMX; eptctl says why it cannot run here:"
		./eptctl -x map --gpa 0 --size 64k --perm rx \; \
			load --gpa 0x1000 hello.bin \; run --entry 0x1000 2>&1
	fi
	echo EPM-DOT-BEGIN
	./eptctl -b dot.batch 2>&1 || exit $?
	echo EPM-DOT-END
	exit 0
} >"$RESULT"
RUN
chmod +x "$payload/run.sh"

logdir=$work/log
mkdir "$logdir"
start=$(date +%s)
rc=0
if [ "$vm" = bochs ]; then
	# 768 MB: below 512 MB of RAM the kernel turns THP off (no 2M leaves)
	bash selftests/bochs/run-bochs.sh --kver "$kver" --payload "$payload" \
		--mem 768 --timeout 240 --log "$logdir" >"$work/vm.out" 2>&1 || rc=$?
else
	bash selftests/vm/run-qemu.sh --kver "$kver" --payload "$payload" \
		--timeout 180 --log "$logdir" >"$work/vm.out" 2>&1 || rc=$?
fi
secs=$(($(date +%s) - start))

if [ "$rc" != 0 ]; then
	cat "$work/vm.out"
	echo "demo: the $vm run failed (exit $rc) after $secs s; its output is above"
	exit 1
fi
out=$top/build/demo
mkdir -p "$out"
tr -d '\r' <"$logdir/result.log" >"$work/result.txt"
sed -n '/^EPM-DOT-BEGIN$/,/^EPM-DOT-END$/{/^EPM-DOT-/!p}' "$work/result.txt" \
	>"$out/address-space.dot"
echo
echo "==================== make demo: $vm, $kver ===================="
sed '/^EPM-DOT-BEGIN$/,/^EPM-DOT-END$/d; /^EPM-END rc=/d' "$work/result.txt"
echo "================================================================"
grep -a -E '^(bochs|vm): .*(kernel entered|PASS)' "$work/vm.out" | sed 's/^/demo: /' || true
echo "demo: VM images built, booted, ran and powered off in $secs s"
if ! grep -q '^digraph' "$out/address-space.dot"; then
	echo "demo: no DOT dump in the VM's result log ($out/address-space.dot)" >&2
	exit 1
fi
if ! command -v dot >/dev/null; then
	echo "demo: no Graphviz 'dot' (apt-get install graphviz): the DOT is $out/address-space.dot" >&2
	exit 1
fi
dot -Tsvg -o "$out/address-space.svg" "$out/address-space.dot"
echo "demo: the address space as a picture: $out/address-space.svg"
