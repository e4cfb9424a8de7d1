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
#	a streamroute.router object named "router" and a
#	streamroute.settings object named "settings", made in vcl_init;
#	sub sr_settings_fetch, sub sr_settings_ttl, acl sr_status_acl.
#
# No setting and no per-request state travels in a header: settings are
# held by the VMOD, and vcl_recv rewrites req.url to the upstream URL
# (the cache key, and bereq.url), from which the backend side derives
# the stream key and the type again.  A client can send no header that
# changes what this VCL does.  See docs/vcl.md.

#######################################################################
# Client side

sub sr_recv {
	if (req.method != "GET" && req.method != "HEAD") {
		if (req.method == "OPTIONS") {
			# CORS preflight: any path, answered here.
			return (synth(204));
		}
		return (synth(405));
	}
	if (!req.http.Host && req.proto == "HTTP/1.1") {
		# RFC 9112 3.2 (the built-in VCL's rule, which sr_recv skips)
		return (synth(400, "Host header missing"));
	}

	# Load balancer checks: never cached, never routed.  This one has
	# the shape of a media URL (a stream "healthcheck", a file "deep"),
	# so it is told apart first; the others come after the media
	# requests, which are nearly all the traffic.
	if (req.url ~ "^/healthcheck/deep(\?|$)") {
		if (router.redis_ok()) {
			return (synth(200, "OK"));
		}
		return (synth(503, "Redis unreachable"));
	}

	# The VMOD parses the URL once (key syntax, traversal, encoding,
	# length, prefix, LL-HLS directives) and hands back the URL sent
	# to the media server, which is also the cache key: the path
	# without the prefix, plus, on a playlist, the Low-Latency HLS
	# directives in one fixed order.  Other query parameters (cache
	# busters, tokens) would split the cache without changing the
	# answer: they are dropped.
	if (settings.parse(req.url)) {
		if (req.http.Transfer-Encoding ||
		    (req.http.Content-Length && req.http.Content-Length != "0")) {
			# A player's GET has no body, and Varnish would send
			# one on to the media server with the fetch.
			return (synth(400, "Unexpected request body"));
		}
		set req.url = settings.url();
		# Skip the built-in vcl_recv: it would pass requests that
		# carry a Cookie or Authorization header, and so never share
		# them.
		return (hash);
	}

	# No media URL is one of these.
	if (req.url ~ "^/healthcheck(\?|$)") {
		return (synth(200, "OK"));
	}
	if (req.url ~ "^/status(\?|$)") {
		if (client.ip !~ sr_status_acl) {
			return (synth(403));
		}
		return (synth(200, "OK"));
	}
	return (synth(400, settings.error()));
}

sub sr_hash {
	# One object per media URL, whatever the Host and whatever other
	# query parameters a player adds: like the seed's
	# proxy_cache_key $scheme$proxy_host$uri.
	hash_data(req.url);
	return (lookup);
}

sub sr_hit {
	if (obj.ttl <= 0s) {
		# A grace hit: stale while one background fetch refreshes
		# it, or because refreshes fail.  Counted by Varnish as
		# MAIN.cache_hit_grace; logged so varnishncsa can show it
		# with %{VCL_Log:sr-stale}x (seconds past the TTL).
		std.log("sr-stale: " + (0s - obj.ttl));
	}
	return (deliver);
}

sub sr_deliver {
	# Cache-Control towards CDNs and players was stored with the
	# object when it was fetched (sr_cache_control): a hit adds only
	# what differs per response.
	call sr_cors;

	if (settings.debug()) {
		if (obj.hits > 0 && obj.ttl <= 0s) {
			set resp.http.X-Cache = "STALE";
		} elsif (obj.hits > 0) {
			set resp.http.X-Cache = "HIT";
		} else {
			set resp.http.X-Cache = "MISS";
		}
		# Ranges (206) and revalidations (304) are made after
		# vcl_deliver: here resp.status is the object's.
		if (resp.status != 200) {
			set resp.http.X-SR-Type = "error";
		} else {
			set resp.http.X-SR-Type = streamroute.type(req.url);
		}
		set resp.http.X-SR-TTL = obj.ttl;
		set resp.http.X-SR-Grace = obj.grace;
	} elsif (resp.status != 200) {
		# An error's outcome, stored for the router's push.
		unset resp.http.X-SR-Backend;
	}
	return (deliver);
}

