#!/bin/sh
#
# The origins of the cluster_*.vtc tests: N varnishd that the test starts
# as processes (lib/varnishd-bg.sh, each with -n DIR/oI, -a 127.0.0.1:0,
# -p vcl_path=DIR/cI and DIR/boot.vcl), made into one cluster here once
# they listen: each gets the shipped settings (lib/settings.sh) with the
# N listen addresses as its peers and its own as self, the test's
# options after them, cluster.vcl beside them (as "make install" puts it
# beside the shipped settings), and loads the shipped origin.vcl.
#	sh cluster.sh boot DIR       write DIR/boot.vcl (before the start)
#	sh cluster.sh load DIR N [streamroute-settings options]
# Afterwards DIR/oI.port is origin I's port.
lib=$(dirname "$0")
dir=$2
case $1 in
boot)
	printf 'vcl 4.1;\nbackend default none;\n' > "$dir/boot.vcl"
	exit
	;;
esac
n=$3
shift 3
peers=
i=1
while [ $i -le "$n" ]; do
	sh "$lib/listen-port.sh" "$dir/o$i" "$dir/o$i.port" || exit 1
	peers="$peers${peers:+,}127.0.0.1:$(cat "$dir/o$i.port")"
	i=$((i + 1))
done
i=1
while [ $i -le "$n" ]; do
	sh "$lib/settings.sh" "$dir/c$i" --cluster-peers "$peers" \
	    --cluster-self "127.0.0.1:$(cat "$dir/o$i.port")" "$@" || exit 1
	ln -sf "$lib/../../../vcl/cluster.vcl" "$dir/c$i/streamroute/cluster.vcl"
	varnishadm -t 120 -n "$dir/o$i" vcl.load cluster "$lib/../../../vcl/origin.vcl" &&
	    varnishadm -n "$dir/o$i" vcl.use cluster >/dev/null || exit 1
	i=$((i + 1))
done
# Until every origin sees every peer healthy (a peer probed while it
# still ran boot.vcl is sick for a probe or two): only then do they all
# agree on the owners.  At most 15 s.
t=0
while [ $t -lt 150 ]; do
	sick=0
	i=1
	while [ $i -le "$n" ]; do
		varnishadm -n "$dir/o$i" backend.list 'cluster.sr_*' |
		    grep -q ' healthy ' || sick=1
		varnishadm -n "$dir/o$i" backend.list 'cluster.sr_*' |
		    grep -q ' sick ' && sick=1
		i=$((i + 1))
	done
	[ $sick = 0 ] && exit 0
	t=$((t + 1))
	sleep 0.1
done
echo "the origins do not all see each other healthy" >&2
exit 1
