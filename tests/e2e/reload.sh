#!/bin/sh
# End to end, live reconfiguration: while players (ffmpeg HLS clients)
# play a live stream through the origin, the segment TTL is changed in
# origin-settings.vcl and applied twice -- with varnishadm (vcl.load +
# vcl.use) and with Debian's varnishreload.  Zero failed requests, every
# player plays on, and segments fetched after each reload carry the new
# TTL (Cache-Control max-age), routed by the new VCL's router.
. "$(dirname "$0")/lib/common.sh"
need_base
need_media
need varnishncsa
RELOAD=/usr/share/varnish/varnishreload
[ -x "$RELOAD" ] || skip "no $RELOAD (Debian's varnish package ships it)"

PLAYERS=${E2E_RELOAD_PLAYERS:-4}
PLAY=${E2E_PLAY_SECONDS:-20}
PLAY=$((PLAY + 10))
KEY=reload1
SETTINGS=$T/vcl/streamroute/origin-settings.vcl

start_redis
start_media ms1
write_settings
start_varnish
start_access_log
publish ms1 $KEY
wait_stream $KEY

# max-age of the newest segment, fetched now
newest_segment_maxage() {
	seg=$(curl -fsS "$ORIGIN/$KEY/index.m3u8" | grep '\.ts$' | tail -n 1)
	curl -fsS -o /dev/null -D - "$ORIGIN/$KEY/$seg" |
	    sed -n 's/^Cache-Control: max-age=\([0-9]*\).*/\1/ip' | tr -d '\r'
}
# wait for a segment fetched after the reload, and check its max-age
check_ttl() {
	# the next segment appears within a fragment (2 s)
	sleep 3
	m=$(newest_segment_maxage)
	[ -n "$m" ] && [ "$m" -le "$1" ] && [ "$m" -ge $(($1 - 5)) ] ||
	    fail "after $2 the newest segment has max-age '$m', not about $1"
	say "after $2: new segments get max-age $m"
}
set_segment_ttl() {
	write_settings --ttl-segment "${1}s"
	grep -q "beresp.ttl = ${1}s" "$SETTINGS" || fail "cannot set the segment TTL"
}

m=$(newest_segment_maxage)
[ "$m" -ge 55 ] || fail "segment max-age is '$m' before any change, not about 60"

say "$PLAYERS ffmpeg players for $PLAY s"
# The access log counts whole seconds: start the window in a second of
# its own, so that wait_stream's 404s before the stream was registered
# are not counted as failures during play.
sleep 1
t0=$(date +%s)
i=0
while [ $i -lt $PLAYERS ]; do
	timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re -i "$ORIGIN/$KEY/live.m3u8" \
	    -t "$PLAY" -c copy -f null - 2>"$T/player$i.log" &
	echo $! >"$T/player$i.pid"
	track "$T/player$i.pid"
	i=$((i + 1))
done
sleep 5

# 1. varnishadm: vcl.load + vcl.use
set_segment_ttl 45
vadm vcl.load ttl45 "$VCL_DIR/origin.vcl" >"$T/vcl-load.log" 2>&1 ||
    { cat "$T/vcl-load.log" >&2; fail "vcl.load failed"; }
vadm vcl.use ttl45 >/dev/null || fail "vcl.use failed"
check_ttl 45 "vcl.load + vcl.use"
sleep 3

# 2. varnishreload (load + use + discard of the old ones)
set_segment_ttl 30
"$RELOAD" -n "$VARNISH_N" >"$T/varnishreload.log" 2>&1 ||
    { cat "$T/varnishreload.log" >&2; fail "varnishreload failed"; }
check_ttl 30 "varnishreload"
active=$(vadm vcl.list | awk '$1 == "active" {print $NF}')
say "VCLs: $(vadm vcl.list | awk '{print $1 ":" $NF}' | tr '\n' ' ')"

# every player plays to the end, without error
i=0
bad=0
while [ $i -lt $PLAYERS ]; do
	pid=$(cat "$T/player$i.pid")
	wait "$pid"
	rc=$?
	rm -f "$T/player$i.pid"
	if [ $rc -ne 0 ] || [ -s "$T/player$i.log" ]; then
		say "player $i exited $rc: $(head -n 3 "$T/player$i.log")"
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
took=$(($(date +%s) - t0))
total=$(awk -v a="$t0" '$1 >= a' "$T/origin-access.log" | wc -l)
failed=$(awk -v a="$t0" '$1 >= a && $2 >= 400' "$T/origin-access.log" | wc -l)
routed=$(vstat "STREAMROUTE.$active.router.routed")
say "during ${took}s of play: $total requests, $failed failed; the new VCL ($active) routed $routed fetches"
[ "$failed" -eq 0 ] || { awk -v a="$t0" '$1 >= a && $2 >= 400' "$T/origin-access.log" | head >&2; fail "$failed failed requests"; }
[ $bad -eq 0 ] || fail "$bad player(s) failed"
[ "$routed" -gt 0 ] || fail "the reloaded VCL's router routed nothing"
[ $took -ge $((PLAY - 1)) ] || fail "players played ${took}s only"
say "PASS: 2 reloads while $PLAYERS players played ${took}s: $total requests, 0 failed"
