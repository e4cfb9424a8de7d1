#-
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# minimal.vcl -- the benchmark's floor: what a Varnish user would write by
# hand for the shipped caching policy with one static backend.  Plain VCL,
# no VMOD (not even std), no settings file.  bench.py counts its
# instructions per hit and per miss under callgrind against the shipped
# origin (issue 12: origin within 1.10x per hit and 1.05x per miss).
#
# Loaded with vcl_path=<run dir>/vcl, where bench.py writes bench-media.vcl
# (backend media: the bench's media server, the default backend).
#
# What it does, as the shipped VCL (values of vcl/origin-settings.vcl):
#   - one object per URL (hash_data(req.url), not the Host);
#   - TTL and grace per type, errors (any status but 200) 1 s without
#     grace, keep 0: live.m3u8 60 s + 30 s, other .m3u8/.mpd 1 s + 5 s,
#     segments (.ts .m4s .mp4 .aac .vtt) 60 s + 60 s, anything else 1 s;
#     the media server's Cache-Control is ignored (return (deliver) skips
#     the built-in VCL, which would make "no-cache" playlists hit-for-miss);
#   - playlists stored gzipped (do_gzip), gunzipped for clients without
#     gzip;
#   - a failed background fetch (5xx) is abandoned: the stale copy stays;
#   - CORS headers on every response, errors included, and the OPTIONS
#     preflight answer (204);
#   - Cache-Control towards the CDN: max-age = the TTL with Varnish's own
#     Age header, stale-while-revalidate and stale-if-error = the grace
#     (playlists: stale-while-revalidate only in CDN-Cache-Control);
#     errors max-age=1, synthetic answers no-store;
#   - GET and HEAD only (405 otherwise), /healthcheck answered here.
#
# What it does not do, unlike the shipped VCL: no routing (no Redis, no
# route cache, no dynamic backends, so no 404/400/503 per stream); no URL
# checks (key syntax, traversal, encoding, length) and no prefix; the query
# string stays in the cache key (the shipped VCL keeps only the LL-HLS
# directives) and LL-HLS blocking reloads get no longer timeout; no
# per-type first-byte timeouts; Range, Cookie and Authorization are not
# removed from the backend request and Accept-Encoding is not removed for
# segments; gzipped segments are not gunzipped; a 3xx from the media
# server is cached as an error rather than turned into a 502; a media
# server that cannot be reached gets Varnish's built-in 503 (not cached,
# no Retry-After) instead of a 1 s error object; the Cache-Control
# values are literals here (the shipped VCL makes them from beresp.ttl and
# beresp.grace, with streamroute.cache_control()); no /status page,
# /healthcheck/deep, debug headers or stale-delivery log record.

vcl 4.1;

include "bench-media.vcl";

sub vcl_recv {
	if (req.method == "OPTIONS") {
		return (synth(204));
	}
	if (req.method != "GET" && req.method != "HEAD") {
		return (synth(405));
	}
	if (req.url == "/healthcheck") {
		return (synth(200, "OK"));
	}
	return (hash);
}

sub vcl_hash {
	hash_data(req.url);
	return (lookup);
}

sub vcl_backend_response {
	if (beresp.status >= 500 && bereq.is_bgfetch) {
		return (abandon);
	}
	if (beresp.status != 200) {
		set beresp.ttl = 1s;
		set beresp.grace = 0s;
		set beresp.http.Cache-Control = "max-age=1";
	} elsif (bereq.url ~ "\.(ts|m4s|mp4|aac|vtt)$") {
		set beresp.ttl = 60s;
		set beresp.grace = 60s;
		set beresp.http.Cache-Control = "max-age=60, stale-while-revalidate=60, stale-if-error=60";
	} elsif (bereq.url ~ "/live\.m3u8$") {
		set beresp.ttl = 60s;
		set beresp.grace = 30s;
		set beresp.http.Cache-Control = "max-age=60, stale-while-revalidate=30, stale-if-error=30";
		set beresp.do_gzip = true;
	} elsif (bereq.url ~ "\.(m3u8|mpd)$") {
		set beresp.ttl = 1s;
		set beresp.grace = 5s;
		set beresp.http.Cache-Control = "max-age=1, stale-if-error=5";
		set beresp.http.CDN-Cache-Control = "max-age=1, stale-while-revalidate=5, stale-if-error=5";
		set beresp.do_gzip = true;
	} else {
		set beresp.ttl = 1s;
		set beresp.grace = 0s;
		set beresp.http.Cache-Control = "max-age=1";
	}
	set beresp.keep = 0s;
	return (deliver);
}

sub vcl_deliver {
	set resp.http.Access-Control-Allow-Origin = "*";
	set resp.http.Access-Control-Allow-Methods = "GET, OPTIONS";
	set resp.http.Access-Control-Allow-Headers = "DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range";
	set resp.http.Access-Control-Expose-Headers = "Content-Length,Content-Range";
}

sub vcl_synth {
	set resp.http.Access-Control-Allow-Origin = "*";
	set resp.http.Access-Control-Allow-Methods = "GET, OPTIONS";
	set resp.http.Access-Control-Allow-Headers = "DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range";
	if (resp.status == 204) {
		set resp.http.Access-Control-Max-Age = "1728000";
	} else {
		set resp.http.Access-Control-Expose-Headers = "Content-Length,Content-Range";
		set resp.http.Cache-Control = "no-store";
	}
}
