#!/bin/sh
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/chaos/run.sh -- the chaos run: steady player-like load on the
# origin (the shipped VCL, etc/varnishd.params) while its parts fail.
#
# usage: tests/chaos/run.sh [--smoke] [--streams N] [--players N]
#                           [--calm S] [--fault S] [--results FILE]
#
#   (default) full run: 80 streams x 2 players, 20 s calm before and
#             after each fault, each fault 30 s (about 8 minutes)
#   --smoke   each fault once, short (40 streams, calm 5 s, fault 7 s;
#             about 2.5 minutes): what `make check-system` runs through
#             tests/e2e/chaos-smoke.sh
#   --results where the table goes (default
#             tests/e2e/artefacts/chaos-<mode>.txt)
#
# Parts, all real processes on loopback, on free ports, each stopped by
# its PID at exit (common.sh's cleanup, also on failure or interrupt):
#   Redis (unix socket); for the last phase a master, a replica and a
#   Sentinel on TCP; three synthetic live-HLS media servers (nginx + Lua,
#   media.conf.in: any key is a live stream, playlists from the clock) with
#   a mode switch (ok, 5xx, slow); a registrar that refreshes every
#   stream's route (SET key ip:port EX 15, every 2 s, as
#   docs/registration.md says); varnishd with vcl/origin.vcl, settings
#   rendered by scripts/streamroute-settings; load.py's players
#   (each stream's media playlist polled every second by each player,
#   each segment fetched once, the master playlist every 10 s).
#
# Faults, in this order, each between two calm periods:
#   redis_kill      Redis SIGKILLed, restarted (empty) after the fault
#   redis_freeze    Redis SIGSTOPped, SIGCONT after the fault
#   redis_flap      Redis killed and restarted every second
#   media_kill      media server m1 SIGKILLed (its routes stay in
#                   Redis), restarted after the fault
#   media_5xx       media server m2 answers every request with a 500
#   media_slow      media server m3 waits 3 s before every answer (the
#                   playlists' first-byte timeout is 2 s)
#   junk_keys       a burst of requests for random unknown keys and
#                   malformed paths (fills the route cache's negative
#                   side with junk)
#   sentinel_failover  (a second VCL, vcl.load + vcl.use in the calm
#                   before it, routes through a Sentinel) SENTINEL
#                   FAILOVER: the replica becomes master; its recovery
#                   is counted from the moment the Sentinel names it
# Per fault, report.py prints what it measured and the verdict (its
# header says the invariants); the run exits 1 on a violation, 77 when a
# program is missing.
. "$(dirname "$0")/../e2e/lib/common.sh"
E2E_NAME=chaos
CHAOS=$REPO/tests/chaos

MODE=full STREAMS= PLAYERS=2 CALM= FAULT= RESULTS=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) MODE=smoke; shift; continue ;;
	-h|--help) sed -n '/^# usage/,/^#   --results/p' "$0"; exit 0 ;;
	esac
	[ $# -ge 2 ] || fail "$1 needs a value (--help)"
	case $1 in
	--streams) STREAMS=$2 ;;
	--players) PLAYERS=$2 ;;
	--calm) CALM=$2 ;;
	--fault) FAULT=$2 ;;
	--results) RESULTS=$2 ;;
	*) fail "unknown option $1 (--help)" ;;
	esac
	shift 2
done
if [ $MODE = smoke ]; then
	STREAMS=${STREAMS:-40} CALM=${CALM:-5} FAULT=${FAULT:-7} JUNK=3000
else
	STREAMS=${STREAMS:-80} CALM=${CALM:-20} FAULT=${FAULT:-30} JUNK=100000
fi
for v in "$STREAMS" "$PLAYERS" "$CALM" "$FAULT"; do
	case $v in ''|*[!0-9]*) fail "--streams, --players, --calm and --fault take whole numbers" ;; esac
done
[ "$STREAMS" -ge 3 ] && [ "$STREAMS" -le 500 ] || fail "--streams must be 3..500"
[ "$FAULT" -ge 2 ] || fail "--fault must be at least 2 s"
RESULTS=${RESULTS:-$ARTEFACTS/chaos-$MODE.txt}

