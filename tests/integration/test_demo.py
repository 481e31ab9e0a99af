#!/usr/bin/env python3
"""tools/demo runs every scenario to a clean finish and says what it
checked, fails loudly when the server does something else, and leaves no
process behind; its output fits the terminal's width (COLUMNS, a pty's
size, 80 on a pipe) and every command it shows runs as pasted into a
shell; `handoffctl trace` follows a running master's trace, turns
tracing off again when it leaves, and a follower that does not read loses
lines (and is told) without slowing the master down."""

import fcntl
import itertools
import os
import re
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "tools", "demo")
HANDOFFCTL = os.path.join(h.BUILD, "handoffctl")

# The lines each scenario must print: its claims, checked by the demo.
CLAIMS = {
    "free-workers": [r"slow arrivals are dealt in turn: W1, W2, W3, W1, W2, W3"],
    "burst": [
        r"C1->W1, C2->W2, C3->W3; free=\[\] queue=\[C4,C5\], as in the table",
        r"C4 went to W2, the first worker to acknowledge; queue=\[C5\]",
        r"C5 went to W1; queue=\[\] free=\[\]",
        r"free=\[W3,W2,W1\]",
        r"C6 went to W3, the worker that went idle first, not W1",
        r"every client was answered by the worker the trace named",
    ],
    "blocked": [
        r"the stopped W2 got exactly one connection \(W1, W2, W3, W1, W3, W1, W3\)",
        r"W1 and W3 took all the others",
        r"C2's client got its answer from W2",
        r"W2 is back in the rotation",
    ],
    "killed-in-flight": [
        r"the master still holds C1 \(its fd \d+ is the connection",
        r"reclaim +C1 from W1, never acknowledged",
        r"the client of C1 got its answer from W2",
        r"In Node, this client would hang",
        r"a replacement worker joined the rotation",
    ],
    "keepalive": [
        r"all ten answers came from W1",
        r"the master made one handoff for the ten requests",
    ],
    "rehand": [
        r"the master kept its fd \d+ of C1 after the acknowledgement",
        r"rehand +C2 \(was C1 on W1\) fd=\d+",
        r"W2 \(pid \d+\) answered the second request on the connection W1 held",
    ],
    "none-vs-rr": [
        r"rr, one at a time: even, max 100, min 100",
        r"none, one at a time: max \d+, min \d+ \(reported, not checked",
    ],
    "why-none-skews": [
        r"each worker's epoll watches the one listening socket for EPOLLIN, without "
        r"EPOLLEXCLUSIVE",
        r"none: every worker was woken at least \d+ times for the 400 connections "
        r"\(/proc\), whichever served them",
        r"rr and reuseport: a worker woke only for connections it served",
        r"rr: every connection went to the worker idle longest \(400 of 400\)",
        r"none: no such queue: the worker idle longest won \d+ of 400",
        r"exclusive: one bare process took \d+ of 400",
        r"blocking accept\(\): the process idle longest won \d+ of 400: the kernel's "
        r"own first-in, first-out queue",
        r"none: the two that served most recently won \d+ of 400 .*\(reported, not "
        r"checked",
        # The three sentences of explanation.
        r"Why: under none each worker's event loop .* the others getting EAGAIN\.",
        r"Which one is first is the CPU scheduler's choice, not a queue's",
        r"An exclusive wake-up \(nginx's EPOLLEXCLUSIVE\) wakes only the first idle "
        r"waiter",
    ],
    "busy-loop": [
        r"rr: the busy W1 was handed exactly one connection \(W2, W3, W1, W2, W3, W2\) "
        r"and has not answered it",
        r"rr: nothing more went to W1 while it looped",
        r"once the loop ended, W1 answered /cpu and then C4",
        r"least-loaded: no connection went to the busy W\d \((W\d, ){5}W\d\): its "
        r"report, sent just before the loop, kept it out",
    ],
    "node-wire": [
        r"the answer names the server by Node's key, 127\.0\.0\.1:\d+:4:undefined:0",
        r"newconn \(seq \d+\) \+ fd \d+ -> NODE_HANDLE_ACK -> \{ack:\d+, accepted:true\} "
        r"-> the master closes fd \d+",
        r"the client was answered by W\d, the node process \d+",
    ],
}


