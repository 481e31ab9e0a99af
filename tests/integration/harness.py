"""Integration-test harness: starts the real handoff binary on 127.0.0.1 on
a port the kernel picks, follows its log, and talks HTTP to it over raw
sockets. Waiting is always for an observable condition (a log line, a
process state, a descriptor count) with a deadline, never a bare sleep.

A test file defines test_* functions and ends with harness.main(globals()).
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

BUILD = os.environ.get("HANDOFF_BUILD") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build")
HANDOFF = os.path.join(BUILD, "handoff")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "UndefinedBehaviorSanitizer")
# Sanitized builds are slower; deadlines stretch with them.
SLOW = 3.0 if "asan" in BUILD or "tsan" in BUILD else 1.0


class TestFailure(AssertionError):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise TestFailure(msg)


def wait_until(pred, timeout=10.0, what="condition", interval=0.01):
    """Polls pred() until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure(f"timed out waiting for {what}")
        time.sleep(interval)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _tcp_inodes(listening):
    """Inodes of the TCP sockets in /proc/net/tcp{,6} that listen, or
    (<listening> false) that are connections."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if (fields[3] == "0A") == listening:  # 0A: LISTEN
                        out.add(fields[9])
        except FileNotFoundError:
            pass
    return out


def sockets(pid):
    """(fd, inode) of every socket <pid> holds, by fd. Read from
    /proc/PID/fd alone: quick enough to take just before a kill."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            out.append((int(fd), target[8:-1]))
    return sorted(out)


def held_connections(pid):
    """How many TCP connections <pid> holds open."""
    conns = _tcp_inodes(listening=False)
    return sum(1 for _, inode in sockets(pid) if inode in conns)


def listening_sockets(pid):
    """Inodes of the TCP sockets <pid> holds that listen."""
    listeners = _tcp_inodes(listening=True)
    return {inode for _, inode in sockets(pid) if inode in listeners}


def rss_kib(pid):
    """<pid>'s resident set size (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise TestFailure(f"no VmRSS for process {pid}")


def free_port(host="127.0.0.1"):
    """A TCP port nothing is bound to right now, for a program that must be
    told one in advance (another may take it meanwhile: where a port 0 is
    possible, it is better)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def idle_fd_count(pid, timeout=10.0):
    """<pid>'s descriptor count once it holds no client connection (the
    master keeps one only until the worker's acknowledgement arrives)."""
    wait_until(lambda: held_connections(pid) == 0, timeout=timeout,
               what=f"process {pid} to release its connections")
    return fd_count(pid)


def alive(pid):
    """True while <pid> exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def children(pid):
    """Live child processes of <pid>, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(d))
    return sorted(out)


