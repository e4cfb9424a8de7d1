#!/usr/bin/env python3
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
"""load.py -- the chaos run's clients (tests/chaos/run.sh starts them).

  load.py players ORIGIN KEYFILE PLAYERS SECONDS LOG STOPFILE
      PLAYERS virtual players per stream key (one per line in KEYFILE),
      each on its own keep-alive connection: the master playlist once
      (and every 10 s), the media playlist every second, each segment it
      names once (the newest three at start), like hls.js; for at most
      SECONDS, and no longer once STOPFILE exists.
  load.py junk ORIGIN COUNT SECONDS LOG
      at most COUNT requests in at most SECONDS, 20 at a time, for random
      unknown stream keys (most) and malformed paths (the rest).

One line per request in LOG:
  <start unix time> <latency s> <status> <hit 0|1> <Age> <URL> <reason>
status 0 is a connection that failed or timed out (reason says which).
A hit is a response with two transaction ids in X-Varnish (from cache,
fresh or stale).  A plain asyncio HTTP/1.1 client: no packages needed,
and one process stays well under a core at several hundred requests a
second.
"""

import asyncio
import gzip
import os
import random
import sys
import time

TIMEOUT = 15.0  # beyond every origin timeout: a request longer is a hang


class Conn:
    def __init__(self, host, port, log):
        self.host, self.port, self.log = host, port, log
        self.r = self.w = None

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def _get(self, url):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host,
                                                           self.port)
        self.w.write(("GET %s HTTP/1.1\r\nHost: origin\r\n"
                      "Accept-Encoding: gzip\r\nUser-Agent: chaos-player\r\n"
                      "\r\n" % url).encode())
        line = await self.r.readline()
        if not line:
            raise ConnectionError("closed")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        hdr = {}
        while True:
            h = await self.r.readline()
            if not h:
                raise ConnectionError("closed in headers")
            if h in (b"\r\n", b"\n"):
                break
            k, _, v = h.decode("latin-1").partition(":")
            hdr[k.strip().lower()] = v.strip()
        if "content-length" in hdr:
            body = await self.r.readexactly(int(hdr["content-length"]))
        elif hdr.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                n = int((await self.r.readline()).split(b";")[0], 16)
                if n == 0:
                    await self.r.readline()
                    break
                body += await self.r.readexactly(n)
                await self.r.readline()
        else:
            body = b""
        if hdr.get("connection", "").lower() == "close":
            self.close()
        hit = 1 if len(hdr.get("x-varnish", "").split()) == 2 else 0
        age = hdr.get("age", "-")
        return status, reason, hit, age, hdr, body

    async def get(self, url):
        t0 = time.time()
        try:
            st, reason, hit, age, hdr, body = await asyncio.wait_for(
                self._get(url), TIMEOUT)
        except asyncio.TimeoutError:
            self.close()
            st, reason, hit, age, hdr, body = 0, "timeout", 0, "-", {}, b""
        except (OSError, ConnectionError, ValueError, IndexError,
                asyncio.IncompleteReadError) as e:
            self.close()
            st, reason, hit, age, hdr, body = (0, type(e).__name__, 0, "-",
                                               {}, b"")
        lat = time.time() - t0
        self.log.append("%.3f %.4f %d %d %s %s %s\n" % (
            t0, lat, st, hit, age, url, reason.replace(" ", "_") or "-"))
        return st, hdr, body


STOP = [float("inf")]  # when the players stop (the stop file's time)


async def flusher(log, path, stopfile):
    with open(path, "a") as f:
        while True:
            await asyncio.sleep(1)
            f.writelines(log)
            f.flush()
            log.clear()
            if stopfile and os.path.exists(stopfile):
                STOP[0] = min(STOP[0], time.time())


async def player(host, port, key, deadline, log):
    await asyncio.sleep(random.random() * 2)
    c = Conn(host, port, log)
    await c.get("/%s/live.m3u8" % key)
    last_master = time.time()
    seen = []
    first = True
    while time.time() < min(deadline, STOP[0]):
        t = time.time()
        st, hdr, body = await c.get("/%s/index.m3u8" % key)
        if st == 200:
            if hdr.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            segs = [l for l in body.decode("latin-1").split("\n")
                    if l and not l.startswith("#")]
            new = [s for s in segs if s not in seen]
            if first:
                new = new[-3:]
                first = False
            for s in new:
                if time.time() >= min(deadline, STOP[0]):
                    break
                seen.append(s)
                await c.get("/%s/%s" % (key, s))
            del seen[:-30]
        if time.time() - last_master >= 10:
            await c.get("/%s/live.m3u8" % key)
            last_master = time.time()
        await asyncio.sleep(max(0.0, t + 1 - time.time()))
    c.close()


def junk_url(i):
    r = random.random()
    k = "junk%08x%04d" % (random.getrandbits(32), i % 10000)
    if r < 0.8:
        return "/%s/index.m3u8" % k
    return random.choice([
        "/%s/../../etc/passwd" % k, "/%%2e%%2e/%s/index.m3u8" % k,
        "//%s/index.m3u8" % k, "/%s" % ("k" * 300) + "/index.m3u8",
        "/%s%%00/index.m3u8" % k, "/%s/%s" % (k, "x" * 1200),
        "/%s/../live.m3u8" % k, "/%s/a//b.ts" % k])


async def junk(host, port, count, deadline, log):
    n = [0]

    async def worker():
        c = Conn(host, port, log)
        while n[0] < count and time.time() < deadline:
            n[0] += 1
            st, hdr, body = await c.get(junk_url(n[0]))
        c.close()
    await asyncio.gather(*(worker() for _ in range(20)))


async def main(argv):
    mode, origin = argv[1], argv[2]
    host, _, port = origin.rpartition(":")
    port = int(port)
    log = []
    if mode == "players":
        keys = [l.strip() for l in open(argv[3]) if l.strip()]
        per, secs, path = int(argv[4]), float(argv[5]), argv[6]
        deadline = time.time() + secs
        fl = asyncio.ensure_future(flusher(log, path, argv[7]))
        await asyncio.gather(*(player(host, port, k, deadline, log)
                               for k in keys for _ in range(per)))
    elif mode == "junk":
        count, secs, path = int(argv[3]), float(argv[4]), argv[5]
        deadline = time.time() + secs
        fl = asyncio.ensure_future(flusher(log, path, None))
        await junk(host, port, count, deadline, log)
    else:
        sys.exit("usage: load.py players|junk ... (see the file)")
    fl.cancel()
    with open(path, "a") as f:
        f.writelines(log)


if __name__ == "__main__":
    asyncio.run(main(sys.argv))
