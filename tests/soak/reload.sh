#!/bin/sh
# tests/soak/reload.sh -- the reload soak (issue 14, item 4).
#
#   reload.sh [--smoke | --valgrind] [--cycles N] [--reloads N] [--from N]
#
# The shipped VCL (vcl/origin.vcl, settings rendered by
# scripts/streamroute-settings) in varnishd with etc/varnishd.params,
# Redis, SERVERS media servers (nginx serving synthetic HLS,
# tests/soak/lib/) and player-like load over STREAMS streams
# (tests/soak/lib/players.py) that runs through every reload.  Then
# CYCLES cycles, each with a changed setting (route TTL, segment
# first-byte timeout) in the settings file:
#   - vcl.load cycle<N>, vcl.use cycle<N>, then every other VCL is set
#     cold (vcl.state), waited for until vcl.list says it is cold, and
#     discarded (vcl.discard), and waited for until it has left vcl.list;
#   - after every CYCLES/RELOADS-th cycle also Debian's varnishreload
#     (load + use, -m 0), after which the VCL it replaced is discarded at
#     once, still warm (as varnishreload -m does to its own).
# After each cycle, once the new VCL has made its backends, a sample:
# VCLs in vcl.list (MAIN.n_vcl), dynamic backends (backend.list lines,
# VBE.*.happy counters, the VMOD's STREAMROUTE.*.backends gauges,
# MAIN.n_backend), VSM size (du of the -n directory and of its child
# segment directory), the cache process's RSS (VmRSS of MGT.child_pid).
#
# Retired VCLs are discarded as soon as they are cold (see "retire"
# below: an idle worker thread holds its last VCL up to 60 s), so a few
# are listed at any time; each must be gone COOL_BOUND s after it was
# retired.  At cycle FROM (full mode) and at the end the soak waits until
# they all are ("settled").
#
# Asserts, over the samples from cycle FROM to the end:
#   - the active VCL has exactly SERVERS backends (one per media server),
#     every listed VCL exactly its SERVERS (STREAMROUTE.*.backends,
#     MAIN.n_backend), no more VBE counter sets, one router counter set
#     per VCL; once settled, 1 VCL and SERVERS backends by every count;
#   - the -n directory (VSM segments and compiled VCLs) is at most 256 KB
#     per listed VCL beyond the active one (about 220 KB measured) + 64 KB
#     over its size at the start, when one VCL was loaded;
#   - the cache process's anonymous memory (RssAnon: heap and stacks)
#     grows by at most RSS_SLACK_MB = 16 MB over its value at cycle FROM
#     (settled in full mode, after WARMUP s of load so that the cache
#     holds its steady state: objects live 130 s).  A leak of 100 KB per
#     cycle shows as 18 MB over 180 cycles.  VmRSS is recorded, not
#     judged: it also counts the shared-memory log (vsl_space, 80 MB of
#     mapped file) whose pages become resident as the log is first
#     written, 90 MB over a full run with no leak at all;
# and over the whole run: 0 failed player requests, 0 responses but 200
# in varnishd's own log (varnishncsa), no panic (panic.show,
# MGT.child_panic), one child start (MGT.child_start).
#
# Modes: full (default): 200 cycles, 20 varnishreload runs, 24 streams,
# 48 players, flat from cycle 20.  --smoke (make check-system, via
# tests/e2e/reload-soak.sh): 40 cycles, 4 varnishreload runs, flat from
# cycle 10, 12 streams.  --valgrind: varnishd (and its cache process)
# under valgrind memcheck, 12 cycles, 2 varnishreload runs, 6 streams,
# 6 players; the RSS bound is not applied (valgrind's own memory), and
# the definite leaks whose stack has a VMOD frame (libvmod_streamroute,
# vmod_*, sr_*) must be 0.
#
# Figures: the samples and a summary are printed and kept in
# tests/soak/artefacts/ (SOAK_ARTEFACTS).  SOAK_KEEP=1 keeps the
# temporary directory.

mode=full cycles= reloads= from=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke)	mode=smoke ;;
	--valgrind)	mode=valgrind ;;
	--cycles)	cycles=$2; shift ;;
	--reloads)	reloads=$2; shift ;;
	--from)		from=$2; shift ;;
	*)	sed -n '3,4p' "$0" | sed 's/^# //' >&2; exit 2 ;;
	esac
	shift
done

