#-
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
#
# cluster.vcl -- N streamroute origins that act as one cache.
#
# Do not include this file yourself: the settings file includes it, as
# "streamroute/cluster.vcl" along vcl_path, when it lists cluster peers
# (streamroute-settings --cluster-peers ... --cluster-self ...).  With no
# peers it is not included at all, so a cluster that is off adds not one
# instruction to a request.  See docs/operations.md, "An origin cluster".
#
# Each object has one owner among the peers: Varnish's shard director
# (consistent hashing, Ketama-style) over the peer origins, keyed by the
# object's hash, which is its cache key (sr_hash: the upstream URL).
# Every origin lists the same peers under the same idents, so every
# origin names the same owner.  On a miss, an origin that is not the owner
# fetches the object from the owner (one hop, marked X-SR-Hop), and the
# owner fetches it from the media server as a lone origin does; a
# marked request is never forwarded again.  A peer found down by its
# probe is skipped and the next one on the ring takes its share; a peer
# that fails a fetch before its probe notices is skipped for that fetch.
#
# What a non-owner keeps: segments (200) as long as the owner says
# (Varnish takes TTL and grace from the owner's max-age, Age and
# stale-while-revalidate, so a copy expires with the owner's and a CDN
# is told the same remaining life by both); nothing else.  A playlist
# comes from the owner on every request, so that a player moved from one
# origin to another never gets an older playlist than the one it had,
# and errors (503 with Retry-After, 404 of an unknown stream) come back
# as the owner sent them.
#
# The settings file provides, when the cluster is on:
#	import directors;
#	probe sr_cluster_probe, one backend per peer using it, named
#	sr_cluster_self for this origin and sr_peer_<n> for the others;
#	acl sr_cluster_peers (the peers' addresses);
#	a directors.shard() named sr_cluster holding every peer, each
#	added with ident "ip:port".
# These subroutines run before streamroute.vcl's (Varnish runs the
# bodies of a vcl_* subroutine defined twice in the order it reads
# them, and the settings file is included first).

sub vcl_recv {
	call sr_cluster_recv;
}

sub vcl_backend_fetch {
	call sr_cluster_fetch;
}

sub vcl_backend_response {
	if (bereq.http.X-SR-Cluster-Url) {
		call sr_cluster_response;
	}
}

sub vcl_backend_error {
	if (bereq.http.X-SR-Cluster-Url) {
		call sr_cluster_error;
	}
}

sub sr_cluster_recv {
	# The mark makes this origin fetch from the media server whoever
	# owns the object: a client that could send it would bypass the
	# owner and multiply the media servers' load.  Only a peer may.
	if (req.http.X-SR-Hop && client.ip !~ sr_cluster_peers) {
		unset req.http.X-SR-Hop;
	}
	# Ours, set on the backend side; never a client's.
	unset req.http.X-SR-Cluster-Url;
	unset req.http.X-SR-Cluster-Alt;
}

sub sr_cluster_fetch {
	if (bereq.http.X-SR-Hop) {
		# A peer forwarded this to us (the mark was accepted in
		# sr_cluster_recv): we fetch it, whatever our own ring says,
		# so that a request makes one hop at most even while the
		# peers disagree on who is up.
		unset bereq.http.X-SR-Hop;
		return;
	}
	if (bereq.retries > 0 && !bereq.http.X-SR-Cluster-Alt) {
		# streamroute.vcl's retry of a media-server fetch (ours, or
		# a peer's forwarded one, whose mark is gone by now): still
		# ours, never forwarded.
		return;
	} elsif (bereq.http.X-SR-Cluster-Alt == "self") {
		# The owner and the next peer both failed (sr_cluster_error).
		unset bereq.http.X-SR-Cluster-Alt;
		return;
	} elsif (bereq.http.X-SR-Cluster-Alt) {
		# The owner failed before its probe saw it: the peer that
		# takes its share once the probe does.
		set bereq.backend = sr_cluster.backend(alt = 1, healthy = ALL);
	} else {
		# The owner: the first healthy peer on the ring for this
		# object's hash.
		set bereq.backend = sr_cluster.backend();
	}
	if (!bereq.backend || bereq.backend == sr_cluster_self) {
		# Ours (or no peer is up): streamroute.vcl fetches it from
		# the media server.
		unset bereq.http.X-SR-Cluster-Alt;
		return;
	}
	# Forward to the owner.  It parses the URL as a player's, so it
	# gets the prefix back; the cache key URL is kept for a retry.
	set bereq.http.X-SR-Hop = server.identity;
	set bereq.http.X-SR-Cluster-Url = bereq.url;
	set bereq.url = settings.prefix() + bereq.url;
	call sr_settings_fetch;
	# The owner may take its whole media timeout before it answers.
	set bereq.first_byte_timeout = bereq.first_byte_timeout + 1s;
	unset bereq.http.Cookie;
	unset bereq.http.Authorization;
	return (fetch);
}

sub sr_cluster_response {
	# The owner's answer.
	if (bereq.is_bgfetch && beresp.status >= 500) {
		# Keep the good copy, as for a media server's error.
		return (abandon);
	}
	if (beresp.status != 200 ||
	    streamroute.type(bereq.http.X-SR-Cluster-Url) != "segment") {
		# Playlists and errors: passed on as the owner sent them,
		# never stored here.  Hit-for-miss with a positive TTL: the
		# next requests go to the owner at once, side by side,
		# instead of queueing behind one another (a TTL of 0 would
		# serialise them).
		set beresp.uncacheable = true;
		set beresp.ttl = 1s;
		set beresp.grace = 0s;
	}
	# A segment keeps the TTL and grace Varnish computed from the
	# owner's Cache-Control and Age: it expires here when it expires
	# there, and our Age and max-age stay those of the owner's copy.
	if (settings.debug()) {
		set beresp.http.X-SR-Backend = beresp.backend.name;
	}
	# Skip streamroute.vcl's sr_backend_response (it would replace the
	# owner's lifetimes and errors) and the built-in VCL.
	return (deliver);
}

sub sr_cluster_error {
	# The peer could not be reached, or sent no answer in time.  Try
	# the next peer on the ring, then ourselves: a player never sees
	# a peer's failure.  The request is put back as it was.
	std.log("sr-cluster: peer " + beresp.backend + " failed: " +
	    beresp.reason);
	set bereq.url = bereq.http.X-SR-Cluster-Url;
	unset bereq.http.X-SR-Cluster-Url;
	unset bereq.http.X-SR-Hop;
	if (bereq.http.X-SR-Cluster-Alt) {
		set bereq.http.X-SR-Cluster-Alt = "self";
	} else {
		set bereq.http.X-SR-Cluster-Alt = "next";
	}
	return (retry);
}
