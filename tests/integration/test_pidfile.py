#!/usr/bin/env python3
"""--pid-file: written once the master listens, FILE.oldbin across
SIGUSR2 as nginx keeps it (back to FILE when the upgrade fails), removed
at exit, and refused when a running master's is there."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def read_pid(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    h.check(text.endswith("\n") and text[:-1].isdigit(), f"{path}: {text!r}")
    return int(text)


def test_pid_file_across_an_upgrade():
    tmp = tempfile.mkdtemp(prefix="handoff-pid-")
    pid_file = os.path.join(tmp, "handoff.pid")
    old = pid_file + ".oldbin"
    new_master = None
    try:
        s = h.server("--pid-file", pid_file, workers=2)
        h.check(read_pid(pid_file) == s.pid, "the pid file is not the master's")
        h.check(sorted(os.listdir(tmp)) == ["handoff.pid"], os.listdir(tmp))
        load = h.Wrk(s.port, duration=4)
        s.signal(signal.SIGUSR2)
        new_master = int(s.wait_log(r"the new master \(pid (\d+)\) is ready", timeout=15)
                         .group(1))
        # while both run: FILE is the new one's, FILE.oldbin the old one's
        h.check(read_pid(pid_file) == new_master, (read_pid(pid_file), new_master))
        h.check(s.wait_exit() == 0, "the old master did not exit 0")
        load.check_no_failures("SIGUSR2 with a pid file")
        h.check(read_pid(pid_file) == new_master and not os.path.exists(old),
                os.listdir(tmp))
        os.kill(new_master, signal.SIGTERM)
        h.wait_until(lambda: not h.alive(new_master), what="the new master to stop")
        h.check(os.listdir(tmp) == [], f"left behind: {os.listdir(tmp)}")
    finally:
        if new_master is not None and h.alive(new_master):
            os.kill(new_master, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def test_oldbin_while_both_run():
    # A new master that never gets ready holds the upgrade open: FILE is
    # its pid, FILE.oldbin the old master's; when it fails, FILE is the
    # old master's again.
    tmp = tempfile.mkdtemp(prefix="handoff-pid-")
    pid_file = os.path.join(tmp, "handoff.pid")
    try:
        for name in ("handoff", "handoff-worker"):
            shutil.copy2(os.path.join(h.BUILD, name), tmp)
        s = h.Server("--pid-file", pid_file, workers=1, binary=os.path.join(tmp, "handoff"))
        h._servers.append(s)
        # the worker program of the new master cannot boot: it waits
        # (backoff), never ready, then gives up (exit 3)
        os.rename(os.path.join(tmp, "handoff-worker"), os.path.join(tmp, "handoff-worker.x"))
        with open(os.path.join(tmp, "handoff-worker"), "w") as f:
            f.write("#!/bin/sh\nexit 1\n")
        os.chmod(os.path.join(tmp, "handoff-worker"), 0o755)
        s.signal(signal.SIGUSR2)
        m = s.wait_log(r"\[(\d+)\] info: using 1 listening socket handed over by the old "
                       r"master")
        child = int(m.group(1))
        h.wait_until(lambda: read_pid(pid_file) == child, what="FILE to be the new master's")
        h.check(read_pid(pid_file + ".oldbin") == s.pid, os.listdir(tmp))
        s.wait_log(r"the new master \(pid \d+\) exited with status 3", timeout=20)
        h.wait_until(lambda: read_pid(pid_file) == s.pid, what="FILE to be the old one's again")
        h.check(not os.path.exists(pid_file + ".oldbin"), os.listdir(tmp))
        h.hello_pid(h.request(s.port, "/"))
        h.check(s.stop() == 0)
        h.check(not os.path.exists(pid_file), "pid file left behind")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_refuses_a_running_masters_pid_file():
    tmp = tempfile.mkdtemp(prefix="handoff-pid-")
    pid_file = os.path.join(tmp, "handoff.pid")
    try:
        s = h.server("--pid-file", pid_file, workers=1)
        p = subprocess.run([h.HANDOFF, "--host", "127.0.0.1", "--port", "0", "--control",
                            "none", "--pid-file", pid_file], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 1 and len(lines) == 1
                and f"master {s.pid} is running" in lines[0], p)
        h.check(read_pid(pid_file) == s.pid, "the running master's pid file was touched")
        s.stop()
        # a stale one (a dead pid, or a live process that is not handoff)
        for stale in (str(2 ** 22 + 7), str(os.getpid())):
            with open(pid_file, "w") as f:
                f.write(stale + "\n")
            s = h.server("--pid-file", pid_file, workers=1)
            h.check(read_pid(pid_file) == s.pid, stale)
            s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    h.main(globals())
