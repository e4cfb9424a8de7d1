#!/usr/bin/env python3
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
"""streamroute benchmarks: the origin (shipped VCL + VMOD, routes in Redis)
against a reference (the same caching policy, one static backend), side by
side, alternating A B A B in one run.  Run through bench/run.sh; see
bench/README.md.  Standard library only.

Every process this script starts is recorded with its PID (and a pidfile in
the run directory) and stopped by that PID at exit.  Every load is bounded in
count and time.  Everything listens on loopback.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VMOD_DIR = os.path.join(REPO, "src", ".libs")
SYS_VMOD_DIR = "/usr/lib/x86_64-linux-gnu/varnish/vmods"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ----------------------------------------------------------------------
# Processes

class Procs:
    """The bench's processes run in the foreground as its own children rather
    than through scripts/lib/stack.sh: it waits on them with Popen.wait, the
    outage scenario freezes Redis with SIGSTOP and kills it mid-run, and
    callgrind wraps varnishd, whose cache process it finds under the
    manager's PID.  The stop follows sr_stop: the signal, a bounded
    wait, then KILL."""

    def __init__(self, rundir):
        self.rundir = rundir
        self.procs = []  # (name, Popen)

    def start(self, name, argv, **kw):
        out = open(os.path.join(self.rundir, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, **kw)
        with open(os.path.join(self.rundir, name + ".pid"), "w") as f:
            f.write("%d\n" % p.pid)
        self.procs.append((name, p))
        return p

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        for i, (n, p) in enumerate(self.procs):
            if n == name:
                self._stop(p, sig, wait)
                del self.procs[i]
                return

    @staticmethod
    def _stop(p, sig=signal.SIGTERM, wait=10):
        if p.poll() is not None:
            return
        try:
            os.kill(p.pid, signal.SIGCONT)
            os.kill(p.pid, sig)
            p.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)
        except ProcessLookupError:
            pass

    def stop_all(self):
        for n, p in reversed(self.procs):
            self._stop(p)
        self.procs = []


def proc_ticks(pid):
    """utime + stime of a process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for(fn, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def http_get(port, path, timeout=5, host="127.0.0.1"):
    r = urllib.request.urlopen("http://%s:%d%s" % (host, port, path), timeout=timeout)
    return r.status, r.read()


def http_status(port, path, timeout=5):
    try:
        s, _ = http_get(port, path, timeout)
        return s
    except urllib.error.HTTPError as e:
        return e.code


# ----------------------------------------------------------------------
# Redis

class Redis:
    def __init__(self, procs, rundir):
        self.procs, self.rundir = procs, rundir
        self.port = free_port()
        self.p = None

    def start(self):
        self.p = self.procs.start("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.rundir])
        wait_for(lambda: self.cli("PING").strip() == "PONG", 10, "redis")

    def cli(self, *args, inp=None):
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                              input=inp, capture_output=True, text=True,
                              timeout=60).stdout

    def seed(self, routes):
        """routes: dict key -> ip:port, written with redis-cli --pipe."""
        def cmd(*a):
            s = "*%d\r\n" % len(a)
            for x in a:
                s += "$%d\r\n%s\r\n" % (len(x), x)
            return s
        data = "".join(cmd("SET", k, v, "EX", "86400") for k, v in routes.items())
        out = self.cli("--pipe", inp=data)
        if "errors: 0" not in out:
            raise RuntimeError("redis seed: " + out)

    def gets(self):
        """Route look-ups so far: GET (the NGINX peer) and GETRANGE (the
        VMOD reads a bounded prefix of the value)."""
        return sum(int(x) for x in re.findall(r"cmdstat_(?:get|getrange):calls=(\d+)",
                                               self.cli("INFO", "commandstats")))


# ----------------------------------------------------------------------
# Media servers

NGINX_CONF = """
daemon off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {d}/nginx-tmp;
    proxy_temp_path {d}/nginx-tmp;
    fastcgi_temp_path {d}/nginx-tmp;
    uwsgi_temp_path {d}/nginx-tmp;
    scgi_temp_path {d}/nginx-tmp;
    server {{
{listens}
        root {d}/www;
        # Any segment path answers: 200 KB under a "big" rendition, else 1 KB.
        location ~ /big/[^/]+\\.ts$ {{
            default_type video/mp2t;
            add_header Cache-Control "max-age=600";
            rewrite ^ /seg200k.ts break;
        }}
        location ~ \\.ts$ {{
            default_type video/mp2t;
            add_header Cache-Control "max-age=600";
            rewrite ^ /seg1k.ts break;
        }}
        location ~ /live\\.m3u8$ {{
            default_type application/vnd.apple.mpegurl;
            add_header Cache-Control "max-age=60";
            rewrite ^ /live.m3u8 break;
        }}
        location ~ \\.m3u8$ {{
            default_type application/vnd.apple.mpegurl;
            add_header Cache-Control "no-cache";
            rewrite ^ /index.m3u8 break;
        }}
    }}
}}
"""


def scale_addr(i):
    """The i-th media-server address of the scale scenario (127.1.x.y)."""
    return "127.1.%d.%d" % (i // 250, i % 250 + 1)


class Media:
    def __init__(self, procs, rundir, naddrs):
        self.procs, self.rundir = procs, rundir
        self.port = free_port()
        self.naddrs = naddrs

    def start(self):
        d = self.rundir
        www = os.path.join(d, "www")
        os.makedirs(www, exist_ok=True)
        os.makedirs(os.path.join(d, "nginx-tmp"), exist_ok=True)
        with open(os.path.join(www, "seg1k.ts"), "wb") as f:
            f.write(b"G" * 1024)
        with open(os.path.join(www, "seg200k.ts"), "wb") as f:
            f.write(b"G" * 204800)
        with open(os.path.join(www, "live.m3u8"), "w") as f:
            f.write("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n")
        with open(os.path.join(www, "index.m3u8"), "w") as f:
            f.write("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
                    "#EXT-X-MEDIA-SEQUENCE:100\n" +
                    "".join("#EXTINF:6.000,\n20260101-%d.ts\n" % n
                            for n in range(100, 106)))
        listens = ["        listen 127.0.0.1:%d;" % self.port]
        listens += ["        listen %s:%d;" % (scale_addr(i), self.port)
                    for i in range(self.naddrs)]
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(d=d, listens="\n".join(listens)))
        self.procs.start("nginx", ["nginx", "-c", conf, "-p", d + "/"])
        wait_for(lambda: http_get(self.port, "/x/small/1.ts")[0] == 200, 15, "nginx")


class SlowServer:
    """A media server answering every request after `delay` seconds, counting
    requests per path (GET /__stats answers at once with the counts)."""

    def __init__(self, procs, delay):
        self.procs, self.delay = procs, delay
        self.port = free_port()

    def start(self):
        self.procs.start("slow", [sys.executable, os.path.abspath(__file__),
                                  "slow-server", str(self.port), str(self.delay)])
        wait_for(lambda: http_get(self.port, "/__stats")[0] == 200, 10, "slow server")

    def count(self, path):
        return json.loads(http_get(self.port, "/__stats")[1]).get(path, 0)


def slow_server_main(port, delay):
    counts = {}
    body = b"S" * 1024

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                path = line.split()[1].decode()
                if path == "/__stats":
                    b = json.dumps(counts).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(b) + b)
                    await writer.drain()
                    continue
                counts[path] = counts.get(path, 0) + 1
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n"
                             b"Cache-Control: max-age=600\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main():
        srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


