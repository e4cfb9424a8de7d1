#!/usr/bin/env python3
"""players.py -- player-like load on the origin for the reload soak.

    players.py ORIGIN STREAMS PLAYERS SECONDS OUTDIR

PLAYERS threads, player p playing stream "soak<p % STREAMS>" as an HLS
player does: the master playlist live.m3u8 (again every 30 s), the
rendition playlist 360p/index.m3u8 polled every second, each segment it
names fetched once (the newest one at the start).  Each player keeps one
HTTP/1.1 keep-alive connection.

Every request's outcome is recorded: OUTDIR/requests.log gets
"<unix time> <status> <url>" per request (status 0: no response:
refused, reset, timed out after 10 s), OUTDIR/summary the totals
("requests N", "failed N", "retried N").  A request is failed unless it
got a 200 with a complete body.  One exception, as browsers do it: a
request that finds its idle keep-alive connection already closed by the
server (nothing sent back at all) is sent again once on a new connection;
that is counted as "retried", and as failed only when the retry fails too.

Runs SECONDS at most (the bound on every loop), or until OUTDIR/stop
exists; then writes the summary and exits 0.
"""
import http.client
import os
import sys
import threading
import time

lock = threading.Lock()
totals = {"requests": 0, "failed": 0, "retried": 0}


class Player:
    def __init__(self, host, port, key, log):
        self.host, self.port, self.key, self.log = host, port, key, log
        self.conn = None
        self.seen = set()

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=10)
        return self.conn

    def _once(self, url):
        c = self._conn()
        c.request("GET", url, headers={"User-Agent": "soak-player"})
        r = c.getresponse()
        body = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self._close()
        return r.status, body

    def _close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, url):
        retried = False
        reused = self.conn is not None
        try:
            status, body = self._once(url)
        except (http.client.RemoteDisconnected, BrokenPipeError,
                ConnectionResetError) as e:
            self._close()
            if not reused:
                status, body = 0, repr(e).encode()
            else:
                retried = True
                try:
                    status, body = self._once(url)
                except (OSError, http.client.HTTPException) as e2:
                    self._close()
                    status, body = 0, repr(e2).encode()
        except (OSError, http.client.HTTPException) as e:
            self._close()
            status, body = 0, repr(e).encode()
        ok = status == 200
        with lock:
            totals["requests"] += 1
            totals["retried"] += retried
            if not ok:
                totals["failed"] += 1
            self.log.write("%.3f %d %s%s\n" % (
                time.time(), status, url,
                "" if ok else " " + body[:200].decode("latin-1")
                .replace("\n", " ")))
        return status, body

    def run(self, deadline, stopfile):
        last_master = 0.0
        first = True
        while time.monotonic() < deadline and not os.path.exists(stopfile):
            t0 = time.monotonic()
            if t0 - last_master >= 30:
                self.get("/%s/live.m3u8" % self.key)
                last_master = t0
            status, body = self.get("/%s/360p/index.m3u8" % self.key)
            if status == 200:
                segs = [l for l in body.decode("latin-1").splitlines()
                        if l.endswith(".ts")]
                if first and segs:
                    self.seen.update(segs[:-1])
                first = False
                for s in segs:
                    if s not in self.seen:
                        self.seen.add(s)
                        self.get("/%s/360p/%s" % (self.key, s))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        self._close()


def main():
    origin, streams, players, seconds, out = (
        sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
        float(sys.argv[4]), sys.argv[5])
    hostport = origin.split("//", 1)[-1]
    host, port = hostport.rsplit(":", 1)
    stopfile = os.path.join(out, "stop")
    deadline = time.monotonic() + seconds
    log = open(os.path.join(out, "requests.log"), "a", buffering=1)
    threads = []
    for p in range(players):
        pl = Player(host, int(port), "soak%d" % (p % streams), log)
        t = threading.Thread(target=pl.run, args=(deadline, stopfile),
                             daemon=True)
        t.start()
        threads.append(t)
        # spread the players over the second
        time.sleep(1.0 / players)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 15)
    with lock:
        with open(os.path.join(out, "summary"), "w") as f:
            for k in ("requests", "failed", "retried"):
                f.write("%s %d\n" % (k, totals[k]))


if __name__ == "__main__":
    main()
