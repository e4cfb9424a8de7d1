#!/bin/sh
# The Debian package, end to end: builds varnish-vmod-streamroute with
# dpkg-buildpackage -b from a clean copy of the tree (the files of git
# ls-files, tracked and untracked but not ignored, as they are), runs
# lintian on it, installs it with apt into a clean bookworm container
# (the debian:bookworm base image, nothing added), writes the conffile
# /etc/varnish/streamroute/origin-settings.vcl with the installed
# streamroute-settings, starts varnishd with the options of Debian's
# varnish.service (read from the unit in the container: -j unix,user=vcache,
# -F, -S /etc/varnish/secret, -s malloc,256m; the shipped origin.vcl
# instead of default.vcl, a free port instead of 6081), and plays a stream
# through it: a demo media server and its Redis on this machine's
# loopback (the container shares the host's network and sees the Redis
# socket), ffmpeg reading the HLS URL.  Then: dpkg -L, the conffile, the
# man pages, an upgrade (the same package as version 0.1.0+pkgtest1)
# that keeps the edited conffile and is picked up by Debian's
# varnishreload, and a purge that leaves nothing behind.
#
# Containers: streamroute-pkgtest-<pid>, removed at exit.  Takes 1-2 min
# with the base image present (the package build 20 s, apt
# installing varnish and its dependencies in the container 30-40 s);
# the first run adds debootstrap (about 40 s).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/podman.sh"
need git dpkg-buildpackage dpkg-deb lintian redis-server redis-cli ffmpeg ffprobe curl ss
need_media
git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout: no clean copy to build from"

PLAY=${E2E_PLAY_SECONDS:-10}
PKG=varnish-vmod-streamroute
C=streamroute-pkgtest-$$

podman_setup
podman_base_image

# -- build, from a clean copy: the files git knows of or would add, as
# they are in the working tree (tests/build/clean-build.sh does the same)
mkdir -p "$T/pkg/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 tar -cf - 2>/dev/null) | tar -C "$T/pkg/src" -xf - || fail "cannot copy the tree"
[ -f "$T/pkg/src/debian/control" ] || fail "no debian/control in the tree"
say "dpkg-buildpackage -us -uc -b (log: pkg-build.log)"
# (not under make check's make: its MAKEFLAGS would pass TESTS= and -j
# down to the package's own make)
(cd "$T/pkg/src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEFILES -u TESTS \
    dpkg-buildpackage -us -uc -b) >"$T/pkg-build.log" 2>&1 ||
    { tail -n 30 "$T/pkg-build.log" >&2; fail "dpkg-buildpackage failed"; }
deb=$(ls "$T"/pkg/${PKG}_*.deb)
changes=$(ls "$T"/pkg/${PKG}_*.changes)
[ -f "$deb" ] && [ -f "$changes" ] || fail "no .deb or .changes in $T/pkg"
say "lintian $(basename "$changes") (log: lintian.log)"
lintian --fail-on error,warning --pedantic -I "$changes" >"$T/lintian.log" 2>&1 ||
    { cat "$T/lintian.log" >&2; fail "lintian found errors or warnings"; }

# Depends: the ABI of the headers it was built against, as varnish here
# provides it, and libhiredis by dpkg-shlibdeps
depends=$(dpkg-deb -f "$deb" Depends)
abi=$(echo "$depends" | tr ',' '\n' | sed -n 's/^ *\(varnishabi-[^ ]*\).*/\1/p')
[ -n "$abi" ] || fail "Depends names no varnishabi: $depends"
dpkg-query -W -f '${Provides}' varnish | tr ',' '\n' | sed 's/^ *//' | grep -qx "$abi" ||
    fail "Depends on $abi, which this machine's varnish does not provide"
case $depends in *libhiredis*) ;; *) fail "Depends names no libhiredis: $depends" ;; esac
# and for a VMOD with "$ABI strict", the exact varnish build
printf '$Module x 3 "x"\n$ABI strict\n' >"$T/strict.vcc"
strict=$(cd "$T/pkg/src" && debian/varnishabi "$T/strict.vcc") || fail "debian/varnishabi failed on \$ABI strict"
case $strict in varnishabi-strict-?*) ;; *) fail "\$ABI strict gives '$strict'" ;; esac
dpkg-query -W -f '${Provides}' varnish | tr ',' '\n' | sed 's/^ *//' | grep -qx "$strict" ||
    fail "\$ABI strict gives $strict, which this machine's varnish does not provide"

