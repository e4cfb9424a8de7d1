#!/bin/sh
# End to end, the Kubernetes manifests of deploy/k8s: renders every
# kustomization with kubectl kustomize, checks the rendered objects
# offline (references, selectors, probes, security settings), then runs
# the podman overlay (the cluster overlay, named for podman) with podman
# kube play (Redis with Sentinel: three pods of a redis-server and a
# Sentinel; the origin with its Sentinels resolved at start and its
# peer-watcher; the demo media server and publisher), plays the demo
# stream through the origin's published port with ffmpeg, checks that the
# origin found the Redis master through the Sentinels and runs as uid
# 10001 on a read-only root, and removes what it created (podman kube
# down, its network).  The peer-watcher must not reload while its peer
# set stays the same, and must render and reload once when a peer appears
# (a pod of the test's, named in the set) and once when it goes (the
# cluster VCL itself is tested by cluster.sh).  Last, a failover:
# the master's pod stops, the Sentinels promote a replica, the origin
# follows, and the old master's pod comes back as a replica.
#
# podman kube play runs Pods, Deployments and ConfigMaps; it ignores
# Services, the PodDisruptionBudget, readiness probes, preStop hooks,
# runAsNonRoot and fsGroup: those are checked in the rendered YAML only.
# Images, pods, network: localhost/streamroute:kube-test, streamroute-kube*.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/podman.sh"
need kubectl podman python3 ffmpeg ffprobe curl ss
command -v catatonit >/dev/null 2>&1 ||
    skip "catatonit is not installed: podman builds its pods' pause image with it (scripts/install-deps.sh test)"
python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
[ -x /usr/lib/cni/dnsname ] || [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = netavark ] ||
    skip "podman's CNI has no dnsname plugin: pod names would not resolve (scripts/install-deps.sh test)"

K8S=$REPO/deploy/k8s
IMAGE=localhost/streamroute:kube-test
PLAY=${E2E_PLAY_SECONDS:-15}
NET=streamroute-kube-$$

# 1. every kustomization renders
for k in base overlays/cluster overlays/podman; do
	out=$T/$(echo "$k" | tr / -).yaml
	kubectl kustomize "$K8S/$k" >"$out" 2>"$T/kustomize.log" ||
	    { cat "$T/kustomize.log" >&2; fail "kubectl kustomize $k failed"; }
done
say "kubectl kustomize ($(kubectl version --client --short 2>/dev/null || kubectl version --client 2>/dev/null | head -n 1)): base, overlays/cluster, overlays/podman render"

# 2. offline checks of what a cluster would get
python3 "$K8S/check-manifests.py" "$T/base.yaml" "$T/overlays-cluster.yaml" ||
    fail "the rendered manifests do not hold together (above)"

# 3. podman: its configuration for this machine, without touching /etc,
# and the base image (tests/e2e/lib/podman.sh, as container.sh)
podman_setup
podman_base_image

say "building $IMAGE (log: build.log)"
before=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null)
podman build --ulimit "nofile=$NOFILE" --ulimit "nproc=$NPROC" \
    -f "$REPO/docker/Dockerfile" --ignorefile "$REPO/docker/dockerignore" \
    -t "$IMAGE" "$REPO" >"$T/build.log" 2>&1 ||
    { tail -n 20 "$T/build.log" >&2; fail "podman build failed"; }
