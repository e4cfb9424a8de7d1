#!/bin/sh
# Installs what building, running and testing streamroute needs, from
# Debian bookworm's archive.  Run as root.
#
# STREAMROUTE_DEPS=image (the container build) installs only what the
# image needs: build, run and the media-server tier, not the test tools.
set -eu
export DEBIAN_FRONTEND=noninteractive
install() {
	apt-get install -y -q --no-install-recommends "$@"
}
apt-get update -q
install \
	build-essential autoconf automake libtool pkg-config \
	python3 python3-docutils \
	varnish libvarnishapi-dev libhiredis-dev \
	redis-server redis-tools curl ca-certificates iproute2 procps \
	nginx libnginx-mod-rtmp ffmpeg
[ "${STREAMROUTE_DEPS:-all}" = image ] && exit 0

# the tests: browser players, containers (podman with runc; dnsname lets
# compose services find each other), benchmarks
install \
	chromium fonts-dejavu-core \
	podman buildah runc debootstrap podman-compose \
	golang-github-containernetworking-plugin-dnsname \
	wrk valgrind
# npm fetches hls.js and playwright-core; a machine with its own Node.js
# (whose npm conflicts with Debian's) keeps it
command -v npm >/dev/null 2>&1 || install nodejs npm
