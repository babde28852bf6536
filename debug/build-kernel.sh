#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: debug/build-kernel.sh [--quiet]            (what `make debug-kernel` runs)
#
# Build (or reuse) the ept-pmap debug kernel: Debian's linux-source-6.1
# (/usr/src/linux-source-6.1.tar.xz), `make ARCH=x86_64 tinyconfig`, then
# debug/config.fragment merged on top (scripts/kconfig/merge_config.sh -m,
# olddefconfig), a check that every option the debug lane relies on made it
# into the final .config, then bzImage + modules, modules_prepare (so that
# out-of-tree modules build with `make -C DIR M=...`) and modules_install
# into DIR/../modroot (for the guest's modprobe).
#
# The tree lives outside the clone, in
#   ${EPM_CACHE:-~/.cache/ept-pmap}/debug-kernel/<source version>-<sha256 of the fragment, 12>/
# and is rebuilt only when the source package version or the fragment
# changes (a stamp file, written only after a complete successful build,
# marks it done; an interrupted build resumes incrementally).  Concurrent
# runs for the same key wait for each other (flock).
#
# Missing build dependencies (flex bison bc libelf-dev libssl-dev, and the
# linux-source-6.1 package itself) are installed with apt-get when running
# as root, and named otherwise.
#
# Output: progress on stderr; the LAST line on stdout is the build directory
# (the kernel tree: vmlinux, arch/x86/boot/bzImage, .config, Module.symvers).
# Other files in the cache entry: modroot/lib/modules/<release>/ (installed
# modules with modules.dep), build.log, kernelrelease, built.stamp.
# Exit status: 0 built or reused, 1 failure, 4 cannot build here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/config.fragment
tarball=${EPM_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
srcpkg=linux-source-6.1
quiet=0
[ "${1:-}" = --quiet ] && quiet=1

# Bump when the recipe below changes in a way that needs a rebuild even
# though source and fragment did not change.
recipe=1

say() { echo "debug-kernel: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# ---- dependencies ---------------------------------------------------------

missing_deps() {
	local m=()
	command -v flex >/dev/null || m+=(flex)
	command -v bison >/dev/null || m+=(bison)
	command -v bc >/dev/null || m+=(bc)
	command -v gcc >/dev/null || m+=(gcc)
	command -v make >/dev/null || m+=(make)
	command -v xz >/dev/null || m+=(xz-utils)
	command -v cpio >/dev/null || m+=(cpio)
	command -v depmod >/dev/null || [ -x /sbin/depmod ] || m+=(kmod)
	[ -e /usr/include/gelf.h ] || [ -e /usr/include/libelf.h ] || m+=(libelf-dev)
	[ -e /usr/include/openssl/ssl.h ] || m+=(libssl-dev)
	[ -r "$tarball" ] || m+=("$srcpkg")
	[ ${#m[@]} -eq 0 ] || printf '%s\n' "${m[@]}"
}

mapfile -t need < <(missing_deps)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing missing build dependencies: ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -q "${need[@]}" >&2 ||
			{ apt-get update -q >&2 && apt-get install -y -q "${need[@]}" >&2; } ||
			die "apt-get install ${need[*]} failed"
		mapfile -t need < <(missing_deps)
	fi
	if [ ${#need[@]} -gt 0 ]; then
		say "cannot build: missing ${need[*]} (apt-get install ${need[*]})"
		exit 4
	fi
fi
[ -r "$fragment" ] || die "no $fragment"

# ---- the cache key ----------------------------------------------------------

srcver=$(dpkg-query -W -f '${Version}' "$srcpkg" 2>/dev/null || true)
if [ -z "$srcver" ]; then
	# Not installed from a package: name the tarball by size and mtime.
	srcver=src-$(stat -c '%s-%Y' "$tarball")
fi
srcver=${srcver//[^A-Za-z0-9.+~_-]/_}
fraghash=$(sha256sum "$fragment" | cut -c1-12)
cache=${EPM_CACHE:-$HOME/.cache/ept-pmap}/debug-kernel
key=$srcver-$fraghash
entry=$cache/$key
tree=$entry/linux
stamp=$entry/built.stamp
log=$entry/build.log
stamp_text="recipe=$recipe source=$srcpkg $srcver fragment=$fraghash"

mkdir -p "$cache"
exec 9>"$cache/$key.lock"
if ! flock -n 9; then
	say "another build of $key is running; waiting for it"
	flock 9
fi

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] &&
	[ -f "$tree/vmlinux" ] && [ -f "$tree/arch/x86/boot/bzImage" ]; then
	[ $quiet = 1 ] || say "reusing $tree ($(cat "$entry/kernelrelease"))"
	printf '%s\n' "$tree"
	exit 0
fi

t0=$SECONDS
elapsed() { local s=$((SECONDS - t0)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
rm -f "$stamp"
mkdir -p "$entry"
: >"$log"
say "building $key in $entry (log: $log)"

# Other keys are other source versions or fragments: keep the two newest
# complete trees (a few GiB each) and drop the rest.
for old in $( (ls -1dt "$cache"/*/built.stamp 2>/dev/null || true) | tail -n +3); do
	olddir=$(dirname "$old")
	[ "$olddir" = "$entry" ] && continue
	say "removing old debug kernel $olddir"
	rm -rf "$olddir" "$olddir.lock"
done

# ---- source -----------------------------------------------------------------

if [ ! -f "$tree/Makefile" ]; then
	say "extracting $tarball"
	rm -rf "$entry/extract.tmp" "$tree"
	mkdir -p "$entry/extract.tmp"
	tar -C "$entry/extract.tmp" -xf "$tarball"
	top=$(ls -1 "$entry/extract.tmp")
	[ "$(echo "$top" | wc -l)" = 1 ] && [ -f "$entry/extract.tmp/$top/Makefile" ] ||
		die "unexpected layout in $tarball"
	mv "$entry/extract.tmp/$top" "$tree"
	rmdir "$entry/extract.tmp"
	say "extracted ($(elapsed))"
fi

# ---- configuration ------------------------------------------------------------

kmake() { make -C "$tree" ARCH=x86_64 "$@"; }

say "configuring: tinyconfig + $(basename "$fragment")"
cp "$tree/.config" "$entry/config.prev" 2>/dev/null || rm -f "$entry/config.prev"
{
	kmake tinyconfig
	(cd "$tree" && ARCH=x86_64 ./scripts/kconfig/merge_config.sh -m .config "$fragment")
	kmake olddefconfig
} >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "configuration failed"; }
# Keep the old .config's mtime when nothing changed, so make stays incremental.
if [ -f "$entry/config.prev" ] && cmp -s "$entry/config.prev" "$tree/.config"; then
	touch -r "$entry/config.prev" "$tree/.config"
fi
rm -f "$entry/config.prev"

# Every option the lane relies on, with the value it must have.  Kconfig
# drops a symbol whose dependencies are unmet without a word, so check.
required=(
	SLUB=y KASAN=y KASAN_GENERIC=y KASAN_INLINE=y
	DEBUG_KMEMLEAK=y DEBUG_KMEMLEAK_DEFAULT_OFF=n DEBUG_KMEMLEAK_AUTO_SCAN=n
	PROVE_LOCKING=y LOCKDEP=y DEBUG_ATOMIC_SLEEP=y DEBUG_VM=y
	FAULT_INJECTION=y FAILSLAB=y FAIL_PAGE_ALLOC=y FAULT_INJECTION_DEBUG_FS=y
	FAULT_INJECTION_USERCOPY=n FAIL_FUTEX=n
	DEBUG_FS=y KALLSYMS=y STACKTRACE=y PRINTK=y BUG=y
	X86_64=y SMP=y PVH=y ACPI=y CPU_SUP_INTEL=y CPU_SUP_AMD=y IA32_FEAT_CTL=y
	X86_MSR=y TTY=y SERIAL_8250=y SERIAL_8250_CONSOLE=y
	BLK_DEV_INITRD=y RD_GZIP=y MODULES=y MODULE_UNLOAD=y MODULE_SIG=n
	BINFMT_ELF=y BINFMT_SCRIPT=y MULTIUSER=y FUTEX=y POSIX_TIMERS=y EPOLL=y
	SIGNALFD=y PROC_FS=y PROC_SYSCTL=y PROC_PAGE_MONITOR=y SYSFS=y
	DEVTMPFS=y DEVTMPFS_MOUNT=y TMPFS=y SHMEM=y MEMFD_CREATE=y
	ADVISE_SYSCALLS=y TRANSPARENT_HUGEPAGE=y TRANSPARENT_HUGEPAGE_ALWAYS=y
	HUGETLBFS=y IO_URING=y VIRTUALIZATION=y
)
bad=()
for r in "${required[@]}"; do
	sym=CONFIG_${r%%=*}
	want=${r#*=}
	if [ "$want" = n ]; then
		if grep -q "^$sym=" "$tree/.config"; then
			bad+=("$sym must be off, is $(grep "^$sym=" "$tree/.config" | cut -d= -f2)")
		fi
	else
		got=$(sed -n "s/^$sym=//p" "$tree/.config")
		[ "$got" = "$want" ] || bad+=("$sym=$want wanted, got ${got:-not set}")
	fi
done
if [ ${#bad[@]} -gt 0 ]; then
	say "the final .config lacks options the debug lane needs:"
	printf '    %s\n' "${bad[@]}" >&2
	grep -i -E 'warning|not in final|redefin' "$log" | tail -n 40 >&2 || true
	die "fix debug/config.fragment (see $log for merge_config's complaints)"
fi
say "configuration verified (${#required[@]} options)"

# ---- build ------------------------------------------------------------------------

jobs=$(nproc)
build_step() {	# description, make arguments...
	local what=$1 mon rc=0
	shift
	say "$what (make -j$jobs $*) ..."
	echo "==== make $*" >>"$log"
	# Progress: every 30 s, the number of compile/link lines so far and the
	# last one, so a slow machine visibly moves.
	(
		while sleep 30; do
			n=$(grep -c -E '^  (CC|AS|LD|AR|OBJCOPY|GEN|HOSTCC)' "$log" || true)
			last=$(grep -E '^  [A-Z]' "$log" | tail -n 1 | sed 's/^ *//')
			say "  $(elapsed): $n steps; $last"
		done
	) &
	mon=$!
	kmake -j"$jobs" "$@" >>"$log" 2>&1 || rc=$?
	kill "$mon" 2>/dev/null || true
	wait "$mon" 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		grep -E 'error|Error' "$log" | tail -n 20 >&2 || true
		tail -n 20 "$log" >&2
		die "$what failed (exit $rc, after $(elapsed)); full log: $log"
	fi
}

build_step "building bzImage and modules" bzImage modules
build_step "preparing for out-of-tree modules" modules_prepare
release=$(kmake -s kernelrelease 2>/dev/null)
rm -rf "$entry/modroot"
build_step "installing modules into $entry/modroot" \
	INSTALL_MOD_PATH="$entry/modroot" INSTALL_MOD_STRIP=1 DEPMOD=/sbin/depmod modules_install
rm -f "$entry/modroot/lib/modules/$release/build" "$entry/modroot/lib/modules/$release/source"
printf '%s\n' "$release" >"$entry/kernelrelease"
[ -f "$tree/vmlinux" ] && [ -f "$tree/arch/x86/boot/bzImage" ] ||
	die "the build left no vmlinux/bzImage"

printf '%s\n' "$stamp_text" >"$stamp"
say "built $release in $(elapsed): $tree"
printf '%s\n' "$tree"
