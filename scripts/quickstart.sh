#!/bin/sh
# quickstart.sh -- streamroute in one command, on Debian bookworm, as root.
#
#   scripts/quickstart.sh          install what is missing, build and install
#                                  the VMOD, start Redis, a media server with
#                                  a demo stream, and varnishd with the
#                                  shipped VCL; print the URLs
#   scripts/quickstart.sh stop     stop everything it started
#   scripts/quickstart.sh status   show what runs
#
# Everything listens on 127.0.0.1 only.  Ports (set to change):
#   SR_ORIGIN_PORT=8080   the origin (varnishd): players ask here
#   SR_REDIS_PORT=6380    Redis (not 6379: Debian's redis-server service may have it)
#   SR_MEDIA_PORT=8081    the media server's HTTP side (HLS)
#   SR_RTMP_PORT=1935     the media server's RTMP side (publishers push here)
#   SR_PAGE_PORT=8088     the player page (hls.js)
#   SR_KEY=demo           the demo stream's key
#   SR_STATE=/var/tmp/streamroute-quickstart   pidfiles, logs, HLS, settings
set -eu
cd "$(dirname "$0")/.."
REPO=$(pwd)
SR_REPO=$REPO
. scripts/lib/stack.sh
ORIGIN_PORT=${SR_ORIGIN_PORT:-8080}
REDIS_PORT=${SR_REDIS_PORT:-6380}
MEDIA_PORT=${SR_MEDIA_PORT:-8081}
RTMP_PORT=${SR_RTMP_PORT:-1935}
PAGE_PORT=${SR_PAGE_PORT:-8088}
KEY=${SR_KEY:-demo}
STATE=${SR_STATE:-/var/tmp/streamroute-quickstart}
VCLDIR=/usr/share/varnish/vcl/streamroute

say() { echo "quickstart: $*" >&2; }
die() { say "$*"; exit 1; }

# stop in reverse order of start, each by its pidfile
stop_all() {
	sr_publish_stop "$STATE/publish.pid"
	sr_varnish_stop "$STATE/varnishd.pid"
	sr_redis_stop "$STATE/redis.pid"
	sr_media_stop "$STATE/media1"
}

status() {
	for f in publish varnishd redis media1/nginx; do
		if sr_alive "$STATE/$f.pid"; then
			echo "${f%/nginx}: running (pid $(cat "$STATE/$f.pid"))"
		else
			echo "${f%/nginx}: stopped"
		fi
	done
}

case ${1:-start} in
stop)	stop_all; say "stopped"; exit 0 ;;
status)	status; exit 0 ;;
start)	;;
*)	sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

[ "$(id -u)" -eq 0 ] || die "run me as root (I install Debian packages)"

# 1. Debian packages
missing=
for c in varnishd varnishtest redis-server redis-cli curl autoreconf \
    pkg-config rst2man make gcc nginx ffmpeg ss; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] || missing="$missing nginx-rtmp"
[ -f /usr/include/varnish/vrt.h ] || missing="$missing libvarnishapi-dev"
[ -f /usr/include/hiredis/hiredis.h ] || missing="$missing libhiredis-dev"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
	say "installing what is missing:$missing (log: /tmp/streamroute-apt.log)"
	# the groups of scripts/packages.txt the quick start needs
	scripts/install-deps.sh build run media player >/tmp/streamroute-apt.log 2>&1 ||
	    { tail -n 20 /tmp/streamroute-apt.log >&2; die "installing packages failed"; }
fi

# 2. ports
busy=
for v in ORIGIN_PORT REDIS_PORT MEDIA_PORT RTMP_PORT PAGE_PORT; do
	eval "p=\$$v"
	if ss -Htln "sport = :$p" | grep -q .; then
		# ours, from an earlier run?  Then it will be restarted.
		if ! sr_alive "$STATE/varnishd.pid" && ! sr_alive "$STATE/redis.pid" &&
		    ! sr_alive "$STATE/media1/nginx.pid"; then
			busy="$busy SR_$v=$p"
		fi
	fi
done
[ -z "$busy" ] || die "port(s) already in use:$busy. Set another free port, e.g. SR_ORIGIN_PORT=18080 $0"