class Server:
    """One handoff master with its workers, stopped at the end of a test."""

    def __init__(self, *args, workers=2, wait_ready=True, host="127.0.0.1",
                 preexec_fn=None, env=None, binary=None, argv=None):
        # <argv>: the whole command line instead (then <workers> is only
        # how many to wait for).
        self.args = argv or [binary or HANDOFF, "--host", host, "--port", "0",
                             "--workers", str(workers), *args]
        self.workers = workers
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     preexec_fn=preexec_fn, env=env)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            m = self.wait_log(r"listening on (\S+):(\d+) ", timeout=10)
            self.host = host
            self.port = int(m.group(2))
            if wait_ready:
                self.wait_ready(workers)
        except BaseException:
            # Not yet in the test's list of servers: nobody else would stop it.
            sys.stderr.write("--- server log (did not start) ---\n" + self.log()[-4000:] + "\n")
            self.kill()
            raise

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF mark
            self.cond.notify_all()

    def log(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def wait_log(self, pattern, timeout=10.0, start=0, count=1):
        """Waits for the <count>-th line from index <start> matching
        <pattern>; returns its match object. Each line is looked at once
        (a busy --trace log has tens of thousands)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * SLOW
        i, seen = start, 0
        with self.cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    i += 1
                    if line is None:
                        continue
                    m = rx.search(line)
                    if m:
                        seen += 1
                        if seen == count:
                            return m
                left = deadline - time.monotonic()
                if left <= 0 or (self.lines and self.lines[-1] is None):
                    raise TestFailure(
                        f"no log line matching {pattern!r}; log:\n" + self.log()[-3000:])
                self.cond.wait(left)

    def mark(self):
        """An index into the log, for waiting on lines after this point."""
        with self.cond:
            return len(self.lines)

    def wait_ready(self, n, start=0):
        self.wait_log(r"worker W\d+ \(pid \d+\) ready", start=start, count=n,
                      timeout=15)

    def worker_pids(self):
        return children(self.pid)

    def ready_workers(self):
        """{worker id: pid} for every READY line so far."""
        out = {}
        for m in re.finditer(r"worker W(\d+) \(pid (\d+)\) ready", self.log()):
            out[int(m.group(1))] = int(m.group(2))
        return out

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=20.0):
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise TestFailure("master did not exit; log:\n" + self.log()[-3000:])

    def stop(self):
        """Graceful stop; returns the exit code."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit()

    def kill(self):
        pids = self.worker_pids() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def sanitizer_report(self):
        log = self.log()
        for mark in SANITIZER_MARKS:
            if mark in log:
                return log
        return None


def connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout * SLOW)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.version = version

    def header(self, name):
        vals = [v for k, v in self.headers if k == name.lower()]
        return vals[0] if vals else None

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:80]!r}>"


