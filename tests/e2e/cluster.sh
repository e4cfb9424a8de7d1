#!/bin/sh
# End to end: three origins that act as one cache (vcl/cluster.vcl), side
# by side with three independent origins.
#
# A media server (nginx) serves 10 synthetic live streams that a bounded
# generator loop updates every second (lib/cluster-media.py: 2 s
# segments, 6 in the playlist); Redis routes them to it.  300 virtual
# players (lib/cluster-players.py), 30 per stream, spread over the three
# origins, each fetch the master playlist once, then poll the media
# playlist every second and fetch each new segment once.
#   1. cluster on (--cluster-peers, --cluster-self), E2E_CLUSTER_SECONDS
#      (60) s; half way through, origin 3 is killed (SIGKILL).
#   2. cluster off: the same three origins, independent, for half as
#      long (no kill): the baseline.
# Asserted (from the media server's access log and the players' log):
#   - cluster on: each segment fetched from the media server once per
#     cluster (except those being fetched when origin 3 died: counted
#     and printed), each media playlist at most about once a second
#     (1.25/s on average per stream, 2 in any one second), the master
#     playlist once;
#   - no request of a player on origins 1 and 2 failed, on either run,
#     including during and after the kill;
#   - cluster off: each segment was fetched by about each origin
#     (the cost the cluster removes).
# Printed: media fetches per object both ways, and player latency (p50,
# p99) per request type both ways, and within the cluster run the
# requests an origin answered itself (a hit, or the owner's own fetch)
# apart from those it took from the owner (the extra hop), which ran at
# the same time on the same machine.  Runs in about 2 minutes.
. "$(dirname "$0")/lib/common.sh"
need_base
need nginx python3
LIB=$(cd "$(dirname "$0")/lib" && pwd)
DUR=${E2E_CLUSTER_SECONDS:-60}
OFF_DUR=$((DUR / 2))
KILL_AT=$((DUR / 2))
STREAMS=10
PLAYERS=300

start_redis

# the media server: nginx on the generator's directory, with the media
# servers' Cache-Control, logging "<unix time> <status> <URI>"
free_port MEDIA_PORT
mkdir -p "$T/media" "$T/hls"
cat > "$T/media/nginx.conf" <<EOC
daemon on;
pid $T/media/nginx.pid;
error_log $T/media/error.log;
worker_processes 1;
events { worker_connections 2048; }
http {
	types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
	log_format sr '\$msec \$status \$uri';
	access_log $T/media/access.log sr;
	server {
		listen 127.0.0.1:$MEDIA_PORT;
		root $T/hls;
		location ~ /live\.m3u8\$ { add_header Cache-Control "max-age=60"; }
		location ~ \.m3u8\$ { add_header Cache-Control "no-cache"; }
		location ~ \.ts\$ { add_header Cache-Control "max-age=600"; }
	}
}
EOC
nginx -p "$T/media" -c "$T/media/nginx.conf" || fail "nginx did not start"
track "$T/media/nginx.pid"
# from a subshell that exits at once: not our child, so that the
# cleanup's "wait" (for its stop jobs) does not wait for it
( timeout $((DUR + OFF_DUR + 120)) python3 "$LIB/cluster-media.py" "$T/hls" \
    $STREAMS $((DUR + OFF_DUR + 90)) </dev/null >"$T/gen.log" 2>&1 &
  echo $! > "$T/gen.pid" )
track "$T/gen.pid"
wait_for 10 test -f "$T/hls/s09/360p/index.m3u8" || fail "the generator writes no playlist"
i=0
while [ $i -lt $STREAMS ]; do
	rcli SET "$(printf s%02d $i)" "127.0.0.1:$MEDIA_PORT" >/dev/null
	i=$((i + 1))
done

