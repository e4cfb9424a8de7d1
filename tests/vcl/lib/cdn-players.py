# The players of the cdn_edge_*.vtc tests:
#	python3 cdn-players.py HOST PORT PLAYERS SECONDS POLLS_FILE
# Each fetches three segments (all at once), then polls the playlist
# every 0.1-0.5 s for SECONDS, and records how old each playlist it got
# was when it asked (what the caches held then, not how long a loaded
# machine took to answer).  Fails on any error, or on a playlist older
# than the playlist TTL (1 s) + 1 s + 0.5 s: Age is in whole seconds,
# rounded down, so a cache may hold a copy up to 1 s longer than the
# origin does, and then serve it while it revalidates it
# (stale-while-revalidate: milliseconds with a healthy origin; 0.5 s
# allowed for a loaded machine).  Writes the number of polls to
# POLLS_FILE.
import http.client, random, re, sys, threading, time

host, port, players, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
bound = 2.5
lock = threading.Lock()
ages, errors = [], []
start = threading.Barrier(players)

def player(n):
    try:
        c = http.client.HTTPConnection(host, port, timeout=10)
        start.wait()
        for s in (1, 2, 3):
            url = "/abc/720p/20260101-%d.ts" % s
            c.request("GET", url)
            r = c.getresponse()
            b = r.read()
            if r.status != 200 or b != ("segment " + url).encode():
                raise Exception("%s: %d %r" % (url, r.status, b[:40]))
        end = time.time() + seconds
        while time.time() < end:
            asked = time.time()
            c.request("GET", "/abc/720p/index.m3u8")
            r = c.getresponse()
            b = r.read()
            m = re.search(rb"#GENERATED ([0-9.]+)", b)
            if r.status != 200 or m is None:
                raise Exception("playlist: %d %r" % (r.status, b[:60]))
            with lock:
                ages.append(asked - float(m.group(1)))
            time.sleep(random.uniform(0.1, 0.5))
    except Exception as e:
        with lock:
            errors.append("player %d: %s" % (n, e))

t = [threading.Thread(target=player, args=(i,)) for i in range(players)]
for x in t:
    x.start()
for x in t:
    x.join()
print("players %d polls %d oldest %.3f s (bound %.1f s) errors %d" %
    (players, len(ages), max(ages) if ages else -1, bound, len(errors)))
for e in errors[:5]:
    print(e)
with open(sys.argv[5], "w") as f:
    f.write("%d\n" % len(ages))
if errors or not ages or max(ages) > bound:
    sys.exit(1)
