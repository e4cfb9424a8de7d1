#!/bin/sh
# The reload soak in its smoke mode, for make check-system: 40 vcl.load /
# vcl.use / vcl.discard cycles and 4 varnishreload runs under player-like
# load, 0 failed requests, backends and VCLs bounded, no panic.  The full
# soak (200 cycles, 20 varnishreload runs) and its valgrind mode are
# tests/soak/reload.sh; docs/guarantees.md, "Reload soak", has the
# figures.
exec sh "$(dirname "$0")/../soak/reload.sh" --smoke "$@"
