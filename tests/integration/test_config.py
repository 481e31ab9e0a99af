#!/usr/bin/env python3
"""The configuration file: -c FILE read by the option table, flags
overriding it; -t/--test-config with FILE:LINE errors and exit codes;
SIGHUP reading it again and applying what changed (the worker count,
the policy and a new listener under load with no failed request; a
removed listener closed; what needs a new master logged and kept), and
a bad file on SIGHUP changing nothing."""

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


class Conf:
    """A configuration file in a directory of its own."""

    def __init__(self, text):
        self.dir = tempfile.mkdtemp(prefix="handoff-conf-")
        self.path = os.path.join(self.dir, "handoff.conf")
        self.write(text)

    def write(self, text):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.path)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def run(*args):
    return subprocess.run([h.HANDOFF, *args], capture_output=True, text=True,
                          timeout=15 * h.SLOW)


def stats(addr):
    with urllib.request.urlopen(f"http://{addr}/stats", timeout=10) as r:
        return json.load(r)


def admin_addr(s):
    return s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)


def test_file_read_and_flags_override_it():
    port = h.free_port()
    c = Conf(f"""# handoff.conf
listen 127.0.0.1:{port}   # the one listener
Workers = 3
policy cyclic
admin 127.0.0.1:0
trace off
max-body "2m"
""")
    try:
        s = h.server(argv=[h.HANDOFF, "-c", c.path, "--workers", "2"], workers=2)
        h.check(s.port == port, s.port)
        st = stats(admin_addr(s))
        h.check(st["master"]["workers"] == 2 and st["policy"] == "cyclic", st["master"])
        big = b"x" * (1536 * 1024)  # under the file's 2m, over the default 1m
        h.check(h.request(port, "/", method="POST", body=big).status == 405)
        s.stop()
        # the command line's listener replaces the file's, as --port would
        p2 = h.free_port()
        s = h.server(argv=[h.HANDOFF, "--config", c.path, "--listen", f"127.0.0.1:{p2}"],
                     workers=3)
        h.check(s.port == p2 and f"127.0.0.1:{port}" not in s.log(), s.log()[-500:])
    finally:
        c.close()


def test_test_config_errors_and_exit_codes():
    good = Conf("listen 127.0.0.1:0\nworkers 2\n")
    bad = Conf("""workers 2
bogus 1
workers 3
policy fastest
max-body 10zz
root "/nonexistent dir
listen no.such.host.invalid:80
access-log /nonexistent/dir/access.log
root /etc/hostname
admin
trace maybe
""")
    try:
        p = run("-t", "-c", good.path)
        h.check(p.returncode == 0 and p.stderr == ""
                and f"the configuration in {good.path} is valid" in p.stdout, p)
        p = run("--test-config", "--config", bad.path)
        lines = p.stderr.splitlines()
        want = [
            (2, "unknown keyword 'bogus'"),
            (3, "'workers' is given twice (first on line 1)"),
            (4, "unknown policy 'fastest'"),
            (5, "invalid value '10zz' for --max-body"),
            (6, "a quoted value without its closing quote"),
            (10, "'admin' needs a value"),
            (11, "invalid value 'maybe' for --trace (expected on or off)"),
            (7, "cannot listen on no.such.host.invalid:80"),
            (9, "--root /etc/hostname: not a directory"),
            (8, "--access-log /nonexistent/dir/access.log"),
            ]
        h.check(p.returncode == 1 and len(lines) == len(want), p)
        for (n, msg), line in zip(want, lines):
            h.check(line.startswith(f"{bad.path}:{n}: ") and msg in line,
                    f"line {n}: {line!r} (want {msg!r})")
        # the same file without -t: the same lines, exit 2 (a bad value)
        p = run("--config", bad.path, "--control", "none")
        h.check(p.returncode == 2 and p.stderr.splitlines()[:7] == lines[:7], p)
        # a file that cannot be read
        p = run("-t", "-c", os.path.join(good.dir, "missing.conf"))
        h.check(p.returncode == 1 and "missing.conf: cannot read it: No such file" in p.stderr,
                p)
        # an error of the command line's is still one line, exit 2
        p = run("-t", "-c", good.path, "--workers", "zero")
        h.check(p.returncode == 2 and len(p.stderr.splitlines()) == 1, p)
        # -t without a file checks the options alone
        p = run("-t", "--root", "/nonexistent")
        h.check(p.returncode == 1 and p.stderr.startswith("command line: --root /nonexistent"),
                p)
        # what the options say together, of a file
        p = run("-t", "-c", Conf("policy none\nproxy-protocol\n").path)
        h.check(p.returncode == 1 and "--proxy-protocol needs a policy" in p.stderr, p)
    finally:
        good.close()
        bad.close()