SOAK_DIR=$(cd "$(dirname "$0")" && pwd)
E2E_ARTEFACTS=${SOAK_ARTEFACTS:-$SOAK_DIR/artefacts}
E2E_KEEP=${SOAK_KEEP:-0}
. "$SOAK_DIR/../e2e/lib/common.sh"
. "$SOAK_DIR/lib/media.sh"
E2E_NAME=soak-$mode

case $mode in
full)	: "${cycles:=200}" "${reloads:=20}" "${from:=20}"
	SERVERS=3 STREAMS=24 PLAYERS=48 RSS_SLACK_MB=16 SETTLE_FROM=1
	WARMUP=150 ;;
smoke)	: "${cycles:=40}" "${reloads:=4}" "${from:=10}"
	SERVERS=3 STREAMS=12 PLAYERS=24 RSS_SLACK_MB=16 SETTLE_FROM=0
	WARMUP=0 ;;
valgrind) : "${cycles:=12}" "${reloads:=2}" "${from:=4}"
	SERVERS=2 STREAMS=6 PLAYERS=6 RSS_SLACK_MB= SETTLE_FROM=0
	WARMUP=0 ;;
esac
[ "$cycles" -gt "$from" ] && [ "$reloads" -ge 1 ] &&
    [ "$reloads" -le "$cycles" ] || fail "bad --cycles/--reloads/--from"
EVERY=$((cycles / reloads))

need_base
need nginx python3 varnishncsa du
RELOAD=/usr/share/varnish/varnishreload
[ -x "$RELOAD" ] || skip "no $RELOAD (Debian's varnish package ships it)"
[ "$mode" != valgrind ] || need valgrind

# the run's bound: generator and players stop by themselves after it
case $mode in
valgrind) BOUND=$((600 + cycles * 120)) ;;
*)	BOUND=$((300 + WARMUP + cycles * 30)) ;;
esac

# 1. Redis, media servers, synthetic streams, their routes
start_redis
HLS=$T/hls
mkdir -p "$HLS"
chmod 755 "$HLS"
# from a subshell that exits at once: not our child, so common.sh's
# cleanup, which waits for its own background jobs, does not wait for it
( python3 "$SOAK_DIR/lib/hls_gen.py" "$HLS" $SERVERS $STREAMS $BOUND \
    >"$T/hls_gen.log" 2>&1 </dev/null &
  echo $! >"$T/hls_gen.pid" )
track "$T/hls_gen.pid"
j=0
while [ $j -lt $SERVERS ]; do
	soak_media_start "ms$j" "$HLS/ms$j"
	j=$((j + 1))
done
i=0
while [ $i -lt $STREAMS ]; do
	eval "port=\${ms$((i % SERVERS))_http}"
	rcli SET "soak$i" "127.0.0.1:$port" >/dev/null || fail "cannot SET a route"
	i=$((i + 1))
done
wait_for 10 test -f "$HLS/ms0/soak0/360p/index.m3u8" || fail "no HLS written"

# 2. varnishd with the shipped VCL and parameters (under valgrind: a
# varnishd first on PATH that is valgrind running the real one)
STEP=0
settings() {
	write_settings --route-ttl "$((1 + STEP % 3))s" \
	    --timeout-segment "$((5 + STEP % 4))s"
}
settings
if [ $mode = valgrind ]; then
	VG=$T/valgrind
	mkdir -p "$VG" "$T/bin"
	# the cache process runs as vcache and writes its own log
	chmod 777 "$VG"
	cp "$SOAK_DIR/lib/valgrind.supp" "$VG/" 2>/dev/null || :
	cat >"$T/bin/varnishd" <<EOF
#!/bin/sh
# --trace-children-skip: the VCL compiler (sh -c cc ...) is not ours
# --soname-synonyms: varnishd allocates with jemalloc; without it
#   memcheck sees none of those allocations
# --keep-debuginfo: frames of a discarded VCL's (dlclosed) objects
#   keep their names in the leak report
exec valgrind --tool=memcheck --trace-children=yes \\
    --trace-children-skip='*/sh,*/dash,*/bash,*/cc,*/gcc*,*/cc1,*/as,*/ld*,*/collect2' \\
    --soname-synonyms=somalloc=*jemalloc* \\
    --leak-check=full --show-leak-kinds=definite,possible \\
    --keep-debuginfo=yes --num-callers=40 \\
    --log-file=$VG/vg.%p.log $(command -v varnishd) "\$@"
