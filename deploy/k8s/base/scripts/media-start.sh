#!/bin/sh
# The demo media server: registers its streams in the Redis master the
# Sentinels name at start (the demo's registration helper takes one
# address; after a failover it needs a restart).
set -eu
. /opt/streamroute-k8s/lib.sh
i=0
until m=$(current_master); do
	i=$((i + 1))
	[ $i -lt 120 ] || die "no Sentinel names a master"
	sleep 1
done
SR_REDIS="${m% *}:${m#* }"
export SR_REDIS
exec "${SR_ENTRYPOINT:-/usr/local/bin/streamroute-entrypoint}" media "$@"
