#-
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# streamroute.vcl -- the behaviour of the streamroute live-HLS origin.
#
# Every piece is a subroutine named sr_* that you can call from your own
# VCL; at the end of this file the built-in vcl_* subroutines call them,
# so that including this file is enough.  Each sr_* subroutine ends with
# the return the origin needs (so that Varnish's built-in VCL, which
# would pass cookie requests and make "no-cache" playlists uncacheable,
# never runs): put your own code before the call.
#
# The including VCL must provide (origin.vcl and origin-settings.vcl do):
#	vcl 4.1; import std; import streamroute;
#	a streamroute.router object named "router", made in vcl_init;
#	sub sr_settings, sub sr_settings_fetch, sub sr_settings_ttl,
#	acl sr_status_acl.
#
# Internal headers are named sr-*: they are removed from client
# requests, never sent to media servers and never delivered.
# See docs/vcl.md.

#######################################################################
# Client side

# The internal headers, all of them.  VCL cannot unset by pattern, so
# each of sr_req_clean, sr_bereq_clean and sr_resp_clean names this
# same complete list, in this order; a new sr-* header goes into all
# three (tests/vcl/o00031.vtc sends and checks every one).
#	sr-prefix sr-cors-origin sr-debug sr-key sr-url sr-query
#	sr-synth sr-stale sr-redis sr-type sr-blocking sr-outcome
#	sr-backend

sub sr_req_clean {
	unset req.http.sr-prefix;
	unset req.http.sr-cors-origin;
	unset req.http.sr-debug;
	unset req.http.sr-key;
	unset req.http.sr-url;
	unset req.http.sr-query;
	unset req.http.sr-synth;
	unset req.http.sr-stale;
	unset req.http.sr-redis;
	unset req.http.sr-type;
	unset req.http.sr-blocking;
	unset req.http.sr-outcome;
	unset req.http.sr-backend;
}

sub sr_recv {
	# Never trust a client's copy of our internal headers.
	call sr_req_clean;
	call sr_settings;

	# CORS preflight: any path, answered here.
	if (req.method == "OPTIONS") {
		return (synth(204));
	}
	if (req.method != "GET" && req.method != "HEAD") {
		return (synth(405));
	}

	# Load balancer checks: never cached, never routed.
	if (req.url ~ "^/healthcheck(\?|$)") {
		set req.http.sr-synth = "health";
		return (synth(200, "OK"));
	}
	if (req.url ~ "^/healthcheck/deep(\?|$)") {
		set req.http.sr-synth = "health";
		if (router.redis_ok()) {
			return (synth(200, "OK"));
		}
		return (synth(503, "Redis unreachable"));
	}
	if (req.url ~ "^/status(\?|$)") {
		if (client.ip !~ sr_status_acl) {
			return (synth(403));
		}
		set req.http.sr-synth = "status";
		return (synth(200, "OK"));
	}

	# The VMOD checks the path (key syntax, traversal, encoding,
	# length); the query string is bounded here.
	if (req.url ~ "^.{2049}") {
		return (synth(400, "URL too long"));
	}
	set req.http.sr-key = streamroute.key(req.url, req.http.sr-prefix);
	if (req.http.sr-key == "") {
		return (synth(400, "Bad stream path"));
	}

	# The URL sent to the media server, which is also the cache key:
	# the path without the prefix (key() proved it is there, so
	# dropping as many segments as it has drops exactly it) ...
	set req.http.sr-url = regsub(req.url, "[?#].*$", "");
	if (req.http.sr-prefix ~ "^/[^/]+$") {
		set req.http.sr-url = regsub(req.http.sr-url, "^/[^/]+", "");
	} elsif (req.http.sr-prefix ~ "^/[^/]+/[^/]+$") {
		set req.http.sr-url =
		    regsub(req.http.sr-url, "^/[^/]+/[^/]+", "");
	} elsif (req.http.sr-prefix ~ "^/[^/]+/[^/]+/[^/]+$") {
		set req.http.sr-url =
		    regsub(req.http.sr-url, "^/[^/]+/[^/]+/[^/]+", "");
	} elsif (req.http.sr-prefix != "") {
		return (synth(500, "Unsupported sr-prefix setting"));
	}

	# ... plus, on a playlist, the Low-Latency HLS delivery directives,
	# in one fixed order.  Every other query parameter (cache busters,
	# tokens), and the directives on anything but a playlist, where
	# they mean nothing, are dropped: they would split the cache (and
	# make a segment fetch a blocking reload) without changing the
	# answer.
	if (req.url ~ "\?" && req.http.sr-url ~ "(?i)\.m3u8$") {
		call sr_recv_llhls;
	}

	# Skip the built-in vcl_recv: it would pass requests that carry a
	# Cookie or Authorization header, and so never share them.
	return (hash);
}

