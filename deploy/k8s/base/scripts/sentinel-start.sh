#!/bin/sh
# A Redis pod's Sentinel: monitors the master the other Sentinels name, or
# the seed pod on the first start.  Its configuration is rewritten by
# Sentinel itself, so it lives in the pod's emptyDir.
set -eu
. /opt/streamroute-k8s/lib.sh
me=$(my_ip)
if ! m=$(current_master); then
	ip=$(resolve "$SR_REDIS_SEED" 120 | head -n 1) || die "cannot resolve $SR_REDIS_SEED"
	m="$ip 6379"
fi
say "sentinel $me: monitors ${SR_SENTINEL_MASTER:-mymaster} at $m"
cat >/data/sentinel.conf <<CONF
port 26379
bind 0.0.0.0
protected-mode no
dir /data
sentinel announce-ip $me
sentinel monitor ${SR_SENTINEL_MASTER:-mymaster} $m 2
sentinel down-after-milliseconds ${SR_SENTINEL_MASTER:-mymaster} ${SR_SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout ${SR_SENTINEL_MASTER:-mymaster} 20000
sentinel parallel-syncs ${SR_SENTINEL_MASTER:-mymaster} 1
CONF
exec redis-server /data/sentinel.conf --sentinel