need_base
need nginx python3 timeout awk
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] ||
    skip "nginx's Lua module is not installed (libnginx-mod-http-lua: scripts/install-deps.sh bench)"

# .log: common.sh keeps it with the other logs when the run fails
EVENTS=$T/events.log
now() { date +%s.%N; }
# elapsed FROM -- seconds since FROM, to the millisecond
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
event() { echo "$*" >>"$EVENTS"; }
# every wait in this script is bounded: sleep_until T (unix time)
sleep_until() {
	s=$(awk -v a="$1" -v b="$(now)" 'BEGIN { d = a - b; if (d < 0) d = 0; printf "%.3f", d }')
	sleep "$s"
}

#######################################################################
# Media servers: m1, m2, m3

# media_start NAME -- (re)start NAME on its port (M_<NAME>, picked once)
media_start() {
	eval "port=\${M_$1:-}"
	if [ -z "$port" ]; then
		free_port port
		eval "M_$1=$port"
		track "$T/$1/nginx.pid"
	fi
	mkdir -p "$T/$1/tmp"
	sed -e "s|@DIR@|$T/$1|g" -e "s|@PORT@|$port|" -e "s|@SLOW@|3|" \
	    "$CHAOS/media.conf.in" >"$T/$1/nginx.conf"
	rm -f "$T/$1/nginx.pid"
	# from a subshell that exits at once: nginx is nobody's child here
	( nginx -p "$T/$1" -c "$T/$1/nginx.conf" >>"$T/$1/nginx.log" 2>&1 \
	    </dev/null & )
	wait_for 10 curl -fsS -m 1 "http://127.0.0.1:$port/__chaos?mode=ok" ||
	    fail "media server $1 did not start (see $T/$1/nginx-error.log)"
	wait_for 5 test -s "$T/$1/nginx.pid" || fail "media server $1 wrote no pidfile"
}
media_mode() {
	eval "port=\$M_$1"
	curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/__chaos?mode=$2" ||
	    fail "cannot switch media server $1 to $2"
}
media_kill() {
	pid=$(cat "$T/$1/nginx.pid")
	kill -KILL "$pid"
	i=0
	while _sr_running "$pid" && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	_sr_running "$pid" && fail "media server $1 survived SIGKILL"
}

#######################################################################
# Redis, the registrar and the Sentinel topology

start_redis
# a frozen Redis must not stay frozen if the run is interrupted
on_exit '[ -s "$T/redis.pid" ] && kill -CONT "$(cat "$T/redis.pid")" 2>/dev/null'

media_start m1
media_start m2
media_start m3

# the streams: s000 ... spread over the three media servers
: >"$T/keys"
: >"$T/reg-cmds"
i=0
while [ $i -lt "$STREAMS" ]; do
	k=$(printf 's%03d' $i)
	m=m$((i % 3 + 1))
	eval "port=\$M_$m"
	echo "$k" >>"$T/keys"
	echo "SET $k 127.0.0.1:$port EX 15" >>"$T/reg-cmds"
	i=$((i + 1))
done

# where the registrar writes: "sock" (the Redis on $REDIS) and, once the
# Sentinel topology runs, "sentinel" (the master it names)
echo sock >"$T/reg-targets"
SENTINEL_PORT=
# (the registrar, started before, reads the Sentinel's port from a file)
sentinel_master() {
	timeout 2 redis-cli -p "$(cat "$T/sentinel-port")" SENTINEL get-master-addr-by-name mymaster 2>/dev/null |
	    tr '\n' ' ' | sed 's/ *$//'
}
# reg_addr TARGET -- redis-cli's options to reach it
reg_addr() {
	case $1 in
	sock) echo "-s $REDIS" ;;
	sentinel)
		m=$(sentinel_master)
		[ -z "$m" ] || echo "-h ${m% *} -p ${m#* }" ;;
	esac
}
# reg_cli FILE ARGS... -- redis-cli ARGS (none: the commands in FILE)
# for every target (a frozen Redis cannot hold it: timeout)
reg_cli() {
	f=$1
	shift
	for tgt in $(cat "$T/reg-targets"); do
		a=$(reg_addr "$tgt")
		[ -z "$a" ] || timeout 2 redis-cli $a "$@" <"$f"
	done
}
# Background processes are started from a subshell that exits at once
# (nobody's child here, as stack.sh does): common.sh's cleanup waits for
# the shell's children.
# reap PID SECONDS -- wait at most SECONDS for PID to end
reap() {
	i=0
	while _sr_running "$1" && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! _sr_running "$1"
}
# every 2 s (bounded: 2 hours at most, stopped at exit anyway)
( (
	n=0
	while [ $n -lt 3600 ]; do
		reg_cli "$T/reg-cmds" >/dev/null 2>&1
		sleep 2
		n=$((n + 1))
	done
) </dev/null >/dev/null 2>&1 &
echo $! >"$T/registrar.pid" )
track "$T/registrar.pid"
wait_for 10 sh -c "[ \"\$(redis-cli -s '$REDIS' DBSIZE)\" -ge $STREAMS ]" ||
    fail "the registrar did not register $STREAMS streams"

