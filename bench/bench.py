#!/usr/bin/env python3
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
"""streamroute benchmarks: the origin (shipped VCL + VMOD, routes in Redis)
against a reference (the same caching policy, one static backend) and the
NGINX + Lua origin, side by side, A B C A B C in one run.  Run through
bench/run.sh; see bench/README.md.

The load is wrk's (timed runs: hits, misses, players, the outage) and
h2load's (fixed request counts: warm-up, the herd, callgrind).  This file
starts the processes, alternates the systems, accounts CPU per origin
process, counts instructions under callgrind and writes the table.  Every
process it starts is stopped by its PID at exit (pidfiles in the run
directory); everything listens on loopback.
"""

import argparse
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
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
VMOD_PATH = os.path.join(REPO, "src", ".libs") + ":/usr/lib/x86_64-linux-gnu/varnish/vmods"
PARAMS_FILE = os.path.join(REPO, "etc", "varnishd.params")
PEER, PEER_DIR = "nginx-lua", os.path.join(BENCH, "nginx-lua")
PEER_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"
PEER_SCENARIOS = ("hit 1KB", "hit 200KB", "miss 1KB", "herd", "poll")


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


def wait_for(fn, timeout, what):
    t_end = time.time() + timeout
    while time.time() < t_end:
        try:
            if fn():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def http_get(port, path, timeout=5):
    r = urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout)
    return r.status, r.read()


def proc_counts(pids):
    """utime and stime (clock ticks) and context switches (voluntary
    and not, every thread) of processes: where a request's CPU goes."""
    user = system = switches = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            user += int(fields[11])
            system += int(fields[12])
            for task in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                    switches += sum(int(line.split()[1]) for line in f
                                    if line.startswith(("voluntary_ctxt",
                                                        "nonvoluntary_ctxt")))
        except OSError:    # e.g. NGINX's cache loader, exited meanwhile
            pass
    return user, system, switches


def family(pid):
    """A process and its children."""
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [pid] + [int(x) for x in f.read().split()]


def varnishd_params():
    """The options of every varnishd of the bench: etc/varnishd.params
    (varnishd options, whitespace separated, '#' comments)."""
    with open(PARAMS_FILE) as f:
        return [w for line in f for w in line.split("#", 1)[0].split()]


class Procs:
    """The bench's processes are its own foreground children, not
    scripts/lib/stack.sh's daemons: the outage scenario freezes Redis with
    SIGSTOP and kills it mid-run, and callgrind wraps varnishd and finds
    the cache process under the manager.  Stop: the signal, a bounded
    wait, then KILL."""

    def __init__(self, rundir):
        self.rundir, self.procs, self.lock = rundir, {}, threading.Lock()

    def start(self, name, argv):
        with open(os.path.join(self.rundir, name + ".log"), "ab") as out:
            p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        with open(os.path.join(self.rundir, name + ".pid"), "w") as f:
            f.write("%d\n" % p.pid)
        with self.lock:
            self.procs[name] = p
        return p

    def stop(self, name, sig=signal.SIGTERM, wait=10):
        with self.lock:
            p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
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
        for name in reversed(list(self.procs)):
            self.stop(name)


class Redis:
    def __init__(self, procs, rundir):
        self.procs, self.rundir, self.port, self.p = procs, rundir, free_port(), None

    def start(self, routes=None):
        self.p = self.procs.start("redis", [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", self.rundir])
        wait_for(lambda: self.cli("PING").strip() == "PONG", 10, "redis")
        if routes:
            self.seed(routes)

    def cli(self, *args, inp=None):
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), input=inp,
                              capture_output=True, text=True, timeout=60).stdout

    def seed(self, routes):
        """routes: key -> ip:port, with redis-cli --pipe."""
        out = self.cli("--pipe", inp="".join(
            "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$5\r\n86400\r\n"
            % (len(k), k, len(v), v) for k, v in routes.items()))
        if "errors: 0" not in out:
            raise RuntimeError("redis seed: " + out)

    def gets(self):
        """Route look-ups so far: GET (the NGINX peer), GETRANGE (the VMOD)."""
        return sum(int(x) for x in re.findall(r"cmdstat_(?:get|getrange):calls=(\d+)",
                                               self.cli("INFO", "commandstats")))


# ----------------------------------------------------------------------
# The media servers: nginx (bench/media.conf.in) serving generated files

WWW = {"seg1k.ts": "G" * 1024, "seg200k.ts": "G" * 204800,
       "live.m3u8": "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n",
       "index.m3u8": "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n"
                     "#EXT-X-MEDIA-SEQUENCE:100\n" +
                     "".join("#EXTINF:6.000,\n20260101-%d.ts\n" % n for n in range(100, 106))}


def scale_addr(i):
    """The i-th media-server address of the scale scenario (127.1.x.y)."""
    return "127.1.%d.%d" % (i // 250, i % 250 + 1)


def start_media(procs, d, naddrs, herd_delay):
    """nginx on 127.0.0.1 and on naddrs addresses 127.1.x.y; its port."""
    port = free_port()
    for sub in ("www", "tmp"):
        os.makedirs(os.path.join(d, sub))
    for name, body in WWW.items():
        with open(os.path.join(d, "www", name), "w") as f:
            f.write(body)
    with open(os.path.join(BENCH, "media.conf.in")) as f:
        conf = f.read().replace("@RUNDIR@", d).replace("@HERD_DELAY@", str(herd_delay))
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf.replace("@LISTENS@", " ".join(
            "listen %s:%d;" % (a, port)
            for a in ["127.0.0.1"] + [scale_addr(i) for i in range(naddrs)])))
    procs.start("nginx", ["nginx", "-c", os.path.join(d, "nginx.conf"), "-p", d + "/"])
    wait_for(lambda: http_get(port, "/x/small/1.ts")[0] == 200, 15, "nginx")
    return port


# ----------------------------------------------------------------------
# The systems under test

