# tests/e2e/lib/common.sh -- sourced by the end-to-end tests.
#
# Starts real parts -- redis-server, demo media servers (nginx-rtmp),
# ffmpeg publishers, varnishd with the shipped VCL -- on loopback, on
# ports picked free at run time, all in one temporary directory, and
# stops every process it started by its PID when the test exits; the
# starting and stopping is scripts/lib/stack.sh's, as for the quick start.
#
# Environment:
#   STREAMROUTE_BUILD  where ./configure && make ran (default: the repo)
#   E2E_ARTEFACTS      where screenshots and logs are kept
#                      (default: <repo>/tests/e2e/artefacts)
#   E2E_KEEP=1         keep the temporary directory

set -u
E2E_NAME=$(basename "$0" .sh)
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=$REPO/demo
BUILD=${STREAMROUTE_BUILD:-$REPO}
VMOD_DIR=$BUILD/src/.libs
# varnishd's vmod_path: the VMOD just built, then the system's (vmod_std,
# vmod_directors)
VMOD_PATH=$VMOD_DIR:$(pkg-config --variable=vmoddir varnishapi 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/varnish/vmods)
VCL_DIR=$REPO/vcl
ARTEFACTS=${E2E_ARTEFACTS:-$REPO/tests/e2e/artefacts}
SR_REPO=$REPO
. "$REPO/scripts/lib/stack.sh"

say() { echo "$E2E_NAME: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
skip() { say "SKIP: $*"; exit 77; }

# need CMD... -- skip (77) when a program is missing
need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
		    skip "$c is not installed (scripts/install-deps.sh: scripts/packages.txt)"
	done
}

need_base() {
	need redis-server redis-cli varnishd varnishadm varnishstat curl ss
	[ -f "$VMOD_DIR/libvmod_streamroute.so" ] ||
	    skip "no built VMOD in $VMOD_DIR: run ./configure && make first (or set STREAMROUTE_BUILD)"
	[ -f "$VCL_DIR/origin.vcl" ] || fail "no $VCL_DIR/origin.vcl"
}

need_media() {
	need nginx ffmpeg ffprobe
	[ -f /usr/lib/nginx/modules/ngx_rtmp_module.so ] ||
	    skip "nginx-rtmp is not installed (scripts/install-deps.sh media)"
}

# headless Chromium, and hls.js and playwright-core from npm (demo/);
# sets CHROMIUM.  After T exists: npm's log goes there.
need_browser() {
	need node
	CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
	[ -x "$CHROMIUM" ] || skip "no $CHROMIUM (scripts/install-deps.sh test)"
	[ -f "$DEMO/node_modules/playwright-core/package.json" ] &&
	    [ -f "$DEMO/node_modules/hls.js/dist/hls.min.js" ] ||
	    (cd "$DEMO" && npm ci --no-audit --no-fund >"$T/npm.log" 2>&1) ||
	    skip "hls.js and playwright-core could not be installed from npm (cd demo && npm ci)"
}

# the temporary directory; varnishd's child (user vcache) must reach the
# Redis socket in it
T=$(mktemp -d "/tmp/sr-e2e-$E2E_NAME.XXXXXX")
chmod 755 "$T"
PIDFILES=""

stop_pidfile() {
	case $1 in
	*/publish.pid)	sr_publish_stop "$1" ;;
	*/nginx.pid)	sr_media_stop "${1%/nginx.pid}" ;;
	*)		sr_stop "$1" 5 TERM KILL ;;
	esac
}

# on_exit 'command' -- run at exit, before the processes are stopped
ON_EXIT=""
on_exit() { ON_EXIT="$1
$ON_EXIT"; }

cleanup() {
	status=$?
	trap - EXIT INT TERM
	[ -z "$ON_EXIT" ] || eval "$ON_EXIT"
	# publishers first, then everything else, each group in parallel
	for f in $PIDFILES; do
		case $f in */publish.pid) stop_pidfile "$f" & ;; esac
	done
	wait
	for f in $PIDFILES; do
		case $f in */publish.pid) ;; *) stop_pidfile "$f" & ;; esac
	done
	wait
	if [ $status -ne 0 ] && [ $status -ne 77 ]; then
		keep_logs
	fi
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		say "kept $T"
	else
		rm -rf "$T"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop in reverse order of start
track() { PIDFILES="$1 $PIDFILES"; }

