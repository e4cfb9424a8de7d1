#!/bin/sh
# End to end, in containers: builds the images from docker/Dockerfile (the
# CI install steps: scripts/install-deps.sh, autogen, configure, make,
# make install), runs docker/compose.yml (Redis, the origin, a media
# server, the demo publisher) with Debian's podman and podman-compose, and
# plays the demo stream through the containerised origin with ffmpeg for
# 20 s.
#
# No image can be pulled here: the debian:bookworm base image is made
# with debootstrap when it is missing.  podman runs with its own
# containers.conf (CONTAINERS_CONF): runc, cgroupfs, ulimits this process
# has.  Slow the first time (base image and package downloads: 4 to 14
# min here, depending on what scripts/install-deps.sh installs); later
# runs reuse podman's layer cache (about 1 min).
. "$(dirname "$0")/lib/common.sh"
need podman podman-compose ffmpeg ffprobe curl ss
command -v runc >/dev/null 2>&1 || skip "runc is not installed (scripts/install-deps.sh test)"
[ "$(id -u)" -eq 0 ] || skip "needs root (podman with runc, cgroupfs)"
# compose services find each other by name: with podman's CNI backend that
# needs the dnsname plugin
if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ] &&
    [ ! -x /usr/lib/cni/dnsname ]; then
	skip "podman's CNI has no dnsname plugin: compose service names would not resolve (scripts/install-deps.sh test)"
fi

BASE=docker.io/library/debian:bookworm
PLAY=${E2E_PLAY_SECONDS:-20}
PROJECT=sre2e$$

# podman's configuration for this machine, without touching /etc.  The
# ulimits must be those a podman process has (root cannot raise them
# here, and podman lowers its own): read them from a short-lived one.
podman system service --time=5 "unix://$T/podman.sock" >/dev/null 2>&1 &
spid=$!
sleep 1
limit() {
	awk -v n="$1" 'index($0, n) == 1 {print $(NF - 2) ":" $(NF - 1)}' "/proc/$spid/limits" 2>/dev/null ||
	    awk -v n="$1" 'index($0, n) == 1 {print $(NF - 2) ":" $(NF - 1)}' /proc/$$/limits
}
NOFILE=$(limit 'Max open files')
NPROC=$(limit 'Max processes')
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
say "podman's limits: nofile=$NOFILE nproc=$NPROC"
cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$NOFILE", "nproc=$NPROC"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$T/containers.conf"

if ! podman image exists "$BASE"; then
	need debootstrap
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	say "making the $BASE base image with debootstrap from $mirror"
	debootstrap --variant=minbase bookworm "$T/rootfs" "$mirror" >"$T/debootstrap.log" 2>&1 ||
	    { tail -n 5 "$T/debootstrap.log" >&2; fail "debootstrap failed"; }
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		cp /etc/apt/sources.list.d/debian.sources "$T/rootfs/etc/apt/sources.list.d/"
		rm -f "$T/rootfs/etc/apt/sources.list"
	fi
	tar --numeric-owner -C "$T/rootfs" -cf "$T/base.tar" . || fail "tar failed"
	rm -rf "$T/rootfs"
	podman import --change 'CMD ["bash"]' "$T/base.tar" "$BASE" >/dev/null ||
	    fail "podman import failed"
	rm -f "$T/base.tar"
fi

say "building localhost/streamroute (log: build.log)"
podman build --ulimit "nofile=$NOFILE" --ulimit "nproc=$NPROC" \
    -f "$REPO/docker/Dockerfile" --ignorefile "$REPO/docker/dockerignore" \
    -t localhost/streamroute "$REPO" >"$T/build.log" 2>&1 ||
    { tail -n 20 "$T/build.log" >&2; fail "podman build failed"; }

free_port ORIGIN_PORT
free_port RTMP_PORT
export SR_ORIGIN_PORT=$ORIGIN_PORT SR_RTMP_PORT=$RTMP_PORT
compose() { podman-compose -p "$PROJECT" -f "$REPO/docker/compose.yml" "$@"; }
on_exit 'compose down >"$T/compose-down.log" 2>&1; podman network rm -f "${PROJECT}_default" >/dev/null 2>&1'
say "starting the compose stack ($PROJECT), origin on 127.0.0.1:$ORIGIN_PORT"
compose up -d >"$T/compose-up.log" 2>&1 ||
    { tail -n 20 "$T/compose-up.log" >&2; fail "podman-compose up failed"; }

ORIGIN=http://127.0.0.1:$ORIGIN_PORT
if ! wait_for 90 sh -c "curl -fsS -m 5 '$ORIGIN/demo/index.m3u8' | grep -q '\.ts'"; then
	for s in origin media publisher redis; do
		echo "--- $s" >&2
		podman logs --tail 10 "${PROJECT}_${s}_1" >&2 2>&1
	done
	fail "the demo stream is not served by the containerised origin"
fi

say "ffmpeg reads $ORIGIN/demo/live.m3u8 for $PLAY s"
start=$(date +%s)
timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re -i "$ORIGIN/demo/live.m3u8" \
    -t "$PLAY" -c copy -f mpegts -y "$T/played.ts" 2>"$T/ffmpeg-client.log"
rc=$?
took=$(($(date +%s) - start))
[ $rc -eq 0 ] && [ ! -s "$T/ffmpeg-client.log" ] ||
    { cat "$T/ffmpeg-client.log" >&2; fail "ffmpeg exited $rc or reported errors"; }
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played.ts")
awk -v d="$dur" -v p="$PLAY" 'BEGIN {exit !(d >= p - 0.5)}' || fail "played $dur s, not $PLAY"

route=$(podman exec "${PROJECT}_redis_1" redis-cli GET demo 2>/dev/null)
routed=$(podman exec "${PROJECT}_origin_1" varnishstat -1 -f 'STREAMROUTE.*.routed' 2>/dev/null |
    awk '{s += $2} END {print s + 0}')
[ "$routed" -gt 0 ] || fail "the origin's router routed nothing"
size=$(podman image inspect --format '{{.Size}}' localhost/streamroute 2>/dev/null)
say "PASS: played ${dur}s in ${took}s through the containerised origin; route demo -> $route; routed $routed; image $((size / 1000000)) MB"
