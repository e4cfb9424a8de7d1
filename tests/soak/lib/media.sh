# tests/soak/lib/media.sh -- a cheap media server for the soak: nginx
# serving a directory of synthetic HLS (hls_gen.py writes it) with the
# demo media servers' Cache-Control headers.  The demo's
# media-server.sh needs nginx-rtmp and ffmpeg publishers, which cost a
# core per stream; the reload soak wants many streams on a shared
# machine, and the origin cannot tell the difference.  Sourced after
# tests/e2e/lib/common.sh.
#
#   soak_media_start NAME ROOT   nginx in $T/NAME serving ROOT on a free
#                                port (NAME_http); tracked, stopped by PID

soak_media_start() {
	free_port h
	d=$T/$1
	mkdir -p "$d/tmp"
	cat >"$d/nginx.conf" <<CONF
user $(id -un) $(id -gn);
daemon on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$h;
		root $2;
		location = /healthcheck { return 200 "ok\n"; }
		location ~ /live\.m3u8\$ { add_header Cache-Control "max-age=60"; }
		location ~ \.m3u8\$ { add_header Cache-Control "no-cache"; }
		location ~ \.ts\$ { add_header Cache-Control "max-age=600"; }
	}
}
CONF
	track "$d/nginx.pid"
	nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" ||
	    fail "nginx $1 did not start (see $d/error.log)"
	wait_for 10 curl -fsS -o /dev/null "http://127.0.0.1:$h/healthcheck" ||
	    fail "nginx $1 does not answer"
	eval "${1}_http=$h"
}
