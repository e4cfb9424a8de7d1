#!/bin/sh
# publish.sh -- the demo publisher: a live test pattern with a tone
# (H.264 + AAC), pushed over RTMP by ffmpeg at real-time speed.
#
#   publish.sh start PIDFILE RTMP_URL [SIZE [FPS]]   in the background
#   publish.sh run RTMP_URL [SIZE [FPS]]             in the foreground
#   publish.sh stop PIDFILE
#
# RTMP_URL is rtmp://<media server>:<port>/live/<stream key>.  Defaults:
# 320x180 at 10 fps, ultrafast preset, one key frame every 2 s: cheap
# enough to leave running on a shared machine.  The ffmpeg log goes to
# PIDFILE.log.  start and stop are scripts/lib/stack.sh's sr_publish_start
# and sr_publish_stop (TERM: ffmpeg ends the RTMP session cleanly; KILL
# after 3 s).
set -eu
SR_REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$SR_REPO/scripts/lib/stack.sh"

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case ${1:-} in
run)
	[ $# -ge 2 ] || usage
	shift
	url=$1 size=${2:-320x180} fps=${3:-10}
	exec ffmpeg -nostdin -hide_banner -loglevel warning -re \
	    -f lavfi -i "testsrc2=size=$size:rate=$fps" \
	    -f lavfi -i "sine=frequency=440:sample_rate=44100:beep_factor=4" \
	    -c:v libx264 -preset ultrafast -tune zerolatency -profile:v baseline \
	    -pix_fmt yuv420p -g $((fps * 2)) -keyint_min $((fps * 2)) -sc_threshold 0 \
	    -b:v 300k -maxrate 300k -bufsize 600k \
	    -c:a aac -b:a 64k -ar 44100 -ac 2 \
	    -f flv "$url"
	;;
start)
	[ $# -ge 3 ] || usage
	shift
	sr_publish_start "$@"
	;;
stop)
	[ $# -eq 2 ] || usage
	sr_publish_stop "$2"
	;;
*)
	usage
	;;
esac