class Varnish:
    def __init__(self, bench, name, vcl, vcl_path=None, extra=(), wrapper=()):
        self.procs, self.rundir, self.name = bench.procs, bench.rundir, name
        self.vcl, self.vcl_path = vcl, vcl_path or bench.vcl_path
        self.port, self.workdir = free_port(), os.path.join(bench.rundir, name)
        self.extra, self.wrapper, self.p = list(extra), list(wrapper), None

    def start(self, wait=60):
        params = varnishd_params()
        self.p = self.procs.start(self.name, self.wrapper + [
            "varnishd", "-F", "-n", self.workdir, "-a", "127.0.0.1:%d" % self.port,
            "-f", self.vcl, "-P", os.path.join(self.rundir, self.name + "-varnishd.pid"),
            "-T", "127.0.0.1:%d" % free_port()] +
            ([] if "-s" in params else ["-s", "malloc,1G"]) + params +
            ["-p", "vcl_path=" + self.vcl_path, "-p", "vmod_path=" + VMOD_PATH] + self.extra)
        if wait:
            self.wait_ready(wait)
        return self

    def wait_ready(self, timeout=60):
        wait_for(lambda: http_get(self.port, "/healthcheck", 2)[0] == 200, timeout,
                 self.name + " (see %s/%s.log)" % (self.rundir, self.name))

    def child_pid(self):
        return family(self.p.pid)[1]     # the cache process

    def pids(self):
        """The whole origin: the manager and the cache process."""
        return family(self.p.pid)

    def stats(self):
        j = json.loads(subprocess.run(["varnishstat", "-n", self.workdir, "-1", "-j"],
                                      capture_output=True, text=True, timeout=30).stdout)
        return {k: v.get("value", 0) for k, v in j.get("counters", j).items()
                if isinstance(v, dict)}

    def fetches(self):
        return self.stats().get("MAIN.backend_req", 0)

    def router_stat(self, suffix, st=None):
        return sum(v for k, v in (st or self.stats()).items()
                   if k.startswith("STREAMROUTE.") and k.endswith("." + suffix))

    def memory(self):
        """Cache process RSS (KB), VSM files (B), stored objects (B), backends."""
        with open("/proc/%d/status" % self.child_pid()) as f:
            rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
        vsm = sum(os.path.getsize(os.path.join(r, fn)) for r, _, fs in os.walk(self.workdir)
                  if "_.vsm" in r for fn in fs)
        st = self.stats()
        return rss, vsm, st.get("SMA.s0.g_bytes", 0), self.router_stat("backends", st)


class NginxLua:
    """The origin a team would build instead: bench/nginx-lua/nginx.conf.in
    (proxy_cache on tmpfs, 2 workers) with streamroute_peer.lua routing
    from the same Redis.  Has what the scenarios use of Varnish."""

    def __init__(self, bench):
        self.procs, self.rundir, self.redis_port = bench.procs, bench.rundir, bench.redis.port
        self.port, self.cache, self.p = free_port(), None, None

    def start(self):
        d = self.rundir
        # tmpfs: file creation on this machine's ext4 is slow right after
        # a large delete; /dev/shm is what a production box would mount
        self.cache = tempfile.mkdtemp(prefix="srbench-nginx-cache-", dir="/dev/shm")
        os.makedirs(os.path.join(d, "nginx-lua-tmp"))
        with open(os.path.join(PEER_DIR, "nginx.conf.in")) as f:
            conf = f.read()
        for k, v in (("@RUNDIR@", d), ("@CACHE@", self.cache), ("@PORT@", self.port),
                     ("@LUADIR@", PEER_DIR), ("@REDIS_PORT@", self.redis_port)):
            conf = conf.replace(k, str(v))
        with open(os.path.join(d, "nginx-lua.conf"), "w") as f:
            f.write(conf)
        self.p = self.procs.start(PEER, ["nginx", "-c", os.path.join(d, "nginx-lua.conf"),
                                         "-p", d + "/"])
        wait_for(lambda: http_get(self.port, "/healthcheck", 2)[0] == 200, 30,
                 "nginx-lua (see %s/%s.log, nginx-lua-error.log)" % (d, PEER))

    def pids(self):
        """The master and its children (workers, cache manager/loader)."""
        return family(self.p.pid)

    def fetches(self):
        """The balancer's count of media fetches, served on /__fetches."""
        return int(http_get(self.port, "/__fetches")[1])


# ----------------------------------------------------------------------
# Load: wrk for timed runs, h2load for fixed request counts

def wrk(port, mode, runid, streams, rendition="small", keyprefix="s", nfiles=10,
        threads=2, conns=50, duration=5, timeout_s=5):
    """bench/wrk/bench.lua's patterns; its JSON summary line, plus rps."""
    r = subprocess.run(["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % duration,
                        "--timeout", "%ds" % timeout_s, "-s", os.path.join(BENCH, "wrk",
                                                                           "bench.lua"),
                        "http://127.0.0.1:%d" % port, "--", mode, str(runid), str(streams),
                        rendition, keyprefix, str(nfiles)],
                       capture_output=True, text=True, timeout=duration + 60)
    for line in r.stdout.splitlines():
        if line.startswith("WRKJSON "):
            j = json.loads(line[8:])
            j["rps"] = j["requests"] / (j["duration_us"] / 1e6)
            j["errors"] = sum(j[k] for k in j if k.startswith("err_"))
            return j
    raise RuntimeError("wrk failed: " + r.stdout + r.stderr)