# copy the logs of a failed run to the artefacts
keep_logs() {
	d=$ARTEFACTS/$E2E_NAME-logs
	rm -rf "$d"
	mkdir -p "$d"
	for f in "$T"/*.log "$T"/*/*.log "$T"/*.json; do
		[ -f "$f" ] && cp "$f" "$d/$(echo "${f#$T/}" | tr / _)"
	done
	say "logs in $d"
}

# a TCP port nobody listens on (ephemeral-range ports are avoided: a
# client socket could take one before we bind it)
USED_PORTS=""
# free_port VAR -- sets VAR
free_port() {
	while :; do
		p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + p % 12000))
		case " $USED_PORTS " in *" $p "*) continue ;; esac
		ss -Htln "sport = :$p" | grep -q . && continue
		USED_PORTS="$USED_PORTS $p"
		eval "$1=$p"
		return
	done
}

# wait_for SECONDS CMD... -- until CMD succeeds, at most SECONDS
wait_for() { sr_wait_for "$@"; }

REDIS=$T/redis.sock
start_redis() {
	track "$T/redis.pid"
	sr_redis_start "$T/redis.pid" "$REDIS" ||
	    fail "redis-server did not start or does not answer"
}
rcli() { redis-cli -s "$REDIS" "$@"; }

# start_media NAME -- media server in $T/NAME; sets NAME_rtmp, NAME_http
start_media() {
	free_port r
	free_port h
	sr_media_start "$T/$1" --rtmp "$r" --http "$h" \
	    --redis "$REDIS" --ttl "${E2E_ROUTE_TTL:-9}" ${2:+--page "$2"} ||
	    fail "media server $1 did not start"
	track "$T/$1/nginx.pid"
	eval "${1}_rtmp=$r ${1}_http=$h"
}

# publish NAME KEY -- the demo stream to media server NAME under KEY
publish() {
	eval "port=\${${1}_rtmp}"
	mkdir -p "$T/pub-$1-$2"
	sr_publish_start "$T/pub-$1-$2/publish.pid" "rtmp://127.0.0.1:$port/live/$2"
	track "$T/pub-$1-$2/publish.pid"
}
unpublish() {
	sr_publish_stop "$T/pub-$1-$2/publish.pid"
}

# settings: rendered by scripts/streamroute-settings with Redis on our
# socket and our media servers (loopback) in the allow acl, plus more
# of its options given as arguments (e.g. --ttl-segment 45)
write_settings() {
	mkdir -p "$T/vcl/streamroute"
	"$REPO/scripts/streamroute-settings" --redis "$REDIS" \
	    --allow 127.0.0.1 --allow ::1 "$@" \
	    -o "$T/vcl/streamroute/origin-settings.vcl" ||
	    fail "cannot write origin-settings.vcl"
}

VARNISH_N=$T/varnish
start_varnish() {
	[ -f "$T/vcl/streamroute/origin-settings.vcl" ] || write_settings
	free_port ORIGIN_PORT
	sr_varnish_start "$T/varnishd.pid" "$VARNISH_N" "127.0.0.1:$ORIGIN_PORT" \
	    "$VCL_DIR/origin.vcl" "$T/vcl:$VCL_DIR:/usr/share/varnish/vcl" \
	    -p "vmod_path=$VMOD_PATH" \
	    -s malloc,64m ||
	    { cat "$T/varnishd.log" >&2; fail "varnishd did not start"; }
	track "$T/varnishd.pid"
	ORIGIN=http://127.0.0.1:$ORIGIN_PORT
	wait_for 10 curl -fsS -m 2 "$ORIGIN/healthcheck" || fail "varnishd does not answer"
}
# start_access_log -- the origin's requests, "<unix time> <status> <URL>",
# into $T/origin-access.log
start_access_log() {
	varnishncsa -n "$VARNISH_N" -D -P "$T/varnishncsa.pid" \
	    -w "$T/origin-access.log" -F '%{%s}t %s %U' ||
	    fail "varnishncsa did not start"
	track "$T/varnishncsa.pid"
}
# varnishadm waits 5 s for an answer by default: a vcl.load compiles C,
# which takes longer than that on a loaded machine (or under ASan)
vadm() { varnishadm -t 120 -n "$VARNISH_N" "$@"; }
vstat() { varnishstat -n "$VARNISH_N" -1 -f "$1" | awk '{s += $2} END {print s + 0}'; }

# wait_stream KEY [SECONDS] -- until the origin serves the stream
wait_stream() {
	wait_for "${2:-40}" sh -c "curl -fsS -m 5 '$ORIGIN/$1/live.m3u8' >/dev/null &&
	    curl -fsS -m 5 '$ORIGIN/$1/index.m3u8' | grep -q '\.ts'" ||
	    fail "stream $1 is not served by the origin"
}

# media_requests NAME PATTERN FROM TO -- requests in NAME's access log
# whose URI matches PATTERN between unix times FROM and TO
media_requests() {
	awk -v from="$3" -v to="$4" -v pat="$2" \
	    '$1 >= from && $1 < to && $3 ~ pat {n++} END {print n + 0}' \
	    "$T/$1/access.log"
}

# start_media_at NAME HLSDIR LINGER [PAGE_PORT] -- as start_media, with
# HLS written to HLSDIR (shared by media servers that continue each
# other's streams) and routes kept LINGER s after a stream stops
# (make-before-break, docs/registration.md "Moving a stream")
start_media_at() {
	free_port r
	free_port h
	sr_media_start "$T/$1" --rtmp "$r" --http "$h" \
	    --redis "$REDIS" --ttl "${E2E_ROUTE_TTL:-9}" --hls "$2" \
	    --linger "$3" ${4:+--page "$4"} ||
	    fail "media server $1 did not start"
	track "$T/$1/nginx.pid"
	eval "${1}_rtmp=$r ${1}_http=$h"
}

# routes_at ADDR -- the route keys in Redis that name ADDR
routes_at() {
	rcli --scan | while read -r k; do
		[ "$(rcli GET "$k")" = "$1" ] && echo "$k"
	done
	return 0
}
