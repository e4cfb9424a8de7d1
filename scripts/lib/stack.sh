# scripts/lib/stack.sh -- start and stop the stack's processes on a host:
# redis-server, the demo media server (nginx-rtmp), the demo publisher
# (ffmpeg), varnishd.  Sourced (POSIX sh) by scripts/quickstart.sh,
# tests/e2e/lib/common.sh, demo/media-server.sh and demo/publish.sh.
#
# Every process is known by a pidfile and stopped by that PID, never by
# name; every wait is bounded; everything listens on loopback unless the
# caller says otherwise.  A process's log is its pidfile with .log for
# .pid (redis.pid -> redis.log; the publisher's is PIDFILE.log).
#
# Set SR_REPO (the repository's top directory) before sourcing: a sourced
# file cannot find itself in POSIX sh.
#
#   sr_alive PIDFILE                 the process in PIDFILE runs
#   sr_stop PIDFILE SECONDS SIG...   each SIG in turn until it is gone
#   sr_wait_for SECONDS CMD...       until CMD succeeds, at most SECONDS
#   sr_redis_start PIDFILE ADDR [redis-server options]
#                                    ADDR: /unix/socket or a TCP port
#   sr_redis_cli ADDR ARGS...
#   sr_varnish_start PIDFILE WORKDIR LISTEN VCL VCL_PATH [varnishd args]
#                                    (after those of etc/varnishd.params)
#   sr_varnishd_params               etc/varnishd.params, as options
#   sr_media_start DIR ARGS...       demo/media-server.sh start DIR ARGS
#   sr_publish_start PIDFILE URL [SIZE [FPS]]
#   sr_redis_stop, sr_varnish_stop, sr_publish_stop PIDFILE;
#   sr_media_stop DIR

: "${SR_REPO:?set SR_REPO to the repository before sourcing scripts/lib/stack.sh}"

# a process that has exited but is not yet reaped (a zombie) has ended: the
# init of a container or VM may reap orphans only every few seconds
_sr_running() {
	kill -0 "$1" 2>/dev/null || return 1
	[ ! -r "/proc/$1/stat" ] ||
	    [ "$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

sr_alive() {
	[ -s "$1" ] && _sr_running "$(cat "$1" 2>/dev/null)"
}

# sr_stop PIDFILE SECONDS SIG... -- send the first signal, wait at most
# SECONDS for the process to end, then the next signal, and so on; the
# pidfile is removed.  The signals are the program's own way out: nginx
# QUIT (graceful: nginx-rtmp ends its streams, so routes are released)
# then TERM; ffmpeg TERM (ends the RTMP session cleanly) then KILL;
# varnishd and redis-server TERM then KILL.
sr_stop() {
	_f=$1 _secs=$2
	shift 2
	if [ -f "$_f" ]; then
		_pid=$(cat "$_f" 2>/dev/null)
		case $_pid in
		''|*[!0-9]*) ;;
		*)
			for _sig in "$@"; do
				_sr_running "$_pid" || break
				kill -"$_sig" "$_pid" 2>/dev/null || break
				_i=0
				while _sr_running "$_pid" &&
				    [ $_i -lt $((_secs * 10)) ]; do
					sleep 0.1; _i=$((_i + 1))
				done
			done ;;
		esac
		rm -f "$_f"
	fi
	return 0
}

# sr_wait_for SECONDS CMD... -- until CMD succeeds, at most SECONDS
sr_wait_for() {
	_deadline=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$_deadline" ] || return 1
		sleep 0.2
	done
}

# redis-server on loopback, no persistence, with the options given after
# ADDR; ADDR is a unix socket path (no TCP port then) or a TCP port on
# 127.0.0.1
sr_redis_cli() {
	_a=$1
	shift
	case $_a in
	/*)	redis-cli -s "$_a" "$@" ;;
	*)	redis-cli -h 127.0.0.1 -p "$_a" "$@" ;;
	esac
}
_sr_redis_pong() { sr_redis_cli "$1" ping 2>/dev/null | grep -q PONG; }
sr_redis_start() {
	_pf=$1 _addr=$2
	shift 2
	# the caller's options (e.g. --replicaof) come after ours
	case $_addr in
	/*)	set -- --port 0 --unixsocket "$_addr" --unixsocketperm 777 "$@" ;;
	*)	set -- --bind 127.0.0.1 --port "$_addr" "$@" ;;
	esac
	redis-server "$@" --save '' --appendonly no --daemonize yes \
	    --pidfile "$_pf" --logfile "${_pf%.pid}.log" || return 1
	sr_wait_for 10 _sr_redis_pong "$_addr"
}
sr_redis_stop() { sr_stop "$1" 5 TERM KILL; }

# the shipped varnishd options (etc/varnishd.params), comments removed
sr_varnishd_params() { sed 's/#.*//' "$SR_REPO/etc/varnishd.params"; }

# varnishd in the background (it writes its own pidfile) with the shipped
# parameters, then the caller's; its output goes to the log
sr_varnish_start() {
	_pf=$1 _wd=$2 _listen=$3 _vcl=$4 _vclpath=$5
	shift 5
	# word splitting wanted: options, no value has a space
	# shellcheck disable=SC2046
	varnishd -n "$_wd" -a "$_listen" -T 127.0.0.1:0 -f "$_vcl" \
	    -p "vcl_path=$_vclpath" -P "$_pf" $(sr_varnishd_params) "$@" \
	    >"${_pf%.pid}.log" 2>&1
}
sr_varnish_stop() { sr_stop "$1" 5 TERM KILL; }

# the demo tier: its scripts know their programs' options
sr_media_start() { "$SR_REPO/demo/media-server.sh" start "$@"; }
sr_media_stop() { sr_stop "$1/nginx.pid" 5 QUIT TERM; }

sr_publish_start() {
	_pf=$1
	shift
	sr_publish_stop "$_pf"
	# from a subshell that exits at once: ffmpeg is nobody's child here,
	# so it is reaped when it ends and sr_stop never waits on a zombie
	( "$SR_REPO/demo/publish.sh" run "$@" >"$_pf.log" 2>&1 </dev/null &
	  echo $! >"$_pf" )
}
sr_publish_stop() { sr_stop "$1" 3 TERM KILL; }