sub sr_recv_llhls {
	# Numbers without leading zeros ("007" is "7", "00" is "0"), so
	# that one directive is one cache object.
	set req.http.sr-query = "";
	if (req.url ~ "[?&]_HLS_msn=") {
		set req.http.sr-query = req.http.sr-query + "&_HLS_msn=" +
		    regsub(regsub(req.url, "^.*[?&]_HLS_msn=([^&#]*).*$", "\1"),
		    "^0+([0-9])", "\1");
	}
	if (req.url ~ "[?&]_HLS_part=") {
		set req.http.sr-query = req.http.sr-query + "&_HLS_part=" +
		    regsub(regsub(req.url, "^.*[?&]_HLS_part=([^&#]*).*$", "\1"),
		    "^0+([0-9])", "\1");
	}
	if (req.url ~ "[?&]_HLS_skip=") {
		set req.http.sr-query = req.http.sr-query + "&_HLS_skip=" +
		    regsub(req.url, "^.*[?&]_HLS_skip=([^&#]*).*$", "\1");
	}
	# What the LL-HLS spec allows: _HLS_part only with _HLS_msn.
	if (req.http.sr-query !~ "^(&_HLS_msn=[0-9]{1,10}(&_HLS_part=[0-9]{1,10})?)?(&_HLS_skip=(YES|v2))?$") {
		return (synth(400, "Bad LL-HLS directive"));
	}
	if (req.http.sr-query != "") {
		set req.http.sr-url = req.http.sr-url + "?" +
		    regsub(req.http.sr-query, "^&", "");
	}
	unset req.http.sr-query;
}

sub sr_hash {
	# One object per media URL, whatever the Host and whatever other
	# query parameters a player adds: like the seed's
	# proxy_cache_key $scheme$proxy_host$uri.
	hash_data(req.http.sr-url);
	return (lookup);
}

sub sr_hit {
	if (obj.ttl <= 0s) {
		# A grace hit: stale while one background fetch refreshes
		# it, or because refreshes fail.  Counted by Varnish as
		# MAIN.cache_hit_grace; logged so varnishncsa can show it
		# with %{VCL_Log:sr-stale}x (seconds past the TTL).
		set req.http.sr-stale = "1";
		std.log("sr-stale: " + (0s - obj.ttl));
	}
	return (deliver);
}

sub sr_deliver {
	call sr_cors;

	# Towards a CDN (RFC 9111 4.2.3): a shared cache takes Age from
	# max-age, so max-age is the object's whole lifetime here and Age
	# stays as Varnish sets it (the time since we fetched it); the
	# elapsed time then counts once.  obj.ttl is the lifetime left
	# and obj.age the time elapsed, both against the same clock in
	# vcl_deliver, so their sum is the TTL set at fetch time.  Whole
	# seconds, rounded to the nearest (std.integer() truncates, and a
	# 1 s playlist must say 1, not 0).  A stale delivery says the same:
	# its Age is past max-age, so a CDN knows it is stale.  The grace
	# is offered to the CDN for the same two uses the origin makes of
	# it: serving stale while refreshing, and while the media server
	# fails.
	set resp.http.Cache-Control = "max-age=" +
	    std.integer(duration = obj.ttl + obj.age + 0.5s, fallback = 0);
	if (obj.grace >= 0.5s) {
		set resp.http.Cache-Control = resp.http.Cache-Control +
		    ", stale-while-revalidate=" +
		    std.integer(duration = obj.grace + 0.5s, fallback = 0) +
		    ", stale-if-error=" +
		    std.integer(duration = obj.grace + 0.5s, fallback = 0);
	}
	unset resp.http.Expires;
	unset resp.http.Pragma;

	if (req.http.sr-debug == "on") {
		if (req.http.sr-stale) {
			set resp.http.X-Cache = "STALE";
		} elsif (obj.hits > 0) {
			set resp.http.X-Cache = "HIT";
		} else {
			set resp.http.X-Cache = "MISS";
		}
		set resp.http.X-SR-Type = resp.http.sr-type;
		set resp.http.X-SR-TTL = obj.ttl;
		set resp.http.X-SR-Grace = obj.grace;
		set resp.http.X-SR-Backend = resp.http.sr-backend;
	}
	call sr_resp_clean;
	return (deliver);
}

