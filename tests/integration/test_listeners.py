#!/usr/bin/env python3
"""Several listeners: --listen repeated, IPv4 and IPv6 both serving, a
host name binding every address it resolves to, every policy, systemd
socket activation with LISTEN_FDNAMES, the binary upgrade carrying them
all, and the access log and /stats saying which listener a connection
came in on."""

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

POLICIES = ("rr", "cyclic", "least-loaded", "p2c", "random", "ip-hash", "none", "reuseport")


def admin_addr(s):
    return s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)


def stats(addr):
    with urllib.request.urlopen(f"http://{addr}/stats", timeout=10) as r:
        return json.load(r)


def two(*args, workers=2, **kw):
    """A server on 127.0.0.1 and [::1], each on a port of its own."""
    p4, p6 = h.free_port(), h.free_port("::1")
    s = h.server(argv=[h.HANDOFF, "--listen", f"127.0.0.1:{p4}", "--listen", f"[::1]:{p6}",
                       "--workers", str(workers), *args], workers=workers, **kw)
    return s, p4, p6


def by_address(st):
    return {l["address"]: l for l in st["listeners"]}


def test_ipv4_and_ipv6_both_serve():
    tmp = tempfile.mkdtemp(prefix="handoff-lis-")
    log = os.path.join(tmp, "access.log")
    try:
        s, p4, p6 = two("--admin", "127.0.0.1:0", "--access-log", log)
        h.check(s.port == p4, "the log's first address is the first --listen")
        for _ in range(3):
            h.hello_pid(h.request(p4, "/"))
        for _ in range(2):
            h.hello_pid(h.request(p6, "/", host="::1"))
        h.check(h.request(p6, "/missing", host="::1").status == 404)
        addr = admin_addr(s)
        st = h.wait_until(lambda: (lambda j: j if j["totals"]["requests_served"] == 6 else None)(
            stats(addr)), what="six requests served")
        ls = by_address(st)
        a4, a6 = f"127.0.0.1:{p4}", f"[::1]:{p6}"
        h.check(set(ls) == {a4, a6}, ls)
        h.check(ls[a4]["accepted"] == 3 and ls[a6]["accepted"] == 3, ls)
        h.check(ls[a4]["responses"]["2xx"] == 3 and ls[a6]["responses"]["2xx"] == 2
                and ls[a6]["responses"]["4xx"] == 1, ls)
        h.check(ls[a4]["name"] == a4 and ls[a4]["index"] != ls[a6]["index"], ls)
        lines = h.wait_until(lambda: (lambda l: l if len(l) == 6 else None)(
            open(log).read().splitlines() if os.path.exists(log) else []), what="six lines")
        h.check(sum(l.startswith("127.0.0.1 ") and l.endswith(" " + a4) for l in lines) == 3
                and sum(l.startswith("::1 ") and l.endswith(" " + a6) for l in lines) == 3,
                lines)
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
            text = r.read().decode()
        h.check(f'handoff_http_requests_total{{listener="{a6}",code="4xx"}} 1' in text, text)
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 0, p.stdout + p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_every_policy_carries_every_listener():
    for policy in POLICIES:
        s, p4, p6 = two("--policy", policy, "--admin", "127.0.0.1:0")
        for _ in range(4):
            h.hello_pid(h.request(p4, "/"))
            h.hello_pid(h.request(p6, "/", host="::1"))
        addr = admin_addr(s)
        st = h.wait_until(lambda: (lambda j: j if j["totals"]["requests_served"] == 8 else None)(
            stats(addr)), what=f"{policy}: eight requests")
        ls = by_address(st)
        h.check([l["responses"]["2xx"] for l in ls.values()] == [4, 4],
                f"{policy}: {ls}")
        s.stop()


def test_reuseport_scaling_opens_each_listener():
    s, p4, p6 = two("--policy", "reuseport", workers=1)
    s.signal(signal.SIGTTIN)
    s.wait_ready(2)
    pids = set()
    for _ in range(40):
        pids.add(h.hello_pid(h.request(p4, "/")))
        pids.add(h.hello_pid(h.request(p6, "/", host="::1")))
    h.check(len(pids) == 2, f"the added worker accepts on neither socket: {pids}")
    # 2 slots x 2 listeners, each its own SO_REUSEPORT socket
    h.check(len(h.listening_sockets(s.pid)) == 4, h.listening_sockets(s.pid))


