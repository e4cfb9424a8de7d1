#!/bin/sh
# Installs what building, running and testing streamroute needs, from
# Debian bookworm's archive.  Run as root.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	python3 python3-docutils \
	varnish libvarnishapi-dev libhiredis-dev \
	redis-server redis-tools curl ca-certificates iproute2 procps \
	nginx libnginx-mod-rtmp ffmpeg \
	chromium fonts-dejavu-core \
	podman buildah runc debootstrap podman-compose \
	wrk valgrind
# npm fetches hls.js and playwright-core; a machine with its own Node.js
# (whose npm conflicts with Debian's) keeps it
command -v npm >/dev/null 2>&1 ||
	apt-get install -y -q --no-install-recommends nodejs npm