class Reader:
    """Reads HTTP/1.1 responses from a socket, one at a time."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for l in lines[1:]:
            k, v = l.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        resp = Response(int(status), reason, headers, b"", version)
        length = resp.header("content-length")
        if head or int(status) in (204, 304) or int(status) < 200:
            return resp
        check(length is not None, f"response without Content-Length: {resp}")
        n = int(length)
        while len(self.buf) < n:
            self._fill()
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def at_eof(self, timeout=5.0):
        """True if the peer closes (EOF or reset) with nothing more sent."""
        self.sock.settimeout(timeout * SLOW)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return self.buf == b""
                self.buf += data
        except ConnectionResetError:
            return self.buf == b""
        except socket.timeout:
            return False


def request(port, path="/", method="GET", headers=None, host="127.0.0.1",
            close=True, body=b""):
    """One request on a new connection; returns the Response."""
    hdrs = {"Host": "test"}
    if close:
        hdrs["Connection"] = "close"
    hdrs.update(headers or {})
    if body:
        hdrs["Content-Length"] = str(len(body))
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    with connect(port, host) as s:
        s.sendall(req.encode() + body)
        return Reader(s).read_response(head=(method == "HEAD"))


def hello_pid(resp):
    check(resp.status == 200, f"expected 200, got {resp}")
    m = re.match(rb"Hello from worker (\d+)\n$", resp.body)
    check(m is not None, f"unexpected body {resp.body!r}")
    return int(m.group(1))


_servers = []


def server(*args, **kw):
    """A Server torn down after the current test."""
    s = Server(*args, **kw)
    _servers.append(s)
    return s


def main(namespace):
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f)]
    only = os.environ.get("HANDOFF_TEST")
    failures = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        err = None
        try:
            fn()
        except Exception:
            err = traceback.format_exc()
        for s in _servers:
            if s.proc.poll() is None:
                # A graceful stop lets LeakSanitizer check every process.
                try:
                    s.signal(signal.SIGTERM)
                    s.proc.wait(15 * SLOW)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    if err is None:
                        err = "server did not stop on SIGTERM"
            if s.reader.is_alive():
                s.reader.join(5)
            if err is None:
                report = s.sanitizer_report()
                if report:
                    err = "sanitizer report in server log:\n" + report[-4000:]
            s.kill()
            if err is not None:
                sys.stderr.write(f"--- server log ({name}) ---\n{s.log()[-4000:]}\n")
        _servers.clear()
        if err is None:
            print(f"ok {name}", flush=True)
        else:
            failures += 1
            first = err.strip().splitlines()[-1]
            print(f"FAIL {name}: {first[:200]}", flush=True)
            sys.stderr.write(f"--- {name} ---\n{err}\n")
    sys.exit(1 if failures else 0)


class Wrk:
    """wrk in the background against 127.0.0.1:<port>; .result() parses."""

    def __init__(self, port, duration=4, conns=32, path="/", args=()):
        self.proc = subprocess.Popen(
            ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "5s", *args,
             f"http://127.0.0.1:{port}{path}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.duration = duration

    def result(self):
        out = self.proc.communicate(timeout=self.duration * 3 + 30)[0]
        total = int(re.search(r"(\d+) requests in", out).group(1))
        errs = {k: 0 for k in ("connect", "read", "write", "timeout")}
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                      r"timeout (\d+)", out)
        if m:
            errs = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return total, errs, int(m.group(1)) if m else 0, out

    def check_no_failures(self, what):
        total, errs, non2xx, out = self.result()
        sys.stderr.write(f"{what}: {total} requests, errors {errs}, non-2xx {non2xx}\n")
        check(total > 100, f"{what}: only {total} requests:\n{out}")
        check(sum(errs.values()) == 0 and non2xx == 0,
              f"{what}: failed requests: {errs}, non-2xx {non2xx}")
        return total


def kill_workers_under_load(s, workers, label, every=0.2, seconds=8, conns=32):
    """SIGKILLs a random worker of <s> every <every> s while wrk runs, and
    checks what the lossless handoff promises: the master survives, no
    timeout or connect error, every failed request was on a connection a
    killed worker held, the workers come back, and the master's
    descriptors return to where they were. Returns (kills, requests,
    errors, held)."""
    import random

    hello_pid(request(s.port, "/"))
    baseline = idle_fd_count(s.pid)
    stop = threading.Event()
    kills = []  # (pid, connections it held)

    def killer():
        rng = random.Random(7)
        tick = time.monotonic()
        while True:
            tick += every
            if stop.wait(max(0.0, tick - time.monotonic())):
                return
            pids = [p for p in s.worker_pids() if alive(p)]
            if not pids:
                continue
            victim = rng.choice(pids)
            try:
                # Its client connections: every socket but its channel.
                # (Not held_connections(): a scan of /proc/net/tcp is slow
                # enough for more connections to arrive before the kill.)
                held = len(sockets(victim)) - 1
                os.kill(victim, signal.SIGKILL)
                kills.append((victim, held))
            except (ProcessLookupError, FileNotFoundError):
                pass

    t = threading.Thread(target=killer)
    load = Wrk(s.port, duration=seconds, conns=conns)
    t.start()
    try:
        total, errs, non2xx, out = load.result()
    finally:
        stop.set()
        t.join()
    held = sum(k[1] for k in kills)
    errors = sum(errs.values())
    sys.stderr.write(f"{label}: {len(kills)} kills, {total} requests, errors {errs}, "
                     f"non-2xx {non2xx}, connections open on killed workers {held}\n")
    check(s.proc.poll() is None, "the master died")
    check(len(kills) >= 20, f"only {len(kills)} kills")
    check(total > 1000, f"only {total} requests served:\n{out}")
    check(non2xx == 0, f"{non2xx} non-2xx responses")
    check(errs["timeout"] == 0 and errs["connect"] == 0, f"errors {errs}")
    # every failed request was on a connection a killed worker held
    check(errors <= held + len(kills), f"{errors} errors, but killed workers held {held}")
    wait_until(lambda: len([p for p in s.worker_pids() if alive(p)]) == workers,
               timeout=20, what="the worker count to be restored")
    wait_until(lambda: held_connections(s.pid) == 0 and fd_count(s.pid) == baseline,
               what=f"master fd count back to {baseline}")
    hello_pid(request(s.port, "/"))
    return len(kills), total, errors, held
