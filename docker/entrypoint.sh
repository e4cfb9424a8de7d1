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
#   anything else               run as a command
#
# origin settings (origin-settings.vcl is generated from them):
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
#   SR_TTL_MASTER, SR_TTL_PLAYLIST, SR_TTL_SEGMENT, SR_TTL_ERROR
#                     TTLs in seconds (shipped: 60, 1, 60, 1)
#   SR_GRACE_MASTER, SR_GRACE_PLAYLIST, SR_GRACE_SEGMENT
#                     grace in seconds (shipped: 30, 5, 60)
#   SR_PREFIX         fixed path before the key, e.g. "/live" ("")
#   SR_CORS_ORIGIN    Access-Control-Allow-Origin ("*")
#   SR_DEBUG          "on" adds debug headers ("off")
#   SR_VARNISHD_ARGS  more varnishd options, e.g. "-p thread_pool_max=2000"
# media settings:
#   SR_REDIS, SR_MEDIA_HTTP (8081), SR_MEDIA_RTMP (1935),
#   SR_MEDIA_ADDR (the address the origin reaches; default
#   <this container's IP>:SR_MEDIA_HTTP), SR_ROUTE_TTL (15)
set -eu

SHIPPED=${SR_SHIPPED_VCL:-/usr/share/varnish/vcl/streamroute}
SETTINGS_DIR=${SR_SETTINGS_DIR:-/etc/varnish/streamroute}

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

# is $1 a number of seconds?
seconds() {
	case $2 in
	''|*[!0-9.]*) die "$1 must be a number of seconds, not '$2'" ;;
	esac
}

