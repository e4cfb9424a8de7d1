#!/bin/sh
# streamroute container entrypoint.
#
#   origin [varnishd options]   (default) varnishd with the shipped VCL;
#                               settings from the environment (below)
#   redis                       redis-server for the compose stack
#   media                       demo media server (nginx-rtmp); its route
#                               registration names this container's address
#   publish [URL]               demo publisher: ffmpeg test stream to URL
#                               (default rtmp://media:1935/live/demo)
#   healthcheck                 the image's HEALTHCHECK: the origin's
#                               /healthcheck, Redis's PING, the media
#                               server's /healthcheck, by the role that runs
#   anything else               run as a command
#
# origin settings (origin-settings.vcl is written from them by
# streamroute-settings --from-env, which lists them all):
#   SR_REDIS          Redis "host:port" or unix socket path (127.0.0.1:6379);
#                     a host name is resolved here, at start: the VMOD
#                     wants a numeric address
#   SR_REDIS_PASSWORD, SR_REDIS_DB
#   SR_LISTEN         varnishd -a (":8080")
#   SR_CACHE_SIZE     malloc storage size ("256m")
#   SR_ALLOW          networks media servers may be in, e.g.
#                     "10.20.0.0/16, fd12::/64, !10.20.0.1" (default: the
#                     IPv4 networks this container is attached to)
#   SR_PORTS          ports media servers serve on, e.g. "8081" or
#                     "80, 8080-8090" ("": any)
#   SR_TTL_MASTER, SR_TTL_PLAYLIST, SR_TTL_SEGMENT, SR_TTL_ERROR,
#   SR_TTL_OTHER      TTLs in seconds (shipped: 60, 1, 60, 1, 1)
#   SR_GRACE_MASTER, SR_GRACE_PLAYLIST, SR_GRACE_SEGMENT, SR_GRACE_ERROR,
#   SR_GRACE_OTHER    grace in seconds (shipped: 30, 5, 60, 0, 0)
#   SR_TIMEOUT_BLOCKING, SR_TIMEOUT_PLAYLIST, SR_TIMEOUT_SEGMENT
#                     media first-byte timeouts (shipped: 20, 2, 5)
#   SR_ROUTE_CACHE_TTL, SR_MAX_BACKENDS, SR_STATUS_ALLOW
#   SR_PREFIX         fixed path before the key, e.g. "/live" ("")
#   SR_CORS_ORIGIN    Access-Control-Allow-Origin ("*")
#   SR_DEBUG          "on" adds debug headers ("off")
#   SR_VARNISHD_ARGS  more varnishd options, e.g. "-p thread_pool_max=2000",
#                     after those of varnishd.params (the shipped ones)
#   SR_VARNISH_N      varnishd's -n, its working directory (default
#                     varnishd's own, /var/lib/varnish/<host name>, which
#                     varnishadm and varnishstat find without -n); must
#                     be writable and allow exec (the compiled VCL)
# media settings:
#   SR_REDIS, SR_MEDIA_HTTP (8081), SR_MEDIA_RTMP (1935),
#   SR_MEDIA_ADDR (the address the origin reaches; default
#   <this container's IP>:SR_MEDIA_HTTP), SR_ROUTE_TTL (15)
set -eu

SHIPPED=${SR_SHIPPED_VCL:-/usr/share/varnish/vcl/streamroute}
DEMO=${SR_DEMO:-/usr/local/share/streamroute/demo}
MEDIA_DIR=${SR_MEDIA_DIR:-/var/lib/streamroute/media}
SETTINGS_DIR=${SR_SETTINGS_DIR:-/etc/varnish/streamroute}
RENDER=${SR_SETTINGS_RENDERER:-streamroute-settings}

die() { echo "entrypoint: $*" >&2; exit 1; }

