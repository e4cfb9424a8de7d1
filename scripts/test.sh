#!/bin/sh
# Builds streamroute and runs every test suite: "make check" (the unit
# tests, the VMOD tests in src/tests and the shipped-VCL tests in
# tests/vcl, each against real redis-server and varnishd processes,
# several at once: VTC_JOBS in Makefile.am),
# then "make check-system" (clean parallel builds, end-to-end tests with
# real media servers and players, the container, the benchmark harness),
# then scripts/check-sanitized.sh (ASan/UBSan, clang, TSan, fuzzers).
# Ends with one line:
#   tests: N passed, N failed
#
# Usage: scripts/test.sh [make check arguments, e.g. TESTS=tests/route_two_streams.vtc,
# or TESTS="tests/unit_key vcl/url_bad_400.vtc": each directory runs its own]
# (with arguments, only "make check" runs)
#
# A test that cannot run here (a program missing) is skipped and said so;
# with STREAMROUTE_STRICT=1 (CI) a skipped test counts as failed.
set -u
cd "$(dirname "$0")/.."

missing() {
	for cmd in varnishd varnishtest redis-server redis-cli curl autoreconf \
	    pkg-config rst2man nginx ffmpeg npm chromium podman wrk; do
		command -v "$cmd" >/dev/null 2>&1 || { echo "$cmd"; return; }
	done
	[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || echo nginx-rtmp
}
if [ -n "$(missing)" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: $(missing) is missing: run scripts/install-deps.sh as root" >&2
		exit 2
	fi
	echo "test.sh: installing what is missing ($(missing))" >&2
	scripts/install-deps.sh >/dev/null || exit 2
fi

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	./autogen.sh || exit 2
fi
# configure lists the .vtc files: rerun it so that new tests are seen
./configure RST2MAN=/usr/bin/rst2man >/dev/null || exit 2
make -j2 >/dev/null || { make; exit 2; }

find . -name '*.trs' -delete
make -k check "$@" >/dev/null 2>&1
status=$?
if [ $# -eq 0 ]; then
	make -k check-system >/dev/null 2>&1 || status=$?
	# ASan/UBSan, clang, TSan and the fuzzers, each in a copy of the
	# tree: one .trs per variant in tests/sanitize/
	scripts/check-sanitized.sh >/dev/null 2>&1
fi

passed=0
failed=0
skipped=0
for trs in $(find src tests -name '*.trs' | sort); do
	result=$(sed -n 's/^:test-result: //p' "$trs")
	name=${trs%.trs}
	case $result in
	PASS|XFAIL)
		passed=$((passed + 1)) ;;
	SKIP)
		skipped=$((skipped + 1))
		echo "SKIP: $name: $(grep -h 'SKIP' "$name.log" | tail -n 1)"
		if [ "${STREAMROUTE_STRICT:-0}" = 1 ]; then
			failed=$((failed + 1))
		fi ;;
	*)
		failed=$((failed + 1))
		echo "FAIL: $name (see $name.log)"
		tail -n 30 "$name.log" | grep -E '^(----|#)' | head -n 5 ;;
	esac
done
[ $skipped -gt 0 ] && echo "($skipped skipped: a needed program is missing)"
if [ $status -ne 0 ] && [ $failed -eq 0 ]; then
	# make itself failed before any test could report
	failed=1
	echo "FAIL: make check exited $status without a failing test"
fi
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ]
