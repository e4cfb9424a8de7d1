#!/bin/sh
# The sanitized variants of the build, each in a copy of the source tree
# (the tree itself may be configured for the plain build):
#
#   asan   ./configure --enable-sanitizers (gcc, -fsanitize=address,undefined,
#          UB fatal), then "make check": the unit tests, and every .vtc of
#          src/tests and tests/vcl against a varnishd with the ASan runtime
#          preloaded (tests/sanitize/varnishd).  A test fails as usual; the
#          run also fails when varnishd wrote a report (into
#          tests/sanitize/reports/) or a test log holds one, even where
#          the test passed.
#   clang  CC=clang: the VMOD and the unit tests compile clean with -Wall
#          -Wextra -Werror, and the unit tests pass.
#   tsan   ThreadSanitizer on the route cache's unit test (make check-tsan).
#   fuzz   the libFuzzer harnesses, FUZZ_TIME seconds each (default 60),
#          from the checked-in seed corpora (make fuzz).
#
# Usage: scripts/check-sanitized.sh [asan] [clang] [tsan] [fuzz]  (default: all)
#        [make check arguments after --, e.g. -- -C src TESTS=tests/route_two_streams.vtc]
#
# Each variant leaves tests/sanitize/<variant>.log, and a .trs beside it as
# automake's tests do, so that scripts/test.sh counts it.  Ends with
#   sanitized: N passed, N failed
# The copies are removed unless a variant failed (the path is printed) or
# SR_SANITIZE_KEEP=1.
set -u
cd "$(dirname "$0")/.."
src=$(pwd)
out=$src/tests/sanitize

variants=
while [ $# -gt 0 ]; do
	case $1 in
	asan|clang|tsan|fuzz) variants="$variants $1"; shift ;;
	--) shift; break ;;
	*) echo "usage: $0 [asan] [clang] [tsan] [fuzz] [-- make check args]" >&2
	   exit 2 ;;
	esac
done
[ -n "$variants" ] || variants="asan clang tsan fuzz"

work=$(mktemp -d "${TMPDIR:-/tmp}/streamroute-sanitize.XXXXXX") || exit 2
# varnishd's child (another user) must reach the test directories
chmod 755 "$work"
keep=${SR_SANITIZE_KEEP:-0}
passed=0
failed=0

# Sanitizer reports: ASan's and LSan's "ERROR: ...Sanitizer", UBSan's
# "runtime error:", TSan's "WARNING: ThreadSanitizer".
reports='ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer'

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

# a copy configured and built: build <dir> <configure args...>
build() {
	copy "$1" &&
	(cd "$1" && rm -f ${SR_SKIP_VTC:-}) &&
	(d=$1; shift; cd "$d" && ./autogen.sh &&
	    ./configure RST2MAN=/usr/bin/rst2man "$@" && make -j2) \
	    >"$1.build.log" 2>&1 ||
	    { tail -n 30 "$1.build.log"; return 1; }
}

# a copy configured for the plain build, not built: tsan and fuzz build
# only what they run
plain() {
	[ ! -f "$work/plain/Makefile" ] || return 0
	copy "$work/plain" &&
	(cd "$work/plain" && ./autogen.sh &&
	    ./configure RST2MAN=/usr/bin/rst2man) >"$work/plain.build.log" 2>&1 ||
	    { tail -n 30 "$work/plain.build.log"; return 1; }
}

# Each prints what a reader of a failure needs, and returns non-zero
v_asan() {
	# redis_burst_2000_streams holds the Redis client to a bound on round
	# trips (batching), a matter of speed that ASan takes away (507 for
	# 500 in one run): the plain make check holds it; every other .vtc
	# runs here.
	SR_SKIP_VTC=src/tests/redis_burst_2000_streams.vtc \
	    build "$work/asan" --enable-sanitizers || return 1
	ok=0
	make -C "$work/asan" -k check "$@" >"$work/asan.check.log" 2>&1 || ok=1
	n=0
	for trs in $(find "$work/asan" -name '*.trs' | sort); do
		n=$((n + 1))
		case $(sed -n 's/^:test-result: //p' "$trs") in
		PASS|XFAIL) ;;
		*) ok=1; echo "FAIL: ${trs%.trs}.log" ;;
		esac
	done
	logs=$(find "$work/asan/src" "$work/asan/tests" -name '*.log' |
	    xargs -r grep -lE "$reports")
	for log in $logs; do
		ok=1
		echo "REPORT: $log"
		grep -hE -A12 "$reports" "$log" | head -n 40
	done
	# varnishd's reports (tests/sanitize/varnishd writes them there)
	for r in $(find "$work/asan/tests/sanitize/reports" -type f \
	    2>/dev/null | sort); do
		ok=1
		logs="$logs $r"
		echo "REPORT: $r"
		head -n 40 "$r"
	done
	echo "asan: $n tests, $(echo $logs | wc -w) sanitizer reports"
	[ $n -gt 0 ] || ok=1
	return $ok
}

v_clang() {
	command -v clang >/dev/null ||
	    { echo "clang is not installed (apt-get install clang)"; return 1; }
	build "$work/clang" CC=clang || return 1
	make -C "$work/clang/src" check \
	    TESTS="tests/unit_key tests/unit_addr tests/unit_cache tests/unit_http" \
	    >"$work/clang.check.log" 2>&1 ||
	    { tail -n 30 "$work/clang.check.log"; return 1; }
	grep -E '^(PASS|FAIL)' "$work/clang.check.log"
}

v_tsan() {
	plain || return 1
	make -C "$work/plain/src" check-tsan >"$work/tsan.check.log" 2>&1 &&
	    ! grep -qE "$reports" "$work/tsan.check.log"
	ok=$?
	[ $ok = 0 ] || tail -n 60 "$work/tsan.check.log"
	grep -E '^unit_cache:' "$work/tsan.check.log"
	return $ok
}

v_fuzz() {
	command -v clang >/dev/null ||
	    { echo "clang is not installed (apt-get install clang)"; return 1; }
	plain || return 1
	make -C "$work/plain/src" fuzz FUZZ_TIME="${FUZZ_TIME:-60}" \
	    >"$work/fuzz.check.log" 2>&1
	ok=$?
	[ $ok = 0 ] || tail -n 60 "$work/fuzz.check.log"
	grep -E '^(fuzz:|Done)' "$work/fuzz.check.log"
	return $ok
}

for v in $variants; do
	start=$(date +%s)
	rm -f "$out/$v.trs"
	v_$v "$@" >"$out/$v.log" 2>&1
	ok=$?
	secs=$(($(date +%s) - start))
	if [ $ok = 0 ]; then
		passed=$((passed + 1))
		result=PASS
	else
		failed=$((failed + 1))
		keep=1
		result=FAIL
	fi
	echo "$result: $v ($secs s)" >>"$out/$v.log"
	echo ":test-result: $result" >"$out/$v.trs"
	cat "$out/$v.log"
done

if [ "$keep" = 1 ]; then
	echo "kept: $work"
else
	rm -rf "$work"
fi
echo "sanitized: $passed passed, $failed failed"
[ $failed -eq 0 ]
