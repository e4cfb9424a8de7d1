#!/bin/sh
#
# The settings a test of the shipped VCL loads: the shipped ones from the
# one renderer (scripts/streamroute-settings), with loopback added to the
# allow acl (the test's media servers listen there), then the test's own
# options.  Written to DIR/streamroute/origin-settings.vcl, where
# origin.vcl finds them with "-p vcl_path=DIR":
#	shell {sh ${testdir}/lib/settings.sh ${tmpdir} --redis ${redis_sock} [options]}

dir=$1
shift
mkdir -p "$dir/streamroute" &&
exec "$(dirname "$0")/../../../scripts/streamroute-settings" \
    --allow 127.0.0.1 --allow ::1 "$@" \
    -o "$dir/streamroute/origin-settings.vcl"