# -- the media side, on this machine
start_redis
start_media ms1
publish ms1 pkg

# -- a clean bookworm, the package installed with apt
on_exit 'podman rm -f -t 2 "$C" >/dev/null 2>&1'
mkdir -p "$T/debs"
cp "$deb" "$T/debs/"
podman run -d --name "$C" --network host -v "$T:$T" "$BASE" sleep 600 >/dev/null ||
    fail "podman run $BASE failed"
ctr() { podman exec "$C" "$@"; }
say "apt-get install ./$(basename "$deb") in a clean $BASE (log: apt.log)"
ctr sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $T/debs/$(basename "$deb")" \
    >"$T/apt.log" 2>&1 || { tail -n 20 "$T/apt.log" >&2; fail "apt-get install failed"; }

# what it installed, where varnishd looks
list=$(ctr dpkg -L "$PKG")
# the VMOD beside varnish's own (vmod_std)
vmoddir=$(ctr dpkg -L varnish | sed -n 's|/libvmod_std\.so$||p')
[ -n "$vmoddir" ] || fail "no libvmod_std.so in dpkg -L varnish"
for f in "$vmoddir/libvmod_streamroute.so" \
    /usr/share/varnish/vcl/streamroute/origin.vcl \
    /usr/share/varnish/vcl/streamroute/streamroute.vcl \
    /usr/share/varnish/vcl/streamroute/origin-settings.vcl \
    /usr/share/varnish/vcl/streamroute/varnishd.params \
    /etc/varnish/streamroute/origin-settings.vcl \
    /usr/bin/streamroute-settings \
    /usr/share/man/man3/vmod_streamroute.3.gz \
    /usr/share/man/man1/streamroute-settings.1.gz \
    /usr/share/doc/$PKG/copyright; do
	echo "$list" | grep -qx "$f" || fail "dpkg -L $PKG does not list $f"
	ctr test -f "$f" || fail "$f is not installed"
done
ctr dpkg-query -W -f '${Conffiles}\n' "$PKG" | grep -q '^ */etc/varnish/streamroute/origin-settings.vcl ' ||
    fail "/etc/varnish/streamroute/origin-settings.vcl is not a conffile"
ctr sh -c 'zcat /usr/share/man/man3/vmod_streamroute.3.gz | grep -q "^\.TH.*VMOD_STREAMROUTE"' ||
    fail "vmod_streamroute.3 is not the VMOD's man page"

# -- varnishd as varnish.service starts it
unit=/lib/systemd/system/varnish.service
ctr sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" >"$T/execstart" || fail "no $unit"
free_port ORIGIN_PORT
free_port ADMIN_PORT
cmd=$(sed 's/^ExecStart=//; s/\\$//' "$T/execstart" | tr -s ' \n' '  ')
for opt in '-j unix,user=vcache' '-F' '-a :6081' '-T localhost:6082' \
    '-f /etc/varnish/default.vcl' '-S /etc/varnish/secret' '-s malloc,256m'; do
	case " $cmd " in *" $opt "*) ;; *) fail "$unit changed: no '$opt' in: $cmd" ;; esac
