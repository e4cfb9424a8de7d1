#!/bin/sh
# A clean build never depends on luck, nor on the Varnish at hand:
# configure refuses a Varnish older than 7.1; every object of the VMOD builds
# alone in a freshly configured tree (so each one names the generated
# headers it includes, vcc_streamroute_if.h and VSC_streamroute.h), and
# a freshly configured tree builds with a high -j, several times, with
# make's --shuffle where the make at hand has it (GNU make 4.4).  Works
# on a copy of the tree.
#
# Environment: BUILD_ROUNDS (default 3), BUILD_JOBS (default 16).
set -u
# run from "make check": the outer make's flags (-w, jobs) must not leak in
unset MAKEFLAGS MFLAGS MAKELEVEL
top=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${BUILD_ROUNDS:-3}
jobs=${BUILD_JOBS:-16}

command -v git >/dev/null 2>&1 && [ -e "$top/.git" ] || {
	echo "clean-build: SKIP: not a git checkout (the tree is copied with git ls-files)"
	exit 77
}
t=$(mktemp -d /tmp/sr-clean-build.XXXXXX)
trap 'rm -rf "$t"' EXIT

shuffle=
if make --help 2>/dev/null | grep -q -- '--shuffle'; then
	shuffle=--shuffle
fi

fail() {
	echo "clean-build: FAIL: $*"
	grep -E 'error|Error' "$t/build.log" | head -n 10
	exit 1
}

# the working tree as it is, uncommitted changes included
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 tar -cf - 2>/dev/null) | tar -C "$t" -xf - || exit 99
cd "$t" || exit 99
./autogen.sh >build.log 2>&1 || fail "autogen.sh"

# configure refuses a Varnish older than 7.1.0 (7.0 lacks
# VRT_Assign_Backend): pretend varnishapi is 7.0.3.
pc=$(pkg-config --variable=pcfiledir varnishapi)/varnishapi.pc
mkdir old-varnishapi &&
    sed 's/^Version:.*/Version: 7.0.3/' "$pc" >old-varnishapi/varnishapi.pc ||
    exit 99
if PKG_CONFIG_PATH=$PWD/old-varnishapi ./configure RST2MAN=/usr/bin/rst2man \
    >old-varnish.log 2>&1; then
	echo "clean-build: FAIL: configure accepted Varnish 7.0.3"
	exit 1
fi
grep -q 'Varnish version 7.1.0 or higher is required' old-varnish.log || {
	echo "clean-build: FAIL: configure refused Varnish 7.0.3 without saying why:"
	tail -n 3 old-varnish.log
	exit 1
}
rm -rf old-varnishapi old-varnish.log
echo "clean-build: configure refuses Varnish 7.0.3: ok"

./configure RST2MAN=/usr/bin/rst2man >>build.log 2>&1 || fail "configure"

# Each object alone, first compile of each (no dependency file yet).
objects=$(printf 'print-objects:\n\t@echo $(libvmod_streamroute_la_OBJECTS)\n' |
    make -s -C src -f Makefile -f - print-objects)
[ -n "$objects" ] || fail "no objects listed"
for o in $objects; do
	make -C src clean >>build.log 2>&1
	make -C src "$o" >>build.log 2>&1 || fail "make $o alone, from clean"
done
echo "clean-build: each of $(echo $objects | wc -w) objects builds alone from clean: ok"

i=1
while [ "$i" -le "$rounds" ]; do
	make distclean >>build.log 2>&1
	./configure RST2MAN=/usr/bin/rst2man >>build.log 2>&1 || fail "configure"
	make -j"$jobs" $shuffle >>build.log 2>&1 ||
	    fail "round $i of $rounds (make -j$jobs $shuffle)"
	[ -f src/.libs/libvmod_streamroute.so ] ||
	    fail "round $i: no libvmod_streamroute.so"
	echo "clean-build: round $i of $rounds (make -j$jobs $shuffle): ok"
	i=$((i + 1))
done
exit 0
