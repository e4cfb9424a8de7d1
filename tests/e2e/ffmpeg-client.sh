#!/bin/sh
# End to end, ffmpeg as the player: ffmpeg publishes a live stream (H.264 +
# AAC) over RTMP to a demo media server (nginx-rtmp), which writes HLS and
# registers the stream in Redis; ffmpeg as an HLS client reads the stream
# through the origin (varnishd + the shipped VCL + the built VMOD) at
# real-time speed for 20 s with no error.  Two media servers run, the
# stream is on the second one: the route comes from Redis.
. "$(dirname "$0")/lib/common.sh"
need_base
need_media

PLAY=${E2E_PLAY_SECONDS:-20}

start_redis
start_media ms1
start_media ms2
start_varnish
publish ms2 e2e
wait_stream e2e

[ "$(rcli GET e2e)" = "127.0.0.1:$ms2_http" ] ||
    fail "Redis says e2e is at '$(rcli GET e2e)', not at ms2 (127.0.0.1:$ms2_http)"
ttl=$(rcli TTL e2e)
[ "$ttl" -gt 0 ] || fail "the route has no expiry (TTL $ttl)"

# the master playlist names the rendition, through the origin, with CORS
curl -fsS -D "$T/master.h" -o "$T/master.m3u8" -H 'Origin: http://example.test' \
    "$ORIGIN/e2e/live.m3u8" || fail "no live.m3u8"
grep -q '^index.m3u8' "$T/master.m3u8" || fail "live.m3u8 does not name index.m3u8"
grep -qi '^Access-Control-Allow-Origin: \*' "$T/master.h" || fail "no CORS header on live.m3u8"

say "ffmpeg reads $ORIGIN/e2e/live.m3u8 for $PLAY s"
start=$(date +%s)
timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re -i "$ORIGIN/e2e/live.m3u8" \
    -t "$PLAY" -map 0:v -map 0:a -c copy -f mpegts -y "$T/played.ts" \
    2>"$T/ffmpeg-client.log"
rc=$?
took=$(($(date +%s) - start))
[ $rc -eq 0 ] || { cat "$T/ffmpeg-client.log" >&2; fail "ffmpeg exited $rc"; }
if [ -s "$T/ffmpeg-client.log" ]; then
	cat "$T/ffmpeg-client.log" >&2
	fail "ffmpeg reported errors"
fi
[ $took -ge $((PLAY - 1)) ] || fail "played for $took s only"

# what was played: H.264 and AAC, $PLAY s, and it decodes without error
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played.ts")
codecs=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$T/played.ts" | grep . | sort -u | tr '\n' ' ')
[ "$codecs" = "aac h264 " ] || fail "played streams are '$codecs', not aac h264"
awk -v d="$dur" -v p="$PLAY" 'BEGIN {exit !(d >= p - 0.5)}' ||
    fail "played $dur s of media, not $PLAY"
ffmpeg -nostdin -v error -i "$T/played.ts" -f null - 2>"$T/decode.log"
[ -s "$T/decode.log" ] && { head "$T/decode.log" >&2; fail "played media does not decode cleanly"; }

# it went through the router and the cache
routed=$(vstat 'STREAMROUTE.*.routed')
hits=$(vstat MAIN.cache_hit)
fetches=$(vstat MAIN.backend_req)
[ "$routed" -gt 0 ] || fail "STREAMROUTE routed counter is $routed"
errors=$(awk '$2 >= 400' "$T/ms1/access.log" "$T/ms2/access.log" | wc -l)
say "PASS: played ${dur}s (h264+aac) in ${took}s; media fetches $fetches, routed $routed, cache hits $hits, media-server errors $errors"
