#!/usr/bin/env python3
"""hls_gen.py -- cheap synthetic live HLS for the reload soak.

    hls_gen.py ROOT SERVERS STREAMS SECONDS [SEGMENT_BYTES]

Stream i ("soak<i>") lives on media server i % SERVERS: its files are in
ROOT/ms<i % SERVERS>/soak<i>/ (live.m3u8 naming 360p/index.m3u8, and
360p/index.m3u8 listing the newest 6 segments 360p/<n>.ts).  Every 2 s
each stream gets a new segment and a new playlist (written to a
temporary name, then renamed: nginx never serves half a file).  A
segment is deleted 20 segments after it left the playlist, so a player
that read an old playlist still finds what it names.  Runs SECONDS at
most (the bound on its loop), or until killed.
"""
import os
import sys
import time

FRAGMENT = 2
WINDOW = 6
KEEP = WINDOW + 20


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def main():
    root, servers, streams, seconds = (sys.argv[1], int(sys.argv[2]),
                                       int(sys.argv[3]), float(sys.argv[4]))
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 4096
    dirs = []
    for i in range(streams):
        d = os.path.join(root, "ms%d" % (i % servers), "soak%d" % i)
        os.makedirs(os.path.join(d, "360p"), exist_ok=True)
        write(os.path.join(d, "live.m3u8"),
              b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,"
              b"RESOLUTION=640x360\n360p/index.m3u8\n")
        dirs.append(d)
    body = (b"\x47" + b"\xff" * 187) * (size // 188 + 1)
    deadline = time.monotonic() + seconds
    seq = 0
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        for d in dirs:
            r = os.path.join(d, "360p")
            write(os.path.join(r, "%d.ts" % seq), body[:size])
            first = max(0, seq - WINDOW + 1)
            pl = ["#EXTM3U", "#EXT-X-VERSION:3",
                  "#EXT-X-TARGETDURATION:%d" % FRAGMENT,
                  "#EXT-X-MEDIA-SEQUENCE:%d" % first]
            for n in range(first, seq + 1):
                pl += ["#EXTINF:%d.000," % FRAGMENT, "%d.ts" % n]
            write(os.path.join(r, "index.m3u8"),
                  ("\n".join(pl) + "\n").encode())
            old = seq - KEEP
            if old >= 0:
                try:
                    os.unlink(os.path.join(r, "%d.ts" % old))
                except FileNotFoundError:
                    pass
        seq += 1
        time.sleep(max(0.0, FRAGMENT - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