# write origin-settings.vcl: the shipped file with the settings replaced
write_settings() {
	redis=$(numeric_redis "${SR_REDIS:-127.0.0.1:6379}")
	for v in SR_TTL_MASTER SR_TTL_PLAYLIST SR_TTL_SEGMENT SR_TTL_ERROR \
	    SR_GRACE_MASTER SR_GRACE_PLAYLIST SR_GRACE_SEGMENT; do
		eval "val=\${$v:-}"
		[ -z "$val" ] || seconds "$v" "$val"
	done
	case ${SR_DEBUG:-off} in on|off) ;; *) die "SR_DEBUG must be on or off" ;; esac
	case ${SR_PREFIX:-}${SR_CORS_ORIGIN:-}${SR_REDIS_PASSWORD:-} in
	*'"'*|*'\'*) die "settings must not contain quotes or backslashes" ;;
	esac
	allow=${SR_ALLOW:-$(attached_networks)}
	case $allow in
	*[!0-9A-Fa-f.:/!,\ ]*|'') die "SR_ALLOW must be networks like 10.20.0.0/16, not '$allow'" ;;
	esac
	case ${SR_PORTS:-} in
	*[!0-9,\ -]*) die "SR_PORTS must be ports like 80, 8080-8090, not '$SR_PORTS'" ;;
	esac
	mkdir -p "$SETTINGS_DIR"
	awk -v redis="$redis" -v allow="$allow" -v ports="${SR_PORTS:-}" \
	    -v password="${SR_REDIS_PASSWORD:-}" -v db="${SR_REDIS_DB:-}" \
	    -v prefix="${SR_PREFIX:-}" -v cors="${SR_CORS_ORIGIN:-*}" \
	    -v debug="${SR_DEBUG:-off}" \
	    -v ttl_master="${SR_TTL_MASTER:-}" -v ttl_playlist="${SR_TTL_PLAYLIST:-}" \
	    -v ttl_segment="${SR_TTL_SEGMENT:-}" -v ttl_error="${SR_TTL_ERROR:-}" \
	    -v grace_master="${SR_GRACE_MASTER:-}" -v grace_playlist="${SR_GRACE_PLAYLIST:-}" \
	    -v grace_segment="${SR_GRACE_SEGMENT:-}" '
	function setval(line, v) {
		if (v == "") return line
		sub(/= *[0-9.]+s;/, "= " v "s;", line)
		return line
	}
	/^[ \t]*redis = "/ {
		sub(/redis = "[^"]*"/, "redis = \"" redis "\"")
		if (password != "") $0 = $0 "\n\t\tpassword = \"" password "\","
		if (db != "") $0 = $0 "\n\t\tdatabase = " db ","
	}
	# the acl: one entry per network of SR_ALLOW, instead of the example
	inacl && /^}/ { inacl = 0 }
	inacl { next }
	/^acl sr_media_acl {/ {
		print
		n = split(allow, nets, ",")
		for (i = 1; i <= n; i++) {
			net = nets[i]
			gsub(/ /, "", net)
			if (net == "") continue
			neg = ""
			if (substr(net, 1, 1) == "!") { neg = "! "; net = substr(net, 2) }
			if (split(net, p, "/") == 2) print "\t" neg "\"" p[1] "\"/" p[2] ";"
			else print "\t" neg "\"" net "\";"
		}
		inacl = 1
		next
	}
	/^[ \t]*ports = "/ { sub(/ports = "[^"]*"/, "ports = \"" ports "\"") }
	/set req.http.sr-prefix = / { sub(/= ".*";/, "= \"" prefix "\";") }
	/set req.http.sr-cors-origin = / { sub(/= ".*";/, "= \"" cors "\";") }
	/set req.http.sr-debug = / { sub(/= ".*";/, "= \"" debug "\";") }
	/sr-type == "master"/   { type = "master" }
	/sr-type == "playlist"/ { type = "playlist" }
	/sr-type == "segment"/  { type = "segment" }
	/sr-type == "error"/    { type = "error" }
	/^[ \t]*} else {/       { type = "" }
	/set beresp.ttl = / {
		if (type == "master") $0 = setval($0, ttl_master)
		else if (type == "playlist") $0 = setval($0, ttl_playlist)
		else if (type == "segment") $0 = setval($0, ttl_segment)
		else if (type == "error") $0 = setval($0, ttl_error)
	}
	/set beresp.grace = / {
		if (type == "master") $0 = setval($0, grace_master)
		else if (type == "playlist") $0 = setval($0, grace_playlist)
		else if (type == "segment") $0 = setval($0, grace_segment)
	}
	{ print }' "$SHIPPED/origin-settings.vcl" >"$SETTINGS_DIR/origin-settings.vcl.new"
	mv "$SETTINGS_DIR/origin-settings.vcl.new" "$SETTINGS_DIR/origin-settings.vcl"
	grep -q "redis = \"$redis\"" "$SETTINGS_DIR/origin-settings.vcl" ||
	    die "could not set the Redis address"
	grep -q '^acl sr_media_acl {' "$SETTINGS_DIR/origin-settings.vcl" ||
	    die "could not set the allowed networks"
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
	exec varnishd -F -a "${SR_LISTEN:-:8080}" -T 127.0.0.1:6082 \
	    -f "$SHIPPED/origin.vcl" -s "malloc,${SR_CACHE_SIZE:-256m}" \
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
	/src/demo/media-server.sh start /var/lib/streamroute-media \
	    --listen 0.0.0.0 --rtmp "${SR_MEDIA_RTMP:-1935}" --http "$http" \
	    --redis "$redis" --addr "$addr" --ttl "${SR_ROUTE_TTL:-15}"
	echo "entrypoint: media server up, registering streams as $addr in Redis $redis" >&2
	trap '/src/demo/media-server.sh stop /var/lib/streamroute-media; exit 0' TERM INT
	pid=$(cat /var/lib/streamroute-media/nginx.pid)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2 &
		wait $! || true
	done
	die "nginx exited: $(tail -n 5 /var/lib/streamroute-media/error.log)"
	;;
publish)
	url=${1:-rtmp://media:1935/live/demo}
	# wait for the media server, then publish; publish again if it drops
	trap 'exit 0' TERM INT
	while :; do
		/src/demo/publish.sh run "$url" "${SR_PUBLISH_SIZE:-320x180}" "${SR_PUBLISH_FPS:-10}" &
		wait $! || true
		sleep 2
	done
	;;
*)
	exec "$cmd" "$@"
	;;
esac
