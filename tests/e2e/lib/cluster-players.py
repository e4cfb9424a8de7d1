# The virtual players of tests/e2e/cluster.sh:
#	python3 cluster-players.py OUT SECONDS STREAMS PLAYERS PORT...
# Player i plays stream s<i % STREAMS> through origin <i % len(PORTS)>,
# as an HLS player does, on one keep-alive connection: the master
# playlist once, then its media playlist every second, and each segment
# it names that it has not fetched yet, once.  It stops after SECONDS,
# or at its first failure once DIR/stop-<origin index> exists (its
# origin was killed on purpose).  Every request is a line in OUT:
#	<start unix time> <player> <origin index> <status> <ms> <type> <via>
# status 0: no answer (connection refused or closed); via: "peer" when
# the origin took it from another origin (X-SR-Backend: sr_peer_*),
# "self" when it had it or fetched it from the media server.
import asyncio, os, sys, time

out, seconds, streams, players = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ports = [int(p) for p in sys.argv[5:]]
stopdir = os.path.dirname(out)
lines = []


async def get(conn, port, path):
    """GET path on a keep-alive connection; returns (status, headers, body)."""
    if conn[0] is None:
        conn[0], conn[1] = await asyncio.open_connection("127.0.0.1", port)
    r, w = conn
    w.write(("GET %s HTTP/1.1\r\nHost: origin\r\nUser-Agent: cluster-player\r\n\r\n" % path).encode())
    await w.drain()
    status = int((await r.readline()).split()[1])
    h = {}
    while True:
        l = await r.readline()
        if l in (b"\r\n", b""):
            break
        k, v = l.decode().split(":", 1)
        h[k.strip().lower()] = v.strip()
    if "content-length" in h:
        body = await r.readexactly(int(h["content-length"]))
    elif h.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            n = int((await r.readline()).split(b";")[0], 16)
            body += await r.readexactly(n + 2)
            if n == 0:
                break
    else:
        body = await r.read()
    if h.get("connection") == "close":
        w.close()
        conn[0] = conn[1] = None
    return status, h, body


async def player(i, t_end):
    o = i % len(ports)
    port = ports[o]
    s = "s%02d" % (i % streams)
    conn = [None, None]
    seen = set()
    await asyncio.sleep((i * 0.618) % 1.0)	# spread over a second

    async def req(path, typ):
        t0 = time.time()
        try:
            st, h, body = await asyncio.wait_for(get(conn, port, path), 10)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            if conn[1] is not None:
                conn[1].close()
            conn[0] = conn[1] = None
            st, h, body = 0, {}, b""
        via = "peer" if h.get("x-sr-backend", "").startswith("sr_peer_") else "self"
        lines.append("%.3f %d %d %d %.2f %s %s\n" % (t0, i, o, st, (time.time() - t0) * 1000, typ, via))
        return st, body

    async def failed(st):
        return st != 200 and os.path.exists(os.path.join(stopdir, "stop-%d" % o))

    st, _ = await req("/%s/live.m3u8" % s, "master")
    while time.time() < t_end:
        if await failed(st):
            return
        t = time.time()
        st, body = await req("/%s/360p/index.m3u8" % s, "playlist")
        if st == 200:
            for l in body.decode(errors="replace").splitlines():
                if l.endswith(".ts") and l not in seen:
                    seen.add(l)
                    st, _ = await req("/%s/360p/%s" % (s, l), "segment")
                    if await failed(st):
                        return
        await asyncio.sleep(max(0, 1.0 - (time.time() - t)))


async def main():
    t_end = time.time() + seconds
    await asyncio.gather(*(player(i, t_end) for i in range(players)))

asyncio.run(main())
with open(out, "w") as f:
    f.writelines(lines)
