#!/usr/bin/env python3
"""HTTP/1.1 where RFC 9110/9112 ask more than llhttp's strict mode gives:
HTTP/0.9's request line, minor versions above 1.1, unknown methods, long
targets, chunk extensions, Upgrade not performed, Expect: 100-continue
on a request refused whatever its body. Raw sockets throughout."""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def exchange(s, raw, pieces=None):
    """Sends <raw> (or each of <pieces> separately, as their own segments)
    on a new connection; returns (first response, Reader)."""
    c = h.connect(s.port)  # TCP_NODELAY: each piece its own segment
    for part in pieces or [raw]:
        c.sendall(part)
    rd = h.Reader(c)
    return rd.read_response(), rd


def expect_closing(s, raw, status, pieces=None):
    """<raw> gets <status>, says Connection: close and is closed."""
    r, rd = exchange(s, raw, pieces)
    try:
        h.check(r.status == status, f"{raw[:70]!r}: got {r}, expected {status}")
        h.check(r.header("connection") == "close", f"{raw[:70]!r}: {r}")
        h.check(r.header("content-length") == str(len(r.body)), r)
        h.check(rd.at_eof(), f"{raw[:70]!r}: not closed after {status}")
    finally:
        rd.sock.close()
    return r


def test_http09_request_line_gets_400_at_once():
    # RFC 9112 has no HTTP/0.9: a request line without a version is a bad
    # request, answered at once, not when --header-timeout runs out (it
    # used to get no answer: llhttp waits for one more byte).
    s = h.server("--header-timeout", "8s", workers=1)
    for raw, pieces in ((b"GET /\r\n", None),
                        (b"GET /\n", None),
                        (b"GET /index.html?a=b\r\n", None),
                        (b"GET /\r\n", [b"GET /", b"\r\n"]),
                        (b"GET /\r\nHost: t\r\n\r\n", None),  # not 505
                        (b"GET / \r\nHost: t\r\n\r\n", None)):
        start = time.monotonic()
        expect_closing(s, raw, 400, pieces)
        took = time.monotonic() - start
        h.check(took < 3 * h.SLOW, f"{raw!r}: 400 after {took:.1f}s")
    h.hello_pid(h.request(s.port, "/"))


