#!/bin/sh
# End to end: the media tier scales up and down under live play, with no
# origin reload.
#
# One media server (ms1) with two streams (s1, s2); hls.js players in
# headless Chromium (two per stream) and an ffmpeg HLS client per stream
# play them through the origin the whole time.  Meanwhile:
#   1. scale up: two more media servers (ms2, ms3) start and new streams
#      are published onto them (s3 on ms2, s4 on ms3), served at once;
#   2. move: s1's publisher stops on ms1 and reconnects to ms2; ms2 claims
#      the route once its playlist holds a segment of its own
#      (make-before-break: ms1 keeps the route until then, and never
#      deletes ms2's);
#   3. drain: ms1 refuses new publishes (a publish of s5 there is
#      refused), s2 moves to ms3 the same way, ms1's routes are gone
#      (compare-and-delete), and ms1 is stopped.
# The media servers share one HLS directory (a demo on one host; a real
# fleet would use shared storage, see docs/registration.md "Moving a
# stream"): the server a stream moves to continues its playlist
# (nginx-rtmp's hls_continuous: same media sequence, EXT-X-DISCONTINUITY
# before its first segment), so players carry on by themselves: the
# player page runs with restart=0 (it never reloads a stream).
#
# Asserted: no player request to the origin fails; no hls.js stall,
# waiting episode of 250 ms or more, no fatal error, no player stands
# still 3 s; the ffmpeg
# clients play all their 50 s and log nothing at level error; the media sequence
# continues across each move; the VCL loaded at the start is the only one
# at the end (no reload).  Printed per move: the gap (publisher stopped on
# the old server -> route claimed by the new one, from register.sh's log),
# and from the route change to the first playlist and the first segment
# the origin fetched from the new server (its access log).
. "$(dirname "$0")/lib/common.sh"
need_base
need_media
need_browser

# the players' wall time: the scenario must end well inside it
PLAY=${E2E_SCALE_PLAY:-60}
# how long a stopped stream keeps its route, waiting for the new server
# (0: released at once, as before make-before-break)
LINGER=${E2E_LINGER:-15}
# E2E_SCALE_SHARED=0: each media server has its own HLS directory, so a
# moved stream starts a new playlist at media sequence 0 (to see what
# players do without continuity; the test then fails)
mkdir -p "$T/hls" "$ARTEFACTS"
hls_of() { if [ "${E2E_SCALE_SHARED:-1}" = 1 ]; then echo "$T/hls"; else echo "$T/$1/hls"; fi; }

now() { date +%s.%N; }
# a failed expectation about the move: said at once, the test fails at
# the end, after the players' figures
PROBLEMS=""
problem() { say "problem: $*"; PROBLEMS="$PROBLEMS
  $*"; }
# register.sh's logs (beside the HLS directories), in one
reglog() { cat "$T/register.log" "$T"/ms*/register.log 2>/dev/null; }
# the route of KEY is ADDR within SECONDS
wait_route() {
	wait_for "$3" sh -c "[ \"\$(redis-cli -s '$REDIS' GET $1)\" = '$2' ]" ||
	    fail "the route of $1 is '$(rcli GET "$1")', not $2"
}
# media sequence of KEY's playlist through the origin
mseq() {
	curl -fsS -m 5 "$ORIGIN/$1/index.m3u8" |
	    sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\).*/\1/p'
}

start_redis
free_port PAGE_PORT
start_media_at ms1 "$(hls_of ms1)" "$LINGER" "$PAGE_PORT"
start_varnish
start_access_log
# the VCLs (state, temperature, name), without their busy counts
vcls() { vadm vcl.list | awk 'NF {print $1, $3, $NF}'; }
vcl_before=$(vcls)
publish ms1 s1
publish ms1 s2
wait_stream s1
wait_stream s2

# 4 hls.js players (2 per stream), never restarting a stream themselves
PAGE="http://127.0.0.1:$PAGE_PORT/player/?n=4&restart=0&src=$ORIGIN/s1/live.m3u8&src=$ORIGIN/s2/live.m3u8"
say "hls.js players for ${PLAY}s: $PAGE"
SR_STARTED_FILE=$T/started CHROMIUM=$CHROMIUM timeout $((PLAY + 90)) \
    node "$DEMO/headless-play.js" "$PAGE" "$PLAY" "$ARTEFACTS/scale.png" \
    >"$T/play.json" 2>"$T/play.log" &
echo $! >"$T/node.pid"
track "$T/node.pid"
wait_for 60 test -f "$T/started" || { cat "$T/play.log" >&2; fail "the players did not start"; }
t_play=$(now)

# an ffmpeg HLS client per stream, for most of the players' time
for k in s1 s2; do
	timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re \
	    -i "$ORIGIN/$k/live.m3u8" -t $((PLAY - 10)) -map 0:v -map 0:a -c copy \
	    -f mpegts -y "$T/played-$k.ts" 2>"$T/ffmpeg-$k.log" &
	echo $! >"$T/ffmpeg-$k.pid"
	track "$T/ffmpeg-$k.pid"