def test_host_name_binds_every_address():
    # A name resolving to 127.0.0.1 and ::1 (a private /etc/hosts in a
    # mount namespace of the test's own): both are bound, as nginx does;
    # --host localhost used to bind the first that worked.
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        sys.stderr.write("not root: skipped\n")
        return
    tmp = tempfile.mkdtemp(prefix="handoff-hosts-")
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 dual.test\n::1 dual.test\n")
    port = h.free_port()
    try:
        for how in (["--listen", f"dual.test:{port}"], ["--host", "dual.test", "--port",
                                                         str(port)]):
            cmd = " ".join([h.HANDOFF, *how, "--workers", "1", "--control", "none"])
            s = h.server(argv=["unshare", "--mount", "sh", "-c",
                               f"mount --bind {hosts} /etc/hosts && exec {cmd}"], workers=1)
            s.wait_log(rf"listening on (127\.0\.0\.1:{port} and \[::1\]:{port}|"
                       rf"\[::1\]:{port} and 127\.0\.0\.1:{port}) ")
            h.hello_pid(h.request(port, "/"))
            h.hello_pid(h.request(port, "/", host="::1"))
            s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_socket_activation_with_names():
    p1, p2, admin = h.free_port(), h.free_port(), h.free_port()
    proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{p1}", "-l",
                             f"127.0.0.1:{p2}", "--fdname=web:alt", h.HANDOFF, "--workers",
                             "2", "--admin", f"127.0.0.1:{admin}", "--listen", "127.0.0.1:1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        h.wait_until(lambda: h.connectable(p1), what="systemd-socket-activate to listen")
        h.hello_pid(h.request(p1, "/"))
        h.hello_pid(h.request(p2, "/"))
        st = stats(f"127.0.0.1:{admin}")
        names = {l["address"]: l["name"] for l in st["listeners"]}
        h.check(names == {f"127.0.0.1:{p1}": "web", f"127.0.0.1:{p2}": "alt"}, names)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=20 * h.SLOW)[1]
    h.check("2 listening sockets handed over by systemd" in out, out[-2000:])
    h.check(proc.returncode == 0, f"exit {proc.returncode}: {out[-2000:]}")



def test_upgrade_carries_every_listener():
    for policy in ("rr", "reuseport"):
        p4, p6 = h.free_port(), h.free_port("::1")
        s = h.Server(argv=[h.HANDOFF, "--listen", f"127.0.0.1:{p4}", "--listen",
                           f"[::1]:{p6}", "--workers", "2", "--policy", policy], workers=2)
        h._servers.append(s)
        before = h.listening_sockets(s.pid)
        load = h.Wrk(p4, duration=4)  # wrk's harness speaks IPv4: [::1] by hand below
        with h.upgraded(s) as new_master:
            h.check(s.wait_exit() == 0, "the old master did not exit 0")
            load.check_no_failures(f"SIGUSR2 ({policy})")
            # the same sockets, taken over, not bound again
            h.check(h.listening_sockets(new_master) == before,
                    f"{policy}: {h.listening_sockets(new_master)} != {before}")
            h.hello_pid(h.request(p4, "/"))
            h.hello_pid(h.request(p6, "/", host="::1"))


def run(*args):
    return subprocess.run([h.HANDOFF, *args], capture_output=True, text=True,
                          timeout=10 * h.SLOW)


def test_bad_listen_values():
    cases = [
        (["--listen", "127.0.0.1"], "--listen"),
        (["--listen", "127.0.0.1:99999"], "--listen"),
        (["--listen", "::1:80"], "--listen"),
        (["--listen", "[::1:80"], "--listen"),
        (["--listen", ":80"], "--listen"),
        (["--listen", "127.0.0.1:80", "--port", "81"], "not with --host or --port"),
        (["--listen", "127.0.0.1:80", "--listen", "127.0.0.1:80"], "given twice"),
        ([x for i in range(17) for x in ("--listen", f"127.0.0.1:{9000 + i}")], "at most 16"),
    ]
    for args, needle in cases:
        p = run(*args)
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 2 and len(lines) == 1 and needle in lines[0],
                f"{args}: {p.returncode} {p.stderr!r}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = h.free_port()
        p = run("--listen", f"127.0.0.1:{free}", "--listen", f"127.0.0.1:{port}",
                "--control", "none")
    lines = p.stderr.strip().splitlines()
    h.check(p.returncode == 1 and len(lines) == 1 and f"127.0.0.1:{port}" in lines[0]
            and "in use" in lines[0], p)


if __name__ == "__main__":
    h.main(globals())