# redis_tcp_start NAME PORT [OPTIONS] -- a Redis in $T/NAME on
# 127.0.0.1:PORT, with a --dir of its own (a replica loads its RDB there);
# replication without files
redis_tcp_start() {
	d=$T/$1 p=$2
	shift 2
	redis-server --bind 127.0.0.1 --port "$p" --dir "$d" --save '' \
	    --appendonly no --repl-diskless-sync yes \
	    --repl-diskless-sync-delay 0 --daemonize yes \
	    --pidfile "$d/redis.pid" --logfile "$d/redis.log" "$@" || return 1
	sr_wait_for 10 sh -c "redis-cli -p $p ping | grep -q PONG"
}
# the Sentinel topology (started for the last phase): master, replica,
# one Sentinel, on TCP
sentinel_start() {
	free_port RM_PORT
	free_port RR_PORT
	free_port SENTINEL_PORT
	mkdir -p "$T/rm" "$T/rr" "$T/sent"
	track "$T/rm/redis.pid"
	redis_tcp_start rm "$RM_PORT" || fail "Redis master did not start"
	track "$T/rr/redis.pid"
	redis_tcp_start rr "$RR_PORT" --replicaof 127.0.0.1 "$RM_PORT" ||
	    fail "Redis replica did not start"
	cat >"$T/sent/sentinel.conf" <<-EOF
	bind 127.0.0.1
	port $SENTINEL_PORT
	dir $T/sent
	sentinel monitor mymaster 127.0.0.1 $RM_PORT 1
	sentinel down-after-milliseconds mymaster 5000
	sentinel failover-timeout mymaster 20000
	EOF
	track "$T/sent/redis.pid"
	redis-server "$T/sent/sentinel.conf" --sentinel --daemonize yes \
	    --pidfile "$T/sent/redis.pid" --logfile "$T/sent/redis.log" ||
	    fail "Sentinel did not start"
	wait_for 20 sh -c "timeout 2 redis-cli -p $RR_PORT INFO replication | grep -q 'master_link_status:up'" ||
	    fail "the replica does not replicate"
	wait_for 20 sh -c "timeout 2 redis-cli -p $SENTINEL_PORT SENTINEL replicas mymaster | grep -q $RR_PORT" ||
	    fail "the Sentinel does not see the replica"
	echo "$SENTINEL_PORT" >"$T/sentinel-port"
	echo "sock sentinel" >"$T/reg-targets"
	wait_for 10 sh -c "[ \"\$(redis-cli -p $RM_PORT DBSIZE)\" -ge $STREAMS ]" ||
	    fail "the registrar did not register the streams in the Sentinel's master"
}

#######################################################################
# The origin, the players

write_settings
start_varnish
VSTATS="-f MAIN.threads -f MAIN.sess_dropped -f MAIN.req_dropped -f MGT.child_panic -f MAIN.sess_queued -f MAIN.thread_queue_len -f MAIN.cache_hit -f MAIN.cache_hit_grace"

# stats NAME -- varnishd's figures now, as an event
stats() {
	st=$(varnishstat -n "$VARNISH_N" -1 $VSTATS |
	    awk '{ n = $1; sub(/^[A-Z]+\./, "", n); printf " %s %d", n, $2 }')
	# panic.show answers 300 when there is no panic
	if vadm panic.show >"$T/panic.out" 2>&1; then
		p=1
		say "PANIC: $(head -n 20 "$T/panic.out")"
	elif grep -q "Child has not panicked" "$T/panic.out"; then
		p=0
	else
		p=1
		say "panic.show: $(cat "$T/panic.out")"
	fi
	event "stat $1$st panics $p"
}