# 3. build and install the VMOD and the VCL
say "building and installing the VMOD (log: $STATE/build.log)"
mkdir -p "$STATE"
{
	{ [ -x configure ] && [ configure -nt configure.ac ] || ./autogen.sh; } &&
	# --libdir: Debian's VMOD directory is under the multiarch libdir
	./configure --prefix=/usr --libdir="$(pkg-config --variable=libdir varnishapi)" \
	    RST2MAN=/usr/bin/rst2man &&
	make -j"$(nproc)" &&
	make install
} >"$STATE/build.log" 2>&1 ||
    { tail -n 20 "$STATE/build.log" >&2; die "build failed"; }

# 4. hls.js for the player page
if [ ! -f demo/node_modules/hls.js/dist/hls.min.js ]; then
	say "fetching hls.js from npm"
	(cd demo && npm ci --omit=dev --no-audit --no-fund >"$STATE/npm.log" 2>&1) ||
	    say "npm failed (see $STATE/npm.log): the player page will not work, the stream will"
fi

# 5. start: Redis, the media server, the demo stream, the origin
stop_all
trap 'say "failed: stopping what I started"; stop_all' EXIT
sr_redis_start "$STATE/redis.pid" "$REDIS_PORT" ||
    die "Redis did not start: $STATE/redis.log"

sr_media_start "$STATE/media1" --rtmp "$RTMP_PORT" --http "$MEDIA_PORT" \
    --redis "127.0.0.1:$REDIS_PORT" --page "$PAGE_PORT"
sr_publish_start "$STATE/publish.pid" "rtmp://127.0.0.1:$RTMP_PORT/live/$KEY"

# the settings: our Redis address and the demo media server (on
# loopback) allowed, found first along vcl_path
mkdir -p "$STATE/vcl/streamroute"
[ -f "$VCLDIR/origin.vcl" ] || VCLDIR=$REPO/vcl
"$REPO/scripts/streamroute-settings" --redis "127.0.0.1:$REDIS_PORT" \
    --allow 127.0.0.1 -o "$STATE/vcl/streamroute/origin-settings.vcl" ||
    die "cannot write $STATE/vcl/streamroute/origin-settings.vcl"
sr_varnish_start "$STATE/varnishd.pid" "$STATE/varnish" "127.0.0.1:$ORIGIN_PORT" \
    "$VCLDIR/origin.vcl" "$STATE/vcl:/etc/varnish:/usr/share/varnish/vcl" \
    -s malloc,256m ||
    { cat "$STATE/varnishd.log" >&2; die "varnishd did not start"; }

say "waiting for the demo stream"
i=0
until curl -fsS "http://127.0.0.1:$ORIGIN_PORT/$KEY/index.m3u8" 2>/dev/null | grep -q '\.ts'; do
	i=$((i + 1))
	[ $i -lt 300 ] || die "the stream does not play: see $STATE/publish.pid.log, $STATE/media1/error.log"
	sleep 0.2
done

trap - EXIT
ME="${SR_STATE:+SR_STATE=$STATE }$REPO/scripts/quickstart.sh"
URL=http://127.0.0.1:$ORIGIN_PORT/$KEY/live.m3u8
cat <<EOF

streamroute is running (state, logs and pidfiles in $STATE):

  Play:         $URL
                (ffplay $URL, mpv, VLC, Safari)
  Player page:  http://127.0.0.1:$PAGE_PORT/player/?src=$URL
                (hls.js, served from another origin than the stream)
  Publish more: ffmpeg ... -f flv rtmp://127.0.0.1:$RTMP_PORT/live/<key>
                then play http://127.0.0.1:$ORIGIN_PORT/<key>/live.m3u8
  Route:        redis-cli -p $REDIS_PORT GET $KEY
  Counters:     varnishstat -n $STATE/varnish -1 -f 'STREAMROUTE.*' -f 'MAIN.cache_*'
  Log:          varnishlog -n $STATE/varnish -g request -q 'ReqURL ~ "^/$KEY/"'
  Settings:     $STATE/vcl/streamroute/origin-settings.vcl, then
                /usr/share/varnish/varnishreload -n $STATE/varnish
  Stop it all:  $ME stop
  Run every test: $REPO/scripts/test.sh

Everything listens on 127.0.0.1; from another machine use an SSH tunnel
(ssh -L $ORIGIN_PORT:127.0.0.1:$ORIGIN_PORT -L $PAGE_PORT:127.0.0.1:$PAGE_PORT <this host>).
EOF