ANSI = re.compile(r"\033\[[0-9;]*m")


def run_demo(*args, build=None, timeout=120, columns=80):
    env = dict(os.environ, HANDOFF_BUILD=build or h.BUILD, COLUMNS=str(columns))
    env.pop("NO_COLOR", None)
    return subprocess.run([DEMO, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout * h.SLOW)


def failed(p):
    """What a failed run of the demo printed, ending with its first failed
    claim (which the summary's FAIL line then shows), unwrapped."""
    lines = ANSI.sub("", p.stdout).splitlines()
    first = next((i for i, l in enumerate(lines) if l.lstrip().startswith("\u2717")), None)
    why = ""
    if first is not None:
        indent = len(lines[first]) - len(lines[first].lstrip())
        more = itertools.takewhile(
            lambda l: l.strip() and len(l) - len(l.lstrip()) > indent, lines[first + 1:])
        why = " ".join(l.strip() for l in [lines[first], *more])
    return f"exit {p.returncode}\n{p.stdout}\n{p.stderr}\n{why}"


def unwrapped(text):
    """<text> with every indented line joined to the one before it, so
    that a claim is found whether or not the width wrapped it."""
    return re.sub(r"\n +", " ", text)


def check_width(text, columns, what):
    """No line of <text> is wider than <columns>, colour codes aside."""
    wide = [l for l in ANSI.sub("", text).splitlines() if len(l) > columns]
    h.check(not wide, f"{what}: {len(wide)} lines wider than {columns}:\n"
            + "\n".join(wide[:10]))


def printed_commands(text):
    """The commands in the demo's output ("$ " lines with their
    backslash-newline continuations), each as printed, prompt aside."""
    lines = ANSI.sub("", text).splitlines()
    cmds = []
    i = 0
    while i < len(lines):
        m = re.match(r" *\$ (.*)$", lines[i])
        if m:
            cmd = m.group(1)
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd += "\n" + lines[i]
            cmds.append(cmd)
        i += 1
    return cmds


def _help(binary):
    return subprocess.run([binary, "--help"], capture_output=True, text=True,
                          timeout=30).stdout


def check_commands(text, what):
    """Every command shown names the build's handoff or handoffctl and
    only options their --help lists, and nothing is cut off ("...").
    Returns them as printed."""
    cmds = printed_commands(text)
    h.check(cmds, f"{what}: no command shown:\n{text}")
    binaries = {os.path.realpath(b): b for b in (h.HANDOFF, HANDOFFCTL)}
    for cmd in cmds:
        h.check("..." not in cmd, f"{what}: a command cut short: {cmd!r}")
        # What the shell does with a backslash-newline: it joins the lines.
        argv = shlex.split(cmd.replace("\\\n", ""))
        binary = os.path.realpath(os.path.join(ROOT, argv[0]))
        h.check(binary in binaries, f"{what}: {argv[0]} is neither handoff nor "
                f"handoffctl of {h.BUILD}: {cmd!r}")
        usage = _help(binary)
        for a in argv[1:]:
            if a.startswith("-"):
                h.check(re.search(rf"(^|[\s\[]){re.escape(a)}[\s=\]]", usage),
                        f"{what}: {a} is not an option of {argv[0]}: {cmd!r}")
        if binary == os.path.realpath(HANDOFFCTL):
            h.check(re.fullmatch(r"--port \d+ workers \d+", " ".join(argv[1:])), cmd)
    return cmds


def check_nothing_left(out):
    """Every pid the demo's trace named is gone (the demo kills by PID)."""
    pids = {int(p) for p in re.findall(r"\(pid (\d+)\)", out)}
    h.check(pids, "no pids in the demo's output")
    left = h.wait_until(lambda: [p for p in pids if h.alive(p)] or "none", timeout=10,
                        what="the demo's processes to be gone")
    h.check(left == "none", f"processes left behind: {left}")


def test_list():
    for columns in (80, 60):
        p = run_demo("--list", columns=columns)
        h.check(p.returncode == 0, p)
        names = [l.split()[0] for l in p.stdout.splitlines() if not l.startswith(" ")]
        h.check(names == list(CLAIMS), names)
        check_width(p.stdout, columns, "--list")


def test_scenarios():
    for name, claims in CLAIMS.items():
        p = run_demo(name, columns=80)
        h.check(p.returncode == 0, f"{name}: {failed(p)}")
        h.check("\033[" not in p.stdout, f"{name}: colour without a terminal")
        for rx in claims:
            h.check(re.search(rx, unwrapped(p.stdout)),
                    f"{name}: no line matching {rx!r}:\n{p.stdout}")
        h.check(re.search(r"1 scenario: every claim checked", p.stdout), p.stdout)
        check_width(p.stdout, 80, name)
        check_commands(p.stdout, name)
        check_nothing_left(p.stdout)
        print(f"  {name}: ok", file=sys.stderr)


def test_narrow_output_and_commands_that_run():
    # 60 columns: the long trace lines (reclaim, Node's JSON) are broken,
    # and the handoff commands need continuation lines. Each command shown
    # is then run as printed, by sh, from the source tree as the demo was:
    # a handoff line starts a server, and a handoffctl line after it (with
    # that server's port) adds its worker.
    p = run_demo("free-workers", "none-vs-rr", "node-wire", columns=60)
    h.check(p.returncode == 0, failed(p))
    check_width(p.stdout, 60, "60 columns")
    check_nothing_left(p.stdout)
    cmds = check_commands(p.stdout, "60 columns")
    h.check(any(c.count("\n") for c in cmds), f"no command was continued:\n{cmds}")
    srv = None
    started = 0
    for cmd in cmds:
        argv = shlex.split(cmd.replace("\\\n", ""))
        if os.path.basename(argv[0]) == "handoff":
            if srv is not None:
                h.check(srv.stop() == 0, "the pasted server's exit status")
            workers = int(argv[argv.index("--workers") + 1])
            srv = h.server(argv=["sh", "-c", f"cd {shlex.quote(ROOT)} && exec {cmd}"],
                           workers=workers)
            started += 1
        else:
            h.check(srv is not None, f"{cmd!r} before any handoff command")
            workers = int(argv[-1])
            mark = srv.mark()
            q = subprocess.run(["sh", "-c", f"cd {shlex.quote(ROOT)} && exec "
                                + re.sub(r"--port \d+", f"--port {srv.port}", cmd)],
                               capture_output=True, text=True, timeout=30)
            h.check(q.returncode == 0 and q.stdout.startswith("ok:"), f"{cmd!r}: {q}")
            srv.wait_log(r"worker W\d+ \(pid \d+\) ready", start=mark)
            h.check(len(srv.worker_pids()) == workers, f"{cmd!r}: {srv.worker_pids()}")
    h.check(started == 4, f"{started} handoff commands shown, not 4:\n{cmds}")


def test_fits_the_terminal():
    # On a terminal (a pty 72 columns wide, COLUMNS unset): its width, and
    # colour, which does not count.
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 72, 0, 0))
    env = dict(os.environ, HANDOFF_BUILD=h.BUILD)
    env.pop("NO_COLOR", None)
    env.pop("COLUMNS", None)
    proc = subprocess.Popen([DEMO, "burst"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    data = b""
    try:
        deadline = time.monotonic() + 120 * h.SLOW
        while True:
            left = deadline - time.monotonic()
            h.check(left > 0, "the demo did not finish:\n" + data.decode(errors="replace"))
            if not select.select([master], [], [], left)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the demo has closed the terminal
                break
            if not chunk:
                break
            data += chunk
        h.check(proc.wait(30 * h.SLOW) == 0, data.decode(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.terminate()  # the demo stops its servers, by PID
            proc.wait(30 * h.SLOW)
        os.close(master)
    text = data.decode(errors="replace").replace("\r\n", "\n")
    h.check("\033[" in text, "no colour on a terminal")
    h.check("1 scenario: every claim checked" in ANSI.sub("", text), text)
    check_width(text, 72, "a 72-column terminal")
    check_commands(text, "a 72-column terminal")
    check_nothing_left(ANSI.sub("", text))


def test_unknown_scenario():
    p = run_demo("no-such-thing")
    h.check(p.returncode == 2 and "no scenario 'no-such-thing'" in p.stderr, p)


def test_burst_fails_on_a_different_order():
    # A server whose rr lets each worker hold two unanswered handoffs
    # (--window 2) does not follow node-cluster.md's table: C4 and C5 are
    # handed out at once instead of queued. The demo must say so and fail.
    tmp = tempfile.mkdtemp(prefix="handoff-demo-test-")
    try:
        wrapper = os.path.join(tmp, "handoff")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {h.HANDOFF} "$@" --window 2\n')
        os.chmod(wrapper, 0o755)
        p = run_demo("burst", build=tmp)
        h.check(p.returncode == 1, f"exit {p.returncode}\n{p.stdout}")
        h.check(re.search(r"burst: expected C1->W1, C2->W2, C3->W3 and queue=\[C4,C5\] "
                          r"free=\[\]; got .* and queue=\[C5\] free=\[W2,W3\]",
                          unwrapped(p.stdout)), p.stdout)
        h.check("1 of 1 scenarios failed: burst" in p.stdout, p.stdout)
        check_nothing_left(p.stdout)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def _wrapped_build(tmp, body):
    """A build directory whose handoff is a shell script around the real
    one (<body> runs it), and whose handoffctl is the real one."""
    wrapper = os.path.join(tmp, "handoff")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\n{body}\n")
    os.chmod(wrapper, 0o755)
    os.symlink(HANDOFFCTL, os.path.join(tmp, "handoffctl"))
    return tmp


def test_busy_loop_fails_when_the_busy_worker_gets_more():
    # With --window 2, rr's busy worker may hold two unanswered handoffs,
    # so it is handed a second connection while it loops: not what
    # busy-loop claims. The demo must say so and fail.
    tmp = tempfile.mkdtemp(prefix="handoff-demo-test-")
    try:
        build = _wrapped_build(tmp, f'exec {h.HANDOFF} "$@" --window 2')
        p = run_demo("busy-loop", build=build)
        h.check(p.returncode == 1, f"exit {p.returncode}\n{p.stdout}")
        h.check(re.search(r"busy-loop: under rr the busy W1 should get exactly one "
                          r"connection, unanswered; they went (W\d, )*W1, (W\d, )*W1\b",
                          unwrapped(p.stdout)), p.stdout)
        check_nothing_left(p.stdout)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_why_none_skews_fails_without_a_queue_of_idle_workers():
    # A server that picks at random where rr was asked for: its choices no
    # longer follow the idle order, and the demo must say so and fail.
    tmp = tempfile.mkdtemp(prefix="handoff-demo-test-")
    try:
        build = _wrapped_build(tmp, f'exec {h.HANDOFF} $(echo "$@" | '
                               "sed 's/--policy rr/--policy random/')")
        p = run_demo("why-none-skews", build=build)
        h.check(p.returncode == 1, f"exit {p.returncode}\n{p.stdout}")
        h.check(re.search(r"why-none-skews: rr should always pick the worker free "
                          r"longest; places \[", unwrapped(p.stdout)), p.stdout)
        check_nothing_left(p.stdout)
    finally:
        subprocess.run(["rm", "-rf", tmp])


class Follower:
    """`handoffctl trace` in the background, its output collected."""

    def __init__(self, sock):
        # SIGINT as a terminal's Ctrl-C delivers it: a shell that starts
        # the tests in the background (`make test &`) leaves it ignored,
        # and an ignored signal stays ignored across exec.
        self.proc = subprocess.Popen([HANDOFFCTL, "--socket", sock, "trace"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                      signal.SIG_DFL))
        self.lines = []
        self.err = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err),
                         daemon=True).start()
        # handoffctl prints the master's "ok:" once the stream has begun.
        self.wait(r"^ok: following the master's trace$", self.err)

    def _read(self, pipe, into):
        for raw in pipe:
            with self.cond:
                into.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def wait(self, pattern, lines=None, timeout=10):
        lines = self.lines if lines is None else lines
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * h.SLOW
        with self.cond:
            while True:
                for l in lines:
                    m = rx.search(l)
                    if m:
                        return m
                left = deadline - time.monotonic()
                h.check(left > 0 and self.proc.poll() is None,
                        f"follower: no line matching {pattern!r}:\n"
                        + "\n".join(lines[-20:]))
                self.cond.wait(min(left, 0.5))

    def stop(self):
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        self.proc.wait(10 * h.SLOW)


def control_sock(tmp):
    return os.path.join(tmp, "ctl.sock")


def one_request(s):
    """A GET / on a new connection; the client's port."""
    with h.connect(s.port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        port = c.getsockname()[1]
        h.hello_pid(h.Reader(c).read_response())
    return port


def test_handoffctl_trace_follows():
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    f = None
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, workers=2)
        mark = s.mark()
        f = Follower(sock)
        # The workers hear that tracing is on before anything is handed out.
        s.wait_log(r"worker W\d+\[\d+\] info: trace on", start=mark, count=2)
        for _ in range(3):
            port = one_request(s)
            cid = f.wait(rf"master\[\d+\] trace: accept +C(\d+) fd=\d+ from "
                         rf"127\.0\.0\.1:{port} +queue=\[C\d+\] free=\[").group(1)
            f.wait(rf"trace: handoff +C{cid} -> W\d+ \(pid \d+\) +queue=\[\] free=\[")
            f.wait(rf"trace: sendmsg +-> W\d+: 1 message, 1 fd \(CONN C{cid}\)")
            f.wait(rf"trace: ack +C{cid} <- W\d+ accepted, master (?:closes|keeps) fd")
        # Only the master's lines are streamed.
        h.check(not any("worker W" in l for l in f.lines), "worker lines streamed")
        # `trace off` while followed: tracing stays on for the follower.
        p = subprocess.run([HANDOFFCTL, "--socket", sock, "trace", "off"],
                           capture_output=True, text=True, timeout=30)
        h.check(p.returncode == 0 and "once 1 follower leaves" in p.stdout, p)
        port = one_request(s)
        f.wait(rf"trace: accept +C\d+ fd=\d+ from 127\.0\.0\.1:{port} ")

        mark = s.mark()
        f.stop()
        h.check(not any(l.startswith("ok:") for l in f.lines), "the ok: line on stdout")
        # The follower gone, tracing is off again in the master and workers.
        s.wait_log(r"worker W\d+\[\d+\] info: trace off", start=mark, count=2)
        mark = s.mark()
        for _ in range(3):
            one_request(s)
        # accept and handoff lines precede the answer, so their absence
        # now is final.
        h.check(not re.search(r" trace: ", "\n".join(s.log().splitlines()[mark:])),
                "trace lines after the follower left:\n" + s.log()[-2000:])
    finally:
        if f is not None and f.proc.poll() is None:
            f.proc.kill()
        subprocess.run(["rm", "-rf", tmp])


def test_handoffctl_trace_keeps_trace_flag():
    # With --trace, tracing stays on after a follower leaves.
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, "--trace", workers=1)
        f = Follower(sock)
        port = one_request(s)
        f.wait(rf"trace: accept +C\d+ fd=\d+ from 127\.0\.0\.1:{port} ")
        f.stop()
        mark = s.mark()
        port = one_request(s)
        s.wait_log(rf"master\[\d+\] trace: accept +C\d+ fd=\d+ from 127\.0\.0\.1:{port} ",
                   start=mark)
        h.check("trace off" not in s.log(), "tracing was switched off")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_slow_follower_loses_lines_not_the_master():
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    lazy = None
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, workers=2)
        mark = s.mark()
        lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lazy.connect(sock)
        lazy.sendall(b"trace\n")
        s.wait_log(r"worker W\d+\[\d+\] info: trace on", start=mark, count=2)
        # About 6 lines of ~130 bytes per connection: far more than the
        # master keeps for a follower (64 KiB) plus the socket's buffer.
        start = time.monotonic()
        for _ in range(1500):
            one_request(s)
        took = time.monotonic() - start
        # Still answering the control socket while the follower sleeps.
        p = subprocess.run([HANDOFFCTL, "--socket", sock, "stats"], capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 0 and '"workers"' in p.stdout, p)
        sys.stderr.write(f"1500 connections with a stalled follower: {took:.1f} s\n")
        # Now read: a marker says how much was lost, and lines are whole.
        lazy.settimeout(10 * h.SLOW)
        data = b""
        deadline = time.monotonic() + 20 * h.SLOW
        while not re.search(rb"\n\.\.\. \d+ lines dropped\n", data):
            h.check(time.monotonic() < deadline, "no dropped-lines marker:\n"
                    + data[-2000:].decode(errors="replace"))
            chunk = lazy.recv(65536)
            h.check(chunk, "follower stream closed")
            data += chunk
        text = data.decode(errors="replace")
        h.check(text.startswith("ok: following the master's trace\n"), text[:200])
        lines = text.splitlines()[1:]
        bad = [l for l in lines if not re.match(
            r"(\d{4}-\d\d-\d\d \S+ master\[\d+\] trace: |\.\.\. \d+ lines dropped$)", l)]
        h.check(not bad, f"broken lines in the stream: {bad[:3]}")
        n = int(re.search(r"\.\.\. (\d+) lines dropped", text).group(1))
        h.check(n > 100, f"only {n} lines dropped")
        sys.stderr.write(f"follower got {len(lines)} lines, {n} dropped\n")
    finally:
        if lazy is not None:
            lazy.close()
        subprocess.run(["rm", "-rf", tmp])


