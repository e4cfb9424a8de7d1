#!/bin/sh
# End to end, in containers: builds the image from docker/Dockerfile (a
# build stage that makes the Debian package with dpkg-buildpackage, a
# runtime stage that installs it with apt), runs docker/compose.yml
# (Redis, the origin, a media server, the demo publisher) with Debian's
# podman and podman-compose, and plays the demo stream through the
# containerised origin with ffmpeg for 20 s.  Checks the image's contract
# too: every role runs as uid/gid 10001, the package is installed, no
# build toolchain beyond varnish's own Depends (gcc, libc6-dev), and the
# HEALTHCHECK answers healthy for the origin and unhealthy without it;
# the origin runs on a read-only root file system given its two writable
# directories.
#
# No image can be pulled here: the debian:bookworm base image is made
# with debootstrap when it is missing.  podman runs with its own
# containers.conf (CONTAINERS_CONF): runc, cgroupfs, ulimits this process
# has.  Slow the first time (base image and package downloads: 4 to 14
# min here, depending on what scripts/install-deps.sh installs); later
# runs reuse podman's layer cache: 2-2.5 min after a source change (the
# build stage makes the package again, the runtime stage installs it),
# about 1 min with none.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/podman.sh"
need podman podman-compose ffmpeg ffprobe curl ss
command -v runc >/dev/null 2>&1 || skip "runc is not installed (scripts/install-deps.sh test)"
[ "$(id -u)" -eq 0 ] || skip "needs root (podman with runc, cgroupfs)"
# compose services find each other by name: with podman's CNI backend that
# needs the dnsname plugin
if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ] &&
    [ ! -x /usr/lib/cni/dnsname ]; then
	skip "podman's CNI has no dnsname plugin: compose service names would not resolve (scripts/install-deps.sh test)"
fi

PLAY=${E2E_PLAY_SECONDS:-20}
PROJECT=sre2e$$

podman_setup
podman_base_image

say "building localhost/streamroute (log: build.log)"
podman build --format docker --ulimit "nofile=$NOFILE" --ulimit "nproc=$NPROC" \
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
# the image's contract: non-root, fixed uid, the package, no toolchain
for s in origin redis media publisher; do
	u=$(podman exec "${PROJECT}_${s}_1" sh -c 'echo $(id -u):$(id -g) $(ps -o uid= -p 1)' 2>&1)
	[ "$u" = "10001:10001 10001" ] || fail "$s runs as '$u' (id -u:id -g, uid of PID 1), not 10001"
done
podman exec "${PROJECT}_origin_1" dpkg -s varnish-vmod-streamroute >/dev/null 2>&1 ||
    fail "varnish-vmod-streamroute is not installed in the image"
# (gcc, and cc, its alternative, are varnish's: it compiles VCL)
tools=$(podman exec "${PROJECT}_origin_1" sh -c 'for t in make autoreconf libtool dpkg-buildpackage; do
    command -v $t; done; ls -d /usr/include/varnish /usr/include/hiredis 2>/dev/null')
[ -z "$tools" ] || fail "build tools in the runtime image: $tools"
# the HEALTHCHECK: kept in the image (docker format), healthy for the
# origin; and it can fail: the same check against a port nobody serves
hc=$(podman image inspect --format '{{json .Config.Healthcheck}}' localhost/streamroute)
case $hc in *streamroute-entrypoint*healthcheck*) ;; *) fail "no HEALTHCHECK in the image: $hc" ;; esac
podman healthcheck run "${PROJECT}_origin_1" >/dev/null 2>"$T/healthcheck.log" ||
    { cat "$T/healthcheck.log" >&2; fail "the origin's health check fails"; }
podman exec -e SR_LISTEN=:1 "${PROJECT}_origin_1" streamroute-entrypoint healthcheck >/dev/null 2>&1 &&
    fail "the health check passes with nothing listening"
podman healthcheck run "${PROJECT}_redis_1" >/dev/null 2>&1 || fail "redis's health check fails"
podman healthcheck run "${PROJECT}_media_1" >/dev/null 2>&1 || fail "media's health check fails"
# a read-only root file system: the origin needs only its two writable
# directories, here named volumes (they take the owner from the image)
RO=${PROJECT}_ro
on_exit 'podman rm -f -t 2 "$RO" >/dev/null 2>&1; podman volume rm -f "${RO}_varnish" "${RO}_settings" >/dev/null 2>&1'
podman run -d --name "$RO" --read-only -v "${RO}_varnish:/var/lib/varnish" \
    -v "${RO}_settings:/etc/varnish/streamroute" -e SR_ALLOW=10.0.0.0/8 \
    localhost/streamroute origin >/dev/null 2>"$T/ro.log" ||
    { cat "$T/ro.log" >&2; fail "podman run --read-only failed"; }
wait_for 30 podman exec "$RO" curl -fsS -m 2 -o /dev/null http://127.0.0.1:8080/healthcheck ||
    { podman logs --tail 10 "$RO" >&2 2>&1; fail "the origin does not run on a read-only root file system"; }
podman exec "$RO" touch /usr/local/ro-test 2>/dev/null && fail "the root file system of $RO is writable"
size=$(podman image inspect --format '{{.Size}}' localhost/streamroute 2>/dev/null)
say "PASS: played ${dur}s in ${took}s through the containerised origin; route demo -> $route; routed $routed; image $((size / 1000000)) MB"