done

# 1. scale up: two media servers, a new stream on each
sleep 3
start_media_at ms2 "$(hls_of ms2)" "$LINGER"
start_media_at ms3 "$(hls_of ms3)" "$LINGER"
publish ms2 s3
publish ms3 s4
# asked of the origin once registered: every request from now on counts
wait_route s3 "127.0.0.1:$ms2_http" 40
wait_route s4 "127.0.0.1:$ms3_http" 40
wait_stream s3 10
wait_stream s4 10
say "scaled up: s3 on ms2, s4 on ms3, served by the origin"

# move KEY from media server FROM to TO: the publisher stops and
# reconnects; sets MOVE_STOP (publisher stopped) and MOVE_SEQ (the media
# sequence the origin served before)
move() {
	MOVE_SEQ=$(mseq "$1")
	say "moving $1 from $2 to $3 (media sequence $MOVE_SEQ)"
	unpublish "$2" "$1"
	MOVE_STOP=$(now)
	publish "$3" "$1"
	eval "to=127.0.0.1:\${${3}_http} from=127.0.0.1:\${${2}_http}"
	wait_route "$1" "$to" 30
	# the origin follows: the new server's playlist continues the old one
	# (a higher media sequence, EXT-X-DISCONTINUITY before its segments)
	wait_for 5 sh -c "curl -fsS -m 2 '$ORIGIN/$1/index.m3u8' >'$T/$1-after-move.m3u8' &&
	    grep -q '^#EXT-X-DISCONTINUITY' '$T/$1-after-move.m3u8'" ||
	    problem "$1's playlist after the move has no EXT-X-DISCONTINUITY: $(tr '\n' ' ' <"$T/$1-after-move.m3u8")"
	MOVE_SEQ_AFTER=$(sed -n 's/^#EXT-X-MEDIA-SEQUENCE:\([0-9]*\).*/\1/p' "$T/$1-after-move.m3u8")
	[ "${MOVE_SEQ_AFTER:-0}" -ge "$MOVE_SEQ" ] ||
	    problem "the media sequence of $1 went from $MOVE_SEQ to $MOVE_SEQ_AFTER: not continued"
	# the old server gives up its route without deleting the new one
	wait_for $((LINGER + 10)) sh -c "cat '$T/register.log' '$T'/ms*/register.log 2>/dev/null | grep -q '$from: released $1 '" ||
	    fail "$2 did not release $1"
	reglog | grep "$from: released $1 " | grep -qv "released $1 $from: 0\$" &&
	    problem "$2 deleted the route of $1 before $3 claimed it"
	[ "$(rcli GET "$1")" = "$to" ] || problem "the route of $1 is '$(rcli GET "$1")' after $2 released it"
}

# the route change (register.sh logs it once the SET returned), and the
# first playlist and segment of KEY the new server served after it
# move_figures KEY FROM TO
move_figures() {
	eval "to=127.0.0.1:\${${3}_http}"
	t_claim=$(reglog | awk -v a="$to: registered $1 " 'index($0, a) {print $3; exit}')
	[ -n "$t_claim" ] || fail "no claim of $1 by $3 in register.log"
	t_pl=$(awk -v t="$t_claim" -v k="/$1/index.m3u8" '$1 >= t && $3 == k && $2 == 200 {print $1; exit}' "$T/$3/access.log")
	t_ts=$(awk -v t="$t_claim" -v k="^/$1/.*[.]ts\$" '$1 >= t && $3 ~ k && $2 == 200 {print $1; exit}' "$T/$3/access.log")
	[ -n "$t_ts" ] || problem "no segment of $1 from $3 in the 8 s after the move"
	seq_after=$MOVE_SEQ_AFTER
	FIG=$(awk -v s="$MOVE_STOP" -v c="$t_claim" -v p="$t_pl" -v t="$t_ts" -v a="$MOVE_SEQ" -v b="$seq_after" 'BEGIN {
	    printf "publisher stopped -> route claimed %.2f s; route change -> first playlist from the new server %s s, first segment %s s; media sequence %d -> %d",
	        c - s, (p == "" ? "none" : sprintf("%.2f", p - c)), (t == "" ? "none" : sprintf("%.2f", t - c)), a, b}')
	say "move $1 $2 -> $3: $FIG"
	FIGURES="$FIGURES
  move $1 $2 -> $3: $FIG"
}
FIGURES=""

# 2. move s1 from ms1 to ms2
move s1 ms1 ms2
t_move1=$(now)
sleep 8
move_figures s1 ms1 ms2

# 3. drain ms1: new publishes refused, s2 moves to ms3, ms1 stops
"$DEMO/media-server.sh" drain "$T/ms1"
publish ms1 s5
wait_for 15 sh -c "! kill -0 \$(cat '$T/pub-ms1-s5/publish.pid' 2>/dev/null) 2>/dev/null" ||
    fail "a publish on the draining ms1 was accepted"