# recover_probe NAME KEY FROM [new] -- in the background, the time from
# FROM to the first 200 for an object the origin never cached of stream
# KEY (with "new", KEY is a stream never seen, registered in each try:
# it needs Redis); every 0.2 s, 60 s at most
recover_probe() {
	( (
		i=0
		while [ $i -lt 300 ]; do
			[ "${4:-}" != new ] || reg_cli /dev/null SET "$2" "127.0.0.1:$M_m1" EX 60 >/dev/null 2>&1
			c=$(curl -s -o /dev/null -m 5 -w '%{http_code}' \
			    "$ORIGIN/$2/probe-$1-$i.ts")
			echo "$(elapsed "$3") $c" >>"$T/probe-$1.log"
			if [ "$c" = 200 ]; then
				event "recover $1 $(elapsed "$3")"
				exit 0
			fi
			sleep 0.2
			i=$((i + 1))
		done
		event "recover $1 none"
	) </dev/null >/dev/null 2>&1 &
	echo $! >"$T/probe-$1.pid" )
	track "$T/probe-$1.pid"
}

event "run $STREAMS $PLAYERS $CALM $FAULT $MODE"
say "$MODE run: $STREAMS streams x $PLAYERS players on $ORIGIN, media servers m1 $M_m1, m2 $M_m2, m3 $M_m3"
( python3 "$CHAOS/load.py" players "127.0.0.1:$ORIGIN_PORT" "$T/keys" \
    "$PLAYERS" 3600 "$T/players.log" "$T/stop" </dev/null 2>"$T/load.log" &
  echo $! >"$T/load.pid" )
track "$T/load.pid"
# players start within 2 s and fetch their first segments
sleep 5
b0=$(now)
sleep "$CALM"
event "baseline $b0 $(now)"
stats baseline

#######################################################################
# The faults

fault_redis_kill() {
	sr_stop "$T/redis.pid" 5 KILL
	sleep "$FAULT"
	sr_redis_start "$T/redis.pid" "$REDIS" || fail "Redis did not restart"
}
fault_redis_freeze() {
	kill -STOP "$(cat "$T/redis.pid")"
	sleep "$FAULT"
	kill -CONT "$(cat "$T/redis.pid")"
}
fault_redis_flap() {
	e=$(($(date +%s) + FAULT))
	n=0
	while [ "$(date +%s)" -lt $e ] && [ $n -lt 1000 ]; do
		sr_stop "$T/redis.pid" 5 KILL
		sleep 1
		sr_redis_start "$T/redis.pid" "$REDIS" || fail "Redis did not restart"
		sleep 1
		n=$((n + 1))
	done
}
fault_media_kill() {
	media_kill m1
	sleep "$FAULT"
	media_start m1
}
fault_media_5xx() {
	media_mode m2 5xx
	sleep "$FAULT"
	media_mode m2 ok
}
fault_media_slow() {
	media_mode m3 slow
	sleep "$FAULT"
	media_mode m3 ok
}
fault_junk_keys() {
	( python3 "$CHAOS/load.py" junk "127.0.0.1:$ORIGIN_PORT" "$JUNK" \
	    "$FAULT" "$T/junk.log" </dev/null 2>"$T/junk-load.log" &
	  echo $! >"$T/junk.pid" )
	track "$T/junk.pid"
	sleep "$FAULT"
	reap "$(cat "$T/junk.pid")" 30 || fail "the junk client did not end"
}
fault_sentinel_failover() {
	old=$(sentinel_master)
	timeout 5 redis-cli -p "$SENTINEL_PORT" SENTINEL FAILOVER mymaster |
	    grep -q OK || fail "SENTINEL FAILOVER refused"
	t=$(now)
	wait_for 30 sh -c "[ \"\$(timeout 2 redis-cli -p $SENTINEL_PORT SENTINEL get-master-addr-by-name mymaster | tr '\n' ' ' | sed 's/ *\$//')\" != '$old' ]" ||
	    fail "the Sentinel did not fail over"
	# the fault is over when the Sentinel names the new master: from
	# then on a stream registered there must be routed
	FE=$(now)
	recover_probe sentinel_failover chaos-new-5 "$FE" new
	PROBED=1
	say "failover: master $old -> $(sentinel_master) in $(elapsed "$t") s"
	sleep_until "$(awk -v a="$t" -v f="$FAULT" 'BEGIN { printf "%.3f", a + f }')"
}

