# The media server of the cdn_edge_*.vtc tests:
#	python3 cdn-media.py DIR
# Every playlist it makes carries the time it was made, so a player can
# tell how old the copy it got is.  It sends the headers nginx-rtmp
# sends (index.m3u8 "no-cache", .ts max-age=600), logs each request it
# gets to DIR/media.log and writes its port to DIR/media.port.
import http.server, os, sys, time

d = sys.argv[1]

class Media(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with open(os.path.join(d, "media.log"), "a") as f:
            f.write(self.path + "\n")
        if self.path.endswith(".m3u8"):
            body = "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#GENERATED %.6f\n" % time.time()
            cc = "no-cache"
        elif self.path.endswith(".ts"):
            body = "segment " + self.path
            cc = "max-age=600"
        else:
            self.send_error(404)
            return
        b = body.encode()
        self.send_response(200)
        self.send_header("Cache-Control", cc)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Media)
with open(os.path.join(d, "media.port.tmp"), "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(os.path.join(d, "media.port.tmp"), os.path.join(d, "media.port"))
srv.serve_forever()
