#-
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# reference.vcl -- the benchmark's reference: the shipped caching policy
# (vcl/streamroute.vcl and the same origin-settings.vcl) with a STATIC
# backend instead of router.backend(): no Redis, no route cache, no
# dynamic backends.  The limit for this design.
#
# Loaded by bench/run.sh with vcl_path=<run dir>/vcl:<repo>/vcl, where
# <run dir>/vcl holds streamroute/origin-settings.vcl (the shipped file
# with the bench's Redis) and bench-media.vcl (the static backend of the
# media server), written by bench.py.
#
# Only the routing step differs: the library's sr_backend_fetch is
# sr_route (router.backend()) then sr_backend_prepare; this one sets the
# static backend instead of sr_route.  Everything else is the library.

vcl 4.1;

import std;
import streamroute;

include "bench-media.vcl";
include "streamroute/origin-settings.vcl";

# Runs before the library's vcl_backend_fetch (VCL concatenates subs of
# the same name in include order) and returns, so the library's routing
# never runs.
sub vcl_backend_fetch {
	set bereq.backend = media;
	call sr_backend_prepare;
	return (fetch);
}

# The library, found along vcl_path (the repository's vcl/ directory).
include "streamroute.vcl";
