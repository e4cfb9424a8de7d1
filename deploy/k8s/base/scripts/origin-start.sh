#!/bin/sh
# The origin container's command: the image's entrypoint (role origin),
# with the Sentinels of SR_SENTINEL_HOSTS resolved to numeric addresses
# into SR_SENTINELS, and, in the cluster overlay (SR_PEER_SERVICE set),
# the peers found now in SR_CLUSTER_PEERS/SR_CLUSTER_SELF (then kept
# current by the peer-watcher).  Everything else is the entrypoint's
# (streamroute-settings --from-env renders the settings).
set -eu
. /opt/streamroute-k8s/lib.sh
if [ -n "${SR_PEER_SERVICE:-}" ]; then
	SR_CLUSTER_SELF="$(my_ip):${SR_PEER_PORT:-8080}"
	# an origin is a peer once it is ready: the first one starts alone
	SR_CLUSTER_PEERS=$(peer_set)
	export SR_CLUSTER_PEERS SR_CLUSTER_SELF
	echo "$SR_CLUSTER_PEERS" >"$SR_WORK/cluster-peers.new"
	mv "$SR_WORK/cluster-peers.new" "$SR_WORK/cluster-peers"
	say "cluster peers: ${SR_CLUSTER_PEERS:-none} (self $SR_CLUSTER_SELF)"
fi
sentinels_resolve || exit 1
say "Sentinels: ${SR_SENTINELS:-none}"
exec "${SR_ENTRYPOINT:-/usr/local/bin/streamroute-entrypoint}" origin \
    -n "$SR_WORK/varnish" "$@"
