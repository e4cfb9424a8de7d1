# The routing a VMOD test means unless it says otherwise, for a test's VCL
# to include (after its vcl_init, which makes the router object "router"):
#	include "${testdir}/lib/route.vcl";
# Each fetch goes where Redis says; no route is a 404, any other outcome
# (unavailable, invalid, refused, overflow) a 503.
sub vcl_backend_fetch {
	set bereq.backend = router.backend(streamroute.key(bereq.url));
	if (router.outcome() == "unknown") {
		return (error(404));
	} elsif (router.outcome() != "routed") {
		return (error(503));
	}
}
