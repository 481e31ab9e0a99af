#!/usr/bin/env python3
"""Memory: the master and an idle worker stay small, and 10,000 idle
keep-alive connections cost a worker at most 32 MiB."""

import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CONNS = 10000


def test_small_processes():
    s = h.server(workers=2)
    h.hello_pid(h.request(s.port, "/"))
    limit = 4 * 1024 * (8 if "asan" in h.BUILD else 1)  # ASan's shadow memory
    h.check(h.rss_kib(s.pid) <= limit, f"master RSS {h.rss_kib(s.pid)} KiB")
    for pid in s.worker_pids():
        h.check(h.rss_kib(pid) <= limit, f"idle worker RSS {h.rss_kib(pid)} KiB")


def test_ten_thousand_idle_connections():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < CONNS + 200:
        raise h.TestFailure(f"the test needs {CONNS + 200} descriptors; hard limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    s = h.server("--keepalive-timeout", "120s", "--max-conns", str(CONNS + 100), workers=1)
    worker = s.worker_pids()[0]
    h.hello_pid(h.request(s.port, "/"))
    before = h.rss_kib(worker)
    conns = []
    try:
        for i in range(CONNS):
            c = h.connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            conns.append(c)
            if i % 500 == 499:  # read the answers in batches
                for c2 in conns[-500:]:
                    h.hello_pid(h.Reader(c2).read_response())
        for c2 in conns[len(conns) - len(conns) % 500:]:
            h.hello_pid(h.Reader(c2).read_response())
        h.wait_until(lambda: h.held_connections(worker) >= CONNS, timeout=30,
                     what=f"the worker to hold {CONNS} connections")
        grown = h.rss_kib(worker) - before
        per = grown * 1024 / CONNS
        sys.stderr.write(f"capacity: {CONNS} idle keep-alive connections: worker RSS "
                         f"{before} -> {h.rss_kib(worker)} KiB ({per:.0f} bytes each)\n")
        budget = 32 * 1024 * (4 if "asan" in h.BUILD else 1)
        h.check(grown <= budget, f"{CONNS} idle connections cost {grown} KiB")
        # and it still answers quickly on one of them
        conns[123].sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        h.hello_pid(h.Reader(conns[123]).read_response())
    finally:
        for c in conns:
            c.close()


if __name__ == "__main__":
    h.main(globals())
