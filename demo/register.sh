#!/bin/sh
# register.sh -- the demo media server's route registration helper.
# Follows the route registration contract in docs/registration.md.
#
# nginx-rtmp runs it (see media-server.sh):
#
#   exec              register.sh heartbeat  REDIS KEY ADDR HLSDIR TTL [MIN_SEGMENTS [LINGER]]
#   exec_publish_done register.sh unregister REDIS KEY ADDR HLSDIR [LINGER]
#
# heartbeat   runs while the stream is published (nginx-rtmp's "exec":
#             started on publish, sent SIGTERM when publishing stops).
#             Waits until the playlist holds MIN_SEGMENTS segments
#             (default 3: a route must only exist for a stream that players
#             can start, and they start 3 segments from the live edge), one
#             of them at least written by this server (a stream that moved
#             here continues the playlist the old server left, in an HLS
#             directory both share: its old segments do not count), writes the master
#             playlist HLSDIR/live.m3u8, claims the route with
#             "SET KEY ADDR EX TTL" (and PUBLISHes KEY on the origins'
#             push channel), then every TTL/3 seconds refreshes it
#             -- only while it still names ADDR (or is missing, e.g. Redis
#             was restarted): a stream that moved to another media server
#             is never taken back.  On SIGTERM it stops refreshing and
#             removes the route if it still names ADDR (and PUBLISHes).
# unregister  removes the route if it still names ADDR (atomically, with a
#             Lua script), and the master playlist.  Safe to run twice.
#
# LINGER (seconds, default 0): make-before-break.  When publishing stops,
# the route is kept that long while it still names ADDR, so that a
# publisher that reconnects to another media server is followed without
# a gap: the new server claims the route when it is ready, and this one
# then has nothing to remove.  Players of a stream that really ended see
# its last playlist LINGER seconds longer.
#
# REDIS is "host:port" or the path of a unix socket.  ADDR is the "ip:port"
# of this media server's HTTP side, as the origin must reach it.
#
# nginx starts this with an empty environment: set PATH ourselves.
PATH=/usr/local/bin:/usr/bin:/bin
export PATH
set -u
umask 022

# Every change of a route is also published on the origins' push channel
# (docs/registration.md, "Telling the origins at once"), in the same
# script as the change, so no origin can hear of it before it is made.
# The channel is the routers' push_channel default.
PUSH_CHANNEL=streamroute:routes

# Lua: claim the route, and tell the origins.
LUA_CLAIM='local r = redis.call("SET", KEYS[1], ARGV[1], "EX", ARGV[2])
redis.call("PUBLISH", ARGV[3], KEYS[1])
return r'
# Lua: refresh the route only if it is ours or missing; a missing one
# (Redis restarted empty) is a change the origins are told of.
LUA_REFRESH='local v = redis.call("GET", KEYS[1])
if v == false or v == ARGV[1] then
  local r = redis.call("SET", KEYS[1], ARGV[1], "EX", ARGV[2])
  if v == false then redis.call("PUBLISH", ARGV[3], KEYS[1]) end
  return r
end
return v'
# Lua: refresh the route only if it is still ours (a stopped stream
# keeping its route for the server it moves to; never re-created).
LUA_KEEP='if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("SET", KEYS[1], ARGV[1], "EX", ARGV[2])
end
return 0'
# Lua: delete the route only if it is still ours, and tell the origins.
LUA_RELEASE='if redis.call("GET", KEYS[1]) == ARGV[1] then
  local r = redis.call("DEL", KEYS[1])
  redis.call("PUBLISH", ARGV[2], KEYS[1])
  return r
end
return 0'

# nginx-rtmp discards our output: log beside the HLS directory too
log() {
	echo "register.sh[$$]: $*" >&2
	[ -n "${HLSDIR:-}" ] && [ -d "${HLSDIR%/*}" ] &&
	    echo "$(date "+%F %T %s.%N") register.sh[$$] $ADDR: $*" >>"${HLSDIR%/*}/../register.log"
	return 0
}