# ----------------------------------------------------------------------
# Varnish

class Varnish:
    def __init__(self, procs, rundir, name, vcl, vcl_path, extra=(), wrapper=()):
        self.procs, self.rundir, self.name = procs, rundir, name
        self.vcl, self.vcl_path = vcl, vcl_path
        self.port = free_port()
        self.workdir = os.path.join(rundir, name)
        self.extra, self.wrapper = list(extra), list(wrapper)
        self.p = None

    def start(self, timeout=60):
        argv = self.wrapper + [
            "varnishd", "-F", "-n", self.workdir, "-a", "127.0.0.1:%d" % self.port,
            "-f", self.vcl, "-s", "malloc,1G",
            "-P", os.path.join(self.rundir, self.name + "-varnishd.pid"),
            "-p", "vcl_path=" + self.vcl_path,
            "-p", "vmod_path=%s:%s" % (VMOD_DIR, SYS_VMOD_DIR),
            "-T", "127.0.0.1:%d" % free_port()] + self.extra
        self.p = self.procs.start(self.name, argv)
        if timeout:
            self.wait_ready(timeout)

    def wait_ready(self, timeout=60):
        wait_for(lambda: http_status(self.port, "/healthcheck", 2) == 200, timeout,
                 self.name + " (see %s/%s.log)" % (self.rundir, self.name))

    def child_pid(self):
        # the cache process is the manager's only child
        with open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)) as f:
            kids = f.read().split()
        return int(kids[0])

    def cpu_ticks(self):
        """CPU of the whole origin: the cache process and the manager
        (as the NGINX peer counts its master and workers)."""
        return proc_ticks(self.child_pid()) + proc_ticks(self.p.pid)

    def rss_kb(self):
        with open("/proc/%d/status" % self.child_pid()) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def vsm_bytes(self):
        total = 0
        for root, _, files in os.walk(self.workdir):
            if "_.vsm" in root:
                for fn in files:
                    try:
                        total += os.path.getsize(os.path.join(root, fn))
                    except OSError:
                        pass
        return total

    def stats(self):
        out = subprocess.run(["varnishstat", "-n", self.workdir, "-1", "-j"],
                             capture_output=True, text=True, timeout=30).stdout
        j = json.loads(out)
        c = j.get("counters", j)
        return {k: v.get("value", 0) for k, v in c.items() if isinstance(v, dict)}

    def stat(self, *names):
        s = self.stats()
        return [s.get(n, 0) for n in names]

    def router_stat(self, suffix):
        s = self.stats()
        return sum(v for k, v in s.items()
                   if k.startswith("STREAMROUTE.") and k.endswith("." + suffix))


# ----------------------------------------------------------------------
# The third system: NGINX + Lua + Redis (bench/nginx-lua/)

PEER = "nginx-lua"
PEER_DIR = os.path.join(BENCH, "nginx-lua")
PEER_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
# the scenarios the peer runs in (alternate()'s names)
PEER_SCENARIOS = ("hit 1KB", "hit 200KB", "miss 1KB", "herd", "poll")


