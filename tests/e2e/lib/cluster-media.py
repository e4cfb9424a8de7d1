# The synthetic live streams of tests/e2e/cluster.sh, served by nginx:
#	python3 cluster-media.py DIR STREAMS SECONDS
# Writes DIR/sNN/live.m3u8 (a master playlist naming 360p/index.m3u8)
# and, once a second for SECONDS (then it exits), DIR/sNN/360p/index.m3u8:
# a live playlist of the last 6 segments of 2 s, each a new file
# seg-<n>.ts of 16 KB.  Files are written whole and renamed into place,
# so nginx never serves half of one.
import os, sys, time

d, streams, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
SEG, WINDOW, SIZE = 2.0, 6, 16384


def put(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.rename(path + ".tmp", path)


names = ["s%02d" % i for i in range(streams)]
for n in names:
    os.makedirs(os.path.join(d, n, "360p"), exist_ok=True)
    put(os.path.join(d, n, "live.m3u8"),
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n"
        b"360p/index.m3u8\n")
start = time.time()
last = -1
while time.time() - start < seconds:
    seq = int((time.time() - start) / SEG)
    for n in names:
        if seq != last:
            put(os.path.join(d, n, "360p", "seg-%d.ts" % seq),
                (b"%s %d " % (n.encode(), seq)).ljust(SIZE, b"x"))
        first = max(0, seq - WINDOW + 1)
        pl = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
        pl += "#EXT-X-MEDIA-SEQUENCE:%d\n" % first
        pl += "#GENERATED %.3f\n" % time.time()
        for s in range(first, seq + 1):
            pl += "#EXTINF:2.000,\nseg-%d.ts\n" % s
        put(os.path.join(d, n, "360p", "index.m3u8"), pl.encode())
    last = seq
    time.sleep(1.0 - (time.time() - start) % 1.0)
