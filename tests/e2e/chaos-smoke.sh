#!/bin/sh
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# The chaos run's smoke mode (tests/chaos/run.sh --smoke), for
# `make check-system`: player-like load on 40 streams through the shipped
# VCL while Redis is killed, frozen, flapped and failed over by Sentinel,
# a media server is killed, answers 5xx, answers slowly, and junk keys
# flood the route cache; each fault once, about 2.5 minutes.  Fails when
# content in the cache fails, an error is not a fast 5xx, varnishd
# panics or drops a session or request, or a fault is not recovered
# from without a reload.  Its table: tests/e2e/artefacts/chaos-smoke.txt.
exec "$(dirname "$0")/../chaos/run.sh" --smoke "$@"