grep -q ' 403 /.streamroute/publish' "$T/ms1/access.log" ||
    fail "ms1 did not refuse the publish of s5"
[ "$(rcli EXISTS s5)" = 0 ] || fail "the refused stream s5 has a route"
move s2 ms1 ms3
no_routes_at() { [ -z "$(routes_at "$1")" ]; }
wait_for 20 no_routes_at "127.0.0.1:$ms1_http"
left=$(routes_at "127.0.0.1:$ms1_http")
[ -z "$left" ] || fail "ms1 still has routes after the drain: $left"
sr_media_stop "$T/ms1"
sr_alive "$T/ms1/nginx.pid" && fail "ms1 did not stop"
t_drained=$(now)
say "drained and stopped ms1"
sleep 8
move_figures s2 ms1 ms3
t_scenario=$(now)

# the players and clients end
wait_for $((PLAY + 60)) sh -c "! kill -0 $(cat "$T/node.pid") 2>/dev/null" || fail "the players did not end"
wait "$(cat "$T/node.pid")"
rc=$?
rm -f "$T/node.pid"
cat "$T/play.log" >&2
cat "$T/play.json" >&2
ff_rc=""
for k in s1 s2; do
	wait "$(cat "$T/ffmpeg-$k.pid")"
	ff_rc="$ff_rc $?"
	rm -f "$T/ffmpeg-$k.pid"
done
t_end=$(now)

# the figures
total=$(awk -v a="$t_play" '$1 >= a' "$T/origin-access.log" | wc -l)
failed=$(awk -v a="${t_play%.*}" '$1 >= a && $2 >= 400' "$T/origin-access.log" | wc -l)
failed_kinds=$(awk -v a="${t_play%.*}" '$1 >= a && $2 >= 400 {print $2, $3}' "$T/origin-access.log" | sort | uniq -c | sort -rn | head -3 | tr '\n' ';')
stalls=$(sed -n 's/.*"stalls":\([0-9]*\).*/\1/p' "$T/play.json")
frozen=$(sed -n 's/.*"maxFrozenMs":\([0-9]*\).*/\1/p' "$T/play.json")
errs=$(sed -n 's/.*"nonFatalErrors":\([0-9]*\).*/\1/p' "$T/play.json")
ff_errors=$(cat "$T/ffmpeg-s1.log" "$T/ffmpeg-s2.log" | wc -l)
vcl_after=$(vcls)
nvcl=$(echo "$vcl_after" | grep -c .)
dur1=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played-s1.ts" 2>/dev/null)
dur2=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played-s2.ts" 2>/dev/null)
spare=$(awk -v a="$t_scenario" -v b="$t_play" -v p="$PLAY" 'BEGIN {printf "%.1f", b + p - a}')
say "figures:$FIGURES
  origin requests from the players' start: $total, failed $failed ${failed_kinds}
  hls.js: 4 players, stalls ${stalls:-?}, longest still ${frozen:-?} ms, non-fatal errors ${errs:-?}, judge exit $rc
  ffmpeg clients: exit$ff_rc, error lines $ff_errors, played ${dur1:-?} s (s1) and ${dur2:-?} s (s2)
  VCLs loaded: $nvcl ($(echo "$vcl_after" | awk '{print $NF}' | tr '\n' ' '))
  scenario ended ${spare}s before the players"

[ -z "$PROBLEMS" ] || fail "$PROBLEMS"
[ "$failed" -eq 0 ] || fail "$failed player requests failed: $failed_kinds"
[ "$rc" -eq 0 ] || fail "the hls.js players did not play through (see the JSON above)"
[ "$ff_rc" = " 0 0" ] || fail "the ffmpeg clients exited$ff_rc"
# ffmpeg ends with status 0 when the stream goes away (a 404): it must
# have played all it was asked to
for d in "${dur1:-0}" "${dur2:-0}"; do
	awk -v d="$d" -v p=$((PLAY - 10)) 'BEGIN {exit !(d >= p - 1)}' ||
	    fail "an ffmpeg client played $d s of media, not $((PLAY - 10))"
done
[ "$ff_errors" -eq 0 ] || { cat "$T/ffmpeg-s1.log" "$T/ffmpeg-s2.log" >&2; fail "the ffmpeg clients logged errors"; }
[ "$vcl_after" = "$vcl_before" ] && [ "$nvcl" -eq 1 ] ||
    fail "the origin's VCLs changed: before '$vcl_before', after '$vcl_after'"
awk -v s="$spare" 'BEGIN {exit !(s >= 3)}' ||
    fail "the scenario ended ${spare}s before the players: not observed to the end"
say "PASS: scaled 1 -> 3 -> 2 media servers, 2 moves, 0 failed requests, 0 stalls, no reload"
