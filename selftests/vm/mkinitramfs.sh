#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: [EXTRA_MODULES="kvm kvm_amd"] [MODULES_ROOT=DIR] selftests/vm/mkinitramfs.sh KVER PAYLOAD_DIR OUT.cpio.gz
#
# Build a gzip'd newc initramfs for a QEMU test guest running kernel KVER:
#   /bin/busybox (busybox-static) and a symlink for each of its applets,
#   /init (written below, PID 1),
#   /payload      a copy of PAYLOAD_DIR, whose run.sh is the test,
#   /lib/modules/KVER  only when EXTRA_MODULES names modules: those modules
#                 and everything modules.dep says they need, decompressed to
#                 plain .ko (busybox insmod cannot read .ko.xz/.ko.zst), with
#                 a modules.dep rewritten to match, so "modprobe NAME" works.
#                 They come from MODULES_ROOT/lib/modules/KVER when MODULES_ROOT
#                 is set (a kernel built elsewhere, e.g. by `make
#                 modules_install INSTALL_MOD_PATH=DIR`), else /lib/modules/KVER.
# Nothing else from the host goes in.
#
# The guest contract (see /init below): run.sh runs with stdout and stderr on
# the console (ttyS0) and RESULT=/dev/ttyS1, the result channel, where it
# writes TAP.  When it exits, init appends the full kernel log to the console
# (the command line keeps the live console quiet; before it, a kmemleak
# scan report when the kernel has kmemleak, unless PAYLOAD_DIR holds a file
# named no-closing-leak-scan), writes
# "EPM-END rc=<status>" to the result channel and powers off.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: [EXTRA_MODULES=\"mod ...\"] $0 KVER PAYLOAD_DIR OUT.cpio.gz" >&2
	exit 2
fi
kver=$1
payload=$2
out=$3
busybox=${BUSYBOX:-/bin/busybox}

die() {
	echo "mkinitramfs.sh: $*" >&2
	exit 1
}

[ -d "$payload" ] || die "payload $payload is not a directory"
[ -x "$busybox" ] || die "no $busybox (apt-get install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "$busybox is dynamically linked (install busybox-static)"
fi
command -v cpio >/dev/null || die "no cpio (apt-get install cpio)"

stage=$(mktemp -d "${TMPDIR:-/tmp}/epm-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc}
cp "$busybox" "$stage/bin/busybox"
# Applet links are made here rather than by "busybox --install" at boot so
# the image is complete before PID 1 starts.
"$busybox" --list-full | while read -r applet; do
	[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet"
done

# The kernel opens /dev/console for PID 1 before anything is mounted; without
# this node init starts with no stdio until it remounts /dev (it does that
# too, so an unprivileged build still works, minus early messages).
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$stage/dev/console" c 5 1
fi

mkdir -p "$stage/payload"
cp -a "$payload/." "$stage/payload/"

# --- kernel modules --------------------------------------------------------

# Print the path of a module file with its compression suffix dropped.
plain_name() {
	local f=$1
	f=${f%.xz}
	f=${f%.zst}
	f=${f%.gz}
	printf '%s\n' "$f"
}

# Copy one module (path relative to the module dir) into the stage, as plain .ko.
copy_module() {
	local rel=$1 src dst
	src=$moddir/$rel
	dst=$stage/lib/modules/$kver/$(plain_name "$rel")
	mkdir -p "$(dirname "$dst")"
	case $rel in
	*.ko.xz) xz -dc "$src" >"$dst" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst" ;;
	*.ko.gz) gzip -dc "$src" >"$dst" ;;
	*.ko) cp "$src" "$dst" ;;
	*) die "unexpected module file $rel" ;;
	esac
}

