#!/usr/bin/env python3
"""Limits and timeouts: each gets its status code, the connection closes,
and the worker goes on serving."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def expect_status(s, raw, status, close=True):
    """Sends <raw> on a new connection; checks the status and the close."""
    with h.connect(s.port) as c:
        c.sendall(raw)
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == status, f"{raw[:60]!r}...: got {r.status}, expected {status}")
        if close:
            h.check(r.header("connection") == "close", r)
            h.check(rd.at_eof(), f"{raw[:60]!r}: not closed after {status}")
    h.hello_pid(h.request(s.port, "/"))  # and the worker carries on
    return r


def test_head_too_large_431_and_uri_414():
    s = h.server("--max-header-size", "4k", workers=1)
    expect_status(s, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n", 431)
    expect_status(s, b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: bbbbbbbbbbbbbbbb\r\n" * 200 + b"\r\n", 431)
    expect_status(s, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)
    # a long name or value inside the limit is fine
    expect_status(s, b"GET / HTTP/1.1\r\nHost: t\r\nX-" + b"n" * 100 + b": " + b"v" * 2000
                  + b"\r\n\r\n", 200, close=False)
    s2 = h.shared_server(workers=1)
    expect_status(s2, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414)


def test_too_many_headers_431():
    s = h.server("--max-headers", "10", workers=1)
    ok = b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(9)) + b"\r\n"
    expect_status(s, ok, 200, close=False)
    bad = b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(10)) + b"\r\n"
    expect_status(s, bad, 431)


def test_body_too_large_413():
    s = h.shared_server("--max-body", "1k", workers=1)
    expect_status(s, b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n"
                  + b"x" * 1024, 404, close=False)
    expect_status(s, b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n", 413)
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    expect_status(s, b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + chunk + chunk + b"0\r\n\r\n", 413)


def test_expect_100_continue():
    s = h.shared_server("--max-body", "1k", workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 100, r)
        c.sendall(b"hello")
        h.hello_pid(rd.read_response())
    # too large: the final status at once, no 100 (so are 404 and 405:
    # test_rfc)
    r = expect_status(s, b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                      b"Expect: 100-continue\r\n\r\n", 413)
    expect_status(s, b"GET / HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n", 417)
    # HTTP/1.0 ignores Expect
    with h.connect(s.port) as c:
        c.sendall(b"POST /nope HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi")
        h.check(h.Reader(c).read_response().status == 404)


def test_header_timeout_408_even_while_dripping():
    s = h.server("--header-timeout", "1s", workers=1)
    with h.connect(s.port) as c:
        start = time.monotonic()
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        c.settimeout(0.2)
        got = b""
        # slowloris: a byte every 0.2 s does not extend the deadline
        while time.monotonic() - start < 10 * h.SLOW:
            try:
                c.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                data = c.recv(4096)
                if not data:
                    break
                got += data
            except socket.timeout:
                pass
            if b"\r\n\r\n" in got:
                break
        elapsed = time.monotonic() - start
        h.check(got.startswith(b"HTTP/1.1 408 "), f"got {got[:80]!r}")
        h.check(0.9 <= elapsed < 5 * h.SLOW, f"408 after {elapsed:.2f}s")
    h.hello_pid(h.request(s.port, "/"))


def test_connection_that_never_speaks_gets_408():
    s = h.server("--header-timeout", "500ms", workers=1)
    with h.connect(s.port) as c:
        start = time.monotonic()
        r = h.Reader(c).read_response()
        h.check(r.status == 408 and r.header("connection") == "close", r)
        h.check(time.monotonic() - start < 3 * h.SLOW, "408 came late")


def test_body_timeout_408():
    # on a connection's first request and on a later one
    s = h.server("--body-timeout", "500ms", workers=1)
    for first in (True, False):
        with h.connect(s.port) as c:
            rd = h.Reader(c)
            if not first:
                c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                h.hello_pid(rd.read_response())
            c.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf")
            start = time.monotonic()
            r = rd.read_response()
            took = time.monotonic() - start
            h.check(r.status == 408, r)
            # the body's timeout, not the head's (10 s)
            h.check(0.4 <= took < 3 * h.SLOW, f"408 after {took:.2f}s")
    h.hello_pid(h.request(s.port, "/"))


def test_idle_keepalive_closed():
    s = h.server("--keepalive-timeout", "500ms", workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        h.hello_pid(rd.read_response())
        start = time.monotonic()
        h.check(rd.at_eof(timeout=5), "idle connection not closed")
        h.check(time.monotonic() - start >= 0.4, "closed before the idle timeout")


def test_keepalive_timeout_zero_disables_keepalive():
    s = h.server("--keepalive-timeout", "0", workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.header("connection") == "close" and rd.at_eof(), r)


def test_max_requests_per_connection():
    s = h.server("--max-conn-requests", "3", workers=1)
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 4)
        for i in range(3):
            r = rd.read_response()
            h.check((r.header("connection") == "close") == (i == 2), f"{i}: {r}")
        h.check(rd.at_eof(), "connection open after the last allowed request")


def test_client_that_does_not_read_is_dropped():
    s = h.server("--send-timeout", "500ms", workers=1)
    pid = s.worker_pids()[0]
    with h.connect(s.port) as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.settimeout(0.05)
        sent = 0
        request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n" * 100
        deadline = time.monotonic() + 10 * h.SLOW
        dropped = False
        # keep pipelining without ever reading: the server must stop
        # parsing (bounded memory) and then drop us
        while time.monotonic() < deadline:
            try:
                c.send(request)
                sent += 100
            except socket.timeout:
                pass
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
                break
            if h.held_connections(pid) == 0:
                dropped = True
                break
        h.check(dropped, "the non-reading client was never dropped")
        h.check(h.rss_kib(pid) < 64 * 1024 * h.SLOW, f"worker RSS {h.rss_kib(pid)} KiB")
    h.hello_pid(h.request(s.port, "/"))


def test_worker_connection_cap():
    # One worker, cap 3: a fourth connection waits (the worker refuses,
    # the master parks it and stops accepting) until one closes.
    s = h.server("--max-conns", "3", "--trace", workers=1)
    idle = [h.connect(s.port) for _ in range(3)]
    for c in idle:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        h.hello_pid(h.Reader(c).read_response())
    fourth = h.connect(s.port)
    fourth.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    s.wait_log(r"refuse +C4 <- W1")
    s.wait_log(r"full +W1, parked")
    s.wait_log(r"every worker is full")
    idle[0].close()
    r = h.Reader(fourth).read_response()
    h.hello_pid(r)
    s.wait_log(r"a worker has room again")
    for c in idle[1:] + [fourth]:
        c.close()


SMUGGLING = [
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400, "CL and TE together"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400,
     "differing Content-Length"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", 400,
     "repeated Content-Length"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4, 4\r\n\r\nabcd", 400, "CL list"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +4\r\n\r\nabcd", 400, "signed CL"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400,
     "bad chunk size"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"ffffffffffffffffff\r\n", 400, "overflowing chunk size"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX0\r\n\r\n", 400,
     "chunk longer than its size"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400,
     "TE without final chunked"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400,
     "chunked not final"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
     "unknown coding"),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n0\r\n\r\n", 400, "chunked twice"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, "obs-fold"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n", 400, "obs-fold with tab"),
    (b"GET / HTTP/1.1\r\nHost: t\nX-A: a\r\n\r\n", 400, "bare LF in the head"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n", 400, "bare CR"),
    (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, "space before colon"),
    (b"GET / HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n", 400, "empty field name"),
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host"),
    (b"GET / HTTP/1.1\r\nHost: x/y\r\n\r\n", 400, "invalid Host"),
    (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "invalid Host"),
    (b"GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400, "invalid Host port"),
    (b"GET / HTTP/1.1\r\n\r\n", 400, "missing Host"),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "two Hosts"),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-A: \x00\r\n\r\n", 400, "NUL in a value"),
    (b"GET /\x7f HTTP/1.1\r\nHost: t\r\n\r\n", 400, "DEL in the target"),
    (b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n", 400, "space after the version"),
    (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505, "HTTP/3.0"),  # 1.2 is 1.1: test_rfc
]


def test_smuggling_defences():
    s = h.shared_server(workers=1)
    for raw, status, what in SMUGGLING:
        try:
            expect_status(s, raw, status)
        except h.TestFailure as e:
            raise h.TestFailure(f"{what}: {e}")
    # and valid forms are served
    for raw in (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
                b"GET / HTTP/1.1\r\nhOsT: Example.COM:80\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: t\r\nX-A: caf\xc3\xa9\t\r\n\r\n"):
        expect_status(s, raw, 200, close=False)


def test_limit_flags_are_checked():
    import subprocess
    for args in (["--max-body", "1q"], ["--header-timeout", "0"], ["--max-headers", "0"],
                 ["--max-header-size", "10"], ["--max-conns", "x"]):
        p = subprocess.run([h.HANDOFF, *args], capture_output=True, text=True, timeout=10)
        h.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
                and args[0] in p.stderr, f"{args}: {p}")


if __name__ == "__main__":
    h.main(globals())