def test_sighup_applies_the_file_under_load():
    port, extra = h.free_port(), h.free_port()
    c = Conf(f"listen 127.0.0.1:{port}\nworkers 2\npolicy rr\nadmin 127.0.0.1:0\n")
    try:
        s = h.server(argv=[h.HANDOFF, "-c", c.path], workers=2)
        addr = admin_addr(s)
        load = h.Wrk(port, duration=5)
        c.write(f"listen 127.0.0.1:{port}\nlisten 127.0.0.1:{extra}\nworkers 3\n"
                "policy least-loaded\nadmin 127.0.0.1:1\nmax-requests 0\n")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"rolling restart done", start=mark, timeout=20)
        load.check_no_failures("SIGHUP with a new file")
        st = stats(addr)
        h.check(st["policy"] == "least-loaded" and st["master"]["workers"] == 3, st["master"])
        h.check(len([p for p in s.worker_pids() if h.alive(p)]) >= 3)
        h.hello_pid(h.request(extra, "/"))
        log = s.log()
        h.check(re.search(r"warn: SIGHUP: --admin changed \(127\.0\.0\.1:0 -> 127\.0\.0\.1:1\), "
                          r"which takes a new master \(SIGUSR2\); kept as it was", log), log)
        h.check(stats(addr)["pid"] == s.pid)  # the admin port did not move
        # removing the listener closes it
        c.write(f"listen 127.0.0.1:{port}\nworkers 3\npolicy least-loaded\n"
                "admin 127.0.0.1:0\n")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(rf"no longer listening on 127\.0\.0\.1:{extra}", start=mark)
        h.check(not h.connectable(extra, timeout=2), "the removed listener still accepts")
        h.hello_pid(h.request(port, "/"))
    finally:
        c.close()



def test_removed_listener_closes_in_workers_that_accept():
    # Under none each worker holds a copy of the socket: it closes it too.
    port, extra = h.free_port(), h.free_port()
    c = Conf(f"listen 127.0.0.1:{port}\nlisten 127.0.0.1:{extra}\npolicy none\n")
    try:
        s = h.server(argv=[h.HANDOFF, "-c", c.path, "--workers", "2"], workers=2)
        h.hello_pid(h.request(extra, "/"))
        c.write(f"listen 127.0.0.1:{port}\npolicy none\n")
        s.signal(signal.SIGHUP)
        h.wait_until(lambda: not h.connectable(extra, timeout=2), what="the removed listener to close")
        h.hello_pid(h.request(port, "/"))
        # a policy that changes who accepts takes a new master
        c.write(f"listen 127.0.0.1:{port}\npolicy rr\n")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(r"SIGHUP: --policy changed \(none -> rr\), which takes a new master",
                   start=mark)
        s.wait_log(r"rolling restart done", start=mark)
        h.hello_pid(h.request(port, "/"))
    finally:
        c.close()


def test_bad_file_on_sighup_changes_nothing():
    port = h.free_port()
    tmp = tempfile.mkdtemp(prefix="handoff-ctl-")
    sock = os.path.join(tmp, "ctl.sock")
    c = Conf(f"listen 127.0.0.1:{port}\nworkers 2\n")
    try:
        s = h.server(argv=[h.HANDOFF, "-c", c.path, "--control", sock], workers=2)
        pids = sorted(s.worker_pids())
        load = h.Wrk(port, duration=3)
        c.write(f"listen 127.0.0.1:{port}\nworkers 4\nmax-body lots\n")
        mark = s.mark()
        s.signal(signal.SIGHUP)
        s.wait_log(rf"error: SIGHUP: {re.escape(c.path)}:3: invalid value 'lots' for "
                   r"--max-body", start=mark)
        s.wait_log(r"the configuration has 1 error; nothing changed, the workers go on "
                   r"serving", start=mark)
        p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--socket", sock, "reload"],
                           capture_output=True, text=True, timeout=30)
        h.check(p.returncode == 1 and p.stdout.startswith(f"error: {c.path}:3: "), p)
        load.check_no_failures("a bad file on SIGHUP")
        h.check(sorted(s.worker_pids()) == pids, "workers were replaced")
        h.check("rolling restart" not in "\n".join(s.log().splitlines()[mark:]), s.log())
        # a listener that cannot be bound changes nothing either
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            c.write(f"listen 127.0.0.1:{port}\nlisten 127.0.0.1:{busy}\nworkers 3\n")
            mark = s.mark()
            s.signal(signal.SIGHUP)
            s.wait_log(rf"SIGHUP: cannot listen on 127\.0\.0\.1:{busy}: .*in use; nothing "
                       r"changed", start=mark)
        h.check(sorted(s.worker_pids()) == pids, "workers were replaced")
        # and a good one is applied
        c.write(f"listen 127.0.0.1:{port}\nworkers 3\n")
        p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--socket", sock, "reload"],
                           capture_output=True, text=True, timeout=30)
        h.check(p.returncode == 0 and "rolling restart of 3 workers" in p.stdout, p)
    finally:
        c.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(globals())