EOF
	chmod 755 "$T/bin/varnishd"
	PATH=$T/bin:$PATH
	# the cache process answers the CLI slowly under valgrind
	free_port ORIGIN_PORT
	sr_varnish_start "$T/varnishd.pid" "$VARNISH_N" "127.0.0.1:$ORIGIN_PORT" \
	    "$VCL_DIR/origin.vcl" "$T/vcl:$VCL_DIR:/usr/share/varnish/vcl" \
	    -p "vmod_path=$VMOD_PATH" \
	    -s malloc,64m -p cli_timeout=600 ||
	    { cat "$T/varnishd.log" >&2; fail "varnishd did not start"; }
	track "$T/varnishd.pid"
	ORIGIN=http://127.0.0.1:$ORIGIN_PORT
	wait_for 300 curl -fsS -m 30 "$ORIGIN/healthcheck" ||
	    fail "varnishd does not answer"
else
	start_varnish
fi
start_access_log
i=0
while [ $i -lt $STREAMS ]; do
	wait_for 60 sh -c "curl -fsS -m 5 '$ORIGIN/soak$i/live.m3u8' >/dev/null &&
	    curl -fsS -m 5 '$ORIGIN/soak$i/360p/index.m3u8' | grep -q '\.ts'" ||
	    fail "stream soak$i is not served by the origin"
	i=$((i + 1))
done

# 3. the players, from now to the end
mkdir -p "$T/players"
( python3 "$SOAK_DIR/lib/players.py" "$ORIGIN" $STREAMS $PLAYERS $BOUND \
    "$T/players" >"$T/players.log" 2>&1 </dev/null &
  echo $! >"$T/players.pid" )
track "$T/players.pid"
# the cache reaches its steady state (objects live up to 130 s: segment
# TTL 60 s, grace 60 s, keep 10 s) before the cycles whose RSS is judged
say "load for $((WARMUP + 5)) s before the first cycle"
sleep $((WARMUP + 5))

# vcl.list (7.1): "<status> <state> <temperature> <busy> <name>"
vcl_list() { vadm vcl.list; }
active_vcl() { vcl_list | awk '$1 == "active" {print $5}'; }
# the backends of VCL NAME in backend.list
vcl_backends() { vadm backend.list | awk -v p="$1." 'index($1, p) == 1' | wc -l; }
has_backends() { [ "$(vcl_backends "$1")" -ge $SERVERS ]; }

