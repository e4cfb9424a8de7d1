#!/usr/bin/env python3
"""A burst of distinct new streams against a freshly started origin.

Issue 10 item 1: N requests for N distinct registered streams, sent at once
(all connections opened first, then every request written), to a varnishd
that has just started with the given VMOD: every look-up is a route-cache
miss, and they all meet in the Redis client.  Loopback only; Redis on TCP
with the router's default settings; one media server answering anything.

    bench/burst.py [--vmod path/to/libvmod_streamroute.so] [--rounds 3] 2000 10000

Prints, per round: the HTTP statuses, the slowest response seen by the
client, and the router's Redis counters (those the given VMOD has).
"""

import argparse
import asyncio
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from bench import free_port, varnishd_params  # bench/bench.py, beside this file

HERE = os.path.dirname(os.path.abspath(__file__))

MEDIA = r'''
import asyncio, sys
async def serve(r, w):
    try:
        while True:
            await r.readuntil(b"\r\n\r\n")
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    s = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]),
                                   backlog=16384)
    await s.serve_forever()
asyncio.run(main())
'''

VCL = '''vcl 4.1;
import streamroute from "%(vmod)s";

backend none none;

sub vcl_init {
	new router = streamroute.router("127.0.0.1:%(redis)d");
}

sub vcl_recv {
	return (pass);
}

sub vcl_backend_fetch {
	set bereq.backend = router.backend(streamroute.key(bereq.url));
	if (router.outcome() != "routed") {
		return (error(503));
	}
}
'''


def wait_for(cond, what, limit=30):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    raise SystemExit("burst: %s did not come up" % what)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def burst(port, n, prefix):
    """All connections first, then all requests; returns statuses and the
    slowest response time (s)."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=60)
             for _ in range(n)]
    sent = {}
    for i, s in enumerate(socks):
        s.sendall(b"GET /%s%d/live.m3u8 HTTP/1.1\r\nHost: o\r\n"
                  b"Connection: close\r\n\r\n" % (prefix.encode(), i))
        sent[s] = time.monotonic()
    sel = selectors.DefaultSelector()
    buf = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        buf[s] = b""
    codes, slowest, left = {}, 0.0, n
    end = time.monotonic() + 120
    while left and time.monotonic() < end:
        for key, _ in sel.select(1):
            s = key.fileobj
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                if not buf[s]:
                    slowest = max(slowest, time.monotonic() - sent[s])
                buf[s] += d
                continue
            sel.unregister(s)
            s.close()
            left -= 1
            f = buf[s].split(b"\r\n", 1)[0].split()
            c = f[1].decode() if len(f) > 1 else "none"
            codes[c] = codes.get(c, 0) + 1
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    if left:
        codes["unanswered"] = left
    return codes, slowest


def counters(workdir, which="STREAMROUTE.boot.router.*"):
    out = subprocess.run(["varnishstat", "-n", workdir, "-1", "-f", which],
                         capture_output=True, text=True).stdout
    c = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2:
            c[f[0].rsplit(".", 1)[1]] = int(f[1])
    return c


def one_round(args, n, rnd):
    tmp = tempfile.mkdtemp(prefix="burst.")
    os.chmod(tmp, 0o755)  # varnishd reads the VCL as its own user
    procs = []
    try:
        rport, mport, vport = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen(
            ["timeout", "600", "redis-server", "--bind", "127.0.0.1",
             "--port", str(rport), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL))
        with open(os.path.join(tmp, "media.py"), "w") as f:
            f.write(MEDIA)
        procs.append(subprocess.Popen(
            ["timeout", "600", "python3", os.path.join(tmp, "media.py"),
             str(mport)]))
        wait_for(lambda: can_connect(rport), "redis")
        wait_for(lambda: can_connect(mport), "media server")
        cmds = "".join("SET k%d 127.0.0.1:%d\r\n" % (i, mport)
                       for i in range(n))
        subprocess.run(["redis-cli", "-p", str(rport)], input=cmds,
                       text=True, stdout=subprocess.DEVNULL, check=True)
        with open(os.path.join(tmp, "burst.vcl"), "w") as f:
            f.write(VCL % {"vmod": args.vmod, "redis": rport})
        # every request and its fetch at once, up to Varnish's default
        # thread_pool_max (5000 a pool); the rest wait in Varnish's queue
        pool = min(max(1100, n + 100), 5000)
        workdir = os.path.join(tmp, "v")
        procs.append(subprocess.Popen(
            ["timeout", "600", "varnishd", "-F", "-n", workdir,
             "-a", "127.0.0.1:%d" % vport, "-f", os.path.join(tmp, "burst.vcl"),
             "-s", "malloc,64m"] + varnishd_params() + [
             # the burst's own threads after etc/varnishd.params: they win
             "-p", "thread_pools=2",
             "-p", "thread_pool_max=%d" % (pool + 500),
             "-p", "thread_pool_min=%d" % pool,
             "-p", "thread_queue_limit=%d" % (2 * n),
             "-p", "listen_depth=%d" % max(1024, n)],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "varnishd.log"), "w")))
        try:
            wait_for(lambda: can_connect(vport), "varnishd", 60)
        except SystemExit:
            sys.stderr.write(open(os.path.join(tmp, "varnishd.log")).read())
            raise
        # let the thread pools fill before the burst
        wait_for(lambda: counters(workdir, "MAIN.threads").get(
            "threads", 0) >= 2 * pool, "worker threads", 120)
        codes, slowest = burst(vport, n, "k")
        c = counters(workdir)
        keys = ["redis_errors", "redis_failfast", "redis_busy",
                "redis_marked_down", "redis_pool_waits", "redis_connects",
                "redis_commands", "redis_batches", "redis_wait_max"]
        print("keys=%d round=%d %s slowest_response=%.3fs %s" % (
            n, rnd, " ".join("%s=%d" % kv for kv in sorted(codes.items())),
            slowest, " ".join("%s=%d" % (k, c[k]) for k in keys if k in c)),
            flush=True)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--vmod", default=os.path.join(
        HERE, "..", "src", ".libs", "libvmod_streamroute.so"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("keys", type=int, nargs="*", default=[2000, 10000])
    args = ap.parse_args()
    args.vmod = os.path.abspath(args.vmod)
    for n in args.keys:
        if not 1 <= n <= 10000:
            raise SystemExit("burst: 1 to 10000 keys (file descriptors)")
        for rnd in range(1, args.rounds + 1):
            one_round(args, n, rnd)


if __name__ == "__main__":
    main()