def h2load(port, paths, rundir, conns=1, duration=None, split=False):
    """The paths in turn over `conns` keep-alive HTTP/1.1 connections, each
    once, or for `duration` seconds; split: one h2load per connection, on
    its share of the paths (h2load's clients share one list, so each
    would ask for every path).  From h2load's per-request log: requests,
    ok (2xx), statuses, latency percentiles, requests > 100 ms.  (Raw
    latencies: wrk's are corrected for coordinated omission.)"""
    runs = []
    for share in [paths[i::conns] for i in range(conns)] if split else [paths]:
        fd, listing = tempfile.mkstemp(prefix="h2load-", dir=rundir)
        with os.fdopen(fd, "w") as f:
            f.write("".join("http://127.0.0.1:%d%s\n" % (port, p) for p in share))
        runs.append((listing, subprocess.Popen(
            ["h2load", "--h1", "-t", "1", "-c", "1" if split else str(conns), "-i", listing,
             "--log-file", listing + ".log"] +
            (["-D", str(duration)] if duration else ["-n", str(len(share))]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    rows = []
    for listing, p in runs:
        p.wait(600)
        with open(listing + ".log") as f:
            rows += [line.split("\t") for line in f]
        os.unlink(listing)
        os.unlink(listing + ".log")
    lat = sorted(int(r[2]) for r in rows)
    codes = {}
    for r in rows:
        codes[r[1]] = codes.get(r[1], 0) + 1
    r = {"requests": len(rows), "ok": sum(n for c, n in codes.items() if c.startswith("2")),
         "codes": codes, "slow_100ms": sum(1 for x in lat if x > 100000)}
    for name, q in (("p50_us", 50), ("p99_us", 99), ("p999_us", 99.9), ("max_us", 100)):
        r[name] = lat[min(len(lat) - 1, int(q / 100 * len(lat)))] if lat else None
    return r


# ----------------------------------------------------------------------
# The bench

class Bench:
    def __init__(self, args):
        self.a = args
        self.rundir = tempfile.mkdtemp(prefix="srbench-")
        os.chmod(self.rundir, 0o755)
        self.procs = Procs(self.rundir)
        self.rows, self.notes, self.raw, self.failures = [], [], {}, []
        self.runid, self.peer = 0, None

    def setup(self):
        a, d = self.a, self.rundir
        self.redis = Redis(self.procs, d)
        self.redis.start()
        self.media_port = start_media(self.procs, d, a.max_addrs, a.herd_delay)
        vdir = os.path.join(d, "vcl")
        self.write_settings(vdir)
        with open(os.path.join(vdir, "bench-media.vcl"), "w") as f:
            f.write("# generated by bench/bench.py\nbackend media {\n\t.host = \"127.0.0.1\"; "
                    ".port = \"%d\";\n\t.connect_timeout = 1s; .first_byte_timeout = 5s; "
                    ".between_bytes_timeout = 5s;\n}\n" % self.media_port)
        self.vcl_path = "%s:%s" % (vdir, os.path.join(REPO, "vcl"))
        self.origin = Varnish(self, "origin", os.path.join(REPO, "vcl", "origin.vcl")).start(0)
        self.ref = Varnish(self, "reference", os.path.join(BENCH, "reference.vcl")).start(0)
        self.origin.wait_ready()   # both compiled their VCL at once
        self.ref.wait_ready()
        self.routes = {"s%d" % i: "127.0.0.1:%d" % self.media_port for i in range(a.streams)}
        self.routes["herd"] = "127.0.0.1:%d" % self.media_port
        self.redis.seed(self.routes)
        self.targets = [("origin", self.origin), ("reference", self.ref)]
        if not a.no_peer:
            self.peer = NginxLua(self)
            self.peer.start()

    def write_settings(self, vdir, *options):
        """<vdir>/streamroute/origin-settings.vcl from the one renderer: the
        shipped settings with the bench's Redis, room for the scale
        scenario's backends, loopback allowed (127.1.x.y too)."""
        os.makedirs(os.path.join(vdir, "streamroute"))
        subprocess.run([os.path.join(REPO, "scripts", "streamroute-settings"),
                        "--redis", "127.0.0.1:%d" % self.redis.port,
                        "--max-backends", str(self.a.max_addrs + 100), "--allow", "127.0.0.0/8"] +
                       list(options) + ["-o", os.path.join(vdir, "streamroute",
                                                           "origin-settings.vcl")], check=True)

    def warm(self, v, paths, fatal=False):
        """Each path once, sequentially; every answer must be a 200."""
        r = h2load(v.port, paths, self.rundir)
        if r["ok"] != len(paths):
            msg = "%s: %d of %d not 200 (%s)" % (getattr(v, "name", PEER), len(paths) - r["ok"],
                                                 len(paths), r["codes"])
            if fatal:
                raise RuntimeError(msg)
            self.failures.append("warm-up of " + msg)

    def next_runid(self):
        self.runid += 1
        return "r%d%d" % (int(time.time()) % 100000, self.runid)

    def row(self, scen, metric, o, r, ratio, target, met, unit="", peer=None, peer_ratio=None):
        self.rows.append(dict(scenario=scen, metric=metric, origin=o, reference=r, ratio=ratio,
                              target=target, met=met, unit=unit, peer=peer,
                              peer_ratio=peer_ratio))

    def alternate(self, name, fn):
        """fn(system) -> dict, for a.rounds rounds of A B (A B C where the
        NGINX peer applies): noise of the shared machine hits a round's
        systems alike."""
        targets = self.targets + ([(PEER, self.peer)]
                                  if self.peer and name in PEER_SCENARIOS else [])
        res = {tname: [] for tname, _ in targets}
        for rnd in range(self.a.rounds):
            for tname, v in targets:
                r = fn(v)
                res[tname].append(r)
                log("  %-28s round %d %-9s %s" % (name, rnd + 1, tname, " ".join(
                    "%s=%.4g" % (k, r[k]) for k in ("rps", "p99_us", "cpu_us_per_req", "errors",
                                                    "max_us", "fetches", "redis_gets") if k in r)))
        self.raw[name] = res
        errs = sum(r.get("errors", 0) for t in res.values() for r in t)
        if errs:
            self.failures.append("%s: %d load errors" % (name, errs))
        return res

    def ratio_row(self, scen, res, metric, target=None, higher_better=True, unit=""):
        """Medians and the median of the per-round ratios origin / reference
        (and origin / nginx-lua where it ran)."""
        o = [r.get(metric) for r in res["origin"]]

        def ratios(who):
            return median([x / r.get(metric) for x, r in zip(o, res[who])
                           if x is not None and r.get(metric)])
        rm, met, tgt = ratios("reference"), None, None
        if target is not None:
            tgt = "%s %.2fx" % (">=" if higher_better else "<=", target)
            met = None if rm is None else (rm >= target if higher_better else rm <= target)
        self.row(scen, metric, median(o), median([r.get(metric) for r in res["reference"]]),
                 rm, tgt, met, unit, median([r.get(metric) for r in res.get(PEER, [])]),
                 ratios(PEER) if PEER in res else None)
        return rm

    def load(self, v, mode, streams, **kw):
        """wrk against v; the CPU of v's processes per request, and the
        Redis look-ups made meanwhile."""
        g0, c0 = self.redis.gets(), proc_counts(v.pids())
        r = wrk(v.port, mode, self.next_runid(), streams, **kw)
        c1 = proc_counts(v.pids())
        n, tick_us = max(r["requests"], 1), 1e6 / os.sysconf("SC_CLK_TCK")
        r["cpu_us_per_req"] = (c1[0] + c1[1] - c0[0] - c0[1]) * tick_us / n
        r["sys_us_per_req"] = (c1[1] - c0[1]) * tick_us / n
        r["ctxsw_per_req"] = (c1[2] - c0[2]) / n
        r["redis_gets"] = self.redis.gets() - g0
        return r

    def load_rows(self, label, res, target):
        self.ratio_row(label, res, "rps", target, unit="req/s")
        self.ratio_row(label, res, "p99_us", 1 / target, higher_better=False, unit="us")
        self.ratio_row(label, res, "cpu_us_per_req", unit="us")
        self.ratio_row(label, res, "sys_us_per_req", unit="us")
        self.ratio_row(label, res, "ctxsw_per_req")
        for who in ("origin", PEER):
            if who in res:
                n, gets = (sum(r[k] for r in res[who]) for k in ("requests", "redis_gets"))
                self.raw.setdefault("gets_per_request", {})[label + " " + who] = gets / n
                self.notes.append("%s: %s served %d requests with %d Redis GETs (%.3f each)"
                                  % (label, who, n, gets, gets / n))

    # -- scenarios
    def scen_hits(self):
        a = self.a
        for rend, label in (("small", "hit 1KB"), ("big", "hit 200KB"))[:1 if a.smoke else 2]:
            for _, v in self.targets + ([(PEER, self.peer)] if self.peer else []):
                self.warm(v, ["/s%d/%s/hit-%d.ts" % (i, rend, f)
                              for i in range(a.hit_streams) for f in range(a.hit_files)])
            res = self.alternate(label, lambda v: self.load(
                v, "hit", a.hit_streams, rendition=rend, nfiles=a.hit_files, conns=a.conns,
                duration=a.duration))
            self.load_rows(label, res, 0.98)

    def scen_miss(self):
        a = self.a
        res = self.alternate("miss 1KB", lambda v: self.load(v, "miss", a.streams, conns=a.conns,
                                                             duration=a.duration))
        self.load_rows("miss 1KB", res, 0.95)

    def scen_herd(self):
        a = self.a

        def one(v):
            path = "/herd/small/%s.ts" % self.next_runid()
            r = h2load(v.port, [path] * a.herd_clients, self.rundir, conns=a.herd_clients)
            with open(os.path.join(self.rundir, "herd.log")) as f:
                r["fetches"] = sum(1 for line in f if line.strip() == path)
            r["errors"], r["slowest_ms"] = a.herd_clients - r["ok"], r["max_us"] / 1e3
            return r
        res = self.alternate("herd", one)
        scen = "herd %d clients" % a.herd_clients
        f = {who: [r["fetches"] for r in rs] for who, rs in res.items()}
        self.row(scen, "media fetches (max)", max(f["origin"]), max(f["reference"]), None,
                 "== 1", set(f["origin"]) == {1}, peer=max(f.get(PEER, [None])))
        self.ratio_row(scen, res, "slowest_ms", 1.10, higher_better=False, unit="ms")

    def scen_poll(self):
        a = self.a

        def one(v):
            be0 = v.fetches()
            r = wrk(v.port, "poll", 0, a.poll_streams, conns=a.players,
                    duration=a.poll_duration, timeout_s=10)
            secs = r["duration_us"] / 1e6
            r["fetches"] = v.fetches() - be0
            r["per_stream_s"] = r["fetches"] / a.poll_streams / secs
            r["polls_per_s"] = r["requests"] / secs
            return r
        res = self.alternate("poll", one)
        scen = "poll %d players/%d streams" % (a.players, a.poll_streams)
        ps = {who: [r["per_stream_s"] for r in rs] for who, rs in res.items()}
        self.row(scen, "media req/stream/s", median(ps["origin"]), median(ps["reference"]),
                 None, "<= 1", max(ps["origin"]) <= 1.0, peer=median(ps.get(PEER, [])))
        self.ratio_row(scen, res, "polls_per_s", unit="req/s")
        self.ratio_row(scen, res, "p99_us", higher_better=False, unit="us")

    def scen_scale(self):
        a = self.a
        configs = [(k, n) for k, n in a.scale if n <= a.max_addrs]
        base = None
        for keys, naddrs in configs:
            prefix = "k%da%d-" % (keys, naddrs)
            self.redis.seed({"%s%d" % (prefix, i): "%s:%d" % (scale_addr(i % naddrs),
                                                             self.media_port)
                             for i in range(keys)})
            for v in (self.origin, self.ref):   # one request per address makes the backends
                self.warm(v, ["/%s%d/small/warm.ts" % (prefix, i)
                              for i in range(min(keys, naddrs))])
            label = "scale %d keys/%d addrs" % (keys, naddrs)
            res = self.alternate(label, lambda v: self.load(
                v, "miss", keys, keyprefix=prefix, conns=a.conns, duration=a.duration))
            # The reference does not route, so its miss rate does not depend
            # on the number of keys: origin/reference at this size over the
            # same at the smallest size divides the machine's noise out.
            ratio = self.ratio_row(label, res, "rps", unit="req/s")
            base = base or ratio
            rel = ratio / base if base and ratio else None
            self.row(label, "miss rps vs %d keys (normalised)" % configs[0][0], None, None, rel,
                     ">= 0.90x", None if rel is None else rel >= 0.90)
            n, gets = (sum(r[k] for r in res["origin"]) for k in ("requests", "redis_gets"))
            self.notes.append("%s: %.3f Redis GETs per miss; %d backends now" % (
                label, gets / max(n, 1), self.origin.router_stat("backends")))
        self.scale_memory()

    def scale_memory(self):
        """Memory per dynamic backend, in a fresh origin that has served
        nothing else (in the shared one, objects of earlier scenarios
        expire meanwhile and RSS goes down): one request per address."""
        n = self.a.max_addrs
        self.redis.seed({"mem%d" % i: "%s:%d" % (scale_addr(i), self.media_port)
                         for i in range(n)})
        v = Varnish(self, "mem", os.path.join(REPO, "vcl", "origin.vcl")).start()
        m = []
        for paths in (["/mem0/small/warm.ts"],    # first backend, code paths
                      ["/mem%d/small/warm.ts" % i for i in range(1, n)]):
            self.warm(v, paths)
            time.sleep(0.5)
            m.append(v.memory())
        self.procs.stop("mem")
        nb = m[1][3] - m[0][3]
        if nb <= 0:
            self.failures.append("scale memory: no backend created")
            return
        label = "%d dynamic backends" % nb
        self.row(label, "memory per backend: cache process RSS minus stored objects",
                 ((m[1][0] - m[0][0]) * 1024 - (m[1][2] - m[0][2])) / nb, None, None,
                 "measured", None, unit="B")
        self.row(label, "memory per backend: VSM (counters) files", (m[1][1] - m[0][1]) / nb,
                 None, None, "measured", None, unit="B")
        self.raw["scale memory"] = m

    def scen_outage(self):
        """Redis killed, then hung: wrk, a few connections of sequential
        requests for new segments of known streams (stale routes) and of
        new streams (fast 503), against the reference's figures."""
        a, o = self.a, self.origin
        for mode in ("hung",) if a.smoke else ("killed", "hung"):
            if "redis" not in self.procs.procs:
                self.redis.start(self.routes)
            # routes of s* cached now, past route_ttl (1 s) after the sleep
            wrk(o.port, "miss", self.next_runid(), a.streams, threads=1, conns=4, duration=1)
            if mode == "killed":
                self.procs.stop("redis")
            else:
                os.kill(self.redis.p.pid, signal.SIGSTOP)
            time.sleep(1.2)
            keys = ("redis_failfast", "redis_commands", "redis_errors", "stale", "unavailable")
            c0 = {k: o.router_stat(k) for k in keys}
            for what, prefix, streams in (("known streams (stale routes)", "s", a.streams),
                                          ("new streams (503)", "new%s-" % mode, 1000)):
                key = "Redis %s: %s" % (mode, what)
                rid = self.next_runid()
                paths = ["/%s%d/small/%s-%d.ts" % (prefix, i % streams, rid, i)
                         for i in range(100000)]
                r, rr = [{} if v is None else h2load(v.port, paths, self.rundir,
                                                       a.outage_conns, a.duration, True)
                         for v in (o, None if a.smoke else self.ref)]
                self.raw[key] = {"origin": r, "reference": rr}
                for m, tgt, met in (("p50_us", None, None), ("p99_us", None, None),
                                    ("max_us", "< 250000 (redis_timeout)", r["max_us"] < 250000),
                                    ("slow_100ms", "0", r["slow_100ms"] == 0)):
                    self.row(key, m.replace("slow_100ms", "requests > 100 ms"), r[m], rr.get(m),
                             r[m] / rr[m] if rr.get(m) and m != "slow_100ms" else None, tgt, met,
                             unit="" if m == "slow_100ms" else "us")
                if rr:
                    added = r["p50_us"] - rr["p50_us"]
                    self.row(key, "p50 added to the reference's", added, None, None, "< 1000",
                             added < 1000, unit="us")
                self.notes.append("%s: %d requests, statuses %s" % (key, r["requests"],
                                                                     r["codes"]))
            self.notes.append("Redis %s, origin counters over both runs: %s" % (mode, ", ".join(
                "%s +%d" % (k, o.router_stat(k) - c0[k]) for k in keys)))
            if mode == "hung":
                self.procs.stop("redis", signal.SIGKILL)
        self.redis.start(self.routes)

    # -- callgrind
    CG_VARIANTS = (  # name, VCL, settings, hits measured
        ("origin", os.path.join(REPO, "vcl", "origin.vcl"), ["--route-ttl", "3600s"], True),
        ("reference", os.path.join(BENCH, "reference.vcl"), None, True),
        ("minimal", os.path.join(BENCH, "minimal.vcl"), None, True),
        ("origin-get", os.path.join(REPO, "vcl", "origin.vcl"), ["--route-ttl", "0s"], False))

    def callgrind(self):
        """Instructions per hit and per miss in varnishd's cache process.

        callgrind_control cannot reach the cache process (a fork of the
        manager has no vgdb endpoint), so each VCL runs three times after
        the same start-up and warm-up: m1 misses + h1 hits (base), m2 + h1,
        m1 + h2.  A miss costs (second - base) / (m2 - m1), a hit (third -
        base) / (h2 - h1): start-up, warm-up and shutdown cancel out.  The
        runs go in parallel (--cg-jobs): the counts do not depend on time.

        Whether a miss asks Redis depends on the clock (route_ttl 1 s),
        which valgrind slows 50 times, so the origin is counted twice, each
        time deterministic: route_ttl 1 h (the route cache) and 0 (a Redis
        GET per miss); at the shipped setting a miss costs the first plus
        the miss scenario's GETs per miss times the difference."""
        a = self.a
        m2 = h2 = a.cg_misses
        shapes = {"base": (m2 // 4, h2 // 4), "miss": (m2, h2 // 4), "hit": (m2 // 4, h2)}
        if a.smoke:   # one run each, no start-up correction
            shapes = {"miss": (m2, h2)}
        jobs = []
        for name, vcl, setting, hits in self.CG_VARIANTS[:3 if a.smoke else 4]:
            vpath = None
            if setting:
                vpath = os.path.join(self.rundir, "vcl-" + name)
                self.write_settings(vpath, *setting)
                vpath += ":" + self.vcl_path
            jobs += [(name, vcl, vpath, s, n) for s, n in shapes.items() if hits or s != "hit"]
        with ThreadPoolExecutor(a.cg_jobs) as ex:
            runs = list(ex.map(lambda j: self.cg_run(*j), jobs))
        out = {}
        for (name, _, _, shape, _), r in zip(jobs, runs):
            out.setdefault(name, {"hit": r} if a.smoke else {})[shape] = r
        zero = {"ir": 0, "vmod": 0, "hiredis": 0, "backend_incl": 0, "fns": {}, "misses": 0,
                "hits": 0, "redis_commands": 0}
        per = {}     # name -> kind -> figure -> per request
        for name, rs in out.items():
            b = rs.get("base", zero)
            for kind, n in (("miss", "misses"), ("hit", "hits")):
                if kind in rs:
                    r, d = rs[kind], rs[kind][n] - b[n]
                    p = {k: (r[k] - b[k]) / d for k in zero if k not in ("fns", "misses", "hits")}
                    p["fns"] = {f: (r["fns"].get(f, 0) - b["fns"].get(f, 0)) / d
                                for f in set(r["fns"]) | set(b["fns"])}
                    per.setdefault(name, {})[kind] = p
        self.raw["callgrind"] = {"runs": {n: {s: {k: v for k, v in r.items() if k != "fns"}
                                              for s, r in rs.items()} for n, rs in out.items()},
                                 "per_request": {
            n: {k: {x: y for x, y in p.items() if x != "fns"} for k, p in kinds.items()}
            for n, kinds in per.items()}}
        o, r, mi = per["origin"], per["reference"], per["minimal"]
        scen = ("callgrind, one run of %d misses + %d hits" % (m2, h2) if a.smoke else
                "callgrind, %d-%d misses, %d-%d hits" % (m2, m2 // 4, h2, h2 // 4))
        for kind, tgt in (("hit", 1.10), ("miss", 1.05)):
            what = "instructions/" + kind + (", route cached" if kind == "miss" else "")
            for bname, b, t in (("minimal.vcl", mi, tgt), ("reference.vcl", r, None)):
                ratio = o[kind]["ir"] / b[kind]["ir"]
                self.row(scen, "%s; B = %s" % (what, bname), o[kind]["ir"], b[kind]["ir"],
                         ratio, t and "<= %.2fx" % t, t and ratio <= t, unit="Ir")
            fo, fm = o[kind]["fns"], mi[kind]["fns"]
            diff = sorted(((fo.get(f, 0) - fm.get(f, 0), f) for f in set(fo) | set(fm)),
                          key=lambda x: -abs(x[0]))
            self.raw["callgrind_diff_" + kind] = diff[:40]
            self.notes.append("callgrind, functions whose self cost per %s differs most "
                              "(origin - minimal, Ir): %s" % (kind, "; ".join(
                                  "%s %+.0f" % (f, x) for x, f in diff[:12])))
        self.row(scen, "VMOD self/miss, route cached", o["miss"]["vmod"], r["miss"]["vmod"],
                 None, None, None, unit="Ir")
        self.row(scen, "router.backend() inclusive/miss", o["miss"]["backend_incl"], None,
                 None, None, None, unit="Ir")
        if "origin-get" in per:
            g = per["origin-get"]["miss"]
            self.row(scen, "instructions/miss, 1 Redis GET each; B = minimal.vcl", g["ir"],
                     mi["miss"]["ir"], g["ir"] / mi["miss"]["ir"], None, None, unit="Ir")
            self.row(scen, "VMOD+hiredis self/miss, 1 GET each", g["vmod"] + g["hiredis"],
                     None, None, None, None, unit="Ir")
            self.notes.append("callgrind: a Redis look-up adds %.0f Ir to a miss (%.2f Redis "
                              "commands per miss)" % (g["ir"] - o["miss"]["ir"],
                                                      g["redis_commands"]))
            gpm = self.raw.get("gets_per_request", {}).get("miss 1KB origin")
            if gpm is not None:
                est = o["miss"]["ir"] + gpm * (g["ir"] - o["miss"]["ir"])
                self.row(scen, "instructions/miss at shipped route_ttl (est.); B = minimal.vcl",
                         est, mi["miss"]["ir"], est / mi["miss"]["ir"], "<= 1.05x",
                         est / mi["miss"]["ir"] <= 1.05, unit="Ir")

    def cg_run(self, name, vcl, vpath, shape, counts):
        """One varnishd under callgrind: warm-up, misses, hits; its counts."""
        nmiss, nhit = counts
        tag = "cg-%s-%s" % (name, shape)
        cgdir = os.path.join(self.rundir, tag + "-out")
        os.makedirs(cgdir)
        os.chmod(cgdir, 0o777)
        v = Varnish(self, tag, vcl, vpath, extra=[
            "-j", "none", "-p", "thread_pool_min=10", "-p", "thread_pools=1",
            "-p", "cli_timeout=300"], wrapper=[
            "valgrind", "--tool=callgrind", "--dump-instr=no", "--trace-children=no",
            "--callgrind-out-file=%s/callgrind.%%p" % cgdir]).start(300)
        child, hit = v.child_pid(), "/s0/small/cg-hit.ts"
        seg = "/s%d/small/%s-%d.ts"
        # the route, the backend, the code paths; the hit object stored
        nwarm = 10 if self.a.smoke else 50
        self.warm(v, [seg % (i % 10, "warm", i) for i in range(nwarm)] + [hit] * nwarm, True)
        self.warm(v, [seg % (i % 10, "run", i) for i in range(nmiss)], True)
        self.warm(v, [hit] * nhit, True)
        cmds = v.router_stat("redis_commands")
        self.procs.stop(tag, wait=300)
        r = cg_analyse(os.path.join(cgdir, "callgrind.%d" % child))
        r.update(misses=nmiss, hits=nhit, redis_commands=cmds)
        log("  callgrind %s %s: %d misses, %d hits, %d Ir" % (name, shape, nmiss, nhit, r["ir"]))
        return r

    # -- report
    def table(self):
        def fmt(x, ratio=False):
            if x is None:
                return "-"
            if isinstance(x, bool):
                return "yes" if x else "NO"
            return "%.3fx" % x if ratio else "%.0f" % x if abs(x) >= 1000 else "%.3g" % x
        lines = ["| scenario | metric | A: origin (median) | B: reference unless named (median) "
                 "| A / B (median) | target | met | nginx-lua (median) | A / nginx-lua (median) |",
                 "|---|---|---:|---:|---:|---|---|---:|---:|"]
        for r in self.rows:
            lines.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["scenario"], r["metric"], " (%s)" % r["unit"] if r["unit"] else "",
                fmt(r["origin"]), fmt(r["reference"]), fmt(r["ratio"], True),
                r["target"] or "-", fmt(r["met"]), fmt(r["peer"]), fmt(r["peer_ratio"], True)))
        return "\n".join(lines)

    def header(self):
        def ver(*cmd):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            except OSError:
                return "?"
            return ((p.stdout + p.stderr).strip().splitlines() or ["?"])[0][:80]
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read())
        return {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "machine": "%s, %d cores, %s, kernel %s, %.1f GB RAM" % (
                    cpu.group(1) if cpu else "?", os.cpu_count(), platform.machine(),
                    platform.release(),
                    os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
                "load": open("/proc/loadavg").read().split()[0:3],
                "versions": [ver("varnishd", "-V"), ver("redis-server", "--version"),
                             ver("nginx", "-v"), ver("wrk", "-v")[:40],
                             ver("h2load", "--version"), ver("valgrind", "--version")],
                "varnishd_params": varnishd_params(),
                "commit": ver("git", "-C", REPO, "rev-parse", "--short", "HEAD"),
                "args": vars(self.a)}

    def run(self):
        a, t0 = self.a, time.time()
        self.setup()
        log("run dir %s; origin :%d, reference :%d, media :%d, redis :%d" % (
            self.rundir, self.origin.port, self.ref.port, self.media_port, self.redis.port))
        if self.peer and "peer-check" not in a.scenarios:
            a.scenarios.insert(0, "peer-check")  # the peer must route before its figures count
        for s in a.scenarios:
            log("== %s" % s)
            ts = time.time()
            try:
                peer_check(self) if s == "peer-check" else getattr(
                    self, "callgrind" if s == "callgrind" else "scen_" + s)()
                log("== %s: %.0f s" % (s, time.time() - ts))
            except Exception as e:
                import traceback
                traceback.print_exc()
                self.failures.append("%s: %s" % (s, e))
        # the parameters of etc/varnishd.params must hold what the VCL uses
        ws = [sum(n for k, n in v.stats().items() if re.match(r"MAIN\.ws_\w+_overflow$", k))
              for v in (self.origin, self.ref)]
        self.row("all of the above", "workspace overflows (MAIN.ws_*_overflow)", ws[0], ws[1],
                 None, "0", ws == [0, 0])
        if ws != [0, 0]:
            self.failures.append("workspace overflows: origin %d, reference %d" % tuple(ws))
        hdr = self.header()
        hdr["seconds"] = round(time.time() - t0)
        text = ["# streamroute benchmark, %s" % hdr["date"], "",
                "- machine: %s (load %s)" % (hdr["machine"], " ".join(hdr["load"])),
                "- versions: " + "; ".join(hdr["versions"]),
                "- options of every varnishd (etc/varnishd.params): `%s`" %
                " ".join(hdr["varnishd_params"]),
                "- commit %s; `%s`; %d rounds, %d s per run; %d s in all" % (
                    hdr["commit"], " ".join(["bench/run.sh"] + sys.argv[1:]), a.rounds,
                    a.duration, hdr["seconds"]),
                "", self.table(), ""] + ["- " + n for n in self.notes]
        if self.failures:
            text += ["", "FAILED: " + "; ".join(self.failures)]
        report = "\n".join(text) + "\n"
        print(report)
        if not a.smoke:
            stamp = os.path.join(BENCH, "results", time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
            with open(stamp + ".md", "w") as f:
                f.write(report)
            with open(stamp + ".json", "w") as f:
                json.dump({"header": hdr, "rows": self.rows, "notes": self.notes,
                           "raw": self.raw}, f, indent=1, default=str)
            log("results: %s.{md,json}" % os.path.relpath(stamp, REPO))
        return 1 if self.failures else 0


def peer_check(bench):
    """The NGINX + Lua origin behaves like the origin where the benchmark
    relies on it: routes and caches, 404 for an unknown stream, 400 for a
    bad path, 503 without Redis (killed or hung, failing fast) for what is
    not cached, 200 for what is.  Freezes, stops and restarts Redis."""
    import http.client
    redis, problems = bench.redis, []

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", bench.peer.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("X-Cache"), r.getheader("Access-Control-Allow-Origin"), body

    def expect(what, got, want):
        if got != want:
            problems.append("%s: got %s, want %s" % (what, got, want))

    def routes():
        redis.seed({"pc-live": "127.0.0.1:%d" % bench.media_port,
                    "pc-new": "127.0.0.1:%d" % bench.media_port})
    routes()
    st, xc, cors, body = get("/pc-live/live.m3u8")
    expect("routed live.m3u8", (st, xc, cors, body[:7]), (200, "MISS", "*", b"#EXTM3U"))
    expect("live.m3u8 again", get("/pc-live/live.m3u8")[:2], (200, "HIT"))
    expect("unknown stream", get("/pc-nosuch/live.m3u8")[0], 404)
    for bad in ("/pc-live/../etc/passwd", "/pc-live//x.ts", "/pc%2elive/a.ts", "/x"):
        expect("bad path " + bad, get(bad)[0], 400)
    # Redis hung (accepts, never answers): a worker waits for the 250 ms
    # timeout once, then fails fast for a second; without that 20 new
    # streams would take 20 x 250 ms
    os.kill(redis.p.pid, signal.SIGSTOP)
    try:
        t0 = time.time()
        codes = {get("/pc-hung%d/a.ts" % i)[0] for i in range(20)}
        secs = time.time() - t0
    finally:
        os.kill(redis.p.pid, signal.SIGCONT)
    expect("Redis hung, new streams", codes, {503})
    if secs > 2.5:
        problems.append("Redis hung: 20 new streams took %.1f s (no fail-fast)" % secs)
    time.sleep(1.1)   # past the fail-fast window
    bench.procs.stop("redis")
    try:
        expect("Redis down, never looked up", get("/pc-new/360p/1.ts")[0], 503)
        expect("Redis down, cached", get("/pc-live/live.m3u8")[:2], (200, "HIT"))
    finally:
        redis.start(bench.routes)
        routes()
    # the first GET after the restart finds its pooled connection closed
    # and retries on a new one; then every worker routes again at once
    time.sleep(1.1)
    expect("Redis back", get("/pc-new/360p/2.ts")[0], 200)
    expect("Redis back, 10 streams", {get("/s%d/360p/back.ts" % i)[0] for i in range(10)}, {200})
    bench.row("nginx-lua check", "route, cache, 404, 400, 503 without Redis (killed, hung), "
              "cached 200 without Redis", None, None, None, "all", not problems)
    if problems:
        bench.failures.append("nginx-lua check: " + "; ".join(problems))


def cg_analyse(f):
    """Total Ir; self cost of the VMOD, of hiredis and per function; the
    inclusive cost of vmod_router_backend."""
    def annotate(*extra):
        # --auto=no: the VMOD has debug info, and its auto-annotated source
        # lines would otherwise be read as functions
        return subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no"] +
                              list(extra) + [f], capture_output=True, text=True,
                              timeout=300).stdout.splitlines()
    line_re = re.compile(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.*)$")
    r = {"ir": 0, "vmod": 0, "hiredis": 0, "backend_incl": 0, "fns": {}}
    for m in filter(None, map(line_re.match, annotate())):
        ir, what = int(m.group(1).replace(",", "")), m.group(2).strip()
        if "PROGRAM TOTALS" in what:
            r["ir"] = ir
        elif "events annotated" not in what:
            r["vmod"] += ir if "vmod_streamroute" in what else 0
            r["hiredis"] += ir if "libhiredis" in what else 0
            fn = re.sub(r"\s*\([\d,]+x\)$", "", re.sub(r"^.*?:", "", what.split(" [")[0]))
            r["fns"][fn] = r["fns"].get(fn, 0) + ir
    for m in filter(None, map(line_re.match, annotate("--inclusive=yes"))):
        if re.search(r":vmod_router_backend\b", m.group(2)):
            r["backend_incl"] = max(r["backend_incl"], int(m.group(1).replace(",", "")))
    return r


# option, default, value under --smoke, help
OPTIONS = (
    ("rounds", 7, 1, "rounds of A B (C)"),
    ("duration", 6, 1, "seconds per wrk run"),
    ("conns", 50, 8, "wrk connections (hits, misses)"),
    ("streams", 1000, 50, "streams of the miss scenario"),
    ("hit-streams", 10, 10, "hit URLs: streams x files"),
    ("hit-files", 10, 10, None),
    ("herd-clients", 1000, 100, "connections of the herd, one request each"),
    ("herd-delay", 0.5, 0.5, "seconds the media server takes under /herd/"),
    ("players", 3000, 100, "polling players"),
    ("poll-streams", 100, 10, "streams the players poll"),
    ("poll-duration", 10, 2, "seconds of polling"),
    ("max-addrs", 1000, 10, "media-server addresses of the scale scenario"),
    ("scale", "10:1,1000:100,100000:1000", "100:10", "keys:addresses,..."),
    ("outage-conns", 4, 2, "sequential clients during the outage"),
    ("cg-misses", 2000, 20, "misses and hits of callgrind's longer runs (a quarter: shorter)"),
    ("cg-jobs", 2, 3, "varnishd under callgrind at once"))


def main():
    ap = argparse.ArgumentParser(description="streamroute benchmarks (see bench/README.md)")
    ap.add_argument("--smoke", action="store_true", help="seconds: CI checks the harness works")
    ap.add_argument("--scenarios", default="hits,miss,herd,poll,scale,outage,callgrind",
                    help="any of the default and peer-check, comma-separated")
    for name, default, _, hlp in OPTIONS:
        ap.add_argument("--" + name, type=type(default), default=default, help=hlp)
    ap.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    ap.add_argument("--no-peer", action="store_true",
                    help="without the third system, NGINX + Lua (bench/nginx-lua/)")
    a = ap.parse_args()
    if a.smoke:
        for name, _, smoke, _ in OPTIONS:
            setattr(a, name.replace("-", "_"), smoke)
    a.scale = [tuple(int(x) for x in p.split(":")) for p in a.scale.split(",")]
    a.scenarios = a.scenarios.split(",")
    for tool in ["varnishd", "redis-server", "redis-cli", "nginx", "wrk", "h2load"] + (
            ["valgrind"] if "callgrind" in a.scenarios else []):
        if not shutil.which(tool):
            log("missing: %s (scripts/install-deps.sh build run media bench)" % tool)
            return 2
    if not os.path.exists(PEER_MODULE):   # the peer's, and the media servers' herd
        log("missing: %s (scripts/install-deps.sh bench)" % PEER_MODULE)
        return 2
    b = Bench(a)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))
    try:
        return b.run()
    finally:
        b.procs.stop_all()
        if b.peer and b.peer.cache:
            shutil.rmtree(b.peer.cache, ignore_errors=True)
        if not a.keep:
            shutil.rmtree(b.rundir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
