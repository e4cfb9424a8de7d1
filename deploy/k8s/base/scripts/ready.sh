#!/bin/sh
# Readiness: not while draining (drain.sh), else /healthcheck/deep
# (Redis reachable).  An exec probe, so that draining needs no VCL switch.
. /opt/streamroute-k8s/lib.sh
[ ! -e "$SR_WORK/draining" ] || exit 1
exec curl -fsS -m 2 -o /dev/null "http://127.0.0.1:${SR_PORT:-8080}/healthcheck/deep"
