#!/usr/bin/env python3
# Copyright (c) 2026 The streamroute authors
# SPDX-License-Identifier: BSD-2-Clause
"""report.py -- the chaos run's table and verdict (tests/chaos/run.sh).

  report.py EVENTS PLAYERS_LOG JUNK_LOG RESULTS

EVENTS, written by run.sh, one event a line:
  run STREAMS PLAYERS CALM FAULT MODE
  baseline T0 T1                     the calm period before any fault
  phase NAME T_START T_END T_WINDOW  fault from T_START to T_END; its
                                     requests are those that start in
                                     [T_START, T_WINDOW) (the calm after
                                     the fault included)
  stat NAME KEY VALUE ...            varnishd's figures after the phase
  recover NAME SECONDS|none          fault end -> first 200 for an object
                                     never cached, of a stream it affected
The request logs are load.py's.  Prints the table, writes it to RESULTS,
and exits 1 when an invariant is broken:
  - no request for content in the cache fails (an object is in the cache
    from its fetch, Age before a 200 that carried it, for its TTL + grace
    as vcl/origin-settings.vcl sets them, less 1 s for Age's rounding;
    an error within MARGIN s of that end is not counted: Varnish's clock
    starts when the request arrives, a moment after the client's);
  - every other error is a 5xx, and fast: answered within FAST s; in the
    slow-media phase within twice the origin's first-byte timeout for its
    type plus FAST (a request that finds a background refresh of the
    object waiting for the slow server waits for it to be abandoned, then
    makes its own fetch, which times out too); no connection fails or
    hangs;
  - while Redis fails (killed, frozen, flapping, failed over) or junk
    floods the route cache, the players' streams, known before, get no
    error at all: the router keeps their last route (stale routes,
    restart grace) and their new segments are fetched;
  - requests are served from the cache during every fault;
  - no panic, MAIN.sess_dropped and MAIN.req_dropped 0;
  - each fault is recovered from, without a reload, within RECOVER s
    (RECOVER_BY s for the faults named there);
  - every junk request gets a 4xx, fast.
"""

import sys

FAST = 1.0      # what "a fast error" means (s)
SLACK = 1.0     # allowance for a shared, noisy 2-core machine (s)
RECOVER = 30.0  # a fault must be over this long after it ends (s)
# Tighter bounds.  The failover: the probe thread asks the Sentinel every
# redis_retry_after (1 s +-25%), then the pool and the push subscriber
# move to the new master (a negative route entry lasts 1 s); 2-3 s,
# and 5 s leaves room for a loaded 2-core machine.
RECOVER_BY = {"sentinel_failover": 5.0}
MARGIN = 0.25   # see "in the cache" above (s)
REDIS_PHASES = ("redis_kill", "redis_freeze", "redis_flap", "junk_keys",
                "sentinel_failover")
# TTL + grace per type, and first-byte timeout (origin-settings.vcl)
LIFE = {"master": 60 + 30, "playlist": 1 + 5, "segment": 60 + 60}
FIRST_BYTE = {"master": 2.0, "playlist": 2.0, "segment": 5.0}


def kind(url):
    if url.endswith("/live.m3u8"):
        return "master"
    if url.endswith(".m3u8"):
        return "playlist"
    return "segment"


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def load(path):
    reqs = []
    try:
        f = open(path)
    except OSError:
        return reqs
    for line in f:
        p = line.split(" ", 6)
        if len(p) < 7:
            continue
        reqs.append((float(p[0]), float(p[1]), int(p[2]), int(p[3]),
                     p[4], p[5], p[6].strip()))
    reqs.sort()
    return reqs


