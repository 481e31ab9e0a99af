#!/usr/bin/env python3
"""Real peers: systemd socket activation (systemd-socket-activate), the
sd_notify protocol, HAProxy in front with PROXY v2, and make install."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_systemd_socket_activation():
    port = h.free_port()
    proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}",
                             h.HANDOFF, "--workers", "2", "--port", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The socket exists before handoff does; the first connection
        # starts it, and it serves on the socket it was given (--port 1
        # would need root and another address: it must not be used).
        h.wait_until(lambda: h.connectable(port), what="systemd-socket-activate to listen")
        r = h.request(port, "/")
        h.hello_pid(r)
        for _ in range(5):
            h.hello_pid(h.request(port, "/"))
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20 * h.SLOW)[1]
    h.check("handed over by systemd" in out, out[-2000:])
    h.check(proc.returncode == 0, f"exit {proc.returncode}")



def test_sd_notify():
    tmp = tempfile.mkdtemp(prefix="handoff-notify-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(15 * h.SLOW)
    try:
        s = h.server(workers=2, env=dict(os.environ, NOTIFY_SOCKET=path))
        msg = sock.recv(4096).decode()
        h.check("READY=1" in msg and f"MAINPID={s.pid}" in msg and "STATUS=" in msg, msg)
        # workers must not inherit it
        for pid in s.worker_pids():
            with open(f"/proc/{pid}/environ", "rb") as f:
                h.check(b"NOTIFY_SOCKET" not in f.read(), "a worker got NOTIFY_SOCKET")
        s.signal(signal.SIGHUP)
        msgs = ""
        while "READY=1" not in msgs.split("RELOADING=1")[-1]:
            msgs += sock.recv(4096).decode() + "\n"
        h.check("RELOADING=1" in msgs, msgs)
        s.signal(signal.SIGTERM)
        msg = ""
        while "STOPPING=1" not in msg:
            msg = sock.recv(4096).decode()
        h.check(s.wait_exit() == 0)
    finally:
        sock.close()
        shutil.rmtree(tmp, ignore_errors=True)


HAPROXY_GLOBAL = """
global
    maxconn 256
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""


def scaling_haproxy_cfg(front, back):
    """docs/scaling.md's haproxy.cfg as it is, pointed at 127.0.0.1: its
    frontend on <front>, its first server at handoff on <back>, health
    checks every 100 ms rather than 2 s (its other server is dropped)."""
    with open(os.path.join(ROOT, "docs/scaling.md")) as f:
        doc = f.read()
    m = re.search(r"^```\n# /etc/haproxy/haproxy.cfg\n(.*?)^```", doc, re.S | re.M)
    h.check(m is not None, "docs/scaling.md has no haproxy.cfg block")
    out, servers = [], 0
    for line in m.group(1).splitlines():
        if line.strip().startswith("bind "):
            line = f"    bind 127.0.0.1:{front}"
        elif line.strip().startswith("server "):
            servers += 1
            if servers > 1:
                continue
            words = line.split()
            words[2] = f"127.0.0.1:{back}"
            line = "    " + " ".join(words) + " inter 100ms"
        out.append(line)
    h.check(servers >= 1, "no server line in docs/scaling.md's haproxy.cfg")
    # what the page's next paragraph asks of every checked server line
    for line in m.group(1).splitlines():
        words = line.split()
        if words[:1] == ["server"] and "check" in words:
            h.check("check-send-proxy" in words, f"docs/scaling.md: {line.strip()} "
                    "checks without check-send-proxy")
    return HAPROXY_GLOBAL + "\n".join(out) + "\n"


def accepted(admin):
    with urllib.request.urlopen(f"http://{admin}/stats", timeout=10) as r:
        return json.load(r)["master"]["accepted"]