sub sr_synth {
	if (req.method == "OPTIONS" && resp.status == 204) {
		# The seed's preflight answer, valid for 20 days.
		set resp.http.Access-Control-Allow-Origin =
		    settings.cors_origin();
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
	# A stream request's req.url is an upstream URL by now, which has
	# at least two segments: only the status page itself matches.
	if (resp.status == 200 && req.url ~ "^/status(\?|$)") {
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
	set resp.body = {"streamroute origin
host: "} + server.hostname + {"
identity: "} + server.identity + {"
time: "} + now + {"
redis: "};
	if (router.redis_ok()) {
		set resp.body += "ok";
	} else {
		set resp.body += "unreachable";
	}
	set resp.body += {"
prefix: ""} + settings.prefix() + {""
cors-origin: "} + settings.cors_origin() + {"
debug: "};
	if (settings.debug()) {
		set resp.body += {"on
"};
	} else {
		set resp.body += {"off
"};
	}
}

sub sr_cors {
	# On every response, errors included: a browser player that cannot
	# read an error cannot recover from it.
	set resp.http.Access-Control-Allow-Origin = settings.cors_origin();
	set resp.http.Access-Control-Allow-Methods = "GET, OPTIONS";
	set resp.http.Access-Control-Allow-Headers = "DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range";
	set resp.http.Access-Control-Expose-Headers = "Content-Length,Content-Range";
}

#######################################################################
# Backend side: bereq.url is the upstream URL vcl_recv made; the stream
# key and the type are read from it again (cheap), not carried.

sub sr_route {
	# Only here, on a real fetch, is Redis consulted; a cache hit
	# never costs a look-up.  Ends the fetch with an error when the
	# stream has no usable route.
	set bereq.backend = router.backend(streamroute.key(bereq.url));
	if (router.outcome() == "routed") {
		if (bereq.retries > 0 &&
		    bereq.http.X-SR-Failed == "" + bereq.backend) {
			# The retry of a failed fetch, and Redis still names
			# the server that failed: fail fast, cached content
			# keeps flowing (a background fetch is abandoned).
			return (error(503, "Media server unreachable"));
		}
		return;
	} elsif (router.outcome() == "unknown") {
		return (error(404, "Unknown stream"));
	} elsif (router.outcome() == "badkey") {
		return (error(400, "Bad stream path"));
	}
	# unavailable, invalid, refused, overflow
	return (error(503, "Stream unavailable"));
}

sub sr_backend_prepare {
	# The request the media server gets, whatever picked the backend.
	call sr_settings_fetch;
	if (streamroute.type(bereq.url) == "segment") {
		# Segments are compressed video: never ask for gzip.
		unset bereq.http.Accept-Encoding;
	}
	# Varnish itself drops Range (ranges are served from the cached
	# whole object).  A viewer's credentials are not the media
	# server's business.
	unset bereq.http.Cookie;
	unset bereq.http.Authorization;
}

sub sr_backend_fetch {
	call sr_route;
	if (bereq.retries > 0) {
		# Set by sr_backend_error for the retry; never sent
		# upstream.
		unset bereq.http.X-SR-Failed;
	}
	call sr_backend_prepare;
	return (fetch);
}

sub sr_backend_response {
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

	# Our lifetimes replace the media server's Cache-Control
	# (index.m3u8 comes with "no-cache", which would otherwise make it
	# uncacheable and serialise every waiting player).  Its Expires
	# and Pragma may stay: with our max-age, a cache must ignore
	# Expires (RFC 9111 5.3), and Pragma means nothing in a response
	# (5.4).  Any status but 200 (404: a segment not produced yet, or
	# gone) is an error, cached briefly like every error.
	call sr_settings_ttl;
	call sr_cache_control;
	unset beresp.http.Set-Cookie;
	# Vary from the media server would split the object by header;
	# Varnish adds "Vary: Accept-Encoding" itself where it gzips.
	unset beresp.http.Vary;

	if (streamroute.type(bereq.url) == "master" ||
	    streamroute.type(bereq.url) == "playlist") {
		# Playlists are text: stored gzipped, gunzipped on the fly
		# for clients that do not accept gzip.
		if (!beresp.http.Content-Encoding) {
			set beresp.do_gzip = true;
		}
	} elsif (beresp.http.Content-Encoding ~ "gzip") {
		# Segments are sent as they are, so Range requests work.
		set beresp.do_gunzip = true;
	}

	if (settings.debug()) {
		# Stored with the object, for the debug headers.
		set beresp.http.X-SR-Backend = beresp.backend.name;
	}
	# Skip the built-in vcl_backend_response (hit-for-miss on
	# no-cache, 120 s TTLs).
	return (deliver);
}

sub sr_cache_control {
	# Towards a CDN (RFC 9111 4.2.3): a shared cache takes Age from
	# max-age, so max-age is the object's whole lifetime and Age stays
	# as Varnish sets it (the time since we fetched it); the elapsed
	# time then counts once.  Stored with the object, so that a hit
	# costs nothing here.  A stale delivery says the same: its Age is
	# past max-age, so a CDN knows it is stale.  The grace is offered
	# to the CDN for the same two uses the origin makes of it: serving
	# stale while refreshing, and while the media server fails.
	#
	# A browser honours stale-while-revalidate too, and would then
	# play a live media playlist up to its grace behind the live edge:
	# on playlists browsers get stale-if-error only, and CDNs get both
	# in CDN-Cache-Control (RFC 9213), which browsers ignore.
	if (streamroute.type(bereq.url) == "playlist" && beresp.grace >= 0.5s) {
		set beresp.http.Cache-Control = streamroute.cache_control(
		    beresp.ttl, beresp.grace, stale_while_revalidate = false);
		set beresp.http.CDN-Cache-Control = streamroute.cache_control(
		    beresp.ttl, beresp.grace);
	} else {
		set beresp.http.Cache-Control = streamroute.cache_control(
		    beresp.ttl, beresp.grace);
		unset beresp.http.CDN-Cache-Control;
	}
}

sub sr_backend_error {
	# The media server could not be reached or timed out (503), the
	# stream is unknown (404), Redis is unavailable (503) ...
	if (bereq.retries == 0 && router.outcome() == "routed" &&
	    beresp.reason == "Backend fetch failed") {
		# Varnish's own 503 on a route the router gave: the media
		# server refused the connection or sent no first byte in
		# time.  The stream may have moved: ask Redis again, past
		# the route cache, and retry once on the route it gives.
		router.refresh(streamroute.key(bereq.url));
		set bereq.http.X-SR-Failed = "" + beresp.backend;
		return (retry);
	}
	if (bereq.is_bgfetch && beresp.status != 404) {
		# ... but there is a good copy: keep serving it.
		return (abandon);
	}
	call sr_settings_ttl;
	call sr_cache_control;
	if (beresp.status == 503) {
		set beresp.http.Retry-After = "1";
	}
	set beresp.http.Content-Type = "text/plain; charset=utf-8";
	set beresp.body = "" + beresp.status + " " + beresp.reason + {"
"};
	if (router.outcome() != "") {
		# Also when debug is off: "outcome=unknown" marks the 404 of
		# an unknown stream for the router's push, which bans it when
		# the stream starts (see push in the VMOD's manual).  Removed
		# on delivery then.
		set beresp.http.X-SR-Backend = "outcome=" + router.outcome();
	}
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