if [ -n "${EXTRA_MODULES:-}" ]; then
	moddir=${MODULES_ROOT:-}/lib/modules/$kver
	depfile=$moddir/modules.dep
	[ -r "$depfile" ] || die "no $depfile"

	# Modules are named with '-' or '_' interchangeably; compare with '_'.
	declare -A want=()
	queue=()
	for name in $EXTRA_MODULES; do
		key=${name//-/_}
		rel=$(awk -v key="$key" -F: '{
			n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n)
			gsub(/-/, "_", n)
			if (n == key) { print $1; exit }
		}' "$depfile")
		if [ -z "$rel" ]; then
			if grep -qE "/${key//_/[-_]}\.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
				echo "mkinitramfs.sh: $name is built into $kver, skipped" >&2
				continue
			fi
			die "module $name not found in $depfile"
		fi
		queue+=("$rel")
	done

	# modules.dep already lists each module's dependencies transitively, but
	# walk them anyway so a hand-edited or partial file cannot leave one out.
	while [ ${#queue[@]} -gt 0 ]; do
		rel=${queue[0]}
		queue=("${queue[@]:1}")
		[ -n "${want[$rel]:-}" ] && continue
		want[$rel]=1
		deps=$(awk -v m="$rel" -F: '$1 == m { print $2; exit }' "$depfile")
		for dep in $deps; do
			queue+=("$dep")
		done
	done

	mkdir -p "$stage/lib/modules/$kver"
	for rel in "${!want[@]}"; do
		copy_module "$rel"
	done
	# Keep the host's line order (it is depmod's), restricted to what was
	# copied, with every compression suffix removed.
	awk -F: 'NR == FNR { keep[$0] = 1; next } keep[$1]' \
		<(printf '%s\n' "${!want[@]}") "$depfile" |
		sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' \
			>"$stage/lib/modules/$kver/modules.dep"
	for f in modules.builtin modules.order; do
		if [ -r "$moddir/$f" ]; then
			sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' "$moddir/$f" \
				>"$stage/lib/modules/$kver/$f"
		fi
	done
fi

# --- /init ------------------------------------------------------------------

cat >"$stage/init" <<'INIT'
#!/bin/sh
# PID 1 of the ept-pmap test guest (generated by selftests/vm/mkinitramfs.sh).
# Whatever happens, end with the marker and a poweroff: the host judges the
# run by the marker and must never wait for its timeout on a clean failure.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root
export TERM=dumb

mount -t devtmpfs -o mode=0755 devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if grep -qw hugetlbfs /proc/filesystems; then
	mkdir -p /dev/hugepages
	mount -t hugetlbfs hugetlbfs /dev/hugepages
fi

# ttyS1 is the result channel.  Raw mode keeps the bytes as written (no
# CR added before each LF); if it cannot be opened, fall back to the console.
RESULT=/dev/ttyS1
if ! stty -F "$RESULT" raw -echo 2>/dev/null; then
	echo "epm-init: no $RESULT, results go to the console"
	RESULT=/dev/console
fi
export RESULT
KVER=$(uname -r)
export KVER

# Mark the start of the payload in the kernel log too, so a host can judge
# only what the kernel logged from here on (the dmesg copy below is whole).
{ echo "epm-init: starting payload" >/dev/kmsg; } 2>/dev/null
echo "epm-init: $KVER, running /payload/run.sh"
if [ -f /payload/run.sh ]; then
	(cd /payload && exec sh ./run.sh)
	rc=$?
else
	echo "epm-init: no /payload/run.sh"
	rc=127
fi
echo "epm-init: run.sh exited with $rc"

# kmemleak only reports objects older than 5 s; give fresh leaks that age.
# A payload that made its own closing scans (slow under Bochs) asks for
# none here with a file named no-closing-leak-scan.
if [ -w /sys/kernel/debug/kmemleak ] && [ ! -e /payload/no-closing-leak-scan ]; then
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	echo "---- leak scan ----"
	cat /sys/kernel/debug/kmemleak
fi
# The console runs at loglevel=3, which hides warnings; the host scans this
# copy of the whole log for them.
echo "---- dmesg ----"
dmesg
echo "---- end of dmesg ----"

echo "EPM-END rc=$rc" >"$RESULT"
sync
sleep 1
poweroff -f
INIT
chmod 755 "$stage/init"

# --- pack ---------------------------------------------------------------------

mkdir -p "$(dirname "$out")"
tmp_out=$out.tmp.$$
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc --owner 0:0) | gzip -1 >"$tmp_out"
mv -f "$tmp_out" "$out"
printf '%s\n' "$out"
