#!/usr/bin/env python3
"""--trace shows every step of a handoff, in order, with the queue and
free list after each, as in node-cluster.md §3."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def test_one_handoff_step_by_step():
    s = h.server("--trace", workers=1)
    mark = s.mark()
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        port = c.getsockname()[1]
        h.hello_pid(h.Reader(c).read_response())
    cid = s.wait_log(rf"accept +C(\d+) fd=(\d+) from 127\.0\.0\.1:{port} +queue=\[C\d+\] free=\[W1\]",
                     start=mark).group(1)
    s.wait_log(rf"master (?:closes|keeps) fd", start=mark)
    want = [
        rf"master\[\d+\] trace: accept +C{cid} fd=\d+ from 127\.0\.0\.1:{port} +queue=\[C{cid}\] free=\[W1\]",
        rf"master\[\d+\] trace: handoff +C{cid} -> W1 \(pid \d+\) +queue=\[\] free=\[\]",
        rf"master\[\d+\] trace: sendmsg +-> W1: 1 message, 1 fd \(CONN C{cid}\)",
        rf"master\[\d+\] trace: ack +C{cid} <- W1 accepted, master (?:closes|keeps) fd \d+ +queue=\[\] free=\[\]",
        rf"master\[\d+\] trace: free +W1 +queue=\[\] free=\[W1\]",
    ]
    worker_want = [
        rf"worker W1\[\d+\] trace: C{cid} received fd=\d+; accepting",
        rf"worker W1\[\d+\] trace: C{cid} ack sent; reading",
        rf"worker W1\[\d+\] trace: C{cid} GET /",
    ]
    s.wait_log(want[-1], start=mark)
    s.wait_log(worker_want[-1], start=mark)
    lines = s.log().splitlines()[mark:]
    for seq in (want, worker_want):
        pos = 0
        for rx in seq:
            while pos < len(lines) and not re.search(rx, lines[pos]):
                pos += 1
            h.check(pos < len(lines), f"trace line {rx!r} missing or out of order:\n"
                    + "\n".join(lines))
            pos += 1


def test_load_reports_reach_the_master():
    # Reports follow changes (coalesced) and come at least once a second.
    s = h.server("--trace", workers=1)
    mark = s.mark()
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        for _ in range(5):
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            h.hello_pid(rd.read_response())
        # the open keep-alive connection and the five requests show up
        s.wait_log(r"load +W1: 1 open, 0 in flight, 5 served", start=mark)
    s.wait_log(r"load +W1: 0 open, 0 in flight, 5 served", start=mark)
    # heartbeats keep coming with nothing changing
    first = s.mark()
    s.wait_log(r"load +W1: 0 open, 0 in flight, 5 served", start=first, count=2,
               timeout=3)


def test_no_trace_without_flag():
    s = h.server(workers=1)
    h.hello_pid(h.request(s.port, "/"))
    h.check(" trace: " not in s.log(), "trace lines without --trace")


if __name__ == "__main__":
    h.main(globals())
