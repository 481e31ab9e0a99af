#!/usr/bin/env python3
"""HTTPS in handoff's own workers: curl over TLS 1.2 and 1.3 with ALPN,
keep-alive and pipelining through Python's ssl module, a 12 MiB file,
SNI choosing between two certificates, session tickets shared through
the master (openssl s_client -reconnect against two workers under rr:
every reconnect resumed, so across workers, and after SIGHUP and
SIGUSR2), bounded handshakes (a stalled one closed at the timeout, 500
stalled ones not slowing others, garbage after a ClientHello), a plain
request on the TLS port, TLS 1.0 and 1.1 refused, bad certificates at
start and at SIGHUP, and the kTLS fallback chosen on a kernel without
it. Certificates are made by the test with openssl req (ECDSA P-256)."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TMP = tempfile.mkdtemp(prefix="handoff-tls-")
h.at_end(lambda: shutil.rmtree(TMP, ignore_errors=True))


def make_cert(name, san):
    """A self-signed ECDSA P-256 certificate and its key, in TMP."""
    cert, key = os.path.join(TMP, f"{name}.crt"), os.path.join(TMP, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True,
                   timeout=30)
    return cert, key


CERT, KEY = make_cert("localhost", "DNS:localhost,IP:127.0.0.1")
CERT2, KEY2 = make_cert("other.test", "DNS:other.test")


def tls_server(*args, workers=2, cert=CERT, key=KEY, **kw):
    port = h.free_port()
    s = h.server(argv=[h.HANDOFF, "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", cert,
                       "--tls-key", key, "--workers", str(workers), *args],
                 workers=workers, **kw)
    h.check(s.port == port, "the TLS listener is the first")
    return s


def client_ctx(cafile=CERT, **kw):
    ctx = ssl.create_default_context(cafile=cafile)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


# One context: a session resumes only through the context that made it.
CTX = client_ctx()


def tls_connect(port, ctx=None, name="localhost", session=None):
    raw = h.connect(port)
    return (ctx or CTX).wrap_socket(raw, server_hostname=name, session=session)


def get(port, path="/", ctx=None, name="localhost", session=None):
    """One request on a new TLS connection: (Response, the ssl socket's
    session, whether it was resumed)."""
    with tls_connect(port, ctx, name, session) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
                  .encode())
        resp = h.Reader(s).read_response()
        return resp, s.session, s.session_reused


def curl(port, *args):
    return subprocess.run(["curl", "-sS", "--cacert", CERT, "-o", "-", "-w",
                           "\n%{http_code} %{http_version} %{ssl_verify_result}",
                           *args, f"https://localhost:{port}/"],
                          capture_output=True, text=True, timeout=20 * h.SLOW)


def test_curl_over_tls12_and_tls13_with_alpn():
    log = os.path.join(TMP, "access.log")
    plain = h.free_port()
    s = tls_server("--access-log", log, "--listen", f"127.0.0.1:{plain}",
                   "--admin", "127.0.0.1:0")
    admin = s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)
    with urllib.request.urlopen(f"http://{admin}/stats", timeout=10) as r:
        tls = {l["address"]: l["tls"] for l in json.load(r)["listeners"]}
    h.check(tls == {f"127.0.0.1:{s.port}": True, f"127.0.0.1:{plain}": False},
            f"/stats listeners: {tls}")
    for ver, proto in (("--tlsv1.2", "TLSv1.2"), ("--tlsv1.3", "TLSv1.3")):
        maxv = ["--tls-max", "1.2"] if proto == "TLSv1.2" else []
        p = curl(s.port, ver, *maxv, "-v")
        h.check(p.returncode == 0, f"curl {ver}: {p.stderr[-400:]}")
        h.check(re.search(r"Hello from worker \d+\n\n200 1.1 0$", p.stdout),
                f"curl {ver}: {p.stdout!r}")
        h.check(f"SSL connection using {proto}" in p.stderr, f"{proto}: {p.stderr[-600:]}")
        h.check("ALPN: server accepted http/1.1" in p.stderr, "ALPN http/1.1")
    # TLS 1.2's cipher is ECDHE with an AEAD
    p = curl(s.port, "--tls-max", "1.2", "-v")
    m = re.search(r"SSL connection using TLSv1.2 / (\S+)", p.stderr)
    h.check(m and m.group(1).startswith("ECDHE-ECDSA-") and "GCM" in m.group(1)
            or "CHACHA20" in m.group(1), f"TLS 1.2 cipher {m and m.group(1)}")
    # the access log names the protocol and cipher
    lines = h.wait_until(lambda: (lambda t: t if t.count("\n") >= 3 else None)(
        open(log).read() if os.path.exists(log) else ""), what="three access-log lines")
    h.check(re.search(r'"GET / HTTP/1.1" 200 \d+ .* 127\.0\.0\.1:\d+ TLSv1\.3 TLS_AES_\S+\n',
                      lines), f"access log: {lines!r}")
    h.check(re.search(r" TLSv1\.2 ECDHE-ECDSA-\S+\n", lines), f"access log: {lines!r}")


def test_policies_where_workers_accept_serve_https_too():
    """none and reuseport: the workers accept on the sockets the master
    sends them (LISTEN, flagged HTTPS), beside a plain listener."""
    for policy in ("none", "reuseport", "least-loaded"):
        plain = h.free_port()
        s = tls_server("--policy", policy, "--listen", f"127.0.0.1:{plain}")
        for _ in range(4):
            h.hello_pid(get(s.port)[0])
            h.hello_pid(h.request(plain))
        s.stop()


def test_tls_ciphers_chooses_the_tls12_cipher():
    s = tls_server("--tls-ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305")
    p = curl(s.port, "--tls-max", "1.2", "-v")
    h.check("SSL connection using TLSv1.2 / ECDHE-ECDSA-CHACHA20-POLY1305" in p.stderr,
            p.stderr[-500:])
    p = curl(s.port, "--tls-max", "1.2", "--ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256")
    h.check(p.returncode != 0, "a cipher outside --tls-ciphers was taken")


def test_keepalive_and_pipelining_over_tls():
    s = tls_server()
    with tls_connect(s.port) as c:
        r = h.Reader(c)
        pids = set()
        for _ in range(5):
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            pids.add(h.hello_pid(r.read_response()))
        h.check(len(pids) == 1, "keep-alive: one worker serves the connection")
        # 20 pipelined requests in one write, a chunked POST among them
        reqs = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10
        reqs += (b"POST /missing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n0\r\n\r\n")
        reqs += b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 9
        c.sendall(reqs)
        for i in range(20):
            resp = r.read_response()
            if i == 10:
                h.check(resp.status in (404, 405), f"the POST: {resp}")
            else:
                h.check(h.hello_pid(resp) in pids, "same worker")
        # the last request closes, as over plain sockets
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h.check(r.read_response().header("connection") == "close", "Connection: close")
        h.check(r.at_eof(), "closed after Connection: close")


def test_limits_timeouts_and_the_thread_pool_over_tls():
    s = tls_server("--header-timeout", "1s", "--max-body", "16", "--threads", "1")
    # a head that stalls: 408, then the close
    with tls_connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        resp = h.Reader(c).read_response()
        h.check(resp.status == 408 and time.monotonic() - t0 >= 0.9, f"{resp}")
    # a body over --max-body: 413; a head over --max-header-size: 431
    with tls_connect(s.port) as c:
        c.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
        h.check(h.Reader(c).read_response().status == 413, "413 over TLS")
    with tls_connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n")
        h.check(h.Reader(c).read_response().status == 431, "431 over TLS")
    # a job on the pool, answered in order before a pipelined request
    with tls_connect(s.port) as c:
        c.sendall(b"GET /cpu?n=2000&offload=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = h.Reader(c)
        first = r.read_response()
        h.check(first.status == 200 and b'"offloaded":true' in first.body, first.body)
        h.hello_pid(r.read_response())


def test_static_file_12mib_over_tls():
    root = tempfile.mkdtemp(dir=TMP)
    data = os.urandom(12 * 1024 * 1024)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(data)
    s = tls_server("--root", root, "--log-level", "debug")
    out = os.path.join(TMP, "big.out")
    p = subprocess.run(["curl", "-sS", "--cacert", CERT, "-o", out, "-w", "%{http_code}",
                        f"https://localhost:{s.port}/big.bin"], capture_output=True,
                       text=True, timeout=60 * h.SLOW)
    h.check(p.returncode == 0 and p.stdout == "200", f"curl: {p.stdout} {p.stderr}")
    with open(out, "rb") as f:
        h.check(f.read() == data, "the 12 MiB file came back different")
    # and through a slow reader with Python, keep-alive after it
    with tls_connect(s.port) as c:
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        r = h.Reader(c)
        time.sleep(0.2)  # not a wait for anything: a late reader, so that
        # the worker's SSL_write meets a full socket (WANT_WRITE) and resumes
        resp = r.read_response()
        h.check(resp.status == 200 and resp.body == data, "slow reader got the file")
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100-199\r\n\r\n")
        resp = r.read_response()
        h.check(resp.status == 206 and resp.body == data[100:200], f"range: {resp}")


def test_ktls_fallback_is_chosen_here():
    """This machine has no tls module: each worker says, once, that files
    are copied through SSL_write."""
    s = tls_server()
    for _ in range(4):
        get(s.port)
    h.check(not os.path.exists("/sys/module/tls"), "the kernel has kTLS here")
    s.wait_log(r"worker W\d+\[\d+\] info: TLS: kTLS off .* copied through SSL_write",
               count=2)


def test_sni_chooses_between_two_certificates():
    port = h.free_port()
    s = h.server(argv=[h.HANDOFF, "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", CERT,
                       "--tls-key", KEY, "--tls-cert", CERT2, "--tls-key", KEY2,
                       "--workers", "2"], workers=2)
    for name, ca in (("localhost", CERT), ("other.test", CERT2)):
        p = subprocess.run(["curl", "-sS", "--cacert", ca, "--resolve",
                            f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"],
                           capture_output=True, text=True, timeout=20 * h.SLOW)
        h.check(p.returncode == 0 and p.stdout.startswith("Hello from worker"),
                f"{name}: {p.stderr}")
    # an unknown name gets the first certificate
    with tls_connect(s.port, client_ctx(check_hostname=False), name="nobody.test") as c:
        h.check("localhost" in str(c.getpeercert()), "the first certificate by default")


def reconnects(port, version, n=8):
    """openssl s_client -reconnect: the first handshake and n - 1 more."""
    p = subprocess.run(["openssl", "s_client", version, "-connect", f"127.0.0.1:{port}",
                        "-CAfile", CERT, "-reconnect"], input="", capture_output=True,
                       text=True, timeout=30 * h.SLOW)
    return re.findall(r"^(New|Reused), ", p.stdout, re.M)


def resumed_across_workers(s, what):
    """TLS 1.2: every s_client -reconnect is "Reused" though rr sends them
    to both workers in turn; TLS 1.3: a session ticket (which comes after
    the handshake, so Python's ssl module reads a response first) made on
    one worker resumes on each."""
    got = reconnects(s.port, "-tls1_2")
    h.check(len(got) == 6 and got[0] == "New" and got[1:] == ["Reused"] * 5,
            f"{what}: TLS 1.2 reconnects {got}")
    resp, sess, reused = get(s.port)
    first = h.hello_pid(resp)
    pids = set()
    for _ in range(4):
        resp, _, reused = get(s.port, session=sess)
        pids.add(h.hello_pid(resp))
        h.check(reused, f"{what}: a TLS 1.3 session not resumed")
    h.check(len(pids | {first}) == 2, f"{what}: rr used one worker only: {pids} {first}")


def test_sessions_resume_on_every_worker_after_sighup_and_upgrade():
    s = tls_server("--policy", "rr")
    resumed_across_workers(s, "at start")
    _, sess, _ = get(s.port)
    # SIGHUP: a rolling restart; new workers get the same keys
    mark = s.mark()
    old = set(s.worker_pids())
    s.signal(signal.SIGHUP)
    s.wait_ready(2, start=mark)
    h.wait_until(lambda: not (set(s.worker_pids()) & old), what="the old workers to exit")
    resumed_across_workers(s, "after SIGHUP")
    _, _, reused = get(s.port, session=sess)
    h.check(reused, "a ticket from before SIGHUP did not resume")
    # SIGUSR2: the new master takes the keys over the upgrade's pipe
    with h.upgraded(s) as new_master:
        s.wait_log(r"master\[%d\] info: session-ticket keys taken over" % new_master)
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        resumed_across_workers(s, "after SIGUSR2")
        _, _, reused = get(s.port, session=sess)
        h.check(reused, "a ticket from the old master did not resume")


def test_node_workers_get_the_masters_keys():
    """--node: an unmodified Node HTTPS cluster program; its workers'
    listen() is answered with the master's keys, so a session made on one
    resumes on the other (each would make keys of its own)."""
    if shutil.which("node") is None:
        print("skip: no node")
        return
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node",
                          "tls_cluster.js")
    env = dict(os.environ, TLS_CERT=CERT, TLS_KEY=KEY)
    s = h.server("--node", script, "--policy", "rr", workers=2, env=env)
    h.wait_until(lambda: _node_answers(s.port), what="the Node workers to serve", timeout=20)
    resp, sess, _ = get(s.port)
    pids = {h.hello_pid(resp)}
    for _ in range(4):
        resp, _, reused = get(s.port, session=sess)
        pids.add(h.hello_pid(resp))
        h.check(reused, "a Node worker did not resume another's session")
    h.check(len(pids) == 2, f"rr used one Node worker only: {pids}")
    # the keys are the master's, not the first worker's: they survive an
    # upgrade, whose Node workers are all new
    with h.upgraded(s, timeout=20):
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        _, _, reused = get(s.port, session=sess)
        h.check(reused, "a session from before the upgrade did not resume")


def _node_answers(port):
    try:
        return get(port)[0].status == 200
    except OSError:
        return False


def test_a_resumed_tls13_session_gets_a_new_ticket():
    """TLS 1.3 tickets are used once (RFC 8446 C.4): each resumption is
    given a new one, so that a client can go on resuming."""
    s = tls_server()
    _, sess, _ = get(s.port)
    for _ in range(4):
        _, new, reused = get(s.port, session=sess)
        h.check(reused, "not resumed")
        h.check(new.id != sess.id, "a resumption got no new ticket")
        sess = new


def test_sessions_resume_after_a_worker_is_recycled_or_killed():
    s = tls_server("--max-requests", "3", workers=1)
    resp, sess, _ = get(s.port)
    first = h.hello_pid(resp)
    for _ in range(3):
        get(s.port)
    h.wait_until(lambda: s.worker_pids() and first not in s.worker_pids(),
                 what="the worker to be recycled")
    resp, _, reused = get(s.port, session=sess)
    h.check(h.hello_pid(resp) != first and reused, "not resumed by the recycled worker's heir")
    mark = s.mark()
    pid = s.worker_pids()[0]
    os.kill(pid, signal.SIGKILL)
    s.wait_ready(1, start=mark)
    resp, _, reused = get(s.port, session=sess)
    h.check(h.hello_pid(resp) != pid and reused, "not resumed after a crash")


def test_tls_connections_are_not_handed_again():
    # A TLS session lives in its worker's memory: the master keeps no
    # descriptor of an HTTPS connection (--rehand is on by default), and
    # one idle when its worker dies is closed, never handed to another
    # worker that could not decrypt it.
    s = tls_server(workers=2)
    conns = []
    try:
        for _ in range(10):
            c = tls_connect(s.port)
            c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            h.check(h.Reader(c).read_response().status == 200, "no answer over TLS")
            conns.append(c)
        h.wait_until(lambda: h.held_connections(s.pid) == 0,
                     what="the master to keep no HTTPS connection "
                     f"(holds {h.held_connections(s.pid)})")
        mark = s.mark()
        for pid in s.worker_pids():
            os.kill(pid, signal.SIGKILL)
        s.wait_ready(2, start=mark)
        for c in conns:
            c.settimeout(5 * h.SLOW)
            try:
                c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = c.recv(4096)
            except (OSError, ssl.SSLError):
                data = b""
            h.check(data == b"", f"an HTTPS connection outlived its worker: {data[:80]!r}")
        resp, _, _ = get(s.port)
        h.check(resp.status == 200, "no answer after the workers came back")
    finally:
        for c in conns:
            c.close()


class HttpsWrk(h.Wrk):
    """The harness's wrk, over HTTPS."""

    def __init__(self, port, duration=4, conns=32, path="/", args=()):
        self.proc = subprocess.Popen(
            ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", *args,
             f"https://127.0.0.1:{port}{path}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.duration = duration


def test_sighup_and_upgrade_under_https_load_fail_nothing():
    s = tls_server()
    for what in ("keep-alive", "one connection per request"):
        load = HttpsWrk(s.port, duration=5,
                        args=() if what == "keep-alive" else ("-H", "Connection: close"))
        for _ in range(2):
            mark = s.mark()
            s.signal(signal.SIGHUP)
            s.wait_ready(2, start=mark)
        load.check_no_failures(f"SIGHUP twice under HTTPS {what}")
    load = HttpsWrk(s.port, duration=5)
    with h.upgraded(s):
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        load.check_no_failures("SIGUSR2 under HTTPS keep-alive")


def test_ticket_keys_rotate_and_old_ones_still_decrypt():
    s = tls_server("--tls-ticket-rotate", "2s", "--log-level", "debug")
    _, sess, _ = get(s.port)
    mark = s.mark()
    s.wait_log(r"session-ticket key rotated \(1 kept", start=mark, timeout=10)
    resp, sess2, reused = get(s.port, session=sess)
    h.check(reused, "a ticket of the previous key did not resume")
    s.wait_log(r"session-ticket key rotated \(2 kept", start=mark, timeout=10)
    s.wait_log(r"session-ticket key rotated \(2 kept", start=mark, count=2, timeout=10)
    # three rotations later the first key is gone: a full handshake
    _, _, reused = get(s.port, session=sess)
    h.check(not reused, "a ticket three keys old still resumed")


def test_plain_request_on_the_tls_port():
    s = tls_server()
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = h.Reader(c).read_response()
        h.check(resp.status == 400 and b"HTTPS port" in resp.body, f"{resp} {resp.body!r}")
        h.check(h.Reader(c).at_eof(), "closed after the 400")
    get(s.port)  # and TLS goes on


def test_tls10_and_tls11_refused():
    s = tls_server()
    for v in ("-tls1", "-tls1_1"):
        p = subprocess.run(["openssl", "s_client", v, "-cipher", "DEFAULT:@SECLEVEL=0",
                            "-connect", f"127.0.0.1:{s.port}"], input="",
                           capture_output=True, text=True, timeout=20 * h.SLOW)
        h.check(p.returncode != 0 and "alert protocol version" in p.stderr + p.stdout,
                f"{v}: {p.stdout[-300:]} {p.stderr[-300:]}")
    get(s.port)


def client_hello(port):
    """The ClientHello bytes of Python's ssl module, without sending them."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def gone_client(port):
    """A client that completes its handshake, sends a request and
    close_notify in the same flight, and closes before reading anything
    (as wrk does to the connections open when its time is up): the
    worker's answer meets a peer that has gone."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname="localhost")
    with h.connect(port) as raw:
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                data = raw.recv(65536)
                h.check(data, "the server closed during the handshake")
                inc.write(data)
        obj.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # its close_notify is written; the server's is not read
        raw.sendall(out.read())


def test_a_client_gone_before_its_answer_leaves_the_worker_serving():
    # The answer's SSL_write fails on the closed socket, after the
    # client's close_notify: that is the end of this connection, not a
    # write to try again (a worker spun on it for ever, answering no one).
    s = tls_server(workers=1)
    _, pid = s.ready_workers().popitem()
    for _ in range(20):
        gone_client(s.port)
    for _ in range(3):
        resp, _, _ = get(s.port)
        h.check(h.hello_pid(resp) == pid, f"answered by {resp.body!r}, not W1 (pid {pid})")
    h.check(h.alive(pid) and s.worker_pids() == [pid], "the worker was replaced")


def test_garbage_and_truncated_records_end_cleanly():
    s = tls_server()
    hello = client_hello(s.port)
    cases = {
        "garbage after ClientHello": hello + os.urandom(4096),
        "a truncated record": hello[:20],
        "garbage alone": b"\x16\x03\x01\xff\xff" + os.urandom(300),
        "binary noise": b"\x00\x01\x02" + os.urandom(100),
    }
    for what, data in cases.items():
        with h.connect(s.port) as c:
            c.sendall(data)
            if what == "a truncated record":
                c.shutdown(socket.SHUT_WR)
            c.settimeout(5 * h.SLOW)
            try:
                while c.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            except socket.timeout:
                raise h.TestFailure(f"{what}: the connection was not closed")
    h.wait_until(lambda: not any(h.held_connections(p) for p in s.worker_pids()),
                 what="the workers to let go of them")
    log = s.log()
    h.check(not re.search(r"worker W\d+\[\d+\] (warn|error)", log), f"logged: {log[-800:]}")
    get(s.port)


def test_renegotiation_is_refused_and_ends_the_connection():
    s = tls_server()
    t0 = time.monotonic()
    # s_client renegotiates on "R"; its stdin then stays open for 20 s
    p = subprocess.Popen(["openssl", "s_client", "-tls1_2", "-connect",
                          f"127.0.0.1:{s.port}", "-CAfile", CERT],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        # s_client reads "R" once connected: after it printed the session
        seen = b""
        while b"Verify return code" not in seen:
            line = p.stdout.readline()
            h.check(line, f"s_client ended: {seen[-300:]}")
            seen += line
        p.stdin.write(b"R\n")
        p.stdin.flush()
        out, _ = p.communicate(timeout=20 * h.SLOW)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = seen + out
    h.check(b"RENEGOTIATING" in out and b"no renegotiation" in out, out[-400:])
    h.check(time.monotonic() - t0 < 10 * h.SLOW, "the connection was not ended")
    h.check(not re.search(r"worker W\d+\[\d+\] (warn|error)", s.log()), s.log()[-600:])
    get(s.port)


def test_proxy_header_is_read_first_by_the_master():
    log = os.path.join(TMP, "proxy-access.log")
    s = tls_server("--proxy-protocol", "--access-log", log)
    raw = h.connect(s.port)
    raw.sendall(b"PROXY TCP4 203.0.113.9 127.0.0.1 4444 443\r\n")
    with CTX.wrap_socket(raw, server_hostname="localhost") as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h.hello_pid(h.Reader(c).read_response())
    line = h.wait_until(lambda: (lambda t: t if "203.0.113.9" in t else None)(
        open(log).read() if os.path.exists(log) else ""), what="the access-log line")
    h.check(re.match(r"203\.0\.113\.9 - - .* TLSv1\.3 ", line), line)


def test_config_file_keys_and_a_listener_turned_https_at_sighup():
    p1, p2 = h.free_port(), h.free_port()
    conf = os.path.join(TMP, "tls.conf")
    text = (f"listen-tls 127.0.0.1:{p1}\nlisten 127.0.0.1:{p2}\n"
            f"tls-cert {CERT}\ntls-key {KEY}\nhandshake-timeout 5s\n"
            f"tls-ticket-rotate 6\nworkers 2\n")
    with open(conf, "w") as f:
        f.write(text)
    s = h.server(argv=[h.HANDOFF, "-c", conf], workers=2)
    get(p1)
    h.hello_pid(h.request(p2))
    with open(conf, "w") as f:
        f.write(text.replace(f"listen 127.0.0.1:{p2}", f"listen-tls 127.0.0.1:{p2}"))
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"SIGHUP: 127\.0\.0\.1:%d is HTTPS now" % p2, start=mark)
    s.wait_ready(2, start=mark)
    h.hello_pid(get(p2)[0])
    # -t checks the file's certificate pair, naming its line
    with open(conf, "w") as f:
        f.write(text.replace(f"tls-key {KEY}", f"tls-key {KEY2}"))
    p = subprocess.run([h.HANDOFF, "-c", conf, "-t"], capture_output=True, text=True,
                       timeout=10 * h.SLOW)
    h.check(p.returncode == 1 and f"{conf}:3: --tls-key {KEY2} does not match" in p.stderr,
            p.stderr)


def test_a_stalled_handshake_is_closed_at_the_timeout():
    s = tls_server("--handshake-timeout", "1s")
    hello = client_hello(s.port)
    for data in (b"", hello[:30]):
        with h.connect(s.port) as c:
            c.sendall(data)
            t0 = time.monotonic()
            c.settimeout(10 * h.SLOW)
            try:
                while c.recv(65536):
                    pass
            except ConnectionResetError:
                pass
            took = time.monotonic() - t0
            h.check(0.9 <= took <= 3 * h.SLOW, f"closed after {took:.2f}s, not 1s")


def test_500_stalled_handshakes_do_not_slow_requests():
    s = tls_server("--handshake-timeout", "30s")
    stalled = []
    try:
        for i in range(500):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            if i % 2:
                c.sendall(b"\x16\x03\x01\x00")  # a record header cut short
            stalled.append(c)
        h.wait_until(lambda: sum(h.held_connections(p) for p in s.worker_pids()) >= 500,
                     what="the workers to hold the 500", timeout=20)
        ctx = client_ctx()
        worst = 0.0
        for _ in range(50):
            t0 = time.monotonic()
            resp, _, _ = get(s.port, ctx=ctx)
            worst = max(worst, time.monotonic() - t0)
            h.hello_pid(resp)
        h.check(worst < 0.05 * h.SLOW, f"the worst of 50 took {worst * 1000:.1f} ms")
    finally:
        for c in stalled:
            c.close()


def test_handshakes_count_against_max_conns():
    s = tls_server("--max-conns", "3", workers=1)
    stalled = [h.connect(s.port) for _ in range(3)]
    try:
        h.wait_until(lambda: h.held_connections(s.worker_pids()[0]) >= 3,
                     what="the worker to hold three handshakes")
        result = {}

        def late():
            try:
                result["resp"] = get(s.port)[0]
            except Exception as e:  # noqa: BLE001
                result["err"] = e
        t = threading.Thread(target=late)
        t.start()
        t.join(1.0)
        h.check(t.is_alive(), "a fourth connection was served past --max-conns 3")
        stalled.pop().close()
        t.join(10 * h.SLOW)
        h.check("resp" in result, f"the fourth connection, once there was room: {result}")
    finally:
        for c in stalled:
            c.close()


def test_bad_certificate_at_start():
    bad = os.path.join(TMP, "bad.crt")
    with open(bad, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = [
        (["--tls-cert", bad, "--tls-key", KEY], f"--tls-cert {bad}"),
        (["--tls-cert", CERT, "--tls-key", KEY2], f"--tls-key {KEY2} does not match"),
        (["--tls-cert", os.path.join(TMP, "none.crt"), "--tls-key", KEY],
         "No such file"),
        (["--tls-cert", CERT, "--tls-key", KEY, "--tls-ciphers", "BOGUS"],
         "--tls-ciphers BOGUS: no cipher match"),
    ]
    for args, needle in cases:
        argv = [h.HANDOFF, "--listen-tls", f"127.0.0.1:{h.free_port()}", *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10 * h.SLOW)
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 1 and len(lines) == 1 and needle in lines[0],
                f"{args}: exit {p.returncode}, {p.stderr!r}")
        p = subprocess.run([*argv, "-t"], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        h.check(p.returncode == 1 and needle in p.stderr, f"-t {args}: {p.stderr!r}")
    # flags that do not go together: exit 2, one line
    for args, needle in (([], "--listen-tls needs --tls-cert"),
                         (["--tls-cert", CERT], "1 --tls-cert but 0 --tls-key"),
                         (["--tls-cert", CERT, "--tls-key", KEY, "--tls-ticket-rotate", "0"],
                          "--tls-ticket-rotate")):
        p = subprocess.run([h.HANDOFF, "--listen-tls", "127.0.0.1:1", *args],
                           capture_output=True, text=True, timeout=10 * h.SLOW)
        h.check(p.returncode == 2 and needle in p.stderr
                and len(p.stderr.strip().splitlines()) == 1, f"{args}: {p.stderr!r}")
    pair = ["--tls-cert", CERT, "--tls-key", KEY]
    for args, needle in ((["--listen-tls", "127.0.0.1", *pair], "--listen-tls"),
                         (["--listen-tls", "127.0.0.1:8443", "--listen", "127.0.0.1:8443",
                           *pair], "given twice"),
                         (["--listen-tls", "8443", "--node", "app.js", *pair],
                          "a Node worker (--node) would ignore it"),
                         (["--listen-tls", "8443", "--tls-ticket-rotate", "soon", *pair],
                          "--tls-ticket-rotate"),
                         (["--listen-tls", "8443", "--handshake-timeout", "1ms", *pair],
                          "--handshake-timeout"),
                         (["--listen-tls", "8443", "--tls-cert", "x" * 300, "--tls-key", KEY],
                          "--tls-cert needs a file")):
        p = subprocess.run([h.HANDOFF, *args], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        h.check(p.returncode == 2 and needle in p.stderr
                and len(p.stderr.strip().splitlines()) == 1, f"{args}: {p.stderr!r}")


def test_bad_certificate_at_sighup_keeps_old_workers():
    cert, key = os.path.join(TMP, "live.crt"), os.path.join(TMP, "live.key")
    shutil.copy(CERT, cert)
    shutil.copy(KEY, key)
    s = tls_server(cert=cert, key=key)
    pids = set(s.worker_pids())
    # a renewed certificate (another key) written over only one of the files
    shutil.copy(CERT2, cert)
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"does not match --tls-cert", start=mark)
    get(s.port)
    h.check(set(s.worker_pids()) == pids, "workers were replaced after a bad certificate")
    # both files renewed: the new workers serve the new certificate
    shutil.copy(KEY2, key)
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_ready(2, start=mark)
    h.wait_until(lambda: not (set(s.worker_pids()) & pids), what="the old workers to exit")
    with tls_connect(s.port, client_ctx(cafile=CERT2), name="other.test") as c:
        h.check("other.test" in str(c.getpeercert()), "the renewed certificate")


h.main(globals())
