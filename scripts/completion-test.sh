#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: scripts/completion-test.sh EPTCTL        (part of scripts/docs-check.sh)
#
# tools/ctl/eptctl.bash-completion against the eptctl it completes:
#   - at the start of a command it offers exactly the commands that
#     Documentation/man/eptctl.8 has a section for (the man check holds that
#     list to `eptctl --help`), also after a global option and after a
#     "--" or ";" separator;
#   - for every command, "--" offers exactly the options of `eptctl CMD
#     --help` (global ones left out) and --help;
#   - a handful of completions with their exact expected words;
#   - every value it offers for an option is accepted by eptctl's own
#     parser: eptctl -d /nonexistent CMD ... OPTION VALUE must fail to open
#     the device (exit 1), never with a usage error (exit 2).
# Prints one line per failure and a summary; exits 1 on any failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
eptctl=$(realpath "${1:?usage: completion-test.sh EPTCTL}")
[ -x "$eptctl" ] || { echo "completion: $eptctl is not executable" >&2; exit 1; }

# the completion looks eptctl up by the name in COMP_WORDS[0]
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
ln -s "$eptctl" "$bindir/eptctl"
PATH=$bindir:$PATH
# shellcheck source=../tools/ctl/eptctl.bash-completion
. "$top/tools/ctl/eptctl.bash-completion"

fails=0 checks=0
fail() {
	echo "completion: FAIL: $*"
	fails=$((fails + 1))
}

# complete WORD... : the words offered for the last WORD, sorted, one line
complete_words() {
	COMP_WORDS=(eptctl "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_eptctl
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() {
	local want=$1 got
	shift
	checks=$((checks + 1))
	got=$(complete_words "$@")
	[ "$got" = "$want" ] || fail "eptctl $* <TAB>: got '$got', want '$want'"
}

commands=$(sed -n 's/^\.SS \([a-z][a-z0-9-]*\)$/\1/p' "$top/Documentation/man/eptctl.8" |
	   sort | tr '\n' ' ' | sed 's/ $//')
[ -n "$commands" ] || { echo "completion: no .SS commands in eptctl.8" >&2; exit 1; }
expect "$commands" ""
expect "$commands" -x ""
expect "$commands" -d /dev/null ""
expect "$commands" map --gpa 0 --size 4k --perm r ";" ""
expect "$commands" check -- ""
expect "$commands" help ""
expect "map" m
expect "dump" check -- d
expect "--max-page --memtype" map --m
expect "uc wb wc wp wt" map --memtype ""
expect "1g 2m 4k" map --gpa 0 --max-page ""
expect "dot json tree" dump --format ""
expect "long64 prot32 real" run --mode ""
expect "ept_misconfig ept_violation" run --until ept
expect "r10= r11= r12= r13= r14= r15=" run --reg r1
expect "r rw rwx rx" map --perm r
# file names, spaces and all: -b FILE, load FILE, map --file PATH
touch "$bindir/a b.batch"
expect "$bindir/a b.batch" -b "$bindir/a"
expect "$bindir/a b.batch" load --gpa 0 "$bindir/a"
expect "$bindir/a b.batch" map --file "$bindir/a"

# options: exactly what each command's --help shows, minus the globals
globals=$("$eptctl" --help | awk '/^Commands:/ { exit } { print }' |
	  _eptctl_options | awk '{ print $1 }')
for c in $commands; do
	want=$( { "$eptctl" "$c" --help | _eptctl_options | awk '{ print $1 }' |
		  grep -v -x -F -f <(printf '%s\n' "$globals") || true; echo --help; } |
		sort | tr '\n' ' ' | sed 's/ $//')
	expect "$want" "$c" --
done

# every offered value goes through eptctl's parser
base_map="--gpa 0 --size 4k --perm r"
base_run="--entry 0x1000"
parse_ok() {
	local rc=0
	checks=$((checks + 1))
	"$eptctl" -d /nonexistent "$@" >/dev/null 2>&1 || rc=$?
	[ $rc = 1 ] || fail "eptctl $*: exit $rc, want 1 (parsed, then no device)"
}
# shellcheck disable=SC2086
for v in $(complete_words map --memtype ""); do parse_ok map $base_map --memtype "$v"; done
# shellcheck disable=SC2086
for v in $(complete_words map --max-page ""); do parse_ok map $base_map --max-page "$v"; done
for v in $(complete_words map --perm ""); do parse_ok map --gpa 0 --size 4k --perm "$v"; done
for v in $(complete_words protect --perm ""); do parse_ok protect --gpa 0 --size 4k --perm "$v"; done
for v in $(complete_words dump --format ""); do parse_ok dump --format "$v"; done
# shellcheck disable=SC2086
for v in $(complete_words run --mode ""); do parse_ok run $base_run --mode "$v"; done
# shellcheck disable=SC2086
for v in $(complete_words run --until ""); do parse_ok run $base_run --until "$v"; done
# shellcheck disable=SC2086
for v in $(complete_words run --reg ""); do parse_ok run $base_run --reg "${v}1"; done
# and the parser does reject what is not offered, or the above proves nothing
rc=0
"$eptctl" -d /nonexistent run --entry 0 --until bogus >/dev/null 2>&1 || rc=$?
checks=$((checks + 1))
[ $rc = 2 ] || fail "eptctl run --until bogus: exit $rc, want 2"

if [ $fails -ne 0 ]; then
	echo "completion: $fails of $checks checks failed"
	exit 1
fi
echo "completion: ok ($checks checks)"
