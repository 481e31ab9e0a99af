#!/usr/bin/env python3
"""Logs: --log-format json lines parsed, UTC RFC 3339 times with a Z,
--log-level, a Node worker's output through the master's logger, and a
stderr nobody reads never stalling the master."""

import datetime
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEXT_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})Z ")


def utc(text, fmt):
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)


def near_now(t):
    return abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 120


def test_json_lines():
    s = h.server("--log-format", "json", workers=2)
    h.hello_pid(h.request(s.port, "/"))
    workers = s.worker_pids()
    os.kill(workers[0], signal.SIGKILL)
    s.wait_log(r"killed by signal 9")
    s.wait_ready(3)
    h.check(s.stop() == 0)
    lines = [l for l in s.log().splitlines() if l]
    h.check(len(lines) > 8, lines)
    roles = set()
    for line in lines:
        o = json.loads(line)  # every line, the workers' too
        h.check(set(o) >= {"time", "level", "pid", "role", "worker", "msg"}, o)
        h.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o)
        h.check(near_now(utc(o["time"], "%Y-%m-%dT%H:%M:%S.%fZ")), f"not UTC now: {o}")
        h.check(o["level"] in ("error", "warn", "info", "debug"), o)
        if o["role"] == "master":
            h.check(o["pid"] == s.pid and o["worker"] is None, o)
        else:
            h.check(o["role"] == "worker" and isinstance(o["worker"], int) and o["worker"] > 0,
                    o)
        roles.add((o["role"], o["worker"]))
    h.check(("master", None) in roles and any(r == "worker" for r, _ in roles), roles)
    warn = [json.loads(l) for l in lines if "killed by signal 9" in l]
    h.check(warn and warn[0]["level"] == "warn", warn)


def test_text_times_are_utc():
    s = h.server(workers=1)
    line = next(l for l in s.log().splitlines() if "listening on" in l)
    m = TEXT_TIME.match(line)
    h.check(m, f"no UTC time at the start of {line!r}")
    h.check(near_now(utc(m.group(1), "%Y-%m-%d %H:%M:%S.%f")), line)
    h.check(re.search(r"Z master\[\d+\] info: handoff ", line), line)


def lines_of(proc, until, timeout=15):
    """Reads <proc>'s stderr until a line matches <until>; the lines."""
    data = b""
    deadline = time.monotonic() + timeout * h.SLOW
    rx = re.compile(until)
    fd = proc.stderr.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
            out = data.decode(errors="replace").splitlines()
            if any(rx.search(l) for l in out):
                return out
    raise h.TestFailure(f"no line matching {until!r}: {data!r}")


def test_log_level():
    port = h.free_port()
    p = subprocess.Popen([h.HANDOFF, "--host", "127.0.0.1", "--port", str(port), "--workers",
                          "1", "--control", "none", "--log-level", "warn"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        h.wait_until(lambda: _serves(port), what="the server to answer")
        pid = h.children(p.pid)[0]
        os.kill(pid, signal.SIGKILL)
        lines = lines_of(p, r"killed by signal 9")
        h.wait_until(lambda: _serves(port), what="the replacement to answer")
        p.send_signal(signal.SIGTERM)
        h.check(p.wait(20 * h.SLOW) == 0)
        lines += p.stderr.read().decode().splitlines()
        h.check(lines and all(re.search(r"\] (warn|error): ", l) for l in lines),
                f"lines below warn: {lines}")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    bad = subprocess.run([h.HANDOFF, "--log-level", "loud"], capture_output=True, text=True,
                         timeout=10)
    h.check(bad.returncode == 2 and "--log-level" in bad.stderr
            and len(bad.stderr.splitlines()) == 1, bad)
    bad = subprocess.run([h.HANDOFF, "--log-format", "xml"], capture_output=True, text=True,
                         timeout=10)
    h.check(bad.returncode == 2 and "--log-format" in bad.stderr, bad)


def _serves(port):
    try:
        return h.request(port, "/").status == 200
    except OSError:
        return False


def test_stalled_stderr_does_not_stop_serving():
    # log_msg wrote stderr with a blocking write: once a reader stopped
    # reading (a full pipe), the master blocked inside its loop and every
    # client waited. Now the lines wait in a bounded buffer, or are
    # dropped and counted, and the master goes on accepting.
    port = h.free_port()
    r, w = os.pipe()
    p = subprocess.Popen([h.HANDOFF, "--host", "127.0.0.1", "--port", str(port), "--workers",
                          "2", "--control", "none", "--trace"],
                         stdout=subprocess.DEVNULL, stderr=w)
    os.close(w)
    try:
        h.wait_until(lambda: _serves(port), what="the server to answer")
        # --trace writes ~10 lines a request: the 64 KiB pipe fills at once
        for i in range(600):
            with h.connect(port, timeout=5) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                h.hello_pid(h.Reader(c).read_response())
        h.check(p.poll() is None, "the master died")
        # Once read again, the master says how many lines it dropped.
        got = b""
        deadline = time.monotonic() + 20 * h.SLOW
        while b"log lines dropped" not in got and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], 0.5)
            if ready:
                got += os.read(r, 65536)
            if len(got) > (1 << 24):
                got = got[-65536:]
        h.check(re.search(rb"master\[\d+\] warn: \d+ log lines dropped: stderr was not "
                          rb"being read", got), got[-2000:])
        p.send_signal(signal.SIGTERM)
        threading.Thread(target=lambda: _drain(r), daemon=True).start()
        h.check(p.wait(20 * h.SLOW) == 0)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def _drain(fd):
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_node_worker_output_through_the_log():
    if shutil.which("node") is None:
        sys.stderr.write("no node: skipped\n")
        return
    script = os.path.join(HERE, "node", "hello_cluster.js")
    s = h.server("--node", script, workers=2)
    for wid, pid in s.ready_workers().items():
        s.wait_log(rf"Z worker W{wid}\[{pid}\] stdout: Worker {pid} started$")
    s.stop()
    j = h.server("--node", script, "--log-format", "json", workers=1)
    m = j.wait_log(r'"stream":"stdout","msg":"Worker (\d+) started"')
    line = next(l for l in j.log().splitlines() if '"stream":"stdout"' in l)
    o = json.loads(line)
    h.check(o["role"] == "worker" and o["worker"] == 1 and o["pid"] == int(m.group(1))
            and o["level"] == "info", o)


if __name__ == "__main__":
    h.main(globals())