def test_higher_minor_version_is_served_as_http11():
    # RFC 9110 §2.5: 1.2 is processed as 1.1, the highest minor version
    # we support: answered in 1.1, persistent by default, Host required.
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        rd = h.Reader(c)
        for version in (b"1.2", b"1.9", b"1.1"):
            c.sendall(b"GET / HTTP/" + version + b"\r\nHost: t\r\n\r\n")
            r = rd.read_response()
            h.hello_pid(r)
            h.check(r.version == "HTTP/1.1" and r.header("connection") is None,
                    f"{version}: {r}")
        c.sendall(b"GET /cpu?n=1 HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = rd.read_response()
        h.check(r.status == 200 and r.header("connection") == "close", r)
        h.check(rd.at_eof(), "Connection: close on 1.2 did not close")
    expect_closing(s, b"GET / HTTP/1.2\r\n\r\n", 400)  # no Host, as in 1.1
    # another major version, or 0.9 written out, is one we do not support
    for version in (b"2.0", b"3.0", b"0.9", b"9.1"):
        expect_closing(s, b"GET / HTTP/" + version + b"\r\nHost: t\r\n\r\n", 505)
    # and what is no version at all stays 400
    for version in (b"1.10", b"11.1", b"1", b"1.x"):
        expect_closing(s, b"GET / HTTP/" + version + b"\r\nHost: t\r\n\r\n", 400)


def test_unknown_method_gets_501():
    # RFC 9110 §9.1: a well-formed method we do not implement is 501; one
    # that is not a token is a bad request.
    s = h.shared_server(workers=1)
    long_token = b"X" * 100
    for method in (b"FOO", b"PURGEX", b"QUERY", b"get", b"BREW", b"ANNOUNCE",
                   b"X-Custom_1.0~", long_token):
        expect_closing(s, method + b" / HTTP/1.1\r\nHost: t\r\n\r\n", 501)
    for raw in (b"G@T / HTTP/1.1\r\nHost: t\r\n\r\n", b" / HTTP/1.1\r\nHost: t\r\n\r\n",
                b"FOO\r\n\r\n", b"GET\r\n\r\n", b"FO(O / HTTP/1.1\r\nHost: t\r\n\r\n"):
        expect_closing(s, raw, 400)
    # one byte at a time: the method is told only once its space arrives
    raw = b"PURGEX / HTTP/1.1\r\nHost: t\r\n\r\n"
    expect_closing(s, raw, 501, [bytes([b]) for b in raw])
    raw = b"FOO\r\n\r\n"
    expect_closing(s, raw, 400, [bytes([b]) for b in raw])
    # after a HEAD on the same connection the refusal still has its body
    with h.connect(s.port) as c:
        c.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nFOO / HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response(head=True)
        h.check(r.status == 200, r)
        r = rd.read_response()
        h.check(r.status == 501 and r.body == b"501 Not Implemented\n", r)
        h.check(rd.at_eof(), "not closed after 501")
    # known methods are unaffected
    r = h.request(s.port, "/", method="PURGE")
    h.check(r.status == 405, r)
    h.hello_pid(h.request(s.port, "/"))


_site = None


def site_root():
    """A --root with an index.html, one for the file (its tests only read
    it), removed at the end."""
    global _site
    if _site is None:
        _site = tempfile.mkdtemp(prefix="handoff-rfc-")
        h.at_end(lambda: shutil.rmtree(_site, ignore_errors=True))
        with open(os.path.join(_site, "index.html"), "wb") as f:
            f.write(b"<h1>home</h1>\n")
    return _site


def test_long_request_target():
    # RFC 9112 §3: request lines of at least 8,000 octets should work. A
    # path longer than the file system allows names no file: 404, not 414.
    s = h.shared_server("--root", site_root(), workers=1)
    pad = "a" * 7000
    for path, status in ((f"/{pad}", 404), (f"/{'ab/' * 2333}", 404),
                         (f"/x/{pad}.html", 404), (f"/%61{pad}", 404),
                         (f"/?q={pad}", 200), (f"/index.html?q={pad}", 200)):
        h.check(len(path) >= 7000, path[:20])
        r = h.request(s.port, path)
        h.check(r.status == status, f"{path[:20]}... ({len(path)} bytes): {r}")
        if status == 200:
            h.check(r.body == b"<h1>home</h1>\n", r)
    # the head's limit still bounds the target
    s2 = h.server("--root", site_root(), "--max-header-size", "4k", workers=1)
    expect_closing(s2, f"GET /{pad} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), 414)
    s3 = h.shared_server(workers=1)
    h.hello_pid(h.request(s3.port, f"/?q={pad}"))
    h.check(h.request(s3.port, f"/cpu?n=1&pad={pad}").status == 200)


CHUNKED = b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
NEXT = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def test_chunk_extensions_are_ignored():
    # RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ),
    # value a token or a quoted-string; a recipient ignores those it does
    # not understand. The body is consumed and the connection stays in step.
    s = h.shared_server("--max-body", "1k", workers=1)
    for ext in (b';ext=1', b';ext=1;q="x y"', b';a;b;c', b';a=1;b=2;c="3"', b' ;a=1',
                b'\t; a = 1 ;b', b';q=""', b';q="\\"quoted\\" \\\\ pair"',
                b';q="caf\xc3\xa9\t!#[]~"', b';n=' + b"t" * 4000,
                b';' + b';'.join(b"e%d=v" % i for i in range(200))):
        body = b"5" + ext + b"\r\nhello\r\n3;last=\"a;b\"\r\nabc\r\n0;end=1\r\nX-T: 1\r\n\r\n"
        for pieces in (None, [CHUNKED + body[:2], body[2:9], body[9:] + NEXT],
                       [bytes([b]) for b in CHUNKED + body + NEXT]):
            with h.connect(s.port) as c:
                for part in pieces or [CHUNKED + body + NEXT]:
                    c.sendall(part)
                rd = h.Reader(c)
                r = rd.read_response()
                h.check(r.status == 404, f"{ext[:40]!r}: {r}")
                h.check(r.header("connection") is None, f"{ext[:40]!r}: {r}")
                h.hello_pid(rd.read_response())
            if len(CHUNKED + body) > 400:
                break  # byte at a time once is enough for the long ones
    # the grammar is still enforced, and the size still read by llhttp
    for ext, status in ((b';', 400), (b';=1', 400), (b';a b', 400), (b';a=', 400),
                        (b';a=1 ', 400), (b' ', 400), (b';a="x', 400),
                        (b';a="x"y', 400), (b';a="\x01"', 400), (b';a=\x7f', 400),
                        (b';a@=1', 400), (b';a=(1)', 400), (b';a="x\r\n"', 400),
                        (b';a=1\n', 400), (b'z', 400),
                        (b';n=' + b"t" * 5000, 413)):
        expect_closing(s, CHUNKED + b"5" + ext + b"\r\nhello\r\n0\r\n\r\n" + NEXT, status)
    expect_closing(s, CHUNKED + b";a=1\r\nhello\r\n0\r\n\r\n", 400)   # no size
    expect_closing(s, CHUNKED + b"ffffffffffffffffff;a\r\n", 400)    # overflow
    expect_closing(s, CHUNKED + b"401;a=1\r\n" + b"x" * 1025 + b"\r\n0\r\n\r\n", 413)
    h.hello_pid(h.request(s.port, "/"))


def test_upgrade_not_performed_keeps_the_connection():
    # RFC 9110 §7.8: a server may ignore Upgrade and go on in HTTP/1.1; the
    # next pipelined request is answered on the same connection.
    s = h.shared_server(workers=1)
    heads = (b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
             b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
             b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
    for head in heads:
        with h.connect(s.port) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n" + head + b"\r\n" + NEXT)
            rd = h.Reader(c)
            r1 = rd.read_response()
            h.hello_pid(r1)
            h.check(r1.header("connection") is None and r1.header("upgrade") is None, r1)
            h.hello_pid(rd.read_response())
            # and later requests too
            c.sendall(b"GET /cpu?n=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            h.check(rd.read_response().status == 200)
    # with a body, which is read as the request's
    with h.connect(s.port) as c:
        c.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\n" + heads[0] + b"Content-Length: 3\r\n\r\n"
                  b"abc" + NEXT)
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 404 and r.header("connection") is None, r)
        h.hello_pid(rd.read_response())
    with h.connect(s.port) as c:
        c.sendall(b"POST /nope HTTP/1.1\r\nHost: t\r\n" + heads[1] +
                  b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\n\r\n" + NEXT)
        rd = h.Reader(c)
        h.check(rd.read_response().status == 404)
        h.hello_pid(rd.read_response())
    # CONNECT is still refused and closed: a tunnel's bytes would follow
    expect_closing(s, b"CONNECT t:80 HTTP/1.1\r\nHost: t:80\r\n\r\n" + NEXT, 400)


def test_expect_100_continue_refused_request_gets_final_status():
    # RFC 9110 §10.1.1: no 100 for a request refused whatever its body;
    # the final status comes at once and the connection closes, as the
    # client may or may not send the body now.
    root = site_root()
    cases = [((), b"POST / HTTP/1.1", 405), ((), b"DELETE /cpu HTTP/1.1", 405),
             ((), b"POST /nope HTTP/1.1", 404), ((), b"PUT /x HTTP/1.1", 404),
             (("--root", root), b"POST /index.html HTTP/1.1", 405),
             (("--root", root), b"POST / HTTP/1.1", 405),
             (("--root", root), b"GET /missing HTTP/1.1", 404),
             (("--root", root), b"GET /index.html/x HTTP/1.1", 404),
             (("--max-body", "1k"), b"POST / HTTP/1.1", 413)]
    for args, line, status in cases:
        s = h.shared_server(*args, workers=1)
        for length in (b"Content-Length: 5000\r\n", b"Transfer-Encoding: chunked\r\n"):
            if status == 413 and b"chunked" in length:
                continue  # a chunked body's size is known only as it comes
            with h.connect(s.port) as c:
                c.sendall(line + b"\r\nHost: t\r\n" + length +
                          b"Expect: 100-continue\r\n\r\n")
                rd = h.Reader(c)
                r = rd.read_response()
                h.check(r.status == status, f"{line} {length}: {r}")
                h.check(r.header("connection") == "close", r)
                # a client that sends the body anyway is drained, not reset
                try:
                    c.sendall(b"x" * 5000)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                h.check(rd.at_eof(), f"{line}: not closed")
    # what would succeed gets its 100 first, then the answer
    s = h.shared_server(workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        rd = h.Reader(c)
        r = rd.read_response()
        h.check(r.status == 100, r)
        c.sendall(b"hello" + NEXT)
        h.hello_pid(rd.read_response())
        h.hello_pid(rd.read_response())
    # with --root, a file that is there gets its 100, then the file
    s = h.shared_server("--root", root, workers=1)
    with h.connect(s.port) as c:
        c.sendall(b"GET /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        rd = h.Reader(c)
        h.check(rd.read_response().status == 100)
        c.sendall(b"hi")
        r = rd.read_response()
        h.check(r.status == 200 and r.header("connection") != "close", r)

if __name__ == "__main__":
    h.main(globals())