# the previous run's image, untagged now: ours to remove (not if in use)
[ -z "$before" ] || [ "$before" = "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ] ||
    podman rmi "$before" >/dev/null 2>&1 || true

# the origin's port on loopback and a second peer name: a kustomization of
# ours on top of the podman overlay, which stays what a user would play.
# Old field names and a relative base: kubectl 1.20's kustomize (v2.0.3)
# takes nothing else.  The origin is the pod's second container (the
# peer-watcher's patch puts its container first).
free_port ORIGIN_PORT
mkdir -p "$T/play"
rel=$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' \
    "$K8S/overlays/podman" "$T/play")
cat >"$T/play/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
bases:
- $rel
configMapGenerator:
- name: streamroute-origin
  behavior: merge
  literals:
  - SR_PEER_SERVICE=streamroute-kube-origin-pod-0 streamroute-kube-peer
  - SR_PEER_INTERVAL=2
patchesJson6902:
- target: {group: apps, version: v1, kind: Deployment, name: origin}
  path: port.json
YAML
cat >"$T/play/port.json" <<JSON
[{"op": "replace", "path": "/spec/template/spec/containers/1/ports/0/hostPort", "value": $ORIGIN_PORT},
 {"op": "replace", "path": "/spec/template/spec/containers/1/ports/0/hostIP", "value": "127.0.0.1"}]
JSON
# the peer that comes and goes
cat >"$T/peer.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: streamroute-kube-peer}
spec:
  containers:
  - {name: peer, image: $IMAGE, command: [sleep, "600"]}
YAML
kubectl kustomize "$T/play" >"$T/play.yaml" 2>"$T/kustomize.log" ||
    { cat "$T/kustomize.log" >&2; fail "kubectl kustomize of the test's overlay failed"; }

podman network create "$NET" >/dev/null || fail "podman network create failed"
logs() {
	for c in $(podman ps -a --format '{{.Names}}' | grep '^streamroute-kube-' | grep -v -- '-infra$'); do
		echo "--- $c" >&2
		podman logs --tail 15 "$c" >&2 2>&1
	done
}
# podman 4.3's kube down leaves the volumes it made of ConfigMaps: they
# are named after them
cms=$(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap": print(d["metadata"]["name"])' "$T/play.yaml") ||
    fail "cannot read the ConfigMaps of play.yaml"
on_exit 'podman kube down "$T/peer.yaml" >/dev/null 2>&1; podman kube down "$T/play.yaml" >"$T/kube-down.log" 2>&1; for v in $cms; do podman volume rm -f "$v" >/dev/null 2>&1; done; podman network rm -f "$NET" >/dev/null 2>&1'
say "podman kube play (network $NET), origin on 127.0.0.1:$ORIGIN_PORT"
podman kube play --network "$NET" "$T/play.yaml" >"$T/kube-play.log" 2>&1 ||
    { cat "$T/kube-play.log" >&2; logs; fail "podman kube play failed"; }

ORIGIN=http://127.0.0.1:$ORIGIN_PORT
o=streamroute-kube-origin-pod-0-origin
if ! wait_for 120 sh -c "curl -fsS -m 5 '$ORIGIN/demo/index.m3u8' | grep -q '\.ts'"; then
	logs
	fail "the demo stream is not served through the origin"
fi
curl -fsS -m 5 -o /dev/null "$ORIGIN/healthcheck/deep" || fail "/healthcheck/deep fails"

say "ffmpeg reads $ORIGIN/demo/live.m3u8 for $PLAY s"
timeout $((PLAY + 60)) ffmpeg -nostdin -hide_banner -loglevel error -re -i "$ORIGIN/demo/live.m3u8" \
    -t "$PLAY" -c copy -f mpegts -y "$T/played.ts" 2>"$T/ffmpeg-client.log"
rc=$?
[ $rc -eq 0 ] && [ ! -s "$T/ffmpeg-client.log" ] ||
    { cat "$T/ffmpeg-client.log" >&2; fail "ffmpeg exited $rc or reported errors"; }
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$T/played.ts")
awk -v d="$dur" -v p="$PLAY" 'BEGIN {exit !(d >= p - 0.5)}' || fail "played $dur s, not $PLAY"

# the origin runs as uid 10001 on a read-only root, and reached Redis
# through the three Sentinels
uid=$(podman exec "$o" id -u)
[ "$uid" = 10001 ] || fail "varnishd's container runs as uid $uid, not 10001"
podman exec "$o" touch /etc/probe 2>/dev/null && fail "the origin's root file system is writable"
sentinels=$(podman exec "$o" sh -c 'grep -o "sentinels = \"[^\"]*\"" /etc/varnish/streamroute/origin-settings.vcl')
n=$(echo "$sentinels" | tr ',' '\n' | grep -c ':26379')
[ "$n" -eq 3 ] || fail "the origin's settings name $n Sentinels, not 3: $sentinels"
master=$(podman exec streamroute-kube-redis-0-pod-0-sentinel redis-cli -p 26379 \
    SENTINEL get-master-addr-by-name mymaster | paste -sd: -)
replicas=$(podman exec streamroute-kube-redis-0-pod-0-sentinel redis-cli -p 26379 \
    SENTINEL replicas mymaster | grep -c '^ip$')
[ "$replicas" -eq 2 ] || fail "the Sentinels see $replicas replicas of $master, not 2"
route=$(podman exec streamroute-kube-redis-0-pod-0-redis redis-cli GET demo)
routed=$(podman exec "$o" varnishstat -n /var/lib/streamroute/varnish -1 -f 'STREAMROUTE.*.routed' | awk '{s += $2} END {print s + 0}')
[ "$routed" -gt 0 ] || fail "the origin's router routed nothing"

# the peer-watcher: no reload while the set stays, one when a peer
# appears, one when it goes
w=streamroute-kube-origin-pod-0-peer-watcher
reloads() { podman logs "$w" 2>&1 | grep -c 'reloaded'; }
podman logs "$w" 2>&1 | grep -q 'at start' || { logs; fail "the peer-watcher did not start"; }
sleep 6
[ "$(reloads)" -eq 0 ] || { logs; fail "the peer-watcher reloaded with no change of its peer set"; }
podman kube play --network "$NET" "$T/peer.yaml" >/dev/null 2>&1 || fail "podman kube play of the peer pod failed"
wait_for 30 sh -c "[ \$(podman logs $w 2>&1 | grep -c reloaded) -ge 1 ]" ||
    { logs; fail "the peer-watcher did not reload when a peer appeared"; }
podman logs "$w" 2>&1 | grep 'reloaded' | tail -n 1 | grep -q 'peers [0-9.]*:8080,[0-9.]*:8080 ' ||
    { logs; fail "the peer-watcher's set is not the two peers"; }
podman kube down "$T/peer.yaml" >/dev/null 2>&1
wait_for 30 sh -c "[ \$(podman logs $w 2>&1 | grep -c reloaded) -ge 2 ]" ||
    { logs; fail "the peer-watcher did not reload when a peer went"; }
sleep 6
[ "$(reloads)" -eq 2 ] || { logs; fail "the peer-watcher reloaded $(reloads) times for two changes"; }
vcls=$(podman exec "$o" varnishadm -n /var/lib/streamroute/varnish vcl.list | grep -c .)
[ "$vcls" -eq 3 ] || fail "varnishd has $vcls VCLs after two reloads, not 3"
curl -fsS -m 5 "$ORIGIN/demo/index.m3u8" | grep -q '\.ts' || fail "the stream is not served after the reloads"
# a Redis failover in pods: redis-0 (the master) stops; the two other
# Sentinels promote a replica, the origin follows them without a reload
# (/healthcheck/deep: Redis reachable), and redis-0, started again, asks
# the Sentinels and comes back as a replica of the new master, not as a
# second master
old=${master%:*}
sentinel() { podman exec streamroute-kube-redis-1-pod-0-sentinel redis-cli -p 26379 "$@"; }
podman pod stop -t 2 streamroute-kube-redis-0-pod-0 >/dev/null || fail "cannot stop the redis-0 pod"
wait_for 60 sh -c "podman exec streamroute-kube-redis-1-pod-0-sentinel redis-cli -p 26379 \
    SENTINEL get-master-addr-by-name mymaster | head -n 1 | grep -qv '^$old\$'" ||
    { logs; fail "the Sentinels did not promote a replica when the master's pod stopped"; }
new=$(sentinel SENTINEL get-master-addr-by-name mymaster | head -n 1)
wait_for 30 curl -fsS -m 2 -o /dev/null "$ORIGIN/healthcheck/deep" ||
    { logs; fail "the origin did not follow the failover to $new"; }
podman pod start streamroute-kube-redis-0-pod-0 >/dev/null || fail "cannot start the redis-0 pod again"
wait_for 60 sh -c "podman exec streamroute-kube-redis-0-pod-0-redis redis-cli INFO replication |
    tr -d '\r' | grep -qx 'master_host:$new'" ||
    { logs; fail "redis-0 did not come back as a replica of the new master $new"; }
# and it started so, not as a master that the Sentinels then turn round
podman logs streamroute-kube-redis-0-pod-0-redis 2>&1 | grep 'streamroute-k8s: redis' | tail -n 1 |
    grep -q "replica of $new 6379" ||
    { logs; fail "redis-0 restarted as $(podman logs streamroute-kube-redis-0-pod-0-redis 2>&1 | grep 'streamroute-k8s: redis' | tail -n 1)"; }
say "PASS: played ${dur}s through the origin pod; Redis master $master with $replicas replicas, route demo -> $route; routed $routed; peer-watcher reloaded on each of 2 peer-set changes only; failover $old -> $new followed, redis-0 back as its replica"
