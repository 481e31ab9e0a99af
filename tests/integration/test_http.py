#!/usr/bin/env python3
"""HTTP/1.1 as a client sees it: routes, keep-alive, pipelining, HEAD,
HTTP/1.0, bodies, malformed requests."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def test_hello_and_headers():
    s = h.shared_server(workers=2)
    r = h.request(s.port, "/")
    pid = h.hello_pid(r)
    h.check(pid in s.worker_pids(), f"pid {pid} is not one of the workers")
    h.check(r.header("content-type") == "text/plain", r)
    h.check(r.header("content-length") == str(len(r.body)), r)
    h.check(re.match(r"handoff/\d", r.header("server") or ""), r)
    h.check(re.match(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$",
                     r.header("date") or ""), f"bad Date: {r}")
    h.check(r.header("connection") == "close", r)


def test_cpu_route():
    s = h.shared_server(workers=1)
    r = h.request(s.port, "/cpu?n=1000")
    h.check(r.status == 200, r)
    h.check(r.header("content-type") == "application/json", r)
    pid = s.worker_pids()[0]
    h.check(r.body == b'{"success":true,"worker":%d}' % pid, r)
    h.check(h.request(s.port, "/cpu").status == 200)
    h.check(h.request(s.port, "/cpu?x=1&n=5").status == 200)
    for bad in ("/cpu?n=abc", "/cpu?n=-1", "/cpu?n=", "/cpu?n=1e3", "/cpu?n=+5"):
        r = h.request(s.port, bad)
        h.check(r.status == 400, f"{bad}: {r}")


def test_not_found_and_methods():
    s = h.shared_server(workers=1)
    h.check(h.request(s.port, "/nope").status == 404)
    h.check(h.request(s.port, "/nope", method="POST").status == 404)
    r = h.request(s.port, "/", method="POST", body=b"x=1")
    h.check(r.status == 405 and "GET" in (r.header("allow") or ""), r)
    r = h.request(s.port, "/", method="DELETE")
    h.check(r.status == 405, r)
    r = h.request(s.port, "/", method="OPTIONS")
    h.check(r.status == 204 and r.header("allow"), r)
    # absolute-form targets (RFC 9112 §3.2.2) reach the same routes
    for target in ("http://test/", "http://test", "HTTP://test/", "https://test/",
                   "https://test", "https://test:8443/cpu?n=1", "http://test/cpu?n=1"):
        r = h.request(s.port, target)
        h.check(r.status == 200, f"{target}: {r}")
    h.check(h.request(s.port, "https://test/x/cpu").status == 404)


def test_head_has_no_body():
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        r1 = rd.read_response(head=True)
        h.check(r1.status == 200 and int(r1.header("content-length")) > 0, r1)
        # If HEAD had sent a body, it would show up as this response's start.
        r2 = rd.read_response()
        h.check(r2.status == 200 and r2.body.startswith(b"Hello"), r2)


def test_keepalive_one_worker():
    s = h.shared_server(workers=2)
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        pids = set()
        for _ in range(10):
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            r = rd.read_response()
            h.check(r.header("connection") is None, r)
            pids.add(h.hello_pid(r))
        h.check(len(pids) == 1, f"10 keep-alive requests went to {pids}")


def test_pipelined_in_order():
    s = h.shared_server(workers=2)
    with h.connect(s.port) as c:
        c.sendall(b"GET /cpu?n=200000 HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rd = h.Reader(c)
        r1, r2, r3 = rd.read_response(), rd.read_response(), rd.read_response()
        h.check(r1.status == 200 and r1.body.startswith(b'{"success":true'), r1)
        h.check(r2.status == 404, r2)
        h.check(r3.status == 200 and r3.header("connection") == "close", r3)
        h.check(rd.at_eof(), "connection not closed after Connection: close")


def test_byte_at_a_time():
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        for b in b"GET /cpu?n=3 HTTP/1.1\r\nHost: t\r\n\r\n":
            c.send(bytes([b]))
        r = h.Reader(c).read_response()
        h.check(r.status == 200, r)


def test_http10():
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 200 and r.header("connection") != "keep-alive", r)
        h.check(rd.at_eof(), "HTTP/1.0 without keep-alive must close")
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        for _ in range(3):
            c.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            r = rd.read_response()
            h.check(r.header("connection") == "keep-alive", r)


def test_request_bodies():
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        c.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        h.check(rd.read_response().status == 404)
        c.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        h.check(rd.read_response().status == 404)
        # the connection is still in step: the bodies were consumed
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        h.hello_pid(rd.read_response())


def test_http10_with_transfer_encoding_closes():
    # RFC 9112 §6.1: faulty framing; answer, then close instead of reading on.
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"POST /nope HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: keep-alive\r\n\r\n0\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 404 and r.header("connection") == "close", r)
        h.check(rd.at_eof(), "second request answered after a 1.0 chunked one")


def test_malformed_gets_400_then_close():
    s = h.shared_server(workers=1)
    for bad in (b"GARBAGE\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
                b"GET / HTTP/1.1\r\n\r\n",                        # no Host
                b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  # two Hosts
                b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        with h.connect(s.port) as c:
            c.sendall(bad)
            rd = h.Reader(c)
            r = rd.read_response()
            h.check(r.status == 400, f"{bad!r}: {r}")
            h.check(r.header("connection") == "close", r)
            h.check(rd.at_eof(), f"{bad!r}: not closed after 400")
        # the worker carries on
        h.hello_pid(h.request(s.port, "/"))


def test_unsupported_version():
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n")
        r = h.Reader(c).read_response()
        h.check(r.status in (400, 505), r)
    h.hello_pid(h.request(s.port, "/"))


def test_ipv6_host():
    if not os.path.exists("/proc/net/if_inet6"):
        return  # no IPv6 on this machine: nothing to show
    s = h.server(host="::1", workers=1)
    h.check("[::1]" in s.log(), "listening line should show [::1]")
    h.hello_pid(h.request(s.port, "/", host="::1"))


if __name__ == "__main__":
    h.main(globals())
