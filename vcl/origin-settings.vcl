#-
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# origin-settings.vcl -- THE SETTINGS OF THE STREAMROUTE ORIGIN.
#
# This is the one file to edit.  origin.vcl includes it as
# "streamroute/origin-settings.vcl", searched along the vcl_path
# parameter (default /etc/varnish:/usr/share/varnish/vcl), so an edited
# copy in /etc/varnish/streamroute/ takes precedence over the copy that
# "make install" puts in /usr/share/varnish/vcl/streamroute/.
# See docs/vcl.md.
#
# Edit a copy by hand, or write one with streamroute-settings (which
# wrote this file, from its defaults), e.g.
#	streamroute-settings --redis 10.0.0.5:6379 --allow 10.20.0.0/16 \
#	    --prefix /live -o /etc/varnish/streamroute/origin-settings.vcl
#
# Everything here is a setting; the behaviour lives in streamroute.vcl.
# Values are plain VCL: durations are checked when the VCL is compiled.

#######################################################################
# 1. Redis: where media servers register their streams
#    ("SET <stream key> <ip:port> EX <ttl>").

# Where media servers may be: a route to any other address is refused
# (503), counted and logged, so that whoever can write to Redis cannot
# aim the origin elsewhere.  The shipped entry is an example: replace it
# with your media servers' subnet(s).  "! ..." excludes an address.
# Cloud metadata and link-local addresses, 0.0.0.0/8, multicast and
# this varnishd's own listen addresses are refused whatever this says.
acl sr_media_acl {
	"10.20.0.0"/16;		# EXAMPLE: your media network
}

sub vcl_init {
	new router = streamroute.router(
		# "host:port" or the absolute path of a unix socket.
		redis = "127.0.0.1:6379",
		allow = sr_media_acl,
		# Ports media servers serve on, e.g. "8080" or
		# "80, 8080-8090"; "" allows any port.
		ports = "");

	###############################################################
	# 2. Client side: held by the VMOD, read on every request.

	new settings = streamroute.settings(
		# Fixed path in front of the stream key: "" serves
		# /<key>/live.m3u8, "/live" serves /live/<key>/live.m3u8.
		# Any number of segments.  It is removed before the
		# request goes to the media server.
		prefix = "",
		# Access-Control-Allow-Origin on every response.
		cors_origin = "*",
		# true adds X-Cache (HIT, MISS, STALE), X-SR-Type,
		# X-SR-TTL, X-SR-Grace and X-SR-Backend to responses.
		# Stale deliveries are counted (MAIN.cache_hit_grace) and
		# logged (VCL_Log sr-stale) either way.
		debug = false);
}

# Who may read /status (like nginx's stub_status "allow 127.0.0.1").
acl sr_status_acl {
	"127.0.0.1";
	"::1";
}

#######################################################################
# 3. Media-server timeouts, per request type (vcl_backend_fetch).
#    streamroute.type(bereq.url) is "master" (live.m3u8), "playlist"
#    (any other .m3u8, .mpd), "segment" (.ts .m4s .mp4 .aac .vtt) or
#    "other"; streamroute.blocking(bereq.url) is true for an LL-HLS
#    blocking playlist reload (_HLS_msn in the query).

sub sr_settings_fetch {
	if (streamroute.blocking(bereq.url)) {
		# The media server may hold a blocking reload for up to
		# three target durations (6 s segments: 18 s).
		set bereq.first_byte_timeout = 20s;
	} elsif (streamroute.type(bereq.url) == "master" ||
	    streamroute.type(bereq.url) == "playlist") {
		# A playlist that is not there at once is stale anyway.
		set bereq.first_byte_timeout = 2s;
	} else {
		set bereq.first_byte_timeout = 5s;
	}
}

#######################################################################
# 4. Cache lifetimes (vcl_backend_response, vcl_backend_error).
#    ttl:   how long a response is fresh here.  The media server's own
#           Cache-Control is ignored: this table wins.
#    grace: how long after that it may still be served stale, both
#           while one background fetch refreshes it and while the
#           media server fails.  A live playlist minutes old is worse
#           than an error, so playlists get little grace; a segment
#           never changes, so it may be served as long as it exists.
#    Errors (any status but 200): unknown stream (404), Redis or media
#           server down (503), segment not produced yet (404).  Keep
#           ttl at about 1 s (a positive TTL lets waiting requests
#           share the answer) and grace at 0.
#    A CDN is told the same: Cache-Control max-age=<ttl>,
#    stale-while-revalidate=<grace>, stale-if-error=<grace>, in whole
#    seconds (rounded to the nearest), so keep these whole seconds.

sub sr_settings_ttl {
	if (beresp.status != 200) {				# errors
		set beresp.ttl = 1s;
		set beresp.grace = 0s;
	} elsif (streamroute.type(bereq.url) == "master") {	# live.m3u8
		set beresp.ttl = 60s;
		set beresp.grace = 30s;
	} elsif (streamroute.type(bereq.url) == "playlist") {	# index.m3u8
		set beresp.ttl = 1s;
		set beresp.grace = 5s;
	} elsif (streamroute.type(bereq.url) == "segment") {	# .ts .m4s
		set beresp.ttl = 60s;
		set beresp.grace = 60s;
	} else {						# anything else
		set beresp.ttl = 1s;
		set beresp.grace = 0s;
	}
}

#######################################################################
# 5. The origin cluster: off.  With --cluster-peers "ip:port,..."
#    --cluster-self ip:port, streamroute-settings writes here the peer
#    origins that act as one cache (docs/operations.md, "An origin
#    cluster").  Off, nothing here and nothing on a request.