def test_haproxy_in_front_with_proxy_v2():
    """docs/scaling.md's HAProxy set-up, run as written: the real client's
    address reaches the access log and ip-hash, and HAProxy's health
    checks send the PROXY header too (check-send-proxy), so none of them
    is closed by handoff for lack of one."""
    tmp = tempfile.mkdtemp(prefix="handoff-haproxy-")
    log = os.path.join(tmp, "access.log")
    haproxy = None
    try:
        s = h.server("--proxy-protocol", "--access-log", log, "--policy", "ip-hash",
                     "--admin", "0", workers=2)
        admin = s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)
        front = h.free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(scaling_haproxy_cfg(front, s.port))
        haproxy = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        h.wait_until(lambda: h.connectable(front), what="HAProxy to listen")
        pids = set()
        # the client comes from 127.0.0.2; HAProxy itself from 127.0.0.1
        for _ in range(6):
            c = socket.socket()
            c.bind(("127.0.0.2", 0))
            c.connect(("127.0.0.1", front))
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: via-haproxy\r\n"
                      b"Connection: close\r\n\r\n")
            pids.add(h.hello_pid(h.Reader(c).read_response()))
            c.close()
        lines = h.wait_until(lambda: [l for l in open(log).read().splitlines()
                                      if "via-haproxy" in l] if os.path.exists(log) else [],
                             what="access log lines")
        h.wait_until(lambda: len([l for l in open(log).read().splitlines()
                                  if "via-haproxy" in l]) == 6, what="six lines")
        lines = [l for l in open(log).read().splitlines() if "via-haproxy" in l]
        h.check(all(l.startswith("127.0.0.2 ") for l in lines), lines)
        # ip-hash keyed on the real client: one worker for one client
        h.check(len(pids) == 1, f"one client spread over {pids}")
        # a few health checks later, none was refused for a missing header
        h.wait_until(lambda: accepted(admin) >= 6 + 5, what="HAProxy's health checks")
        h.check("without a valid PROXY header" not in s.log(),
                "HAProxy's health checks sent no PROXY header:\n" + s.log()[-2000:])
    finally:
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_make_install():
    tmp = tempfile.mkdtemp(prefix="handoff-install-")
    try:
        build = os.path.relpath(h.BUILD, ROOT)
        p = subprocess.run(["make", "-s", "install", f"BUILD={build}", f"DESTDIR={tmp}",
                            "PREFIX=/opt/handoff"], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
        h.check(p.returncode == 0, p.stdout + p.stderr)
        root = os.path.join(tmp, "opt/handoff")
        for rel, mode in (("bin/handoff", 0o755), ("bin/handoffctl", 0o755),
                          ("lib/handoff/handoff-worker", 0o755),
                          ("lib/handoff/handoff-preload.cjs", 0o644),
                          ("share/man/man1/handoff.1", 0o644)):
            st = os.stat(os.path.join(root, rel))
            h.check(st.st_mode & 0o777 == mode, f"{rel}: {oct(st.st_mode)}")
        # the installed tree runs as it is, wherever it is
        s = h.Server(workers=1, binary=os.path.join(root, "bin/handoff"))
        h._servers.append(s)
        h.hello_pid(h.request(s.port, "/"))
        # and a Node program under it gets the installed preload
        hello = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node",
                             "hello_cluster.js")
        s = h.Server("--node", hello, workers=1, binary=os.path.join(root, "bin/handoff"))
        h._servers.append(s)
        pid = h.hello_pid(h.request(s.port, "/"))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        preload = os.path.join(root, "lib/handoff/handoff-preload.cjs")
        h.check(b"--require" in argv and os.path.realpath(
                    argv[argv.index(b"--require") + 1].decode()) == preload,
                f"the Node worker's argv: {argv}")
        man = subprocess.run(["man", "-l", os.path.join(root, "share/man/man1/handoff.1")],
                             capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, MANPAGER="cat", PAGER="cat"))
        h.check(man.returncode == 0 and "--max-conns" in man.stdout, man.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(globals())
