#!/bin/sh
# Installs the Debian bookworm packages of scripts/packages.txt (the one
# package list).  Run as root.
#
#   scripts/install-deps.sh              every group (CI: build, run, test)
#   scripts/install-deps.sh GROUP...     those groups, e.g. "build run media"
#                                        (the container image)
#
# The group "player" (nodejs npm) is left out when npm is already there,
# and "kube" (kubernetes-client) when kubectl is.
set -eu
export DEBIAN_FRONTEND=noninteractive
LIST=$(dirname "$0")/packages.txt
groups() { awk '$1 !~ /^#/ && NF > 1 && !seen[$1]++ {print $1}' "$LIST"; }

[ $# -gt 0 ] || set -- $(groups)
want=
for g in "$@"; do
	groups | grep -qx "$g" ||
	    { echo "install-deps.sh: no group '$g' in $LIST ($(groups | paste -sd' ' -))" >&2; exit 2; }
	[ "$g" = player ] && command -v npm >/dev/null 2>&1 && continue
	[ "$g" = kube ] && command -v kubectl >/dev/null 2>&1 && continue
	want="$want $g"
done
pkgs=$(awk -v want="$want " '$1 !~ /^#/ && index(want, " " $1 " ") {
    for (i = 2; i <= NF; i++) print $i }' "$LIST")
[ -n "$pkgs" ] || exit 0
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs
