#!/usr/bin/env python3
"""Operations: every signal under wrk load with zero failed requests
(SIGHUP, SIGUSR2, SIGTTIN/SIGTTOU), recycling with zero failed requests,
the watchdog, the access log and SIGUSR1."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def live_workers(s):
    return [p for p in s.worker_pids() if h.alive(p)]


def test_sighup_rolling_restart_under_load():
    s = h.server(workers=2)
    before = set(live_workers(s))
    load = h.Wrk(s.port, duration=5)
    s.wait_log(r"load|ready", timeout=5)  # the server is up; load is running
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"rolling restart done", start=mark, timeout=15)
    load.check_no_failures("SIGHUP")
    after = set(h.wait_until(lambda: len(live_workers(s)) == 2 and live_workers(s)))
    h.check(not before & after, f"workers not replaced: {before} -> {after}")
    # the old ones were told to stop only after their successors were ready
    log = s.log().splitlines()[mark:]
    for pid in before:
        retire = next(i for i, l in enumerate(log) if f"(pid {pid}) retiring" in l)
        h.check(any("ready" in l for l in log[:retire]), "retired before a successor was ready")


def test_scaling_under_load():
    s = h.server(workers=2)
    load = h.Wrk(s.port, duration=5)
    s.signal(signal.SIGTTIN)
    h.wait_until(lambda: len(live_workers(s)) == 3, what="a third worker")
    s.wait_ready(3)
    # one at a time: signals of one kind sent together merge into one
    s.signal(signal.SIGTTOU)
    s.wait_log(r"removing a worker: now 2")
    s.signal(signal.SIGTTOU)
    s.wait_log(r"removing a worker: now 1")
    h.wait_until(lambda: len(live_workers(s)) == 1, timeout=15, what="one worker left")
    s.signal(signal.SIGTTOU)  # never below one
    s.wait_log(r"only one worker left")
    load.check_no_failures("SIGTTIN/SIGTTOU")
    h.check(len(live_workers(s)) == 1)


def test_binary_upgrade_under_load():
    # Run from a copy, then replace the binary on disk: SIGUSR2 must start
    # the new file, hand it the socket, and the old master must exit 0.
    tmp = tempfile.mkdtemp(prefix="handoff-upgrade-")
    try:
        for name in ("handoff", "handoff-worker"):
            shutil.copy2(os.path.join(h.BUILD, name), tmp)
        s = h.Server(workers=2, binary=os.path.join(tmp, "handoff"))
        h._servers.append(s)
        load = h.Wrk(s.port, duration=5)
        fresh = os.path.join(tmp, "handoff.new")
        shutil.copy2(os.path.join(h.BUILD, "handoff"), fresh)
        os.rename(fresh, os.path.join(tmp, "handoff"))  # a new inode
        new_ino = os.stat(os.path.join(tmp, "handoff")).st_ino
        with h.upgraded(s) as new_master:
            h.check(s.wait_exit() == 0, "the old master did not exit 0")
            h.check(os.stat(f"/proc/{new_master}/exe").st_ino == new_ino,
                    "the new master does not run the new binary")
            load.check_no_failures("SIGUSR2")
            # the new master serves on the same port, with its own workers
            h.hello_pid(h.request(s.port, "/"))
            h.check(len([p for p in h.children(new_master) if h.alive(p)]) == 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_upgrade_keeps_a_fixed_admin_port():
    admin_port = h.free_port()
    s = h.server("--admin", f"127.0.0.1:{admin_port}", workers=1)
    with h.upgraded(s) as new_master:
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        import json
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/stats", timeout=10) as r:
            h.check(json.load(r)["pid"] == new_master, "the admin port is not the new master's")


def test_failed_upgrade_keeps_serving():
    tmp = tempfile.mkdtemp(prefix="handoff-upgrade-")
    try:
        for name in ("handoff", "handoff-worker"):
            shutil.copy2(os.path.join(h.BUILD, name), tmp)
        s = h.Server(workers=1, binary=os.path.join(tmp, "handoff"))
        h._servers.append(s)
        with open(os.path.join(tmp, "handoff.new"), "w") as f:
            f.write("#!/bin/sh\nexit 3\n")
        os.chmod(os.path.join(tmp, "handoff.new"), 0o755)
        os.rename(os.path.join(tmp, "handoff.new"), os.path.join(tmp, "handoff"))
        s.signal(signal.SIGUSR2)
        s.wait_log(r"upgrade failed", timeout=15)
        h.hello_pid(h.request(s.port, "/"))
        h.check(s.proc.poll() is None, "the old master stopped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_recycling_max_requests_under_load():
    s = h.server("--max-requests", "2000", "--max-requests-jitter", "500", workers=2)
    load = h.Wrk(s.port, duration=5)
    s.wait_log(r"replacing worker .*--max-requests", timeout=20)
    total = load.check_no_failures("--max-requests")
    replaced = len(re.findall(r"replacing worker .*\(--max-requests\)", s.log()))
    h.check(replaced >= 2, f"only {replaced} recycled over {total} requests")


def test_recycling_max_rss_under_load():
    s = h.server("--max-rss", "1", workers=2)  # every worker is over 1 MiB
    load = h.Wrk(s.port, duration=4)
    s.wait_log(r"replacing worker .*over --max-rss 1 MiB", timeout=20)
    load.check_no_failures("--max-rss")


def test_watchdog_kills_a_silent_worker():
    s = h.server("--worker-timeout", "1s", "--trace", workers=2)
    workers = s.ready_workers()
    stuck_id = min(workers)
    os.kill(workers[stuck_id], signal.SIGSTOP)
    # keep connecting until the stuck worker holds one it never acknowledged
    conns = []
    for _ in range(6):
        c = h.connect(s.port)
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        conns.append(c)
        port = c.getsockname()[1]
        cid = s.wait_log(rf"accept +C(\d+) fd=\d+ from 127\.0\.0\.1:{port}\b").group(1)
        if int(s.wait_log(rf"handoff +C{cid} -> W(\d+)").group(1)) == stuck_id:
            break
    s.wait_log(rf"worker W{stuck_id} \(pid \d+\) silent for .* killing it", timeout=10)
    for c in conns:
        with c:
            pid = h.hello_pid(h.Reader(c).read_response())
            h.check(pid != workers[stuck_id])
    s.wait_ready(3)


# Apache's combined format, then the listener the connection came in on.
ACCESS_RE = re.compile(r'^(\S+) - - \[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                       r'"([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" (\S+)$')


def test_access_log_and_reopen():
    tmp = tempfile.mkdtemp(prefix="handoff-log-")
    path = os.path.join(tmp, "access.log")
    try:
        s = h.server("--access-log", path, workers=2)
        h.hello_pid(h.request(s.port, "/", headers={"User-Agent": 'ua "quoted"',
                                                     "Referer": "http://r/"}))
        h.request(s.port, "/missing")
        h.request(s.port, "/", method="HEAD")
        lines = h.wait_until(lambda: (open(path).read().splitlines()
                                      if os.path.exists(path) else [])[:3]
                             if len(open(path).read().splitlines()) >= 3 else None,
                             what="three access log lines")
        parsed = [ACCESS_RE.match(l) for l in lines]
        h.check(all(parsed), f"not combined format: {lines}")
        by_request = {m.group(2): m for m in parsed}
        m = by_request["GET / HTTP/1.1"]
        h.check(m.group(1) == "127.0.0.1" and m.group(3) == "200" and m.group(4) == "24"
                or m.group(4).isdigit(), lines)
        h.check(m.group(5) == "http://r/" and m.group(6) == "ua \\x22quoted\\x22", lines)
        h.check(m.group(7) == f"127.0.0.1:{s.port}", lines)
        h.check(by_request["GET /missing HTTP/1.1"].group(3) == "404", lines)
        h.check(by_request["HEAD / HTTP/1.1"].group(4) == "-", lines)
        # logrotate: move the file, SIGUSR1, and new lines go to a new file
        os.rename(path, path + ".1")
        s.signal(signal.SIGUSR1)
        s.wait_log(r"SIGUSR1")
        h.wait_until(lambda: os.path.exists(path), what="the log to be reopened")
        h.request(s.port, "/after-rotate")
        h.wait_until(lambda: "/after-rotate" in open(path).read(), what="a line in the new file")
        h.check("/after-rotate" not in open(path + ".1").read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_access_log_lines_stay_whole():
    # escaping makes fields up to 4x longer: a line is cut, never overrun
    tmp = tempfile.mkdtemp(prefix="handoff-log-")
    path = os.path.join(tmp, "access.log")
    try:
        s = h.server("--access-log", path, workers=1)
        raw = (b"GET /" + b"%22" * 1500 + b" HTTP/1.1\r\nHost: t\r\nReferer: " + b'"' * 1024
               + b"\r\nUser-Agent: " + b"\xff" * 1024 + b"\r\nConnection: close\r\n\r\n")
        with h.connect(s.port) as c:
            c.sendall(raw)
            h.check(h.Reader(c).read_response().status == 404)
        h.request(s.port, "/", headers={"User-Agent": "after"})
        data = h.wait_until(lambda: (lambda d: d if d.count(b"\n") >= 2 else None)(
            open(path, "rb").read()), what="two lines")
        lines = data.split(b"\n")[:-1]
        h.check(len(lines) == 2, lines)
        for line in lines:
            h.check(len(line) < 4096, f"a {len(line)}-byte line")
            h.check(ACCESS_RE.match(line.decode("ascii"))
                    or line.endswith(f'" 127.0.0.1:{s.port}'.encode()),
                    f"not a whole line: {line[-80:]!r}")
            h.check(b"\x00" not in line, "stack bytes in the log")
        h.check(lines[1].endswith(f'"after" 127.0.0.1:{s.port}'.encode()), lines[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_scale_down_before_ready():
    # SIGTTIN then at once SIGTTOU: the new worker is retired before it is
    # READY, and must not join the rotation when it says READY after all.
    s = h.server("--trace", workers=2)
    load = h.Wrk(s.port, duration=3, args=("-H", "Connection: close"))
    for _ in range(5):
        mark = s.mark()
        s.signal(signal.SIGTTIN)
        # forked, and (most likely) not READY yet: remove it right away
        s.wait_log(r"started in slot 2", start=mark)
        s.signal(signal.SIGTTOU)
        s.wait_log(r"retiring: one worker fewer", start=mark)
        s.wait_log(r"exited with code 0", start=mark)
    load.check_no_failures("SIGTTIN+SIGTTOU")
    h.check("sendmsg() to" not in s.log(), "handed connections to a retired worker")
    lines = s.log().splitlines()
    early = 0
    for i, line in enumerate(lines):
        m = re.search(r"worker W(\d+) \(pid \d+\) retiring: one worker fewer", line)
        if not m:
            continue
        wid = m.group(1)
        before = "\n".join(lines[:i])
        if not re.search(rf"worker W{wid} \(pid \d+\) ready", before):
            early += 1  # retired before it was READY: the case at issue
        after = "\n".join(lines[i + 1:])
        h.check(not re.search(rf"handoff +C\d+ -> W{wid} ", after),
                f"W{wid} was handed a connection after retiring")
    sys.stderr.write(f"scale-down: {early} of 5 retired before READY\n")


def test_access_log_to_stderr():
    s = h.server("--access-log", "-", workers=1)
    h.request(s.port, "/", headers={"User-Agent": "probe"})
    s.wait_log(r'^127\.0\.0\.1 - - \[.*\] "GET / HTTP/1\.1" 200 \d+ "-" "probe" '
               rf'127\.0\.0\.1:{s.port}$')


if __name__ == "__main__":
    h.main(globals())
