#!/usr/bin/python3
"""fslat.py - latency of one line through a varlogfs mount (tests/bench/run.sh).

    fslat.py owc FILE N       N times: open(O_WRONLY|O_APPEND) + write of one
                              line + close (close returns once the line is
                              committed); prints p50/p99/p99.9 in ms as JSON
    fslat.py follow DIR T N   a reader of DIR/.follow/T and a writer that
                              appends N lines to DIR/T one open+write+close
                              at a time; for each line the time from the
                              writer's close returning to the reader having
                              read it; prints the same percentiles

Only the standard library (run it with Debian's /usr/bin/python3).
"""
import json
import os
import sys
import threading
import time


def pcts(ms):
    ms = sorted(ms)
    n = len(ms)
    pick = lambda q: ms[min(n - 1, int(n * q))]
    return {"n": n, "p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3),
            "p999_ms": round(pick(0.999), 3), "max_ms": round(ms[-1], 3)}


def append_line(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def owc(path, n):
    ms = []
    for i in range(n):
        t0 = time.perf_counter()
        append_line(path, b"owc line %d\n" % i)
        ms.append((time.perf_counter() - t0) * 1e3)
    return pcts(ms)


def follow(mnt, topic, n):
    path = os.path.join(mnt, topic)
    append_line(path, b"start\n")  # the topic exists before the reader opens it
    seen = {}
    cond = threading.Condition()

    def reader():
        with open(os.path.join(mnt, ".follow", topic), "rb", buffering=0) as f:
            buf = b""
            while True:
                data = f.read(65536)
                if not data:
                    continue
                now = time.perf_counter()
                buf += data
                *lines, buf = buf.split(b"\n")
                with cond:
                    for line in lines:
                        if line.startswith(b"follow "):
                            seen[int(line.split()[1])] = now
                    cond.notify_all()
                if n - 1 in seen:
                    return

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    ms = []
    for i in range(n):
        append_line(path, b"follow %d\n" % i)
        closed = time.perf_counter()
        with cond:
            if not cond.wait_for(lambda: i in seen, timeout=30):
                sys.exit("fslat.py: the .follow reader did not see line %d within 30 s" % i)
            ms.append(max(0.0, seen[i] - closed) * 1e3)
    th.join(5)
    return pcts(ms)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "owc":
        r = owc(a[1], int(a[2]))
    elif len(a) == 4 and a[0] == "follow":
        r = follow(a[1], a[2], int(a[3]))
    else:
        sys.exit("usage: fslat.py owc FILE N | fslat.py follow MOUNTPOINT TOPIC N")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
