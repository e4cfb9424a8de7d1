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
	redis-server redis-tools curl ca-certificates
