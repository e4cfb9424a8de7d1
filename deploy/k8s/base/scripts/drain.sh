#!/bin/sh
# preStop: fail readiness first (ready.sh), wait until the endpoints
# controller and the load balancers have taken the pod out, then until the
# requests in flight are answered (no established client connection left;
# varnishd closes idle keep-alive connections after timeout_idle), within
# terminationGracePeriodSeconds.  Then the kubelet sends SIGTERM.
. /opt/streamroute-k8s/lib.sh
touch "$SR_WORK/draining"
sleep "${SR_DRAIN_UNREADY_SECONDS:-15}"
i=0
while [ $i -lt "${SR_DRAIN_MAX_SECONDS:-30}" ]; do
	n=$(ss -Htn state established "sport = :${SR_PORT:-8080}" 2>/dev/null | wc -l)
	[ "$n" -gt 0 ] || break
	i=$((i + 1))
	sleep 1
done
