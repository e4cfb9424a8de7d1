# deploy/k8s scripts: shared functions, sourced.  Names are resolved here,
# when a pod starts: the VMOD and Redis Sentinel want numeric addresses.

# the pod's writable state (an emptyDir): varnishd -n $SR_WORK/varnish,
# the drain mark, the cluster's peer set
SR_WORK=/var/lib/streamroute

say() { echo "streamroute-k8s: $*" >&2; }
die() { say "$*"; exit 1; }

# resolve NAME [TRIES] -- its IPv4 addresses, one a line, waiting up to
# TRIES seconds for it to appear in DNS (a pod that starts before its
# peers)
resolve() {
	i=0
	while :; do
		a=$(getent ahostsv4 "$1" | awk '{print $1}' | sort -u)
		[ -z "$a" ] || { echo "$a"; return 0; }
		i=$((i + 1))
		[ $i -lt "${2:-60}" ] || return 1
		sleep 1
	done
}

# numeric_list "host:port host:port ..." -- "ip:port,ip:port,..." (every
# address of every name; a name that does not resolve is left out)
numeric_list() {
	for hp in $(echo "$1" | tr ',' ' '); do
		for ip in $(resolve "${hp%:*}" "${2:-60}"); do
			echo "$ip:${hp##*:}"
		done
	done | sort -u | paste -sd, -
}

# current_master -- "ip port" of the master as the Sentinels in
# SR_SENTINEL_HOSTS see it now, or nothing (no Sentinel answers yet)
current_master() {
	for hp in $SR_SENTINEL_HOSTS; do
		for ip in $(resolve "${hp%:*}" 1); do
			m=$(timeout 3 redis-cli -h "$ip" -p "${hp##*:}" SENTINEL \
			    get-master-addr-by-name "${SR_SENTINEL_MASTER:-mymaster}" \
			    2>/dev/null | paste -sd' ' -)
			case $m in
			[0-9]*' '[0-9]*) echo "$m"; return 0 ;;
			esac
		done
	done
	return 1
}

# my_ip -- this pod's address: POD_IP from the downward API, or the first
# address of the pod's interface (podman kube play has no status.podIP)
my_ip() {
	[ -n "${POD_IP:-}" ] && { echo "$POD_IP"; return; }
	hostname -i 2>/dev/null | tr ' ' '\n' | grep -v '^127\.' | grep . | head -n 1
}

# sentinels_resolve -- export SR_SENTINELS, the Sentinels of
# SR_SENTINEL_HOSTS resolved now (nothing to do without them)
sentinels_resolve() {
	[ -n "${SR_SENTINEL_HOSTS:-}" ] || return 0
	SR_SENTINELS=$(numeric_list "$SR_SENTINEL_HOSTS")
	[ -n "$SR_SENTINELS" ] ||
	    { say "no Sentinel of '$SR_SENTINEL_HOSTS' resolves"; return 1; }
	export SR_SENTINELS
}

# peer_set -- "ip:port,..." of the origins behind SR_PEER_SERVICE, sorted
# (the cluster's peers, this pod included); nothing when none resolves
peer_set() {
	for n in $SR_PEER_SERVICE; do
		resolve "$n" 1
	done | sort -u | sed "s/\$/:${SR_PEER_PORT:-8080}/" | paste -sd, -
}
