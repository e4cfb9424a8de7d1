#!/bin/sh
# A Redis pod's server: a replica of the master the Sentinels name, or,
# when no Sentinel answers (the first start of the set), the master itself
# if this is the seed pod (SR_REDIS_SEED resolves to this pod's address)
# and a replica of the seed if not.
# So a restarted pod rejoins as a replica of the current master, never as
# a second master.
set -eu
. /opt/streamroute-k8s/lib.sh
me=$(my_ip)
of=
if m=$(current_master); then
	[ "${m% *}" = "$me" ] || of=$m
else
	ip=$(resolve "$SR_REDIS_SEED" 120 | head -n 1) || die "cannot resolve $SR_REDIS_SEED"
	[ "$ip" = "$me" ] || of="$ip 6379"
fi
say "redis $me: ${of:+replica of $of}${of:-master}"
# shellcheck disable=SC2086
exec redis-server --bind 0.0.0.0 --protected-mode no --save '' \
    --appendonly no --dir /data --replica-announce-ip "$me" \
    ${of:+--replicaof $of}