class NginxLua:
    """The origin a team would build instead: bench/nginx-lua/nginx.conf.in
    (proxy_cache on tmpfs, 2 workers) with streamroute_peer.lua routing
    from the same Redis.  Duck-types the parts of Varnish the scenarios
    use: port, cpu_ticks(), stat()."""

    def __init__(self, procs, rundir, redis_port):
        self.procs, self.rundir, self.redis_port = procs, rundir, redis_port
        self.port = free_port()
        self.cache = None
        self.p = None

    def start(self, timeout=30):
        d = self.rundir
        # tmpfs: file creation on this machine's ext4 is slow right after
        # a large delete; /dev/shm is what a production box would mount
        self.cache = tempfile.mkdtemp(prefix="srbench-nginx-cache-", dir="/dev/shm")
        os.makedirs(os.path.join(d, "nginx-lua-tmp"), exist_ok=True)
        with open(os.path.join(PEER_DIR, "nginx.conf.in")) as f:
            conf = f.read()
        for k, v in (("@RUNDIR@", d), ("@CACHE@", self.cache), ("@PORT@", self.port),
                     ("@LUADIR@", PEER_DIR), ("@REDIS_PORT@", self.redis_port)):
            conf = conf.replace(k, str(v))
        path = os.path.join(d, "nginx-lua.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.p = self.procs.start(PEER, ["nginx", "-c", path, "-p", d + "/"])
        wait_for(lambda: http_status(self.port, "/healthcheck", 2) == 200, timeout,
                 "nginx-lua (see %s/%s.log, nginx-lua-error.log)" % (d, PEER))

    def pids(self):
        """The master and its children (workers, cache manager/loader)."""
        with open("/proc/%d/task/%d/children" % (self.p.pid, self.p.pid)) as f:
            return [self.p.pid] + [int(x) for x in f.read().split()]

    def cpu_ticks(self):
        t = 0
        for pid in self.pids():
            try:
                t += proc_ticks(pid)
            except OSError:   # a cache loader that just exited
                pass
        return t

    def stat(self, *names):
        """MAIN.backend_req: the balancer's count of media fetches (a
        shared dict, served on /__fetches); nothing else is counted."""
        fetches = int(http_get(self.port, "/__fetches")[1])
        return [fetches if n == "MAIN.backend_req" else 0 for n in names]

    def cleanup(self):
        if self.cache:
            shutil.rmtree(self.cache, ignore_errors=True)


def peer_check(bench):
    """The NGINX + Lua origin behaves like the origin where the benchmark
    relies on it: routes and caches, 404 for an unknown stream, 400 for a
    bad path, 503 without Redis (killed or hung, failing fast) for what is
    not cached, 200 for what is.  Freezes, stops and restarts the bench's
    Redis."""
    import http.client
    peer, media = bench.peer, bench.media
    problems = []

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", peer.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("X-Cache"), r.getheader("Access-Control-Allow-Origin"), body

    def expect(what, got, want):
        if got != want:
            problems.append("%s: got %s, want %s" % (what, got, want))
    bench.redis.cli("SET", "pc-live", "127.0.0.1:%d" % media.port, "EX", "600")
    bench.redis.cli("SET", "pc-new", "127.0.0.1:%d" % media.port, "EX", "600")
    st, xc, cors, body = get("/pc-live/live.m3u8")
    expect("routed live.m3u8", (st, xc, cors), (200, "MISS", "*"))
    expect("live.m3u8 body", body[:7], b"#EXTM3U")
    st, xc, _, _ = get("/pc-live/live.m3u8")
    expect("live.m3u8 again", (st, xc), (200, "HIT"))
    expect("unknown stream", get("/pc-nosuch/live.m3u8")[:1], (404,))
    for bad in ("/pc-live/../etc/passwd", "/pc-live//x.ts", "/pc%2elive/a.ts", "/x"):
        expect("bad path " + bad, get(bad)[:1], (400,))
    # Redis hung (accepts, never answers): a worker waits for the 250 ms
    # timeout once, then fails fast for a second; without that 20 new
    # streams would take 20 x 250 ms
    os.kill(bench.redis.p.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        codes = [get("/pc-hung%d/a.ts" % i)[0] for i in range(20)]
        secs = time.time() - t0
    finally:
        os.kill(bench.redis.p.pid, signal.SIGCONT)
    expect("Redis hung, new streams", set(codes), {503})
    if secs > 2.5:
        problems.append("Redis hung: 20 new streams took %.1f s (no fail-fast)" % secs)
    time.sleep(1.1)   # past the fail-fast window
    bench.procs.stop("redis")
    try:
        expect("Redis down, never looked up", get("/pc-new/360p/1.ts")[:1], (503,))
        expect("Redis down, cached", get("/pc-live/live.m3u8")[:2], (200, "HIT"))
    finally:
        bench.redis.start()
        bench.redis.seed(bench.routes)
        bench.redis.cli("SET", "pc-new", "127.0.0.1:%d" % media.port, "EX", "600")
    # the first GET after the restart finds its pooled connection closed
    # and retries on a new one
    time.sleep(1.1)   # past the fail-fast window
    expect("Redis back", get("/pc-new/360p/2.ts")[:1], (200,))
    # and every worker routes again at once (10 streams, both workers)
    expect("Redis back, 10 streams",
           {get("/s%d/360p/back.ts" % i)[0] for i in range(10)}, {200})
    bench.row("nginx-lua check", "route, cache, 404, 400, 503 without Redis (killed, "
              "hung), cached 200 without Redis", None, None, None, "all", not problems)
    if problems:
        bench.failures.append("nginx-lua check: " + "; ".join(problems))


# ----------------------------------------------------------------------
# Load

WRK_LUA = os.path.join(BENCH, "wrk", "bench.lua")


def wrk(port, mode, runid, streams, rendition="small", keyprefix="s",
        nfiles=10, threads=2, conns=50, duration=5, timeout_s=5):
    argv = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % duration,
            "--timeout", "%ds" % timeout_s, "-s", WRK_LUA,
            "http://127.0.0.1:%d" % port, "--", mode, str(runid), str(streams),
            rendition, keyprefix, str(nfiles)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            j = json.loads(line[8:])
            j["rps"] = j["requests"] / (j["duration_us"] / 1e6)
            j["errors"] = sum(j[k] for k in j if k.startswith("err_"))
            return j
    raise RuntimeError("wrk failed: " + r.stdout + r.stderr)


def measured(v, fn):
    """Runs fn() against varnish v; adds its CPU time per request."""
    t0 = v.cpu_ticks()
    r = fn()
    t1 = v.cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    if r.get("requests"):
        r["cpu_us_per_req"] = (t1 - t0) * 1e6 / hz / r["requests"]
    return r


async def _herd(port, path, n):
    conns = []
    for i in range(0, n, 100):
        conns += await asyncio.gather(*[asyncio.open_connection("127.0.0.1", port)
                                        for _ in range(min(100, n - i))])
    req = ("GET %s HTTP/1.1\r\nHost: bench\r\n\r\n" % path).encode()

    async def one(reader, writer):
        t0 = time.perf_counter()
        writer.write(req)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        clen = 0
        while True:
            h = await reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            if h.lower().startswith(b"content-length:"):
                clen = int(h.split(b":")[1])
        await reader.readexactly(clen)
        dt = time.perf_counter() - t0
        writer.close()
        return dt, status

    res = await asyncio.wait_for(asyncio.gather(*[one(r, w) for r, w in conns]), 60)
    return res


def herd(port, path, n):
    res = asyncio.run(_herd(port, path, n))
    lat = sorted(r[0] for r in res)
    return {"requests": n, "ok": sum(1 for r in res if r[1] == 200),
            "slowest_ms": lat[-1] * 1e3, "p50_ms": lat[len(lat) // 2] * 1e3}


# ----------------------------------------------------------------------
# The bench

class Bench:
    def __init__(self, args):
        self.a = args
        self.rundir = tempfile.mkdtemp(prefix="srbench-")
        os.chmod(self.rundir, 0o755)
        self.procs = Procs(self.rundir)
        self.rows = []     # table rows
        self.notes = []    # findings printed under the table
        self.raw = {}      # everything measured, for results/*.json
        self.runid = 0
        self.failures = []
        self.peer = None   # NginxLua, unless --no-peer

    # -- setup
    def setup(self):
        a = self.a
        self.redis = Redis(self.procs, self.rundir)
        self.redis.start()
        self.media = Media(self.procs, self.rundir, a.max_addrs)
        self.media.start()
        self.slow = SlowServer(self.procs, a.herd_delay)
        self.slow.start()
        vdir = os.path.join(self.rundir, "vcl")
        self.write_settings(vdir)
        with open(os.path.join(vdir, "bench-backends.vcl"), "w") as f:
            f.write("""# generated by bench/bench.py
backend media {
	.host = "127.0.0.1"; .port = "%d";
	.connect_timeout = 1s; .first_byte_timeout = 5s; .between_bytes_timeout = 5s;
}
backend slow {
	.host = "127.0.0.1"; .port = "%d";
	.connect_timeout = 1s; .first_byte_timeout = 5s; .between_bytes_timeout = 5s;
}
sub bench_route {
	if (streamroute.key(bereq.url) == "herd") {
		set bereq.backend = slow;
	} else {
		set bereq.backend = media;
	}
}
""" % (self.media.port, self.slow.port))
        self.vcl_path = "%s:%s" % (vdir, os.path.join(REPO, "vcl"))
        self.origin = Varnish(self.procs, self.rundir, "origin",
                              os.path.join(REPO, "vcl", "origin.vcl"), self.vcl_path)
        self.ref = Varnish(self.procs, self.rundir, "reference",
                           os.path.join(BENCH, "reference.vcl"), self.vcl_path)
        self.origin.start(timeout=0)   # both compile their VCL at once
        self.ref.start(timeout=0)
        self.origin.wait_ready()
        self.ref.wait_ready()
        # routes: s<n> for the hit/miss/poll scenarios, herd -> slow server
        routes = {"s%d" % i: "127.0.0.1:%d" % self.media.port for i in range(a.streams)}
        routes["herd"] = "127.0.0.1:%d" % self.slow.port
        self.routes = routes
        self.redis.seed(routes)
        self.targets = [("origin", self.origin), ("reference", self.ref)]
        if not a.no_peer:
            self.peer = NginxLua(self.procs, self.rundir, self.redis.port)
            self.peer.start()

    def write_settings(self, vdir, *options):
        """<vdir>/streamroute/origin-settings.vcl, written by the one
        renderer (scripts/streamroute-settings): the shipped settings
        with the bench's Redis, room for the scale scenario's backends,
        the media servers' loopback (127.1.x.y for the scale scenario)
        allowed, and more of the renderer's `options`."""
        os.makedirs(os.path.join(vdir, "streamroute"))
        subprocess.run([os.path.join(REPO, "scripts", "streamroute-settings"),
                        "--redis", "127.0.0.1:%d" % self.redis.port,
                        "--max-backends", str(self.a.max_addrs + 100),
                        "--allow", "127.0.0.0/8"] + list(options) +
                       ["-o", os.path.join(vdir, "streamroute", "origin-settings.vcl")],
                       check=True)

    def timed(self, port, paths, seconds, conns=1):
        """GETs paths on `conns` keep-alive connections (one thread each,
        sequential requests) for at most `seconds`; returns latency figures
        and how many took > 100 ms."""
        import http.client
        from concurrent.futures import ThreadPoolExecutor
        lat, codes = [], {}
        t_end = time.time() + seconds

        def client(mine):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for p in mine:
                if time.time() > t_end:
                    break
                t0 = time.perf_counter()
                c.request("GET", p)
                r = c.getresponse()
                r.read()
                lat.append((time.perf_counter() - t0) * 1e6)
                codes[r.status] = codes.get(r.status, 0) + 1
            c.close()
        with ThreadPoolExecutor(conns) as ex:
            list(ex.map(client, [paths[i::conns] for i in range(conns)]))
        srt = sorted(lat)

        def pct(q):
            return srt[min(len(srt) - 1, int(q / 100.0 * len(srt)))]
        return {"requests": len(lat), "p50_us": pct(50), "p99_us": pct(99),
                "p999_us": pct(99.9), "max_us": srt[-1],
                "slow_100ms": sum(1 for x in lat if x > 100000),
                "slow_times": [round(t) for t in lat if t > 100000][:20],
                "codes": codes, "rps": len(lat) / max(sum(lat) / 1e6, 1e-9)}

    def warm(self, port, paths):
        """GETs each path once (sequentially, one keep-alive connection)."""
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        bad = {}
        for p in paths:
            c.request("GET", p)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                bad[r.status] = bad.get(r.status, 0) + 1
        c.close()
        if bad:
            self.failures.append("warm-up of :%d: %d of %d not 200 (%s)" % (
                port, sum(bad.values()), len(paths), bad))

    def next_runid(self):
        self.runid += 1
        return "r%d%d" % (int(time.time()) % 100000, self.runid)

    def row(self, scen, metric, o, r, ratio, target, met, unit="", peer=None,
            peer_ratio=None):
        self.rows.append(dict(scenario=scen, metric=metric, origin=o, reference=r,
                              ratio=ratio, target=target, met=met, unit=unit,
                              peer=peer, peer_ratio=peer_ratio))

    def peer_targets(self, name):
        """The NGINX + Lua origin as a third system, in the scenarios
        where it applies."""
        if self.peer and name in PEER_SCENARIOS:
            return [(PEER, self.peer)]
        return []

    def alternate(self, name, fn):
        """fn(varnish) -> dict; runs A B A B (A B C with the NGINX peer)
        for a.rounds rounds."""
        targets = self.targets + self.peer_targets(name)
        res = {tname: [] for tname, _ in targets}
        for rnd in range(self.a.rounds):
            for tname, v in targets:
                r = fn(v)
                res[tname].append(r)
                log("  %-28s round %d %-9s %s" % (name, rnd + 1, tname,
                    " ".join("%s=%.4g" % (k, v2) for k, v2 in r.items()
                             if isinstance(v2, (int, float)) and k in
                             ("rps", "p99_us", "cpu_us_per_req", "errors", "slowest_ms",
                              "fetches", "per_stream_s", "redis_gets"))))
        self.raw[name] = res
        return res

    def ratio_rows(self, scen, res, metric, target, higher_better=True, unit=""):
        o = [r.get(metric) for r in res["origin"]]
        b = [r.get(metric) for r in res["reference"]]
        ratios = [x / y for x, y in zip(o, b) if x is not None and y]
        rm = median(ratios)
        met = None
        if target is not None and rm is not None:
            met = rm >= target if higher_better else rm <= target
        tgt = None if target is None else ("%s %.2fx" % (">=" if higher_better else "<=", target))
        pm, pr = self.peer_ratio(res, metric)
        self.row(scen, metric, median(o), median(b), rm, tgt, met, unit, pm, pr)
        return rm

    @staticmethod
    def peer_ratio(res, metric):
        """The NGINX peer's median and the median of the per-round ratios
        origin / peer (None, None where the peer did not run)."""
        if PEER not in res:
            return None, None
        o = [r.get(metric) for r in res["origin"]]
        p = [r.get(metric) for r in res[PEER]]
        return median(p), median([x / y for x, y in zip(o, p) if x is not None and y])

    # -- scenarios
    def scen_hits(self):
        a = self.a
        sizes = (("small", "hit 1KB"), ("big", "hit 200KB"))
        for rend, label in sizes[:1] if a.smoke else sizes:
            # warm every cache with the fixed URL set
            for _, v in self.targets + self.peer_targets(label):
                self.warm(v.port, ["/s%d/%s/hit-%d.ts" % (i, rend, f)
                                   for i in range(a.hit_streams) for f in range(a.hit_files)])
            be0 = self.origin.stat("MAIN.backend_req")[0]

            def one(v):
                g0 = self.redis.gets()
                r = measured(v, lambda: wrk(
                    v.port, "hit", 0, a.hit_streams, rend, nfiles=a.hit_files,
                    conns=a.conns, duration=a.duration))
                r["redis_gets"] = self.redis.gets() - g0
                return r
            res = self.alternate(label, one)
            be1 = self.origin.stat("MAIN.backend_req")[0]
            gets = sum(r["redis_gets"] for r in res["origin"])
            errs = sum(r["errors"] for t in res.values() for r in t)
            if errs:
                self.failures.append("%s: %d wrk errors" % (label, errs))
            self.ratio_rows(label, res, "rps", 0.98, unit="req/s")
            self.ratio_rows(label, res, "p99_us", 1 / 0.98, higher_better=False, unit="us")
            self.ratio_rows(label, res, "cpu_us_per_req", None, higher_better=False, unit="us")
            n = sum(r["requests"] for r in res["origin"])
            self.notes.append("%s: origin served %d requests with %d Redis GETs and %d "
                              "backend fetches during the measurement (the 100 objects "
                              "expire after their 60 s TTL once or twice in the %d runs)"
                              % (label, n, gets, be1 - be0, 2 * a.rounds))
            self.raw[label + " redis"] = {"requests": n, "redis_gets": gets,
                                          "backend_req": be1 - be0}
            if PEER in res:
                self.notes.append("%s: nginx-lua served %d requests with %d Redis GETs "
                                  "(its route look-up runs before the cache, on hits too)"
                                  % (label, sum(r["requests"] for r in res[PEER]),
                                     sum(r["redis_gets"] for r in res[PEER])))

    def scen_miss(self, label="miss 1KB", streams=None, keyprefix="s", note=True):
        a = self.a
        streams = streams or a.streams

        def one(v):
            g0 = self.redis.gets()
            r = measured(v, lambda: wrk(v.port, "miss", self.next_runid(), streams,
                                        "small", keyprefix=keyprefix,
                                        conns=a.conns, duration=a.duration))
            r["redis_gets"] = self.redis.gets() - g0
            return r
        res = self.alternate(label, one)
        if note:
            errs = sum(r["errors"] for t in res.values() for r in t)
            if errs:
                self.failures.append("%s: %d wrk errors" % (label, errs))
            self.ratio_rows(label, res, "rps", 0.95, unit="req/s")
            self.ratio_rows(label, res, "p99_us", 1 / 0.95, higher_better=False, unit="us")
            self.ratio_rows(label, res, "cpu_us_per_req", None, higher_better=False, unit="us")
            o = res["origin"]
            gets = sum(r["redis_gets"] for r in o)
            n = sum(r["requests"] for r in o)
            self.raw["miss_gets_per_miss"] = gets / max(n, 1)
            secs = sum(r["duration_us"] for r in o) / 1e6
            self.notes.append(
                "%s over %d streams: origin made %d Redis GETs for %d misses "
                "(%.3f per miss, %.0f per second = %.2f per stream per second: "
                "route_ttl 1 s)" % (label, streams, gets, n, gets / max(n, 1), gets / secs,
                                    gets / secs / streams))
            if PEER in res:
                pg = sum(r["redis_gets"] for r in res[PEER])
                pn = sum(r["requests"] for r in res[PEER])
                self.notes.append("%s: nginx-lua made %d Redis GETs for %d misses (%.3f per "
                                  "miss: a route cache per worker, 2 workers)"
                                  % (label, pg, pn, pg / max(pn, 1)))
        return res

    def scen_herd(self):
        a = self.a

        def one(v):
            path = "/herd/small/%s.ts" % self.next_runid()
            be0 = v.stat("MAIN.backend_req")[0]
            r = herd(v.port, path, a.herd_clients)
            r["fetches"] = self.slow.count(path)
            r["backend_req"] = v.stat("MAIN.backend_req")[0] - be0
            return r
        res = self.alternate("herd", one)
        fo = [r["fetches"] for r in res["origin"]]
        fr = [r["fetches"] for r in res["reference"]]
        fp = [r["fetches"] for r in res.get(PEER, [])]
        self.row("herd %d clients" % a.herd_clients, "media fetches (max)",
                 max(fo), max(fr), None, "== 1", max(fo) == 1 and min(fo) == 1,
                 peer=max(fp) if fp else None)
        self.ratio_rows("herd %d clients" % a.herd_clients, res, "slowest_ms",
                        1.10, higher_better=False, unit="ms")
        bad = [r for t in res.values() for r in t if r["ok"] != r["requests"]]
        if bad:
            self.failures.append("herd: %d clients did not get 200" % len(bad))

    def scen_poll(self):
        a = self.a

        def one(v):
            be0 = v.stat("MAIN.backend_req")[0]
            r = measured(v, lambda: wrk(v.port, "poll", 0, a.poll_streams, "small",
                                        keyprefix="s", conns=a.players,
                                        duration=a.poll_duration, timeout_s=10))
            be = v.stat("MAIN.backend_req")[0] - be0
            secs = r["duration_us"] / 1e6
            r["fetches"] = be
            r["per_stream_s"] = be / a.poll_streams / secs
            r["polls_per_s"] = r["requests"] / secs
            return r
        res = self.alternate("poll", one)
        o = [r["per_stream_s"] for r in res["origin"]]
        b = [r["per_stream_s"] for r in res["reference"]]
        p = [r["per_stream_s"] for r in res.get(PEER, [])]
        self.row("poll %d players/%d streams" % (a.players, a.poll_streams),
                 "media req/stream/s", median(o), median(b),
                 None, "<= 1", max(o) <= 1.0, peer=median(p))
        self.ratio_rows("poll %d players/%d streams" % (a.players, a.poll_streams),
                        res, "polls_per_s", None, unit="req/s")
        self.ratio_rows("poll %d players/%d streams" % (a.players, a.poll_streams),
                        res, "p99_us", None, higher_better=False, unit="us")

    def scen_scale(self):
        a = self.a
        configs = [(k, n) for k, n in a.scale if n <= a.max_addrs]
        base = None
        for keys, naddrs in configs:
            prefix = "k%da%d-" % (keys, naddrs)
            routes = {"%s%d" % (prefix, i): "%s:%d" % (scale_addr(i % naddrs), self.media.port)
                      for i in range(keys)}
            self.redis.seed(routes)
            # warm: one request per address creates the backends; measure memory
            st = self.origin.stats()
            mem0 = (self.origin.rss_kb(), self.origin.vsm_bytes(),
                    st.get("SMA.s0.g_bytes", 0), self.origin.router_stat("backends"))
            # the reference needs no routes but gets the same warm-up
            for v in (self.origin, self.ref):
                self.warm(v.port, ["/%s%d/small/warm.ts" % (prefix, i)
                                   for i in range(min(keys, naddrs))])
            st = self.origin.stats()
            mem1 = (self.origin.rss_kb(), self.origin.vsm_bytes(),
                    st.get("SMA.s0.g_bytes", 0), self.origin.router_stat("backends"))
            nb = mem1[3] - mem0[3]
            label = "scale %d keys/%d addrs" % (keys, naddrs)
            res = self.scen_miss(label, streams=keys, keyprefix=prefix, note=False)
            # The reference does not route, so its miss rate does not depend
            # on the number of keys: origin/reference at this size over
            # origin/reference at the smallest size is the origin's change
            # with the noise of the machine divided out.
            ratio = self.ratio_rows(label, res, "rps", None, unit="req/s")
            if base is None:
                base = ratio
            rel = ratio / base if base else None
            self.row(label, "miss rps vs %d keys (normalised)" % configs[0][0],
                     None, None, rel, ">= 0.90x", None if rel is None else rel >= 0.90)
            errs = sum(r["errors"] for t in res.values() for r in t)
            if errs:
                self.failures.append("%s: %d wrk errors" % (label, errs))
            gets = sum(r["redis_gets"] for r in res["origin"])
            n = sum(r["requests"] for r in res["origin"])
            self.notes.append("%s: %.3f Redis GETs per miss; %d backends now" %
                              (label, gets / max(n, 1), self.origin.router_stat("backends")))
        self.scale_memory()

    def scale_memory(self):
        """Memory per dynamic backend, in a fresh origin that has served
        nothing else (in the shared one, objects of earlier scenarios expire
        meanwhile and RSS goes down): one request per address."""
        a = self.a
        n = a.max_addrs
        self.redis.seed({"mem%d" % i: "%s:%d" % (scale_addr(i), self.media.port)
                         for i in range(n)})
        v = Varnish(self.procs, self.rundir, "mem", os.path.join(REPO, "vcl", "origin.vcl"),
                    self.vcl_path)
        v.start()
        self.warm(v.port, ["/mem0/small/warm.ts"])    # first backend, code paths
        time.sleep(0.5)
        st = v.stats()
        m0 = (v.rss_kb(), v.vsm_bytes(), st.get("SMA.s0.g_bytes", 0), v.router_stat("backends"))
        self.warm(v.port, ["/mem%d/small/warm.ts" % i for i in range(1, n)])
        time.sleep(0.5)
        st = v.stats()
        m1 = (v.rss_kb(), v.vsm_bytes(), st.get("SMA.s0.g_bytes", 0), v.router_stat("backends"))
        self.procs.stop("mem")
        nb = m1[3] - m0[3]
        if nb <= 0:
            self.failures.append("scale memory: no backend created")
            return
        rss = (m1[0] - m0[0]) * 1024 - (m1[2] - m0[2])
        vsm = m1[1] - m0[1]
        label = "%d dynamic backends" % nb
        self.row(label, "memory per backend: cache process RSS minus stored objects",
                 rss / nb, None, None, "measured", None, unit="B")
        self.row(label, "memory per backend: VSM (counters) files", vsm / nb, None, None,
                 "measured", None, unit="B")
        self.notes.append("%s in a fresh origin: cache process RSS +%d KB, of which %d KB are "
                          "the %d stored 1 KB objects; VSM files +%d KB" %
                          (label, m1[0] - m0[0], (m1[2] - m0[2]) // 1024, nb, vsm // 1024))
        self.raw["scale memory"] = {"before": m0, "after": m1, "backends": nb}

    def scen_outage(self):
        a = self.a
        o = self.origin
        # routes of s* are cached (and expire 1 s later: stale routes)
        wrk(o.port, "miss", self.next_runid(), a.streams, threads=1, conns=4, duration=1)
        out = {}
        for mode in ("hung",) if a.smoke else ("killed", "hung"):
            if mode == "killed":
                self.procs.stop("redis")
            else:
                if "redis" not in [n for n, _ in self.procs.procs]:
                    self.redis.start()
                    self.redis.seed(self.routes)
                wrk(o.port, "miss", self.next_runid(), a.streams, threads=1, conns=4,
                    duration=1)
                os.kill(self.redis.p.pid, signal.SIGSTOP)
            time.sleep(1.2)  # routes are now past route_ttl (1 s): stale
            c0 = {k: o.router_stat(k) for k in ("redis_failfast", "redis_commands",
                                               "redis_errors", "redis_connects", "stale",
                                               "unavailable")}
            for what, prefix, streams in (("known streams (stale routes)", "s", a.streams),
                                          ("new streams (503)", "new%s-" % mode, 1000)):
                rid = self.next_runid()
                paths = ["/%s%d/small/%s-%d.ts" % (prefix, i % streams, rid, i)
                         for i in range(100000)]
                r = self.timed(o.port, paths, a.duration, a.outage_conns)
                rr = {"p50_us": None, "p99_us": None, "p999_us": None, "max_us": None} \
                    if a.smoke else self.timed(self.ref.port, paths, a.duration, a.outage_conns)
                key = "Redis %s: %s" % (mode, what)
                out[key] = {"origin": r, "reference": rr}
                for m in ("p50_us", "p99_us", "p999_us", "max_us"):
                    ratio = r[m] / rr[m] if rr[m] else None
                    if m == "p50_us":
                        tgt, met = None, None
                    elif m == "p99_us":
                        tgt, met = "<= 1.5x", None if ratio is None else ratio <= 1.5
                    elif m == "max_us":
                        tgt, met = "< 250000 (redis_timeout)", r[m] < 250000
                    else:
                        tgt, met = None, None
                    self.row(key, m, r[m], rr[m], ratio, tgt, met, unit="us")
                if rr["p50_us"] is not None:
                    added = r["p50_us"] - rr["p50_us"]
                    self.row(key, "p50 added to the reference's", added, None, None,
                             "< 1000", added < 1000, unit="us")
                self.row(key, "requests > 100 ms", r["slow_100ms"],
                         rr.get("slow_100ms"), None, "0", r["slow_100ms"] == 0)
                self.notes.append("%s: %d sequential requests, statuses %s; over 100 ms: %s"
                                  % (key, r["requests"], r["codes"], r["slow_times"] or "none"))
            c1 = {k: o.router_stat(k) - c0[k] for k in c0}
            out["Redis %s counters" % mode] = c1
            self.notes.append("Redis %s, origin counters over both runs: %s" % (
                mode, ", ".join("%s +%d" % kv for kv in c1.items())))
            if mode == "hung":
                self.procs.stop("redis", signal.SIGKILL)
        self.raw["outage"] = out
        self.redis.start()
        self.redis.seed(self.routes)

    def callgrind(self):
        """Instructions per miss, origin vs reference, under callgrind.

        callgrind_control cannot reach varnishd's cache process (a fork of
        the manager has no vgdb endpoint), so each VCL runs twice, with n1
        and n2 misses after the same start-up and warm-up, and the cost of
        a miss is the difference of the two totals over n2 - n1: start-up,
        warm-up and shutdown cancel out.

        Whether a miss asks Redis depends on the clock (route_ttl 1 s), and
        valgrind slows the clock down 50 times, so the origin is counted
        twice, each time deterministic: with route_ttl = 1 h (routing from
        the warm route cache) and with route_ttl = 0 (one Redis GET per
        miss).  The cost at the shipped setting is the first plus the
        Redis GETs per miss measured under real load times the difference."""
        a = self.a
        out = {}
        n1, n2 = a.cg_misses // 4, a.cg_misses
        base = os.path.join(self.rundir, "vcl")
        variants = [("origin", os.path.join(REPO, "vcl", "origin.vcl"), ["--route-ttl", "3600s"]),
                    ("reference", os.path.join(BENCH, "reference.vcl"), None),
                    ("origin-get", os.path.join(REPO, "vcl", "origin.vcl"), ["--route-ttl", "0s"])]
        if a.smoke:
            variants = variants[:2]
        def launch(name, vcl, vpath, n):
            tag = "cg-%s-%d" % (name, n)
            cgdir = os.path.join(self.rundir, tag + "-out")
            os.makedirs(cgdir)
            os.chmod(cgdir, 0o777)
            v = Varnish(self.procs, self.rundir, tag, vcl, vpath,
                        extra=["-j", "none", "-p", "thread_pool_min=10",
                               "-p", "thread_pools=1", "-p", "cli_timeout=300"],
                        wrapper=["valgrind", "--tool=callgrind", "--dump-instr=no",
                                 "--trace-children=no",
                                 "--callgrind-out-file=%s/callgrind.%%p" % cgdir])
            v.start(timeout=0)
            return v, tag, cgdir

        vpaths = {}
        for name, vcl, setting in variants:
            vpaths[name] = self.vcl_path
            if setting:
                vdir = os.path.join(self.rundir, "vcl-" + name)
                self.write_settings(vdir, *setting)
                vpaths[name] = vdir + ":" + self.vcl_path
        # smoke: start every valgrind'd varnishd at once (start-up is most of
        # the time); a full run starts them one at a time
        pre = {name: launch(name, vcl, vpaths[name], n2)
               for name, vcl, _ in variants} if a.smoke else {}
        for name, vcl, setting in variants:
            vpath = vpaths[name]
            runs = []
            for n in ((n2,) if a.smoke else (n1, n2)):
                v, tag, cgdir = pre[name] if a.smoke else launch(name, vcl, vpath, n)
                v.wait_ready(180)
                child = v.child_pid()
                self._misses(v.port, "warm%d" % n, 50)   # route, backend, code paths
                g0 = self.redis.gets()
                t0 = time.time()
                self._misses(v.port, self.next_runid(), n)
                secs = time.time() - t0
                gets = self.redis.gets() - g0
                self.procs.stop(tag, wait=120)
                f = os.path.join(cgdir, "callgrind.%d" % child)
                if not os.path.exists(f):
                    raise RuntimeError("no callgrind output " + f)
                r = cg_analyse(f)
                r.update(misses=n, seconds=secs, redis_gets=gets, file=f)
                runs.append(r)
            if len(runs) == 1:   # smoke: no start-up correction
                runs.insert(0, {"ir": 0, "vmod": 0, "hiredis": 0, "backend_incl": 0,
                                "vgc": 0, "fns": {}, "misses": 0, "redis_gets": 0})
            dn = runs[1]["misses"] - runs[0]["misses"]
            d = {k: (runs[1][k] - runs[0][k]) / dn
                 for k in ("ir", "vmod", "hiredis", "backend_incl", "vgc", "redis_gets")}
            d["runs"] = runs
            out[name] = d
            log("  callgrind %s: per miss %s" % (name, {k: round(v2, 2) for k, v2 in d.items()
                                                       if k != "runs"}))
        self.raw["callgrind"] = out
        o, r = out["origin"], out["reference"]
        scen = "callgrind, %d-%d misses" % (n2, 0 if a.smoke else n1)
        self.row(scen, "instructions/miss, route cached", o["ir"], r["ir"], o["ir"] / r["ir"],
                 "<= 1.05x", o["ir"] / r["ir"] <= 1.05, unit="Ir")
        self.row(scen, "VMOD self/miss, route cached", o["vmod"], r["vmod"], None, None, None,
                 unit="Ir")
        self.row(scen, "router.backend() inclusive/miss", o["backend_incl"], None, None,
                 None, None, unit="Ir")
        if "origin-get" in out:
            g = out["origin-get"]
            self.row(scen, "instructions/miss, 1 Redis GET each", g["ir"], r["ir"],
                     g["ir"] / r["ir"], None, None, unit="Ir")
            self.row(scen, "VMOD+hiredis self/miss, 1 GET each", g["vmod"] + g["hiredis"],
                     r["vmod"], None, None, None, unit="Ir")
            per_get = g["ir"] - o["ir"]
            gpm = self.raw.get("miss_gets_per_miss")
            if gpm is not None:
                est = o["ir"] + gpm * per_get
                self.row(scen, "instructions/miss at shipped route_ttl (est.)", est, r["ir"],
                         est / r["ir"], "<= 1.05x", est / r["ir"] <= 1.05, unit="Ir")
                self.notes.append("callgrind: a Redis look-up adds %.0f Ir to a miss; the miss "
                                  "scenario made %.3f GETs per miss, so at the shipped "
                                  "route_ttl a miss costs about %.0f Ir (%.3fx the reference)"
                                  % (per_get, gpm, est, est / r["ir"]))
        self.cg_top(out)

    def cg_top(self, out):
        """The functions whose self cost per miss differs most."""
        per = {}
        for name in ("origin", "reference"):
            r0, r1 = out[name]["runs"]
            dn = r1["misses"] - r0["misses"]
            fns = set(r0["fns"]) | set(r1["fns"])
            per[name] = {f: (r1["fns"].get(f, 0) - r0["fns"].get(f, 0)) / dn for f in fns}
        diff = sorted(((per["origin"].get(f, 0) - per["reference"].get(f, 0), f)
                       for f in set(per["origin"]) | set(per["reference"])),
                      key=lambda x: -abs(x[0]))
        self.raw["callgrind_diff"] = diff[:40]
        self.notes.append("callgrind, functions whose self cost per miss differs most "
                          "(origin - reference, Ir): " + "; ".join(
                              "%s %+.0f" % (f, x) for x, f in diff[:12]))

    def _misses(self, port, runid, n):
        """n sequential misses on one keep-alive connection, 10 streams."""
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(n):
            c.request("GET", "/s%d/small/%s-%d.ts" % (i % 10, runid, i))
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("miss got %d" % r.status)
        c.close()

    # -- report
    def table(self):
        def fmt(x, unit=""):
            if x is None:
                return "-"
            if isinstance(x, bool):
                return "yes" if x else "NO"
            if abs(x) >= 1000:
                return "%.0f" % x
            return "%.3g" % x
        lines = ["| scenario | metric | origin (median) | reference (median) | ratio (median) | target | met "
                 "| nginx-lua (median) | origin / nginx-lua (median) |",
                 "|---|---|---:|---:|---:|---|---|---:|---:|"]
        for r in self.rows:
            lines.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["scenario"], r["metric"], (" (%s)" % r["unit"]) if r["unit"] else "",
                fmt(r["origin"]), fmt(r["reference"]),
                ("%.3fx" % r["ratio"]) if r["ratio"] is not None else "-",
                r["target"] or "-", fmt(r["met"]) if r["met"] is not None else "-",
                fmt(r.get("peer")),
                ("%.3fx" % r["peer_ratio"]) if r.get("peer_ratio") is not None else "-"))
        return "\n".join(lines)

    def header(self):
        def ver(cmd):
            try:
                return subprocess.run(cmd, capture_output=True, text=True,
                                      timeout=10).stdout.splitlines()[0].strip() or "?"
            except Exception:
                return "?"
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        return {
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "machine": "%s, %d cores, %s, kernel %s, %.1f GB RAM" % (
                cpu, os.cpu_count(), platform.machine(), platform.release(),
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "load": open("/proc/loadavg").read().split()[0:3],
            "varnish": ver(["varnishd", "-V"]) if False else
            subprocess.run(["varnishd", "-V"], capture_output=True,
                           text=True).stderr.splitlines()[0],
            "redis": ver(["redis-server", "--version"]),
            "nginx": subprocess.run(["nginx", "-v"], capture_output=True,
                                    text=True).stderr.strip(),
            "wrk": subprocess.run(["wrk", "-v"], capture_output=True,
                                  text=True).stdout.splitlines()[0][:40],
            "valgrind": ver(["valgrind", "--version"]),
            "commit": git,
            "args": vars(self.a),
        }

    def run(self):
        a = self.a
        t0 = time.time()
        self.setup()
        log("run dir %s; origin :%d, reference :%d, media :%d, redis :%d" % (
            self.rundir, self.origin.port, self.ref.port, self.media.port, self.redis.port))
        scen = {"hits": self.scen_hits, "miss": self.scen_miss, "herd": self.scen_herd,
                "poll": self.scen_poll, "scale": self.scen_scale,
                "outage": self.scen_outage, "callgrind": self.callgrind,
                "peer-check": lambda: peer_check(self)}
        if self.peer and "peer-check" not in a.scenarios:
            # a few requests: the peer must route before its figures count
            a.scenarios.insert(0, "peer-check")
        failures = self.failures
        for s in a.scenarios:
            log("== %s" % s)
            ts = time.time()
            try:
                scen[s]()
                log("== %s: %.0f s" % (s, time.time() - ts))
            except Exception as e:
                import traceback
                traceback.print_exc()
                failures.append("%s: %s" % (s, e))
        hdr = self.header()
        hdr["seconds"] = round(time.time() - t0)
        text = ["# streamroute benchmark, %s" % hdr["date"], "",
                "- machine: %s (load %s)" % (hdr["machine"], " ".join(hdr["load"])),
                "- versions: %s; %s; %s; %s; %s" % (hdr["varnish"], hdr["redis"],
                                                    hdr["nginx"], hdr["wrk"], hdr["valgrind"]),
                "- commit %s; `%s`; %d rounds A B A B, %d s per run; %d s in all" % (
                    hdr["commit"], " ".join(["bench/run.sh"] + sys.argv[1:]),
                    a.rounds, a.duration, hdr["seconds"]),
                "", self.table(), ""]
        text += ["- " + n for n in self.notes]
        if failures:
            text += ["", "FAILED: " + "; ".join(failures)]
        report = "\n".join(text) + "\n"
        print(report)
        if not a.smoke:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            res = os.path.join(BENCH, "results")
            with open(os.path.join(res, stamp + ".md"), "w") as f:
                f.write(report)
            with open(os.path.join(res, stamp + ".json"), "w") as f:
                json.dump({"header": hdr, "rows": self.rows, "notes": self.notes,
                           "raw": self.raw}, f, indent=1, default=str)
            log("results: bench/results/%s.{md,json}" % stamp)
        return 1 if failures else 0


def cg_analyse(f):
    """Total Ir; self cost of the VMOD, hiredis and the compiled VCL; the
    inclusive cost of vmod_router_backend; self cost per function."""
    def annotate(*extra):
        # --auto=no: the VMOD has debug info, and its auto-annotated source
        # lines would otherwise be read as functions
        return subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no"] +
                              list(extra) + [f],
                              capture_output=True, text=True, timeout=300).stdout
    total = 0
    r = {"vmod": 0, "hiredis": 0, "vgc": 0, "backend_incl": 0, "fns": {}}
    for line in annotate().splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        what = m.group(2).strip()
        if "PROGRAM TOTALS" in what:
            total = ir
            continue
        if "vmod_streamroute" in what or "_vmod_streamroute" in what:
            r["vmod"] += ir
        elif "libhiredis" in what:
            r["hiredis"] += ir
        elif "vgc.so" in what:
            r["vgc"] += ir
        if "events annotated" in what:
            continue
        fn = re.sub(r"\s*\([\d,]+x\)$", "", re.sub(r"^.*?:", "", what.split(" [")[0]).strip())
        r["fns"][fn] = r["fns"].get(fn, 0) + ir
    for line in annotate("--inclusive=yes").splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$", line)
        if m and re.search(r":vmod_router_backend\b", m.group(2)):
            r["backend_incl"] = max(r["backend_incl"], int(m.group(1).replace(",", "")))
    r["ir"] = total
    return r


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "slow-server":
        slow_server_main(int(sys.argv[2]), float(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description="streamroute benchmarks (see bench/README.md)")
    ap.add_argument("--smoke", action="store_true", help="seconds: CI checks the harness works")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--duration", type=int, default=6, help="seconds per wrk run")
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--streams", type=int, default=1000, help="streams of the miss scenario")
    ap.add_argument("--hit-streams", type=int, default=10)
    ap.add_argument("--hit-files", type=int, default=10)
    ap.add_argument("--herd-clients", type=int, default=1000)
    ap.add_argument("--herd-delay", type=float, default=0.5)
    ap.add_argument("--players", type=int, default=3000)
    ap.add_argument("--poll-streams", type=int, default=100)
    ap.add_argument("--poll-duration", type=int, default=10)
    ap.add_argument("--max-addrs", type=int, default=1000)
    ap.add_argument("--outage-conns", type=int, default=4)
    ap.add_argument("--cg-misses", type=int, default=2000)
    ap.add_argument("--scale", default="10:1,1000:100,100000:1000",
                    help="keys:addresses,...")
    ap.add_argument("--scenarios", default="hits,miss,herd,poll,scale,outage,callgrind")
    ap.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    ap.add_argument("--no-peer", action="store_true",
                    help="without the third system, NGINX + Lua (bench/nginx-lua/)")
    a = ap.parse_args()
    if a.smoke:
        a.rounds, a.duration, a.conns = 1, 1, 8
        a.streams, a.herd_clients, a.players, a.poll_streams = 50, 100, 100, 10
        a.outage_conns = 2
        a.poll_duration, a.max_addrs, a.cg_misses = 2, 10, 20
        a.scale = "100:10"
    a.scale = [tuple(int(x) for x in p.split(":")) for p in a.scale.split(",")]
    a.scenarios = a.scenarios.split(",")
    for tool in ("varnishd", "redis-server", "redis-cli", "nginx", "wrk"):
        if not shutil.which(tool):
            log("missing: %s (scripts/install-deps.sh build run media bench)" % tool)
            return 2
    if not a.no_peer and not os.path.exists(PEER_MODULE):
        log("missing: %s (scripts/install-deps.sh bench; or --no-peer)" % PEER_MODULE)
        return 2
    if "callgrind" in a.scenarios and not shutil.which("valgrind"):
        log("missing: valgrind")
        return 2
    b = Bench(a)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    try:
        return b.run()
    finally:
        b.procs.stop_all()
        if b.peer:
            b.peer.cleanup()
        if not a.keep:
            shutil.rmtree(b.rundir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
