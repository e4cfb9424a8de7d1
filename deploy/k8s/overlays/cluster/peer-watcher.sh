#!/bin/sh
# The origin cluster's peer-watcher, a container beside varnishd in each
# origin pod.  Every SR_PEER_INTERVAL seconds it resolves the headless
# Service of the origins (SR_PEER_SERVICE: its name, or several names,
# space-separated) to the addresses of the ready origins; when that set
# changes it renders the settings again through the image's entrypoint
# (streamroute-settings --from-env, with SR_CLUSTER_PEERS "ip:port,..."
# and SR_CLUSTER_SELF, this pod's ip:port) and runs varnishreload.  The
# set it starts from is the one origin-start.sh rendered at start.
#
# A name that resolves to nothing (DNS trouble, every origin unready)
# keeps the last set: the cluster shrinks only when DNS says so.  A failed
# reload keeps the old VCL and is retried at the next turn.
set -u
. /opt/streamroute-k8s/lib.sh
: "${SR_PEER_INTERVAL:=5}"
self="$(my_ip):${SR_PEER_PORT:-8080}"
state=$SR_WORK/cluster-peers
# varnishd (the other container) renders the first set and starts
i=0
until [ -e "$state" ] && varnishadm -n "$SR_WORK/varnish" ping >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 300 ] || die "varnishd did not start"
	sleep 1
done
last=$(cat "$state")
say "peer-watcher: peers $last self $self (at start)"
while :; do
	sleep "$SR_PEER_INTERVAL"
	peers=$(peer_set)
	[ -n "$peers" ] && [ "$peers" != "$last" ] || continue
	if (SR_CLUSTER_PEERS=$peers SR_CLUSTER_SELF=$self &&
	    export SR_CLUSTER_PEERS SR_CLUSTER_SELF && sentinels_resolve &&
	    "${SR_ENTRYPOINT:-/usr/local/bin/streamroute-entrypoint}" settings >/dev/null) &&
	    "${SR_VARNISHRELOAD:-/usr/share/varnish/varnishreload}" -n "$SR_WORK/varnish" -m 3 >/tmp/varnishreload.log 2>&1; then
		last=$peers
		echo "$peers" >"$state"
		say "peer-watcher: reloaded: peers $peers self $self"
	else
		say "peer-watcher: render or reload failed for peers $peers, retrying: $(tail -n 3 /tmp/varnishreload.log 2>/dev/null)"
	fi
done