def main(events_path, players_path, junk_path, results_path):
    run = {}
    base = None
    phases, stats, recover = [], {}, {}
    for line in open(events_path):
        w = line.split()
        if not w:
            continue
        if w[0] == "run":
            run = dict(streams=w[1], players=w[2], calm=w[3], fault=w[4],
                       mode=w[5])
        elif w[0] == "baseline":
            base = (float(w[1]), float(w[2]))
        elif w[0] == "phase":
            phases.append((w[1], float(w[2]), float(w[3]), float(w[4])))
        elif w[0] == "stat":
            stats.setdefault(w[1], {}).update(
                (w[i], int(w[i + 1])) for i in range(2, len(w) - 1, 2))
        elif w[0] == "recover":
            recover[w[1]] = None if w[2] == "none" else float(w[2])

    reqs = load(players_path)
    bad = []            # (what, phase, example)

    def phase_of(t):
        for name, fs, fe, we in phases:
            if fs <= t < we:
                return name
        return "calm"

    # walk the requests in order of start, knowing until when each URL's
    # object is surely in the cache
    until = {}
    per = {}
    for t0, lat, st, hit, age, url, reason in reqs:
        ph = phase_of(t0)
        d = per.setdefault(ph, dict(n=0, hits=0, hit_fail=0, lat=[],
                                    errors={}))
        d["n"] += 1
        d["lat"].append(lat)
        k = kind(url)
        if st == 200:
            if hit:
                d["hits"] += 1
            a = int(age) if age.isdigit() else 0
            end = t0 + lat - a - 1 + LIFE[k]
            if end > until.get(url, 0):
                until[url] = end
            continue
        cls = "%d %s" % (st, reason.replace("_", " "))
        e = d["errors"].setdefault(cls, [0, 0.0])
        e[0] += 1
        e[1] = max(e[1], lat)
        ex = "%.3f %s %s %.3fs" % (t0, url, cls, lat)
        if t0 < until.get(url, 0) - MARGIN:
            d["hit_fail"] += 1
            bad.append(("error for content in the cache", ph, ex))
            continue
        if ph in REDIS_PHASES:
            bad.append(("error for a known stream while Redis fails", ph, ex))
        if st == 0:
            bad.append(("connection failed or hung", ph, ex))
        elif st < 500:
            bad.append(("error is not a 5xx", ph, ex))
        else:
            bound = FAST + SLACK
            if ph == "media_slow":
                bound += 2 * FIRST_BYTE[k]
            if lat > bound:
                bad.append(("error slower than %.1f s" % bound, ph, ex))

    if not reqs or not phases or base is None:
        bad.append(("no requests, phases or baseline recorded", "run", ""))
    bl = [r[1] for r in reqs if base and base[0] <= r[0] < base[1]]
    b50, b99, bmax = pct(bl, 50), pct(bl, 99), max(bl) if bl else 0

    out = []
    out.append("Chaos run (%s): %s streams x %s players, calm %s s, each "
               "fault %s s; %d player requests" % (
                   run.get("mode"), run.get("streams"), run.get("players"),
                   run.get("calm"), run.get("fault"), len(reqs)))
    out.append("Calm baseline: %d requests, latency p50 %.1f ms, p99 %.1f "
               "ms, max %.1f ms" % (len(bl), b50 * 1e3, b99 * 1e3,
                                   bmax * 1e3))
    out.append("")
    out.append("| fault | requests | from cache (failed) | latency p50 / p99"
               " / max ms | added p50 / p99 / max ms | errors: class count "
               "(slowest s) | threads | sess / req dropped | panics | "
               "recovered after s |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for name, fs, fe, we in phases:
        d = per.get(name, dict(n=0, hits=0, hit_fail=0, lat=[], errors={}))
        s = stats.get(name, {})
        p50, p99 = pct(d["lat"], 50), pct(d["lat"], 99)
        mx = max(d["lat"]) if d["lat"] else float("nan")
        errs = "; ".join("%s: %d (%.2f)" % (c, v[0], v[1])
                         for c, v in sorted(d["errors"].items())) or "none"
        rec = recover.get(name)
        out.append("| %s (%.0f s) | %d | %d (%d) | %.1f / %.1f / %.0f | "
                   "%+.1f / %+.1f / %+.0f | %s | %s | %s / %s | %s | %s |" % (
                       name, fe - fs, d["n"], d["hits"], d["hit_fail"],
                       p50 * 1e3, p99 * 1e3, mx * 1e3, (p50 - b50) * 1e3,
                       (p99 - b99) * 1e3, (mx - bmax) * 1e3, errs,
                       s.get("threads", "?"), s.get("sess_dropped", "?"),
                       s.get("req_dropped", "?"), s.get("panics", "?"),
                       "%.2f" % rec if rec is not None else "never"))
        if d["hits"] == 0:
            bad.append(("nothing served from the cache", name, ""))
        if name not in recover:
            bad.append(("no recovery measured", name, ""))
        elif rec is None or rec > RECOVER_BY.get(name, RECOVER):
            bad.append(("not recovered within %.0f s" %
                        RECOVER_BY.get(name, RECOVER), name, str(rec)))
        for k in ("panics", "child_panic", "sess_dropped", "req_dropped"):
            if s.get(k, 1) != 0:
                bad.append(("%s is %s" % (k, s.get(k, "missing")), name, ""))
    c = per.get("calm")
    if c:
        errs = "; ".join("%s: %d (%.2f)" % (k, v[0], v[1])
                         for k, v in sorted(c["errors"].items())) or "none"
        out.append("")
        out.append("Between faults (calm): %d requests, %d from cache, "
                   "errors: %s" % (c["n"], c["hits"], errs))

    junk = load(junk_path)
    if junk:
        by = {}
        for t0, lat, st, hit, age, url, reason in junk:
            cls = "%d %s" % (st, reason.replace("_", " "))
            e = by.setdefault(cls, [0, 0.0])
            e[0] += 1
            e[1] = max(e[1], lat)
            if not 400 <= st < 500:
                bad.append(("junk request not answered 4xx", "junk_keys",
                            "%s %s" % (url[:80], cls)))
            elif lat > FAST + SLACK:
                bad.append(("junk answer slower than %.1f s" % (FAST + SLACK),
                            "junk_keys", "%s %.3fs" % (url[:80], lat)))
        out.append("Junk requests: %d, %s" % (len(junk), "; ".join(
            "%s: %d (slowest %.2f s)" % (k, v[0], v[1])
            for k, v in sorted(by.items()))))
    out.append("")
    if bad:
        out.append("VERDICT: FAIL, %d violation(s):" % len(bad))
        seen = {}
        for what, ph, ex in bad:
            n = seen.get((what, ph), 0)
            seen[(what, ph)] = n + 1
            if n < 5:
                out.append("  %s [%s] %s" % (what, ph, ex))
        for (what, ph), n in seen.items():
            if n > 5:
                out.append("  ... %s [%s]: %d in all" % (what, ph, n))
    else:
        out.append("VERDICT: PASS (no error for cached content, every error "
                   "a fast 5xx, no panic, no dropped session or request, "
                   "every fault recovered without a reload)")
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(results_path, "w") as f:
        f.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: report.py EVENTS PLAYERS_LOG JUNK_LOG RESULTS")
    sys.exit(main(*sys.argv[1:]))