# run MODE SECONDS KILL -- three origins (MODE on: one cluster), the
# players for SECONDS, origin 3 killed after KILL s (0: never); writes
# $T/MODE.players and $T/MODE.media (the media server's log of the run)
run() {
	mode=$1 secs=$2 kill_at=$3
	free_port p1
	free_port p2
	free_port p3
	# (free_port and the evals below set p1 p2 p3 and port)
	# shellcheck disable=SC2154
	peers=127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3
	for i in 1 2 3; do
		eval "port=\$p$i"
		d=$T/$mode-o$i
		mkdir -p "$d/vcl/streamroute"
		cluster=
		# shellcheck disable=SC2154
		[ "$mode" = on ] &&
		    cluster="--cluster-peers $peers --cluster-self 127.0.0.1:$port"
		# shellcheck disable=SC2086
		"$REPO/scripts/streamroute-settings" --redis "$REDIS" \
		    --allow 127.0.0.1 --debug on $cluster \
		    -o "$d/vcl/streamroute/origin-settings.vcl" ||
		    fail "cannot write the settings of origin $i"
		# where "make install" puts it: beside the shipped settings
		ln -s "$VCL_DIR/cluster.vcl" "$d/vcl/streamroute/cluster.vcl"
		sr_varnish_start "$d.pid" "$d/n" "127.0.0.1:$port" \
		    "$VCL_DIR/origin.vcl" "$d/vcl:$VCL_DIR:/usr/share/varnish/vcl" \
		    -p "vmod_path=$VMOD_PATH" \
		    -s malloc,128m ||
		    { cat "$d.log" >&2; fail "origin $i did not start"; }
		track "$d.pid"
	done
	for i in 1 2 3; do
		eval "port=\$p$i"
		wait_for 10 curl -fsS -m 2 "http://127.0.0.1:$port/healthcheck" ||
		    fail "origin $i does not answer"
	done
	if [ "$mode" = on ]; then
		# every origin sees every peer healthy: they agree on owners
		# (a peer probed before it listened is sick for a probe or two)
		wait_for 15 sh -c "for i in 1 2 3; do
		    varnishadm -n $T/on-o\$i/n backend.list '*.sr_*' > $T/peers
		    grep -q sick $T/peers && exit 1
		    [ \$(grep -c ' healthy ' $T/peers) -ge 3 ] || exit 1
		    done; exit 0" || fail "the origins do not see each other healthy"
	fi
	say "$mode: origins ready"
	from=$(wc -l < "$T/media/access.log")
	python3 "$LIB/cluster-players.py" "$T/$mode.players" "$secs" $STREAMS $PLAYERS \
	    "$p1" "$p2" "$p3" &
	players=$!
	if [ "$kill_at" -gt 0 ]; then
		sleep "$kill_at"
		touch "$T/stop-2"
		date +%s.%N > "$T/$mode.kill"
		kill -KILL "$(cat "$T/$mode-o3.pid")"
		wait_for 10 sh -c "! curl -s -m 1 http://127.0.0.1:$p3/healthcheck" ||
		    fail "origin 3 still answers after SIGKILL"
		say "origin 3 killed at $(cat "$T/$mode.kill")"
	fi
	wait $players || fail "the players failed"
	stops=
	for i in 1 2 3; do
		# each origin's fetches: "<unix time> <URL> <backend>"
		varnishncsa -n "$T/$mode-o$i/n" -d -b \
		    -F '%{%s}t %U %{VSL:BackendOpen[2]}x' > "$T/$mode-o$i.fetches.log" 2>/dev/null
		varnishlog -n "$T/$mode-o$i/n" -d -g raw -i VCL_Log > "$T/$mode-o$i.vcl.log" 2>/dev/null
		sr_varnish_stop "$T/$mode-o$i.pid" &
		stops="$stops $!"
	done
	# shellcheck disable=SC2086
	wait $stops
	tail -n +$((from + 1)) "$T/media/access.log" > "$T/$mode.media"
}

# the latencies depend on the machine's load as much as on the hop
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
say "cluster on: $PLAYERS players, $STREAMS streams, ${DUR}s, origin 3 killed at ${KILL_AT}s"
run on "$DUR" "$KILL_AT"
say "cluster off: the same origins, independent, ${OFF_DUR}s"
run off "$OFF_DUR" 0

say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$T" "$KILL_AT" <<'EOP' || fail "see above"
import collections, sys
T, kill_at = sys.argv[1], float(sys.argv[2])
ok = True

def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok = ok and cond

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")

