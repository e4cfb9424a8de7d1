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
# with the bench's Redis) and bench-backends.vcl (the static backends and
# sub bench_route, which picks one of them: one string comparison).
#
# Composability: sr_backend_fetch in the library does the routing AND the
# preparation of the backend request, and returns (fetch), so a VCL cannot
# replace only the routing step.  The preparation below is therefore a
# copy of the part of sr_backend_fetch after the routing (keep in sync);
# everything else is the library itself.

vcl 4.1;

import std;
import streamroute;

include "bench-backends.vcl";
include "streamroute/origin-settings.vcl";

# Runs before the library's vcl_backend_fetch (VCL concatenates subs of
# the same name in include order) and returns, so the library's routing
# never runs.
sub vcl_backend_fetch {
	call bench_route;

	# --- copy of sr_backend_fetch after router.backend() ---
	set bereq.url = bereq.http.sr-url;
	call sr_classify;
	call sr_settings_fetch;
	if (bereq.http.sr-type == "segment") {
		unset bereq.http.Accept-Encoding;
	}
	unset bereq.http.Range;
	unset bereq.http.Cookie;
	unset bereq.http.Authorization;
	call sr_bereq_clean;
	return (fetch);
	# --- end of copy ---
}

# The library, found along vcl_path (the repository's vcl/ directory).
include "streamroute.vcl";
