# tests/e2e/lib/podman.sh -- sourced after common.sh by the tests that
# run containers (container.sh, kube.sh, package.sh).
#
# podman_setup: podman's configuration for this machine, without touching
# /etc (CONTAINERS_CONF in $T): runc (crun refuses this kernel's hybrid
# cgroups), cgroupfs (no systemd), and the ulimits a podman process has
# (root cannot raise them here, and podman lowers its own: read from a
# short-lived one).  Sets NOFILE and NPROC.
#
# podman_base_image: docker.io/library/debian:bookworm, made with
# debootstrap when it is missing (no registry can be reached).
BASE=docker.io/library/debian:bookworm

podman_setup() {
	need podman
	command -v runc >/dev/null 2>&1 || skip "runc is not installed (scripts/install-deps.sh test)"
	[ "$(id -u)" -eq 0 ] || skip "needs root (podman with runc, cgroupfs)"
	podman system service --time=5 "unix://$T/podman.sock" >/dev/null 2>&1 &
	spid=$!
	sleep 1
	NOFILE=$(podman_limit 'Max open files' "$spid")
	NPROC=$(podman_limit 'Max processes' "$spid")
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	say "podman's limits: nofile=$NOFILE nproc=$NPROC"
	cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$NOFILE", "nproc=$NPROC"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
	export CONTAINERS_CONF="$T/containers.conf"
}
podman_limit() {
	awk -v n="$1" 'index($0, n) == 1 {print $(NF - 2) ":" $(NF - 1)}' "/proc/$2/limits" 2>/dev/null ||
	    awk -v n="$1" 'index($0, n) == 1 {print $(NF - 2) ":" $(NF - 1)}' /proc/$$/limits
}

podman_base_image() {
	podman image exists "$BASE" && return 0
	need debootstrap
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	say "making the $BASE base image with debootstrap from $mirror"
	debootstrap --variant=minbase bookworm "$T/rootfs" "$mirror" >"$T/debootstrap.log" 2>&1 ||
	    { tail -n 5 "$T/debootstrap.log" >&2; fail "debootstrap failed"; }
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		cp /etc/apt/sources.list.d/debian.sources "$T/rootfs/etc/apt/sources.list.d/"
		rm -f "$T/rootfs/etc/apt/sources.list"
	fi
	tar --numeric-owner -C "$T/rootfs" -cf "$T/base.tar" . || fail "tar failed"
	rm -rf "$T/rootfs"
	podman import --change 'CMD ["bash"]' "$T/base.tar" "$BASE" >/dev/null ||
	    fail "podman import failed"
	rm -f "$T/base.tar"
}
