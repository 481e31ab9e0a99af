#!/usr/bin/env python3
"""--proxy-protocol over raw sockets: v1 and v2 give the real address,
malformed headers are refused, a slow header costs the master no CPU, and
a graceful stop still serves connections whose header is on its way."""

import os
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REQ = b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: proxied\r\nConnection: close\r\n\r\n"


def v2_tcp4(src, sport):
    addrs = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack(">HH", sport, 80)
    return V2_SIG + bytes([0x21, 0x11]) + struct.pack(">H", len(addrs)) + addrs


def v2_tcp6(src, sport):
    addrs = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, "::1")
             + struct.pack(">HH", sport, 80))
    return V2_SIG + bytes([0x21, 0x21]) + struct.pack(">H", len(addrs)) + addrs


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(path, n):
    return h.wait_until(lambda: (lambda ls: ls if len(ls) >= n else None)(
        open(path).read().splitlines() if os.path.exists(path) else []),
        what=f"{n} access log lines")


def test_versions_and_malformed_headers():
    tmp = tempfile.mkdtemp(prefix="handoff-proxy-")
    log = os.path.join(tmp, "access.log")
    s = h.server("--proxy-protocol", "--access-log", log, workers=1)
    for header in (b"PROXY TCP4 203.0.113.7 127.0.0.1 4444 80\r\n",
                   b"PROXY TCP6 2001:db8::7 ::1 4444 80\r\n",
                   v2_tcp4("198.51.100.9", 5555), v2_tcp6("2001:db8::9", 5555)):
        with h.connect(s.port) as c:
            c.sendall(header + REQ)
            h.hello_pid(h.Reader(c).read_response())
    lines = log_lines(log, 4)
    h.check([l.split()[0] for l in lines] == ["203.0.113.7", "2001:db8::7", "198.51.100.9",
                                              "2001:db8::9"], lines)
    for bad in (b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",            # no header at all
                b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n",       # port out of range
                b"PROXY TCP4 ::1 ::1 1 2\r\n",                    # IPv6 under TCP4
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",              # no CR
                b"PROXY " + b"x" * 120 + b"\r\n",                 # too long for v1
                V2_SIG + bytes([0x31, 0x11, 0, 12]) + b"\0" * 12,  # version 3
                V2_SIG + bytes([0x21, 0x11, 0x10, 0x00])):        # 4 KiB of TLVs
        with h.connect(s.port) as c:
            c.sendall(bad + REQ)
            h.check(h.Reader(c).at_eof(), f"{bad[:30]!r} was not refused")
    h.wait_until(lambda: h.held_connections(s.pid) == 0, what="refused connections closed")
    h.hello_pid(_proxied(s))


def _proxied(s):
    with h.connect(s.port) as c:
        c.sendall(b"PROXY TCP4 10.0.0.1 127.0.0.1 1 80\r\n" + REQ)
        return h.Reader(c).read_response()


def test_slow_header_costs_no_cpu():
    s = h.server("--proxy-protocol", workers=1)
    c = h.connect(s.port)
    try:
        c.sendall(b"PROXY TCP4 1.2.3.4 ")  # and then nothing for a while
        h.wait_until(lambda: h.held_connections(s.pid) == 1, what="the master to hold it")
        before = cpu_s(s.pid)
        start = time.monotonic()
        # half of the 5 s a header may take: the master must sleep through it
        while time.monotonic() - start < 2:
            time.sleep(0.2)
        spent = cpu_s(s.pid) - before
        h.check(spent < 0.3, f"the master spent {spent:.2f} s of CPU waiting")
        c.sendall(b"127.0.0.1 4444 80\r\n" + REQ)
        h.hello_pid(h.Reader(c).read_response())
    finally:
        c.close()
    # a client that goes away mid-header is noticed at once
    with h.connect(s.port) as c2:
        c2.sendall(V2_SIG[:5])
    h.wait_until(lambda: h.held_connections(s.pid) == 0, timeout=3,
                 what="the half-header connection to be closed")


def test_stop_serves_headers_on_their_way():
    s = h.server("--proxy-protocol", workers=2)
    c = h.connect(s.port)
    try:
        c.sendall(b"PROXY TCP4 1.2.3.4 ")
        h.wait_until(lambda: h.held_connections(s.pid) == 1, what="the master to hold it")
        s.signal(signal.SIGTERM)
        s.wait_log(r"stopping gracefully")
        c.sendall(b"127.0.0.1 4444 80\r\n" + REQ)
        h.hello_pid(h.Reader(c).read_response())
    finally:
        c.close()
    h.check(s.wait_exit() == 0)


if __name__ == "__main__":
    h.main(globals())
