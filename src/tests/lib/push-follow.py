#!/usr/bin/env python3
#
# Measures how fast an origin follows route changes in Redis:
#	push-follow.py MODE REDIS_SOCK ORIGIN KEY ADDR1 ADDR2 N BOUND
#
# For each of N changes the route of KEY moves between ADDR1 and ADDR2
# (media servers that answer with "X-Server: s1" and "X-Server: s2"), and the
# origin (ip:port, a VCL that passes every request) is asked once a
# millisecond until it answers from the new server.  MODE says how the
# change reaches Redis:
#	set	SET (keyspace notifications must be on)
#	del	DEL, then SET: the origin must answer 404 in between
#	expire	SET ... PX 30, wait for 404 (measured from the expiry), SET
#	publish	SET, then PUBLISH streamroute:routes KEY (notifications off)
# Prints the follow times (median, worst: from the change in Redis to the
# sending of the first request that followed it) and fails when one
# change was not followed within BOUND seconds.  Only the push can explain a
# follow faster than the route_ttl of the VCL under test.

import http.client
import socket
import sys
import time


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Redis:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        self.s.sendall(resp(*args))
        line = self.f.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            if n >= 0:
                self.f.read(n + 2)
        elif line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line


conn = None


def ask(origin, key, n):
    """One request on a kept-alive connection: the follow time measured
    is then mostly the origin's, not a TCP handshake's."""
    global conn
    if conn is None:
        host, port = origin.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/%s/%d.ts" % (key, n))
        r = conn.getresponse()
        r.read()
    except (http.client.HTTPException, OSError):
        conn.close()
        conn = None
        return ask(origin, key, n)
    return r.status, r.getheader("X-Server")


def name(addr, a1):
    return "s1" if addr == a1 else "s2"


first = [0]


def wait_for(origin, key, want_status, want_server, seq, bound):
    t0 = time.monotonic()
    n0 = seq[0]
    while True:
        seq[0] += 1
        sent = time.monotonic()
        status, server = ask(origin, key, seq[0])
        if status == want_status and (want_server is None or
                                      server == want_server):
            # when the request that followed was sent: the change had
            # reached the origin by then (its answer's own duration,
            # mostly the test's media server, is not counted)
            if seq[0] == n0 + 1:
                first[0] += 1
            return sent - t0
        if time.monotonic() - t0 > bound:
            return None
        time.sleep(0.001)


def main():
    mode, sock, origin, key, a1, a2, n, bound = sys.argv[1:9]
    n = int(n)
    bound = float(bound)
    r = Redis(sock)
    seq = [0]
    times = []
    failed = 0
    r.cmd("SET", key, a1)
    if mode == "publish":
        r.cmd("PUBLISH", "streamroute:routes", key)
    if wait_for(origin, key, 200, "s1", seq, 5.0) is None:
        print("FAIL: not routed to %s at the start" % a1)
        return 1
    cur = a1
    for i in range(n):
        new = a2 if cur == a1 else a1
        if mode == "del":
            r.cmd("DEL", key)
            t = wait_for(origin, key, 404, None, seq, bound)
            if t is None:
                failed += 1
                print("change %d: DEL not followed" % i)
            else:
                times.append(t)
        elif mode == "expire":
            r.cmd("SET", key, cur, "PX", "30")
            time.sleep(0.03)
            t = wait_for(origin, key, 404, None, seq, bound)
            if t is None:
                failed += 1
                print("change %d: expiry not followed" % i)
            else:
                times.append(t)
        r.cmd("SET", key, new)
        if mode == "publish":
            r.cmd("PUBLISH", "streamroute:routes", key)
        t = wait_for(origin, key, 200, name(new, a1), seq, bound)
        if t is None:
            failed += 1
            print("change %d: SET %s not followed" % (i, new))
        else:
            times.append(t)
        cur = new
    times.sort()
    if times:
        print("mode=%s changes=%d followed=%d median_ms=%.2f worst_ms=%.2f "
              "next_request_followed=%d requests=%d" % (
                  mode, len(times) + failed, len(times),
                  1e3 * times[len(times) // 2], 1e3 * times[-1],
                  first[0] - 1, seq[0]))
    if failed:
        print("FAIL: %d changes not followed within %g s" % (failed, bound))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
