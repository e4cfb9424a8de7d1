# Runs a varnishd that varnishtest starts as a "process" (for the
# cdn_edge_*.vtc tests, whose thousands of requests would overflow
# varnishtest's log buffer as "varnish vN"):
#	sh varnishd-bg.sh OUTFILE [varnishd options]
# It returns at once on TERM (and passes it on), while varnishd takes
# its own 2 s to stop: varnishtest's cleanup after a failure (TERM, 1 s,
# KILL to the process group, which "timeout" has left) must not wait for
# it.  varnishd's output goes to OUTFILE for the same reason.  "timeout"
# bounds varnishd's life if varnishtest itself is killed.
out=$1
shift
timeout 120 varnishd -F "$@" > "$out" 2>&1 &
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait $pid