# before the last phase: the Sentinel topology, and a VCL whose router
# finds Redis through the Sentinel (a planned change, in the calm
# period: the fault itself is followed without reload)
use_sentinel_vcl() {
	sentinel_start
	mkdir -p "$T/vcl-sentinel/streamroute"
	"$REPO/scripts/streamroute-settings" --sentinels "127.0.0.1:$SENTINEL_PORT" \
	    --allow 127.0.0.1 --allow ::1 \
	    -o "$T/vcl-sentinel/streamroute/origin-settings.vcl" ||
	    fail "cannot write the Sentinel settings"
	vadm param.set vcl_path "$T/vcl-sentinel:$VCL_DIR:/usr/share/varnish/vcl" >/dev/null ||
	    fail "cannot set vcl_path"
	vadm vcl.load chaos_sentinel "$VCL_DIR/origin.vcl" >"$T/vcl-load.out" 2>&1 ||
	    { cat "$T/vcl-load.out" >&2; fail "vcl.load of the Sentinel VCL failed"; }
	vadm vcl.use chaos_sentinel >/dev/null || fail "vcl.use failed"
	say "routing through the Sentinel on 127.0.0.1:$SENTINEL_PORT (master 127.0.0.1:$RM_PORT)"
}

# phase NAME PROBE_KEY [new] -- calm, fault_NAME, start its recovery
# probe (unless fault_NAME did: then it starts when the fault is
# triggered); the phase's window ends after the next calm period.  Each
# try of a probe is in probe-NAME.log: seconds since the fault ended and
# the status.
PREV=
phase() {
	sleep "$CALM"
	[ -z "$PREV" ] || stats "$PREV"
	say "fault $1"
	FS=$(now) FE= PROBED=
	"fault_$1"
	end=$(now)
	FE=${FE:-$end}
	[ -n "$PROBED" ] || recover_probe "$1" "$2" "$FE" ${3:-}
	event "phase $1 $FS $end $(awk -v a="$end" -v c="$CALM" 'BEGIN { printf "%.3f", a + c }')"
	PREV=$1
}

# the first stream of each media server (s000 on m1, s001 on m2, ...)
phase redis_kill chaos-new-1 new
phase redis_freeze chaos-new-2 new
phase redis_flap chaos-new-3 new
phase media_kill s000
phase media_5xx s001
phase media_slow s002
phase junk_keys chaos-new-4 new
use_sentinel_vcl
phase sentinel_failover chaos-new-5 new
sleep "$CALM"
stats "$PREV"

# the players' CPU time (utime + stime, in clock ticks) over their run
lp=$(cat "$T/load.pid")
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$lp/stat" 2>/dev/null)
age=$(awk -v hz="$(getconf CLK_TCK)" -v up="$(cut -d' ' -f1 /proc/uptime)" \
    '{ printf "%.0f", up - $22 / hz }' "/proc/$lp/stat" 2>/dev/null)
[ -z "$cpu" ] || say "the players (load.py) used $cpu s of CPU in $age s"
# the players end (the stop file), the probes have ended
touch "$T/stop"
reap "$(cat "$T/load.pid")" 30 ||
    say "the players did not end within 30 s: stopped"
for f in "$T"/probe-*.pid; do
	reap "$(cat "$f")" 70 || say "a recovery probe did not end"
done
[ -s "$T/load.log" ] && say "load.py: $(tail -n 5 "$T/load.log")"

mkdir -p "$(dirname "$RESULTS")"
python3 "$CHAOS/report.py" "$EVENTS" "$T/players.log" "$T/junk.log" "$RESULTS" ||
    fail "invariants broken (table in $RESULTS)"
say "PASS (table in $RESULTS)"
