#!/bin/sh
# streamroute benchmarks: origin vs reference, side by side.
#   bench/run.sh            full run (about 15 minutes), results in bench/results/
#   bench/run.sh --smoke    seconds: checks the harness works (CI)
#   bench/run.sh --help     every option
# Needs: scripts/install-deps.sh build run media bench (scripts/packages.txt),
# and the VMOD built (./autogen.sh && ./configure && make).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -e "$here/../src/.libs/libvmod_streamroute.so" ]; then
	echo "bench: build the VMOD first (make)" >&2
	exit 2
fi
exec python3 "$here/bench.py" "$@"