# Retired VCLs, "<name> <unix time>" in $T/retired.  A VCL set cold stays
# busy while a worker thread holds it: a thread lets go of the last VCL
# it ran a client request with only after 60 s on the idle queue
# (Varnish 7.1, cache_wrk.c), and a thread that never idles that long
# (under steady load, one that keeps running fetch tasks) holds it for
# as long as the load lasts.  So, while the players play, each cycle
# discards the retired VCLs that are cold by then, fails on one still
# warm COOL_BOUND s after it was retired (its cooling would be stuck)
# and on more than VCL_LISTED_MAX VCLs listed (one held per such
# thread, not one per cycle); once the load has stopped, every retired
# VCL must be gone within COOL_BOUND s.  Under valgrind the cache
# process runs tens of times slower, and so does every worker thread's
# way back to the idle queue: 600 s there.
COOL_BOUND=150
[ $mode != valgrind ] || COOL_BOUND=600
VCL_LISTED_MAX=16
LOAD_STOPPED=0
: >"$T/retired"
# retire NAME WARM -- WARM=0: vcl.state cold now, vcl.discard once cold
# (reap); WARM=1: vcl.discard now, still warm (Varnish frees it once
# cold and no longer busy)
retire() {
	if [ "$2" = 1 ]; then
		vadm vcl.discard "$1" >"$T/cli.out" 2>&1 ||
		    fail "vcl.discard $1 (warm) failed: $(cat "$T/cli.out")"
	else
		vadm vcl.state "$1" cold >"$T/cli.out" 2>&1 ||
		    fail "vcl.state $1 cold failed: $(cat "$T/cli.out")"
	fi
	echo "$1 $(date +%s)" >>"$T/retired"
}
# retire_old WARM -- retire every VCL not active and not retired yet
retire_old() {
	for v in $(vcl_list | awk '$1 == "available" && $2 == "auto" {print $5}'); do
		retire "$v" "$1"
	done
}
# reap -- discard the retired VCLs that are cold; fail on one retired
# more than COOL_BOUND s ago (or before the load stopped, COOL_BOUND s
# after it stopped) that is still listed, while the load runs only if it
# is still warm; fail on more than VCL_LISTED_MAX VCLs listed
reap() {
	now=$(date +%s)
	for v in $(vcl_list | awk '$1 == "available" && $3 == "cold" {print $5}'); do
		vadm vcl.discard "$v" >"$T/cli.out" 2>&1 ||
		    fail "vcl.discard $v (cold) failed: $(cat "$T/cli.out")"
	done
	vcl_list >"$T/vcl.list"
	late=$(awk -v now="$now" -v b=$COOL_BOUND -v stop="$LOAD_STOPPED" \
	    -v loaded=$([ "$LOAD_STOPPED" = 0 ] && echo 1 || echo 0) '
	    NR == FNR {l[$5] = 1; w[$5] = ($3 == "warm"); next}
	    ($1 in l) && now - ($2 > stop ? $2 : stop) > b && (!loaded || w[$1]) {
		printf " %s", $1}' "$T/vcl.list" "$T/retired")
	[ -z "$late" ] || fail "retired more than $COOL_BOUND s ago and still in vcl.list$([ "$LOAD_STOPPED" = 0 ] && echo ', warm'):$late ($(tr '\n' ';' <"$T/vcl.list"))"
	[ "$(grep -c . "$T/vcl.list")" -le $VCL_LISTED_MAX ] ||
	    fail "more than $VCL_LISTED_MAX VCLs listed: $(tr '\n' ';' <"$T/vcl.list")"
}
only_active() { reap; [ "$(grep -c . "$T/vcl.list")" -eq 1 ]; }
# settle -- until every retired VCL has left: after the load stopped,
# within the bound (reap fails past it); under load (cycle FROM), for at
# most COOL_BOUND s, since a busy thread may hold one (returns 1 then)
settle() {
	i=0
	until only_active; do
		i=$((i + 1))
		if [ $i -gt $((COOL_BOUND + 30)) ]; then
			[ "$LOAD_STOPPED" = 0 ] ||
			    fail "VCLs not discarded: $(tr '\n' ';' <"$T/vcl.list")"
			return 1
		fi
		sleep 1
	done
}

# the cache process: varnishd's oldest child (the others are short-lived
# VCL compilers)
CHILD=
child_pid() {
	ps -o pid=,etimes= --ppid "$(cat "$T/varnishd.pid")" |
	    sort -k2,2nr | awk 'NR == 1 {print $1}'
}
# child_rss_kb FIELD -- VmRSS (all resident memory) or RssAnon (its
# anonymous part: the heap, thread stacks)
child_rss_kb() {
	awk -v f="$1:" '$1 == f {print $2}' "/proc/$CHILD/status" 2>/dev/null || echo 0
}
stat1() { varnishstat -n "$VARNISH_N" -1 -f "$1" | awk '{s += $2} END {print s + 0}'; }
statn() { varnishstat -n "$VARNISH_N" -1 -f "$1" | wc -l; }
SAMPLES=$T/samples.tsv
printf 'cycle\tkind\tsecs\tvcls\tvcls_after\twarm\tbackend_list\tvbe\tsr_backends\tn_backend\tsr_segments\tvsm_kb\tvsm_child_kb\trss_kb\trss_anon_kb\tthreads\trequests\tfailed\n' >"$SAMPLES"
T0=$(date +%s)
# sample CYCLE KIND -- once the active VCL has made its backends.  The
# retired VCLs are freed as they cool, at any moment: vcl.list is read
# before (vcls) and after (vcls_after) the counters, which are one
# varnishstat snapshot; no VCL is loaded in between.
vs() { awk -v p="$1" '$1 ~ p {s += $2; n++} END {print ('"$2"') + 0}' "$T/stat.txt"; }
sample() {
	act=$(active_vcl)
	wait_for 60 has_backends "$act" ||
	    fail "cycle $1: $act made $(vcl_backends "$act") backends in 60 s, not $SERVERS"
	vcl_list >"$T/vcl.list"
	varnishstat -n "$VARNISH_N" -1 >"$T/stat.txt"
	bl=$(vadm backend.list | tail -n +2 | grep -c .)
	vcl_list >"$T/vcl.list.after"
	CHILD=$(child_pid)
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    "$1" "$2" $(($(date +%s) - T0)) "$(grep -c . "$T/vcl.list")" \
	    "$(grep -c . "$T/vcl.list.after")" \
	    "$(awk '$3 == "warm"' "$T/vcl.list" | wc -l)" \
	    "$bl" "$(vs '^VBE\\..*\\.happy$' n)" "$(vs '^STREAMROUTE\\..*\\.backends$' s)" \
	    "$(vs '^MAIN\\.n_backend$' s)" "$(vs '^STREAMROUTE\\..*\\.lookups$' n)" \
	    "$(du -sk "$VARNISH_N" | cut -f1)" \
	    "$(du -sk "$VARNISH_N/_.vsm_child" | cut -f1)" \
	    "$(child_rss_kb VmRSS)" "$(child_rss_kb RssAnon)" "$(vs '^MAIN\\.threads$' s)" \
	    "$(wc -l <"$T/players/requests.log")" \
	    "$(awk '$2 != 200' "$T/players/requests.log" | wc -l)" >>"$SAMPLES"
	tail -n 1 "$SAMPLES" | awk -v n="$E2E_NAME" '{printf "%s: cycle %s (%s) %ss: vcls %s (%s warm) backends %s/%s/%s/%s vsm %s KB rss %s KB (anon %s KB) requests %s failed %s\n", n, $1, $2, $3, $4, $6, $7, $8, $9, $10, $12, $14, $15, $17, $18}' >&2
}
sample 0 start

# 4. the cycles
reloads_run=0
c=1
while [ $c -le "$cycles" ]; do
	STEP=$((STEP + 1))
	settings
	vadm vcl.load "cycle$c" "$VCL_DIR/origin.vcl" >"$T/cli.out" 2>&1 ||
	    fail "cycle $c: vcl.load failed: $(cat "$T/cli.out")"
	vadm vcl.use "cycle$c" >"$T/cli.out" 2>&1 ||
	    fail "cycle $c: vcl.use failed: $(cat "$T/cli.out")"
	retire_old 0
	kind=vcl.load
	if [ $((c % EVERY)) -eq 0 ] && [ $reloads_run -lt "$reloads" ]; then
		STEP=$((STEP + 1))
		settings
		# varnishreload names its VCL after the second
		sleep 1
		"$RELOAD" -n "$VARNISH_N" -m 0 >"$T/varnishreload.out" 2>&1 ||
		    fail "cycle $c: varnishreload failed: $(cat "$T/varnishreload.out")"
		case $(active_vcl) in
		reload_*) ;;
		*) fail "cycle $c: varnishreload did not make its VCL active" ;;
		esac
		retire_old 1
		reloads_run=$((reloads_run + 1))
		kind=varnishreload
	fi
	reap
	sample $c $kind
	if [ $c -eq "$from" ] && [ "$SETTLE_FROM" = 1 ]; then
		if settle; then
			sample $c settled
		else
			say "cycle $c: a retired VCL still held by a busy worker thread: not settled under load"
		fi
		varnishstat -n "$VARNISH_N" -1 >"$T/varnishstat-$c.txt"
	fi
	c=$((c + 1))
done
[ $reloads_run -eq "$reloads" ] || fail "$reloads_run varnishreload runs, not $reloads"

# 5. stop the load; then every request is accounted for
sleep 3
: >"$T/players/stop"
pid=$(cat "$T/players.pid")
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/players/summary" ] || fail "the players wrote no summary"
# idle now, every worker thread lets go of its VCL within 60 s: each
# retired VCL must be gone within COOL_BOUND s
LOAD_STOPPED=$(date +%s)
settle
sample "$cycles" settled
varnishstat -n "$VARNISH_N" -1 >"$T/varnishstat-$cycles.txt"
requests=$(awk '$1 == "requests" {print $2}' "$T/players/summary")
failed=$(awk '$1 == "failed" {print $2}' "$T/players/summary")
retried=$(awk '$1 == "retried" {print $2}' "$T/players/summary")
ncsa_total=$(wc -l <"$T/origin-access.log")
ncsa_bad=$(awk '$2 != 200' "$T/origin-access.log" | wc -l)
panics=$(stat1 MGT.child_panic)
starts=$(stat1 MGT.child_start)
vadm panic.show >"$T/panic.out" 2>&1
panic_shown=0
grep -q 'Child has not panicked' "$T/panic.out" || panic_shown=1
took=$(($(date +%s) - T0))

