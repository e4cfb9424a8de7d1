#!/bin/sh
# The sanitized variants of the build, each in a copy of the source tree
# of its own (the tree itself may be configured for the plain build):
#
#   asan   ./configure --enable-sanitizers (gcc, -fsanitize=address,undefined,
#          UB fatal), then "make check": the unit tests, and every .vtc of
#          src/tests and tests/vcl against a varnishd with the ASan runtime
#          preloaded (tests/sanitize/varnishd).  A test fails as usual; the
#          run also fails when any test log holds a sanitizer report, even
#          from a test that passed.
#   clang  CC=clang: the VMOD and the unit tests compile clean with -Wall
#          -Wextra -Werror, and the unit tests pass.
#   tsan   ThreadSanitizer on the route cache's unit test (make check-tsan).
#
# Usage: scripts/check-sanitized.sh [asan] [clang] [tsan]   (default: all)
#        [make check arguments after --, e.g. -- TESTS=tests/route_two_streams.vtc]
# Ends with one line:
#   sanitized: N passed, N failed
# and the time each variant took.  The copies are removed unless a variant
# failed (its path is printed) or SR_SANITIZE_KEEP=1.
set -u
cd "$(dirname "$0")/.."
src=$(pwd)

variants=
while [ $# -gt 0 ]; do
	case $1 in
	asan|clang|tsan) variants="$variants $1"; shift ;;
	--) shift; break ;;
	*) echo "usage: $0 [asan] [clang] [tsan] [-- make check args]" >&2
	   exit 2 ;;
	esac
done
[ -n "$variants" ] || variants="asan clang tsan"

work=$(mktemp -d "${TMPDIR:-/tmp}/streamroute-sanitize.XXXXXX") || exit 2
# varnishd's child (another user) must reach the test directories
chmod 755 "$work"
keep=${SR_SANITIZE_KEEP:-0}
passed=0
failed=0
times=

# copy the sources, not the build products of a configured tree
copy() {
	mkdir -p "$1"
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$src" ls-files -co --exclude-standard -z |
		    (cd "$src" && tar cf - --null --no-recursion -T -) |
		    tar xf - -C "$1"
	else
		(cd "$src" && tar cf - --exclude=./.git .) | tar xf - -C "$1"
		[ ! -f "$1/Makefile" ] || make -C "$1" distclean >/dev/null 2>&1
	fi
}

# configure a copy: build <dir> <configure args...>
build() {
	dir=$1
	shift
	copy "$dir" &&
	(cd "$dir" && ./autogen.sh && ./configure RST2MAN=/usr/bin/rst2man "$@" &&
	    make -j2) >"$dir.build.log" 2>&1
}

result() {
	name=$1
	ok=$2
	secs=$3
	times="$times $name=${secs}s"
	if [ "$ok" = 0 ]; then
		passed=$((passed + 1))
		echo "PASS: $name (${secs} s)"
	else
		failed=$((failed + 1))
		keep=1
		echo "FAIL: $name (${secs} s; see $work/$name*)"
	fi
}

# Sanitizer reports: ASan's and LSan's "ERROR: ...Sanitizer", UBSan's
# "runtime error:", TSan's "WARNING: ThreadSanitizer".
reports='ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer'

for v in $variants; do
	start=$(date +%s)
	ok=0
	case $v in
	asan)
		build "$work/asan" --enable-sanitizers || ok=1
		if [ $ok = 0 ]; then
			find "$work/asan" -name '*.trs' -delete
			make -C "$work/asan" -k check "$@" \
			    >"$work/asan.check.log" 2>&1 || ok=1
			for trs in $(find "$work/asan" -name '*.trs' | sort); do
				case $(sed -n 's/^:test-result: //p' "$trs") in
				PASS|XFAIL) ;;
				*) echo "FAIL: asan: ${trs%.trs}" ;;
				esac
			done
			logs=$(find "$work/asan/src" "$work/asan/tests" \
			    -name '*.log' | xargs -r grep -lE "$reports")
			for log in $logs; do
				ok=1
				echo "REPORT: asan: $log"
				grep -hE -A12 "$reports" "$log" | head -n 40
			done
			n=$(find "$work/asan" -name '*.trs' | wc -l)
			echo "asan: $n tests, $(echo $logs | wc -w) logs with a report"
		fi ;;
	clang)
		if ! command -v clang >/dev/null; then
			echo "clang: not installed (apt-get install clang)"
			ok=1
		else
			build "$work/clang" CC=clang || ok=1
			[ $ok = 1 ] || make -C "$work/clang/src" check \
			    TESTS="tests/unit_key tests/unit_addr tests/unit_cache tests/unit_http" \
			    >"$work/clang.check.log" 2>&1 || ok=1
		fi ;;
	tsan)
		# the unit test alone: configure without building the VMOD
		copy "$work/tsan" &&
		(cd "$work/tsan" && ./autogen.sh &&
		    ./configure RST2MAN=/usr/bin/rst2man) \
		    >"$work/tsan.build.log" 2>&1 || ok=1
		[ $ok = 1 ] || make -C "$work/tsan/src" check-tsan \
		    >"$work/tsan.check.log" 2>&1 || ok=1
		! grep -qE "$reports" "$work/tsan.check.log" 2>/dev/null || ok=1 ;;
	esac
	[ $ok = 0 ] || tail -n 20 "$work/$v".*.log 2>/dev/null | grep -v '^$' | tail -n 20
	result "$v" $ok $(($(date +%s) - start))
done

if [ "$keep" = 1 ]; then
	echo "kept: $work"
else
	rm -rf "$work"
fi
echo "times:$times"
echo "sanitized: $passed passed, $failed failed"
[ $failed -eq 0 ]
