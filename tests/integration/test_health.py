#!/usr/bin/env python3
"""Health for a load balancer or Kubernetes on the admin port: /healthz
200 while the master runs; /readyz 200 only while a worker is ready and
the master accepts, flipping to 503 during a graceful stop and while no
worker is ready; docs/scaling.md's HAProxy HTTP check run as written."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def probe(addr, path, method="GET"):
    """(status, body) of <path> on the admin listener."""
    req = urllib.request.Request(f"http://{addr}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def admin_addr(s):
    return s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)


def test_readyz_flips_during_a_stop():
    s = h.server("--admin", "127.0.0.1:0", "--grace", "60s", workers=2)
    addr = admin_addr(s)
    h.check(probe(addr, "/healthz") == (200, b'{"alive":true}\n'), probe(addr, "/healthz"))
    h.check(probe(addr, "/readyz") == (200, b'{"ready":true}\n'), probe(addr, "/readyz"))
    h.check(probe(addr, "/readyz", "HEAD") == (200, b""))
    # A stopped worker holds the graceful stop open (until --grace).
    stuck = s.worker_pids()[0]
    os.kill(stuck, signal.SIGSTOP)
    try:
        s.signal(signal.SIGTERM)
        s.wait_log(r"stopping gracefully")
        status, body = probe(addr, "/readyz")
        h.check(status == 503 and json.loads(body) == {"ready": False, "why": "stopping"},
                (status, body))
        h.check(probe(addr, "/healthz")[0] == 200, "not alive while stopping")
    finally:
        os.kill(stuck, signal.SIGKILL)
    h.check(s.wait_exit() == 0)


def test_readyz_without_a_ready_worker():
    tmp = tempfile.mkdtemp(prefix="handoff-health-")
    slow = os.path.join(tmp, "never-ready")
    with open(slow, "w") as f:
        f.write("#!/bin/sh\nexec sleep 60\n")
    os.chmod(slow, 0o755)
    try:
        s = h.server("--admin", "127.0.0.1:0", "--worker-bin", slow, workers=1,
                     wait_ready=False)
        addr = admin_addr(s)
        s.wait_log(r"started in slot 0")
        status, body = probe(addr, "/readyz")
        h.check(status == 503 and json.loads(body)["why"] == "no_worker_ready",
                (status, body))
        h.check(probe(addr, "/healthz")[0] == 200)
        for pid in s.worker_pids():
            os.kill(pid, signal.SIGKILL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scaling_http_cfg(front, back, admin):
    """docs/scaling.md's HTTP-mode haproxy.cfg as it is, pointed at
    127.0.0.1: its frontend on <front>, its first server at handoff's
    <back> checked on <admin>, every 100 ms (the other server dropped)."""
    with open(os.path.join(ROOT, "docs/scaling.md")) as f:
        doc = f.read()
    m = re.search(r"^```\n# haproxy.cfg: HTTP mode, each handoff checked on its admin "
                  r"port\n(.*?)^```", doc, re.S | re.M)
    h.check(m is not None, "docs/scaling.md has no HTTP-mode haproxy.cfg block")
    out, servers = [], 0
    for line in m.group(1).splitlines():
        words = line.split()
        if words[:1] == ["bind"]:
            line = f"    bind 127.0.0.1:{front}"
        elif words[:1] == ["server"]:
            servers += 1
            if servers > 1:
                continue
            h.check("port" in words and "/readyz" in m.group(1), line)
            words[2] = f"127.0.0.1:{back}"
            words[words.index("port") + 1] = str(admin)
            words[words.index("inter") + 1] = "100ms"
            line = "    " + " ".join(words)
        out.append(line)
    return ("global\n    maxconn 256\n    stats socket {stats}\ndefaults\n"
            "    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
            + "\n".join(out) + "\n")


def server_state(sock):
    """(status, check_status) of backend handoffs' server a, from
    HAProxy's stats socket."""
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(10)
        c.connect(sock)
        c.sendall(b"show stat\n")
        data = h.read_to_eof(c)
    rows = data.decode().splitlines()
    head = rows[0].lstrip("# ").split(",")
    for row in rows[1:]:
        f = dict(zip(head, row.split(",")))
        if f.get("pxname") == "handoffs" and f.get("svname") == "a":
            return f["status"], f["check_status"]
    return None


def through(front):
    """The status HAProxy answers on <front> with."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{front}/", timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def test_haproxy_checks_readyz():
    if shutil.which("haproxy") is None:
        sys.stderr.write("no haproxy: skipped\n")
        return
    tmp = tempfile.mkdtemp(prefix="handoff-haproxy-")
    haproxy = None
    admin = h.free_port()
    s = h.server("--admin", f"127.0.0.1:{admin}", "--grace", "60s", workers=2)
    try:
        front = h.free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        stats = os.path.join(tmp, "stats.sock")
        with open(cfg, "w") as f:
            f.write(scaling_http_cfg(front, s.port, admin).replace("{stats}", stats))
        haproxy = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        h.wait_until(lambda: through(front) == 200, what="HAProxy to find handoff ready")
        h.check(server_state(stats) == ("UP", "L7OK"), server_state(stats))
        stuck = s.worker_pids()[0]
        os.kill(stuck, signal.SIGSTOP)  # keeps the stop going
        try:
            s.signal(signal.SIGTERM)
            # /readyz says 503: HAProxy's check (on the admin port) takes
            # the server out, its status the check's answer
            h.wait_until(lambda: server_state(stats) == ("DOWN", "L7STS"),
                         what="HAProxy to mark handoff down by /readyz")
            h.check(through(front) == 503, "HAProxy still sends to it")
        finally:
            os.kill(stuck, signal.SIGKILL)
        h.check(s.wait_exit() == 0)
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(globals())