def test_follower_gets_the_last_lines_at_stop():
    # A second SIGTERM stops the master at once; the worker, stopped with
    # a handoff it never acknowledged, is still in rotation, so reaping it
    # after the loop logs "down" and "reclaim": the follower gets them
    # before its stream closes.
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    c = f = None
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, "--grace", "60s", workers=1)
        mark = s.mark()
        f = subprocess.Popen([HANDOFFCTL, "--socket", sock, "trace"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        s.wait_log(r"worker W\d+\[\d+\] info: trace on", start=mark)
        os.kill(s.worker_pids()[0], signal.SIGSTOP)
        c = h.connect(s.port)
        s.wait_log(r"trace: sendmsg +-> W\d+: 1 message, 1 fd \(CONN C\d+\)",
                   start=mark)
        s.signal(signal.SIGTERM)
        s.wait_log(r"stopping gracefully", start=mark)
        s.signal(signal.SIGTERM)
        h.check(s.wait_exit() == 0, f"exit code {s.proc.returncode}")
        out, err = f.communicate(timeout=10 * h.SLOW)
        h.check(f.returncode == 0, f"follower exit {f.returncode}: {err!r}")
        got = out.decode(errors="replace").splitlines()
        traced = re.findall(r"\S+ \S+ master\[\d+\] trace: .*", s.log())
        h.check(any(" trace: reclaim " in l for l in traced), "no reclaim line")
        lost = [l for l in traced if l not in got]
        h.check(not lost, "lines the follower never got:\n" + "\n".join(lost))
    finally:
        if c is not None:
            c.close()
        if f is not None and f.poll() is None:
            f.kill()
        subprocess.run(["rm", "-rf", tmp])


def test_failed_upgrade_keeps_the_control_socket():
    # SIGUSR2: the new master binds the control socket's path as it
    # starts. Killed before it is ready, it leaves the old master serving,
    # which must be reachable by handoffctl again; its follower goes on.
    # The new master's worker never says READY (it waits, its pid in
    # hung.pid), so the new master cannot be ready when killed.
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    newpid = None
    lazy = None
    hung = os.path.join(tmp, "hung.pid")
    worker, hang = h.switched_worker(
        tmp, f"echo $$ > {hung}.new && mv {hung}.new {hung} && exec sleep 60")
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, "--worker-bin", worker, workers=1)
        lazy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lazy.connect(sock)
        lazy.sendall(b"trace\n")
        open(hang, "w").close()
        mark = s.mark()
        s.signal(signal.SIGUSR2)
        m = s.wait_log(r"master\[(\d+)\] info: control socket ", start=mark)
        newpid = int(m.group(1))
        h.check(newpid != s.pid, "the old master rebound its control socket")
        h.wait_until(lambda: os.path.exists(hung), what="the new master's worker")
        os.kill(newpid, signal.SIGKILL)
        s.wait_log(rf"the new master \(pid {newpid}\) exited", start=mark)
        p = subprocess.run([HANDOFFCTL, "--socket", sock, "stats"],
                           capture_output=True, text=True, timeout=30)
        h.check(p.returncode == 0 and f'"pid":{s.pid},' in p.stdout, p)
        # The follower from before the upgrade still follows.
        mark = s.mark()
        port = one_request(s)
        s.wait_log(rf"master\[\d+\] trace: accept +C\d+ fd=\d+ from "
                   rf"127\.0\.0\.1:{port} ", start=mark)
        lazy.settimeout(10 * h.SLOW)
        data = b""
        while f"127.0.0.1:{port} ".encode() not in data:
            chunk = lazy.recv(65536)
            h.check(chunk, "follower stream closed")
            data += chunk
    finally:
        if lazy is not None:
            lazy.close()
        if os.path.exists(hung):  # the new master's worker, orphaned
            with open(hung) as f:
                try:
                    os.kill(int(f.read()), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        subprocess.run(["rm", "-rf", tmp])


def test_follower_that_keeps_sending_is_closed():
    # A follower has nothing to say: a little input (a terminal's Enter)
    # is ignored, but one that keeps sending is closed rather than read
    # forever (a flooding follower kept the master reading, a core's worth).
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    c = None
    try:
        sock = control_sock(tmp)
        s = h.server("--control", sock, workers=1)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sock)
        c.settimeout(10 * h.SLOW)
        c.sendall(b"trace\n")
        data = c.recv(64)
        h.check(data.startswith(b"ok: following"), data)
        c.sendall(b"\r\n")
        port = one_request(s)
        while f"127.0.0.1:{port} ".encode() not in data:
            chunk = c.recv(65536)
            h.check(chunk, "the stream ended after a newline")
            data += chunk
        c.sendall(b"x" * 65536)
        # (load lines arrive every second: a deadline, not a recv timeout)
        deadline = time.monotonic() + 10 * h.SLOW
        while True:
            h.check(time.monotonic() < deadline,
                    "a follower that sent 64 KiB still follows")
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
        # Its place is free again: eight more can follow.
        socks = []
        for _ in range(8):
            f = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(f)
            f.connect(sock)
            f.sendall(b"trace\n")
            f.settimeout(10 * h.SLOW)
            h.check(f.recv(64).startswith(b"ok: following"), "follower refused")
        for f in socks:
            f.close()
    finally:
        if c is not None:
            c.close()
        subprocess.run(["rm", "-rf", tmp])


def test_followers_are_bounded():
    tmp = tempfile.mkdtemp(prefix="handoff-follow-")
    socks = []
    try:
        sock = control_sock(tmp)
        h.server("--control", sock, workers=1)
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(sock)
            c.sendall(b"trace\n")
            c.settimeout(10 * h.SLOW)
            h.check(c.recv(64).startswith(b"ok: following"), "follower refused")
            socks.append(c)
        p = subprocess.run([HANDOFFCTL, "--socket", sock, "trace"], capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 1 and "error: too many trace followers" in p.stderr, p)
    finally:
        for c in socks:
            c.close()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    h.main(globals())