# 6. flat from cycle FROM.  At every sample: the active VCL has exactly
# one backend per media server (backend.list), every VCL still listed
# (the active one, and retired ones not yet freed) holds exactly its
# SERVERS backends (STREAMROUTE.*.backends, MAIN.n_backend) and no more
# VBE counter sets, one router counter set per VCL.  Once settled (the
# retired VCLs freed): 1 VCL, SERVERS backends by every count.  VSM and
# RSS: the largest growth over the value at cycle FROM (its settled
# sample when there is one).
check=$(awk -v from="$from" -v n="$SERVERS" -F '\t' '
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
function v(name) { return $(c[name]) + 0 }
NR == 2 { vsmbase = v("vsm_kb") }
$1 >= from {
	at = " cycle " $1 " (" $2 "):"
	if (v("backend_list") != n) bad = bad at " backend.list " v("backend_list") ";"
	# each router (one per VCL) holds exactly its n backends
	if (v("sr_backends") != n * v("sr_segments") || v("n_backend") != v("sr_backends"))
		bad = bad at " " v("sr_segments") " routers hold " v("sr_backends") " backends (n_backend " v("n_backend") ");"
	# and there is one router per VCL listed (between the two reads)
	if (v("sr_segments") > v("vcls") || v("sr_segments") < v("vcls_after"))
		bad = bad at " " v("sr_segments") " routers for " v("vcls_after") "-" v("vcls") " VCLs;"
	if (v("vbe") > n * v("vcls")) bad = bad at " " v("vbe") " VBE sets;"
	if ($2 == "settled" && (v("vcls") != 1 || v("vbe") != n || v("sr_backends") != n))
		bad = bad at " settled with " v("vcls") " VCLs, " v("vbe") "/" v("sr_backends") " backends;"
	if (v("vcls") > vmax) vmax = v("vcls")
	if (v("sr_backends") > bmax) bmax = v("sr_backends")
	if (!started || ($1 == from && $2 == "settled")) {
		started = 1; rss0 = v("rss_anon_kb"); rssmax = 0
	}
	# each listed VCL has its compiled object and counters in the -n
	# directory (about 220 KB here): beyond the start (1 VCL), up to
	# 256 KB per VCL listed besides the active one, and 64 KB of slack
	if (v("vsm_kb") - vsmbase > 256 * (v("vcls") - 1) + 64)
		bad = bad at " -n directory " v("vsm_kb") " KB with " v("vcls") " VCLs (" vsmbase " KB at the start);"
	if (v("vsm_kb") - vsmbase > vsmmax) vsmmax = v("vsm_kb") - vsmbase
	if (v("rss_anon_kb") - rss0 > rssmax) rssmax = v("rss_anon_kb") - rss0
	if (v("rss_kb") > rsspeak) rsspeak = v("rss_kb")
	vsm1 = v("vsm_kb"); rss1 = v("rss_anon_kb")
}
END {
	printf "%d %d %d %d %d %d %d %d %d%s\n", vsmbase, vsm1, vsmmax, rss0, rss1,
	    rssmax, rsspeak, vmax, bmax, bad
}' "$SAMPLES")
# word splitting wanted
# shellcheck disable=SC2086
set -- $check
vsm0=$1 vsm1=$2 vsm_growth=$3 rss0=$4 rss1=$5 rss_growth=$6 rss_peak=$7
vcl_max=$8 backends_max=$9
shift 9
exact_bad=$*

SUMMARY=$T/summary.txt
{
	echo "mode $mode: $cycles cycles (vcl.load/use/state cold/discard), $reloads_run varnishreload runs, ${took} s"
	echo "load: $SERVERS media servers, $STREAMS streams, $PLAYERS players: $requests requests, $failed failed, $retried retried on a closed keep-alive connection; varnishncsa: $ncsa_total requests, $ncsa_bad not 200"
	echo "from cycle $from to $cycles: $SERVERS backends in the active VCL and $SERVERS per listed VCL at every sample, at most $vcl_max VCLs listed ($backends_max backends), 1 VCL and $SERVERS backends once settled${exact_bad:+; NOT MET:$exact_bad}"
	echo "VSM (-n dir, with the compiled VCLs): $vsm0 KB at the start, $vsm1 KB at the end, largest growth $vsm_growth KB (bound: 256 KB per VCL listed besides the active one, + 64 KB)"
	echo "cache process anonymous RSS (RssAnon): $rss0 KB at cycle $from, $rss1 KB at the end, largest growth $rss_growth KB${RSS_SLACK_MB:+ (bound $RSS_SLACK_MB MB)}; VmRSS peak $rss_peak KB (with the shared-memory log as it is written)"
	echo "panics: MGT.child_panic $panics, panic.show $panic_shown; child starts $starts"
} >"$SUMMARY"

# 7. valgrind: stop the cache process cleanly (its leak report is
# written at exit), then read its report
if [ $mode = valgrind ]; then
	vadm stop >/dev/null 2>&1 || fail "varnishadm stop failed"
	wait_for 600 grep -q 'ERROR SUMMARY' "$VG/vg.$CHILD.log" ||
	    fail "no valgrind report from the cache process ($VG/vg.$CHILD.log)"
	# a record: "N bytes in M blocks are definitely lost in loss record",
	# then its stack up to the next line with nothing after "==pid=="
	awk '
	/are definitely lost in loss record/ { inrec = 1; rec = $0; next }
	inrec && /^==[0-9]+== *$/ {
		inrec = 0; total++
		if (rec ~ /libvmod_streamroute|vmod_streamroute|[ :]sr_[a-z_0-9]+ \(/) { ours++; print rec "\n" > "/dev/stderr" }
		next
	}
	inrec { rec = rec "\n" $0 }
	END { printf "%d %d\n", total, ours }' "$VG/vg.$CHILD.log" \
	    >"$T/leaks.count" 2>"$T/leaks.ours"
	read -r vg_definite vg_ours <"$T/leaks.count"
	vg_errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$VG/vg.$CHILD.log" | tail -n 1)
	# memcheck errors other than leaks (invalid reads and writes, use
	# of uninitialised values...) with a VMOD frame: reported
	vg_vmod_errors=$(awk '
	/^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and dest)/ { inrec = 1; rec = $0; next }
	inrec && /^==[0-9]+== *$/ {
		inrec = 0
		if (rec ~ /libvmod_streamroute|vmod_streamroute|[ :]sr_[a-z_0-9]+ \(/) n++
		next
	}
	inrec { rec = rec "\n" $0 }
	END { print n + 0 }' "$VG/vg.$CHILD.log")
	{
		echo "valgrind (cache process $CHILD): $vg_definite definite-leak records, $vg_ours with a VMOD frame; ERROR SUMMARY $vg_errors errors (leak records included), $vg_vmod_errors memcheck errors other than leaks with a VMOD frame"
		sed -n 's/^==[0-9]*== *\(definitely lost\|indirectly lost\|possibly lost\|still reachable\):/  \1:/p' "$VG/vg.$CHILD.log"
	} >>"$SUMMARY"
	mkdir -p "$E2E_ARTEFACTS"
	cp "$VG/vg.$CHILD.log" "$E2E_ARTEFACTS/$E2E_NAME-cache-process.vg.log"
fi

mkdir -p "$E2E_ARTEFACTS"
cp "$SAMPLES" "$E2E_ARTEFACTS/$E2E_NAME-samples.tsv"
cp "$SUMMARY" "$E2E_ARTEFACTS/$E2E_NAME-summary.txt"
cp "$T/varnishstat-$cycles.txt" "$E2E_ARTEFACTS/$E2E_NAME-varnishstat-end.txt"
sed "s/^/$E2E_NAME: /" "$SUMMARY" >&2

[ "$failed" -eq 0 ] || { grep -v ' 200 ' "$T/players/requests.log" | head >&2; fail "$failed failed player requests"; }
[ "$ncsa_bad" -eq 0 ] || { awk '$2 != 200' "$T/origin-access.log" | head >&2; fail "varnishd answered $ncsa_bad requests with another status than 200"; }
[ "$panics" -eq 0 ] && [ $panic_shown -eq 0 ] || fail "varnishd panicked: $(cat "$T/panic.out")"
[ "$starts" -eq 1 ] || fail "the cache process was started $starts times"
[ -z "$exact_bad" ] || fail "counts not as bounded from cycle $from:$exact_bad"
[ -z "$RSS_SLACK_MB" ] || [ "$rss_growth" -le $((RSS_SLACK_MB * 1024)) ] ||
    fail "the cache process's anonymous RSS grew by $rss_growth KB from cycle $from"
if [ $mode = valgrind ]; then
	[ "$vg_ours" -eq 0 ] || { cat "$T/leaks.ours" >&2; fail "$vg_ours definite leaks with a VMOD frame"; }
fi
say "PASS"
