#!/usr/bin/env python3
"""The harness's own promises about shared_server(): a test that breaks
the shared server (kills a worker, leaves a connection open, signals the
master, brings a sanitizer report) fails, and the next test gets a fresh
server; a test sees only its own part of the log; what shows only when
the server stops is reported for the tests that shared it. The cases are
a test file written here, run, and its "ok"/"FAIL" lines checked."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

CASES = f"""
import os, signal, sys
sys.path.insert(0, {HERE!r})
import harness as h

# (times SLOW): test_e need only fail, but the others must have time to
# be idle again: the master lets go of a connection its worker closed at
# the worker's next load report, some 50 ms later (--rehand)
h.SHARED_IDLE_TIMEOUT = 1.0
pids = []
held = []
retire = h._retire


def close_and_retire(sh, why):  # else the stop waits for test_e's connection
    for c in held:
        c.close()
    retire(sh, why)


h._retire = close_and_retire


def test_a_serves():
    s = h.shared_server(workers=1)
    pids.append(s.pid)
    h.hello_pid(h.request(s.port, "/"))


def test_b_same_server():
    s = h.shared_server(workers=1)
    h.check(s.pid == pids[-1], "a second server")


def test_c_kills_a_worker():
    s = h.shared_server(workers=1)
    victim = s.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    h.wait_until(lambda: victim not in s.worker_pids())


def test_d_fresh_server():
    s = h.shared_server(workers=1)
    h.check(s.pid != pids[-1], "the broken server was shared on")


def test_e_leaves_a_connection_open():
    s = h.shared_server(workers=1)
    c = h.connect(s.port)
    c.sendall(b"GET / HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
    h.hello_pid(h.Reader(c).read_response())
    held.append(c)


def test_f_signals_the_master():
    h.shared_server(workers=1).signal(signal.SIGHUP)


def test_g_sanitizer_line():
    s = h.shared_server(workers=1)
    with s.cond:  # as a worker's report would arrive
        s.lines.append("==1==ERROR: AddressSanitizer: heap-use-after-free (fake)")


def test_h_own_log():
    s = h.shared_server(workers=1)
    h.check(s.mark() == 0 and s.log() == "", f"{{s.mark()}}: {{s.log()!r}}")
    try:
        s.wait_log(r"listening on", timeout=0.01)
    except h.TestFailure:
        return
    raise h.TestFailure("saw the log from before the test")


def test_i_last_with_a_report_at_stop():
    h.shared_server(workers=1)
    stop = h._stop

    def stop_with_a_report(s):  # as LeakSanitizer's, at exit
        with s.cond:
            s.lines.append("==1==ERROR: LeakSanitizer: detected memory leaks (fake)")
        return stop(s)

    h._stop = stop_with_a_report


h.main(globals())
"""


def test_shared_server_promises():
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="handoff-harness-") as f:
        f.write(CASES)
        f.flush()
        p = subprocess.run([sys.executable, f.name], capture_output=True, text=True,
                           timeout=120 * h.SLOW, env=dict(os.environ, HANDOFF_TEST=""))
    got = {}
    for line in p.stdout.splitlines():
        ok, _, rest = line.partition(" ")
        got[rest.split(":")[0].split("(")[0]] = (ok == "ok", line)
    for name, ok, why in (
            ("test_a_serves", True, ""),
            ("test_b_same_server", True, ""),
            ("test_c_kills_a_worker", False, "workers changed"),
            ("test_d_fresh_server", True, ""),
            ("test_e_leaves_a_connection_open", False, "did not come back to idle"),
            ("test_f_signals_the_master", False, "not to be signalled"),
            ("test_g_sanitizer_line", False, "AddressSanitizer: heap-use-after-free"),
            ("test_h_own_log", True, ""),
            ("test_i_last_with_a_report_at_stop", True, ""),
            # told at the stop, for the tests that shared the server
            ("shared_server", False,
             "(used by test_h_own_log, test_i_last_with_a_report_at_stop)")):
        # (what the harness shows of a failure is its last line: the why)
        line = got.get(name, (None, "did not run"))[1]
        h.check(got.get(name, (None,))[0] == ok and why in line,
                f"{p.stderr[-3000:]}\n{name}: {line!r}, expected "
                f"{'ok' if ok else 'FAIL'} {why!r}")
    h.check(p.returncode == 1, f"exit {p.returncode}")


if __name__ == "__main__":
    h.main(globals())