# host:port -> ip:port (a name is resolved once, here)
numeric_redis() {
	case $1 in
	/*)	echo "$1"; return ;;
	esac
	host=${1%:*} port=${1##*:}
	[ "$host" != "$1" ] || port=6379
	case $host in
	*[!0-9.]*)
		i=0
		until ip=$(getent ahostsv4 "$host" | awk 'NR == 1 {print $1}') && [ -n "$ip" ]; do
			i=$((i + 1))
			[ $i -lt 30 ] || die "cannot resolve Redis host '$host'"
			sleep 1
		done
		host=$ip ;;
	esac
	echo "$host:$port"
}

# The IPv4 networks this container is attached to, "a.b.c.d/n, ...":
# the routes without a gateway.  /proc/net/route prints each address as
# a 32-bit word in host byte order (little-endian: x86, arm64).
attached_networks() {
	awk 'NR > 1 && $1 != "lo" && $3 == "00000000" && $2 != "00000000" {
	    print $2, $8 }' /proc/net/route |
	while read -r dst mask; do
		n=0 m=$((0x$mask)) d=$((0x$dst))
		while [ "$m" -ne 0 ]; do n=$((n + (m & 1))) m=$((m >> 1)); done
		printf '%d.%d.%d.%d/%d\n' $((d & 255)) $((d >> 8 & 255)) \
		    $((d >> 16 & 255)) $((d >> 24 & 255)) "$n"
	done | sort -u | paste -sd, - | sed 's/,/, /g'
}

# write origin-settings.vcl: the one renderer, fed the SR_* environment
write_settings() {
	redis=$(numeric_redis "${SR_REDIS:-127.0.0.1:6379}")
	allow=${SR_ALLOW:-$(attached_networks)}
	[ -n "$allow" ] || die "SR_ALLOW is empty and no attached network was found"
	mkdir -p "$SETTINGS_DIR"
	SR_REDIS=$redis SR_ALLOW=$allow "$RENDER" --from-env \
	    -o "$SETTINGS_DIR/origin-settings.vcl" || die "bad settings (see above)"
	echo "entrypoint: settings in $SETTINGS_DIR/origin-settings.vcl (Redis $redis, media networks $allow)" >&2
}

cmd=${1:-origin}
case $cmd in
-*)	cmd=origin ;;
*)	shift || true ;;
esac

case $cmd in
origin)
	write_settings
	# shellcheck disable=SC2086
	# the shipped parameters (varnishd.params, beside the VCL), then
	# the caller's, which win.  Not root: varnishd takes no -j (its
	# unix jail needs root) and runs as this user; it writes the
	# compiled VCL and its shared memory into -n.
	set -- ${SR_VARNISH_N:+-n "$SR_VARNISH_N"} "$@"
	exec varnishd -F -a "${SR_LISTEN:-:8080}" -T 127.0.0.1:6082 \
	    -f "$SHIPPED/origin.vcl" -s "malloc,${SR_CACHE_SIZE:-256m}" \
	    $(sed 's/#.*//' "$SHIPPED/varnishd.params") \
	    ${SR_VARNISHD_ARGS:-} "$@"
	;;
settings)
	# print the settings that would be used
	write_settings
	cat "$SETTINGS_DIR/origin-settings.vcl"
	;;
redis)
	exec redis-server --bind 0.0.0.0 --protected-mode no --save '' --appendonly no "$@"
	;;
media)
	http=${SR_MEDIA_HTTP:-8081}
	addr=${SR_MEDIA_ADDR:-$(hostname -I | awk '{print $1}'):$http}
	redis=$(numeric_redis "${SR_REDIS:-127.0.0.1:6379}")
	"$DEMO/media-server.sh" start "$MEDIA_DIR" \
	    --listen 0.0.0.0 --rtmp "${SR_MEDIA_RTMP:-1935}" --http "$http" \
	    --redis "$redis" --addr "$addr" --ttl "${SR_ROUTE_TTL:-15}"
	echo "entrypoint: media server up, registering streams as $addr in Redis $redis" >&2
	trap '"$DEMO/media-server.sh" stop "$MEDIA_DIR"; exit 0' TERM INT
	pid=$(cat "$MEDIA_DIR/nginx.pid")
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2 &
		wait $! || true
	done
	die "nginx exited: $(tail -n 5 "$MEDIA_DIR/error.log")"
	;;
publish)
	url=${1:-rtmp://media:1935/live/demo}
	# wait for the media server, then publish; publish again if it drops
	trap 'exit 0' TERM INT
	while :; do
		"$DEMO/publish.sh" run "$url" "${SR_PUBLISH_SIZE:-320x180}" "${SR_PUBLISH_FPS:-10}" &
		wait $! || true
		sleep 2
	done
	;;
healthcheck)
	# PID 1 is the role's program (exec above): check what it serves
	case $(tr '\0' ' ' </proc/1/cmdline) in
	*varnishd*)
		listen=${SR_LISTEN:-:8080}
		host=${listen%:*} port=${listen##*:}
		case $host in ''|0.0.0.0|'[::]') host=127.0.0.1 ;; esac
		exec curl -fsS -o /dev/null -m 4 "http://$host:$port/healthcheck" ;;
	*redis-server*)
		[ "$(timeout 4 redis-cli PING)" = PONG ] ;;
	*streamroute-entrypoint\ media*)
		exec curl -fsS -o /dev/null -m 4 "http://127.0.0.1:${SR_MEDIA_HTTP:-8081}/healthcheck" ;;
	*)
		exit 0 ;;
	esac
	;;
*)
	exec "$cmd" "$@"
	;;
esac
