#!/bin/sh
# The benchmark harness keeps working: bench/run.sh --smoke runs every
# scenario briefly, origin against reference, and exits 0 when it could.
# Benchmarks are not tests: no figure is asserted here.
cd "$(dirname "$0")/../.." || exit 99
exec bench/run.sh --smoke