rcli() {
	case $REDIS in
	/*)	redis-cli -s "$REDIS" "$@" ;;
	*)	redis-cli -h "${REDIS%:*}" -p "${REDIS##*:}" "$@" ;;
	esac
}

# master playlist naming the one rendition (index.m3u8)
write_master() {
	[ -n "$HLSDIR" ] && [ -d "$HLSDIR" ] || return 0
	if [ -z "${STREAMINF:-}" ]; then
		STREAMINF="BANDWIDTH=500000"
		seg=$(ls -t "$HLSDIR"/*.ts 2>/dev/null | head -n 1)
		if [ -n "$seg" ] && command -v ffprobe >/dev/null 2>&1; then
			wh=$(ffprobe -v error -select_streams v:0 \
			    -show_entries stream=width,height -of csv=p=0:s=x \
			    "$seg" 2>/dev/null | head -n 1)
			case $wh in
			[0-9]*x[0-9]*) STREAMINF="$STREAMINF,RESOLUTION=$wh" ;;
			esac
		fi
	fi
	printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:%s\nindex.m3u8\n' \
	    "$STREAMINF" >"$HLSDIR/.live.m3u8.$$" &&
	    mv -f "$HLSDIR/.live.m3u8.$$" "$HLSDIR/live.m3u8"
}

# linger: while the route still names us, at most LINGER seconds (and
# not at all once Redis cannot be asked); the heartbeat (which knows the
# TTL) keeps refreshing it meanwhile, so it does not expire first
linger() {
	i=0
	while [ $i -lt $((LINGER * 5)) ]; do
		v=$(rcli GET "$KEY" 2>/dev/null) || return 0
		[ "$v" = "$ADDR" ] || return 0
		if [ -n "${TTL:-}" ] && [ $((i % (beat * 5))) -eq $((beat * 5 - 1)) ]; then
			rcli EVAL "$LUA_KEEP" 1 "$KEY" "$ADDR" "$TTL" >/dev/null 2>&1
		fi
		sleep 0.2
		i=$((i + 1))
	done
}

release() {
	[ "${LINGER:-0}" -gt 0 ] && linger
	r=$(rcli EVAL "$LUA_RELEASE" 1 "$KEY" "$ADDR" "$PUSH_CHANNEL" 2>&1)
	log "released $KEY $ADDR: $r"
	# the master playlist goes with our route only: another media server
	# sharing the HLS directory may have claimed the stream
	[ -n "$HLSDIR" ] && [ "$r" = 1 ] && rm -f "$HLSDIR/live.m3u8"
	return 0
}

# the segments the playlist names
segments() { grep -v '^#' "$HLSDIR/index.m3u8" 2>/dev/null | grep '\.ts$'; }

# ready: MIN_SEGMENTS segments, one at least not in $OLD (the playlist
# another server left here)
ready() {
	segs=$(segments) || return 1
	[ "$(echo "$segs" | grep -c .)" -ge "$MIN_SEGMENTS" ] || return 1
	[ -z "$OLD" ] && return 0
	echo "$segs" | grep -qvxF "$OLD"
}

stopping=0
on_term() {
	stopping=1
	[ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
}

heartbeat() {
	trap on_term TERM INT HUP
	beat=$((TTL / 3))
	[ "$beat" -ge 1 ] || beat=1
	# wait until the playlist holds MIN_SEGMENTS segments (players start
	# 3 segments from the live edge), one at least ours: up to 60 s
	OLD=$(segments)
	[ -z "$OLD" ] || log "$KEY continues a playlist of $(echo "$OLD" | grep -c .) segments"
	i=0
	while [ $stopping -eq 0 ] && [ $i -lt 600 ] && ! ready; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ $stopping -eq 0 ]; then
		write_master
		r=$(rcli EVAL "$LUA_CLAIM" 1 "$KEY" "$ADDR" "$TTL" \
		    "$PUSH_CHANNEL" 2>&1)
		log "registered $KEY -> $ADDR for ${TTL}s: $r"
	fi
	while [ $stopping -eq 0 ]; do
		sleep "$beat" &
		sleeper=$!
		wait "$sleeper"
		sleeper=
		[ $stopping -eq 0 ] || break
		write_master
		r=$(rcli EVAL "$LUA_REFRESH" 1 "$KEY" "$ADDR" "$TTL" \
		    "$PUSH_CHANNEL" 2>&1)
		[ "$r" = OK ] || log "not refreshed $KEY: $r"
	done
	release
}

cmd=${1:-}
case $cmd in
heartbeat)
	[ $# -ge 6 ] || { echo "usage: $0 heartbeat REDIS KEY ADDR HLSDIR TTL [MIN_SEGMENTS [LINGER]]" >&2; exit 2; }
	REDIS=$2 KEY=$3 ADDR=$4 HLSDIR=$5 TTL=$6 MIN_SEGMENTS=${7:-3} LINGER=${8:-0}
	heartbeat
	;;
unregister)
	[ $# -ge 4 ] || { echo "usage: $0 unregister REDIS KEY ADDR [HLSDIR [LINGER]]" >&2; exit 2; }
	REDIS=$2 KEY=$3 ADDR=$4 HLSDIR=${5:-} LINGER=${6:-0}
	release
	;;
*)
	echo "usage: $0 heartbeat|unregister ..." >&2
	exit 2
	;;
esac