sub sr_resp_clean {
	# The stored sr-type and sr-backend, and whatever sr-* a media
	# server may have sent: none reaches a client.
	unset resp.http.sr-prefix;
	unset resp.http.sr-cors-origin;
	unset resp.http.sr-debug;
	unset resp.http.sr-key;
	unset resp.http.sr-url;
	unset resp.http.sr-query;
	unset resp.http.sr-synth;
	unset resp.http.sr-stale;
	unset resp.http.sr-redis;
	unset resp.http.sr-type;
	unset resp.http.sr-blocking;
	unset resp.http.sr-outcome;
	unset resp.http.sr-backend;
}

sub sr_synth {
	call sr_resp_clean;
	if (req.method == "OPTIONS" && resp.status == 204) {
		# The seed's preflight answer, valid for 20 days.
		set resp.http.Access-Control-Allow-Origin =
		    req.http.sr-cors-origin;
		set resp.http.Access-Control-Allow-Methods = "GET, OPTIONS";
		set resp.http.Access-Control-Allow-Headers = "DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range";
		set resp.http.Access-Control-Max-Age = "1728000";
		set resp.http.Content-Type = "text/plain; charset=utf-8";
		set resp.body = "";
		return (deliver);
	}
	call sr_cors;
	set resp.http.Cache-Control = "no-store";
	set resp.http.Content-Type = "text/plain; charset=utf-8";
	if (resp.status == 405) {
		set resp.http.Allow = "GET, HEAD, OPTIONS";
	}
	if (req.http.sr-synth == "status") {
		call sr_status;
	} else {
		set resp.body = "" + resp.status + " " + resp.reason + {"
"};
	}
	return (deliver);
}

sub sr_status {
	# What VCL can tell honestly.  Traffic counters are in
	# varnishstat (MAIN.cache_*, MAIN.backend_req, STREAMROUTE.*).
	if (router.redis_ok()) {
		set req.http.sr-redis = "ok";
	} else {
		set req.http.sr-redis = "unreachable";
	}
	set resp.body = {"streamroute origin
host: "} + server.hostname + {"
identity: "} + server.identity + {"
time: "} + now + {"
redis: "} + req.http.sr-redis + {"
prefix: ""} + req.http.sr-prefix + {""
cors-origin: "} + req.http.sr-cors-origin + {"
debug: "} + req.http.sr-debug + {"
"};
}

sub sr_cors {
	# On every response, errors included: a browser player that cannot
	# read an error cannot recover from it.
	set resp.http.Access-Control-Allow-Origin = req.http.sr-cors-origin;
	set resp.http.Access-Control-Allow-Methods = "GET, OPTIONS";
	set resp.http.Access-Control-Allow-Headers = "DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range";
	set resp.http.Access-Control-Expose-Headers = "Content-Length,Content-Range";
}

#######################################################################
# Backend side

sub sr_classify {
	# The type of a media URL, from its (upstream) path.
	if (bereq.url ~ "(?i)/live\.m3u8(\?|$)") {
		set bereq.http.sr-type = "master";
	} elsif (bereq.url ~ "(?i)\.(m3u8|mpd)(\?|$)") {
		set bereq.http.sr-type = "playlist";
	} elsif (bereq.url ~ "(?i)\.(ts|m4s|mp4|aac|vtt)(\?|$)") {
		set bereq.http.sr-type = "segment";
	} else {
		set bereq.http.sr-type = "other";
	}
	if (bereq.url ~ "[?&]_HLS_msn=") {
		set bereq.http.sr-blocking = "1";
	} else {
		unset bereq.http.sr-blocking;
	}
}

sub sr_route {
	# Only here, on a real fetch, is Redis consulted; a cache hit
	# never costs a look-up.  Ends the fetch with an error when the
	# stream has no usable route.
	set bereq.backend = router.backend(bereq.http.sr-key);
	set bereq.http.sr-outcome = router.outcome();
	if (bereq.http.sr-outcome == "unknown") {
		return (error(404, "Unknown stream"));
	} elsif (bereq.http.sr-outcome == "badkey") {
		return (error(400, "Bad stream path"));
	} elsif (bereq.http.sr-outcome != "routed") {
		# unavailable, invalid, refused, overflow
		return (error(503, "Stream unavailable"));
	}
}

sub sr_backend_prepare {
	# The request the media server gets, whatever picked the backend.
	set bereq.url = bereq.http.sr-url;
	call sr_classify;
	call sr_settings_fetch;
	if (bereq.http.sr-type == "segment") {
		# Segments are compressed video: never ask for gzip.
		unset bereq.http.Accept-Encoding;
	}
	# Ranges are served from the cached whole object.
	unset bereq.http.Range;
	unset bereq.http.Cookie;
	unset bereq.http.Authorization;
	call sr_bereq_clean;
}

sub sr_backend_fetch {
	call sr_route;
	call sr_backend_prepare;
	return (fetch);
}

sub sr_bereq_clean {
	# What sr_recv set and what a client sent: none reaches a media
	# server.
	unset bereq.http.sr-prefix;
	unset bereq.http.sr-cors-origin;
	unset bereq.http.sr-debug;
	unset bereq.http.sr-key;
	unset bereq.http.sr-url;
	unset bereq.http.sr-query;
	unset bereq.http.sr-synth;
	unset bereq.http.sr-stale;
	unset bereq.http.sr-redis;
	unset bereq.http.sr-type;
	unset bereq.http.sr-blocking;
	unset bereq.http.sr-outcome;
	unset bereq.http.sr-backend;
}

sub sr_backend_response {
	call sr_classify;
	if (beresp.status >= 500) {
		# The media server failed.  A failed refresh must never
		# replace the good copy: abandon it, the stale object
		# stays and keeps being served within its grace.
		if (bereq.is_bgfetch) {
			return (abandon);
		}
		return (error(503, "Media server error"));
	}
	if (beresp.status >= 300 && beresp.status < 400) {
		# Never hand a media server's redirect (and its internal
		# address) to players.
		if (bereq.is_bgfetch) {
			return (abandon);
		}
		return (error(502, "Unexpected redirect from media server"));
	}
	if (beresp.status != 200) {
		# 404: a segment not produced yet (or gone).  Cached
		# briefly, like every error.
		set bereq.http.sr-type = "error";
	}

	# Our lifetimes replace the media server's Cache-Control
	# (index.m3u8 comes with "no-cache", which would otherwise make it
	# uncacheable and serialise every waiting player).
	call sr_settings_ttl;
	unset beresp.http.Set-Cookie;
	unset beresp.http.Cache-Control;
	unset beresp.http.Expires;
	unset beresp.http.Pragma;
	# Vary from the media server would split the object by header;
	# Varnish adds "Vary: Accept-Encoding" itself where it gzips.
	unset beresp.http.Vary;

	if (bereq.http.sr-type == "master" || bereq.http.sr-type == "playlist") {
		# Playlists are text: stored gzipped, gunzipped on the fly
		# for clients that do not accept gzip.
		if (!beresp.http.Content-Encoding) {
			set beresp.do_gzip = true;
		}
	} elsif (beresp.http.Content-Encoding ~ "gzip") {
		# Segments are sent as they are, so Range requests work.
		set beresp.do_gunzip = true;
	}

	set beresp.http.sr-type = bereq.http.sr-type;
	set beresp.http.sr-backend = beresp.backend.name;
	unset bereq.http.sr-type;
	unset bereq.http.sr-blocking;
	# Skip the built-in vcl_backend_response (hit-for-miss on
	# no-cache, 120 s TTLs).
	return (deliver);
}

sub sr_backend_error {
	# The media server could not be reached or timed out (503), the
	# stream is unknown (404), Redis is unavailable (503) ...
	if (bereq.is_bgfetch && beresp.status != 404) {
		# ... but there is a good copy: keep serving it.
		return (abandon);
	}
	set bereq.http.sr-type = "error";
	call sr_settings_ttl;
	if (beresp.status == 503) {
		set beresp.http.Retry-After = "1";
	}
	set beresp.http.Content-Type = "text/plain; charset=utf-8";
	set beresp.body = "" + beresp.status + " " + beresp.reason + {"
"};
	set beresp.http.sr-type = "error";
	if (bereq.http.sr-outcome) {
		set beresp.http.sr-backend = "outcome=" + bereq.http.sr-outcome;
	}
	call sr_bereq_clean;
	# Positive TTL: every request waiting for this object gets this
	# answer at once instead of fetching again one after the other.
	return (deliver);
}

#######################################################################
# Wiring: including this file is enough.

sub vcl_recv {
	call sr_recv;
}

sub vcl_hash {
	call sr_hash;
}

sub vcl_hit {
	call sr_hit;
}

sub vcl_deliver {
	call sr_deliver;
}

sub vcl_synth {
	call sr_synth;
}

sub vcl_backend_fetch {
	call sr_backend_fetch;
}

sub vcl_backend_response {
	call sr_backend_response;
}

sub vcl_backend_error {
	call sr_backend_error;
}
