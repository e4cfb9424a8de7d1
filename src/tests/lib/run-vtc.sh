#!/bin/sh
#
# Test runner for the .vtc tests, src/tests/*.vtc and tests/vcl/*.vtc
# (VTC_LOG_COMPILER in src/Makefile.am and tests/Makefile.am):
#	run-vtc.sh [varnishtest options] test.vtc
#
# A test that names ${redis_sock} gets a Redis of its own on a unix
# socket, started here and stopped here by PID whatever happens, so that
# the test itself is only about the VMOD or the VCL.  Tests that kill, freeze or
# restart Redis, or need TCP, Sentinel, AUTH or a proxy, start their own
# with varnishtest's "process" and do not name ${redis_sock}.  The exit
# status is varnishtest's (77, skip, when redis-server is missing).

# the time a test may take; its Redis outlives it
vtc_timeout=180

for vtc; do :; done
if [ -z "${vtc:-}" ] || ! grep -q '${redis_sock}' "$vtc"; then
	exec varnishtest -v -t $vtc_timeout "$@"
fi
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null
then
	echo "SKIP: $vtc needs redis-server and redis-cli"
	exit 77
fi

# varnishd's child runs as an unprivileged user: it must be able to
# traverse the directory to reach the socket (mktemp -d makes it 0700).
dir=$(mktemp -d "${TMPDIR:-/tmp}/sr-vtc.XXXXXX") || exit 99
chmod 711 "$dir"
sock=$dir/redis.sock
pid=
vt=

stop() {
	for p in $vt $pid; do
		# timeout(1) passes the TERM on to redis-server
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	vt=
	pid=
	rm -rf "$dir"
}
# varnishtest runs in the background so that a signal to this script is
# handled at once (a foreground child would delay the trap until it ends)
trap stop EXIT
trap 'stop; exit 129' HUP
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

timeout $((vtc_timeout + 120)) redis-server --port 0 --unixsocket "$sock" \
    --unixsocketperm 777 --dir "$dir" --save '' --appendonly no \
    >"$dir/redis.log" 2>&1 &
pid=$!

i=0
until redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "FAIL: redis-server did not answer on $sock"
		cat "$dir/redis.log"
		exit 99
	fi
	sleep 0.1
done

varnishtest -v -t $vtc_timeout -Dredis_sock="$sock" "$@" &
vt=$!
wait "$vt"
rc=$?
vt=
stop
exit $rc