def media(mode):
    rows = []
    for l in open("%s/%s.media" % (T, mode)):
        t, st, uri = l.split()
        rows.append((float(t), int(st), uri))
    return rows

def players(mode):
    return [l.split() for l in open("%s/%s.players" % (T, mode))]

t_kill = float(open(T + "/on.kill").read())
lat = {}
for mode in ("on", "off"):
    m = media(mode)
    p = players(mode)
    t0 = min(float(r[0]) for r in p)
    t1 = max(float(r[0]) for r in p)
    segs = collections.defaultdict(list)
    pls = collections.defaultdict(list)
    masters = collections.Counter()
    for t, st, uri in m:
        if uri.endswith(".ts"):
            segs[uri].append(t)
        elif uri.endswith("index.m3u8"):
            pls[uri].append(t)
        elif uri.endswith("live.m3u8"):
            masters[uri] += 1
    print("== cluster %s: %d player requests in %.0f s, %d media requests"
          % (mode, len(p), t1 - t0, len(m)))
    per_seg = [len(v) for v in segs.values()]
    print("media fetches per segment: mean %.2f, max %d (%d segments)"
          % (sum(per_seg) / len(per_seg), max(per_seg), len(per_seg)))
    rates = [len(v) / (t1 - t0) for v in pls.values()]
    bursts = [max(collections.Counter(int(t) for t in v).values()) for v in pls.values()]
    print("media playlist fetches per stream per second: mean %.2f, max %.2f; most in one second: %d"
          % (sum(rates) / len(rates), max(rates), max(bursts)))
    print("master playlist fetches per stream: max %d" % max(masters.values()))
    bad = [r for r in p if r[3] != "200" and r[2] != "2"]
    check(not bad, "%s: players on origins 1 and 2: %d failed requests of %d %s"
          % (mode, len(bad), sum(1 for r in p if r[2] != "2"), bad[:3]))
    if mode == "on":
        around = [u for u, v in segs.items() if t_kill - 2 <= min(v) <= t_kill + 5]
        dup_out = [u for u, v in segs.items() if len(v) > 1 and u not in around]
        dup_in = [u for u in around if len(segs[u]) > 1]
        check(not dup_out, "on: each segment fetched once from the media server (%d segments; "
              "%d more than once: %s)" % (len(segs), len(dup_out), dup_out[:5]))
        print("     around the kill (first fetched in [kill-2 s, kill+5 s]): %d segments, %d fetched twice or more"
              % (len(around), len(dup_in)))
        check(max(rates) <= 1.25 and max(bursts) <= 2,
              "on: each media playlist at most about once a second")
        check(max(masters.values()) <= 2, "on: the master playlist once (twice if its owner died)")
        k = [r for r in p if r[2] == "2" and r[3] != "200"]
        print("     players on origin 3 (killed): %d failed requests, all after the kill: %s"
              % (len(k), all(float(r[0]) >= t_kill - 1 for r in k)))
    else:
        check(sum(per_seg) / len(per_seg) >= 2.5,
              "off: segments fetched by each origin (mean %.2f per segment)" % (sum(per_seg) / len(per_seg)))
    # latency before the kill (and the whole run when off)
    for typ in ("playlist", "segment"):
        for via in ("all", "self", "peer"):
            v = [float(r[4]) for r in p if r[5] == typ and r[3] == "200"
                 and (mode == "off" or float(r[0]) < t_kill)
                 and (via == "all" or r[6] == via)]
            lat[(mode, typ, via)] = (len(v), pct(v, 50), pct(v, 99))

print("== player latency, ms (cluster on: before the kill)")
print("%-9s %-26s %8s %8s %8s" % ("type", "requests", "n", "p50", "p99"))
for typ in ("playlist", "segment"):
    for key, label in ((("off", typ, "all"), "off: all"),
                       (("on", typ, "all"), "on: all"),
                       (("on", typ, "self"), "on: served by the origin"),
                       (("on", typ, "peer"), "on: taken from the owner")):
        n, p50, p99 = lat[key]
        print("%-9s %-26s %8d %8.2f %8.2f" % (typ, label, n, p50, p99))
sys.exit(0 if ok else 1)
EOP
say "PASS"