done
cmd=$(echo "$cmd" | sed "s| -a :6081 | -a 127.0.0.1:$ORIGIN_PORT |;
    s| -T localhost:6082 | -T 127.0.0.1:$ADMIN_PORT |;
    s| -f /etc/varnish/default.vcl | -f /usr/share/varnish/vcl/streamroute/origin.vcl |")
say "the conffile: streamroute-settings --redis $REDIS --allow 127.0.0.1"
ctr streamroute-settings --redis "$REDIS" --allow 127.0.0.1 --allow ::1 \
    -o /etc/varnish/streamroute/origin-settings.vcl || fail "streamroute-settings failed"
say "$cmd"
# shellcheck disable=SC2086
podman exec -d "$C" sh -c "exec $cmd >$T/varnishd.log 2>&1" >/dev/null || fail "podman exec varnishd failed"
ORIGIN=http://127.0.0.1:$ORIGIN_PORT
wait_for 30 curl -fsS -m 2 -o /dev/null "$ORIGIN/healthcheck" ||
    { cat "$T/varnishd.log" >&2; fail "varnishd does not answer"; }

# -- a stream through it
wait_stream pkg 60
curl -fsS -o "$T/index.m3u8" "$ORIGIN/pkg/index.m3u8" || fail "no index.m3u8"
seg=$(grep -v '^#' "$T/index.m3u8" | grep '\.ts' | tail -n 1)
curl -fsS -D "$T/seg.h" -o "$T/seg.ts" "$ORIGIN/pkg/$seg" || fail "no segment $seg"
ffprobe -v error "$T/seg.ts" || fail "segment $seg is not media"
say "ffmpeg reads $ORIGIN/pkg/live.m3u8 for $PLAY s"
timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re -i "$ORIGIN/pkg/live.m3u8" \
    -t "$PLAY" -c copy -f mpegts -y "$T/played.ts" 2>"$T/ffmpeg-client.log" ||
    { cat "$T/ffmpeg-client.log" >&2; fail "ffmpeg failed"; }
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played.ts")
awk -v d="$dur" -v p="$PLAY" 'BEGIN {exit !(d >= p - 0.5)}' || fail "played $dur s, not $PLAY"
vstat_in() { ctr varnishstat -1 -f "$1" | awk '{s += $2} END {print s + 0}'; }
routed=$(vstat_in 'STREAMROUTE.*.routed')
[ "$routed" -gt 0 ] || fail "the packaged VMOD routed nothing"

# -- an upgrade: a later version of the same package.  Its conffile is
# the same as the installed version's, so dpkg keeps the edited one
# without asking; varnishreload (the unit's ExecReload) loads the VCL
# and the new VMOD file.
say "upgrade to 0.1.0+pkgtest1, then varnishreload"
ctr sh -c "cd $T && rm -rf up && dpkg-deb -R $T/debs/$(basename "$deb") up &&
    sed -i 's/^Version: .*/Version: 0.1.0+pkgtest1/' up/DEBIAN/control &&
    dpkg-deb -b up $T/debs/${PKG}_0.1.0+pkgtest1.deb" >"$T/repack.log" 2>&1 ||
    { cat "$T/repack.log" >&2; fail "cannot make the upgrade package"; }
ctr sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q $T/debs/${PKG}_0.1.0+pkgtest1.deb" \
    >"$T/upgrade.log" 2>&1 || { tail -n 20 "$T/upgrade.log" >&2; fail "the upgrade failed"; }
[ "$(ctr dpkg-query -W -f '${Version}' "$PKG")" = 0.1.0+pkgtest1 ] || fail "not upgraded"
ctr grep -q "$REDIS" /etc/varnish/streamroute/origin-settings.vcl ||
    fail "the upgrade replaced the edited conffile"
ctr /usr/share/varnish/varnishreload >"$T/reload.log" 2>&1 ||
    { cat "$T/reload.log" >&2; fail "varnishreload failed"; }
ctr varnishadm vcl.list >"$T/vcl.list" 2>&1 || { cat "$T/vcl.list" >&2; fail "varnishadm vcl.list failed"; }
grep -q '^active .* reload_' "$T/vcl.list" || { cat "$T/vcl.list" >&2; fail "varnishreload did not make a new VCL active"; }
curl -fsS -o /dev/null "$ORIGIN/pkg/live.m3u8" || fail "no live.m3u8 after the upgrade"

# -- purge: nothing of the package is left, the conffile included
# (varnishd still runs: a purge does not stop it, the running VCL has
# its copy of the VMOD)
ctr sh -c "DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PKG" >"$T/purge.log" 2>&1 ||
    { tail -n 20 "$T/purge.log" >&2; fail "apt-get purge failed"; }
for f in "$vmoddir/libvmod_streamroute.so" /usr/share/varnish/vcl/streamroute \
    /etc/varnish/streamroute /usr/bin/streamroute-settings; do
	ctr test -e "$f" && fail "$f is still there after the purge"
done
st=$(ctr dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null)
case $st in *" installed"|*config-files) fail "dpkg says $PKG is '$st' after the purge" ;; esac
ctr test -x /usr/sbin/varnishd || fail "the purge took varnish along"

say "PASS: $(basename "$deb") (Depends: $depends) lintian clean, installed in a clean bookworm, played ${dur}s through varnishd started as varnish.service does (routed $routed), upgraded keeping the conffile, purged"
