"""Integration-test harness: starts the real handoff binary on 127.0.0.1 on
a port the kernel picks, follows its log, and talks HTTP to it over raw
sockets. Waiting is always for an observable condition (a log line, a
process state, a descriptor count) with a deadline, never a bare sleep.

A test file defines test_* functions and ends with harness.main(globals()).
A test gets a server of its own from server(), stopped after it; tests
that only send requests share one from shared_server() (as redis's
start_server blocks do), checked after each of them.
"""

import contextlib
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


def _other_inodes():
    """Inodes of the sockets that are not TCP: UNIX, UDP, netlink."""
    out = set()
    for table, col in (("/proc/net/unix", 6), ("/proc/net/udp", 9), ("/proc/net/udp6", 9),
                       ("/proc/net/netlink", 8)):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > col:
                        out.add(fields[col])
        except FileNotFoundError:
            pass
    return out


def held_connections(pid):
    """How many TCP connections <pid> holds a descriptor of, ended ones
    included (the master keeps its descriptor of a connection its worker
    has closed until the worker's next load report; such a socket is no
    longer in /proc/net/tcp)."""
    other = _tcp_inodes(listening=True) | _other_inodes()
    return sum(1 for _, inode in sockets(pid) if inode not in other)


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


@contextlib.contextmanager
def upgraded(server, timeout=15):
    """SIGUSR2 to <server>: yields the new master's pid once it says it
    is ready, and stops that master (SIGTERM) when the block ends, as the
    harness stops only the masters it started."""
    server.signal(signal.SIGUSR2)
    pid = int(server.wait_log(r"the new master \(pid (\d+)\) is ready",
                              timeout=timeout).group(1))
    try:
        yield pid
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not alive(pid), what="the new master to stop")


def switched_worker(tmp, instead):
    """A --worker-bin that is the real worker until <tmp>/switch exists,
    and from then on runs the shell line <instead> (a broken deploy, a
    worker that never says READY). Returns (its path, the switch's path)."""
    path = os.path.join(tmp, "worker.sh")
    switch = os.path.join(tmp, "switch")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                f"if [ -e {switch} ]; then {instead}; fi\n"
                f"exec {os.path.join(BUILD, 'handoff-worker')} \"$@\"\n")
    os.chmod(path, 0o755)
    return path, switch


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


def connectable(port, host="127.0.0.1", timeout=1.0):
    """Whether something accepts a TCP connection on <port> now."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def read_to_eof(sock):
    """Everything <sock> receives until its peer closes."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


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


def fd_count_outside(pid, root):
    """<pid>'s descriptors but those of files under directory <root> (a
    worker's open-file cache keeps files of --root open between
    requests); all of them when <root> is None."""
    if root is None:
        return fd_count(pid)
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if not target.startswith(root + os.sep):
            n += 1
    return n


class _Shared:
    """One shared Server, its workers and their descriptor counts before
    any client came: a test that leaves a connection open, or leaks a
    descriptor, leaves a count above. (Files under --root are not
    counted: the workers' open-file cache holds them, bounded.)"""

    def __init__(self, name, args, kw):
        self.name = name
        self.server = Server(*args, **kw)
        self.users = []
        self.root = (os.path.realpath(args[args.index("--root") + 1])
                     if "--root" in args else None)
        try:
            self.workers = self.server.worker_pids()
            self.fds = {pid: self.count(pid) for pid in [self.server.pid, *self.workers]}
        except BaseException:
            self.server.kill()
            raise

    def count(self, pid):
        return fd_count_outside(pid, self.root)


class SharedServer:
    """A test's view of a shared Server: the log starts where the test
    began (log(), mark() and wait_log()'s start count from there), and
    what would change the server for the tests after it is refused."""

    def __init__(self, shared):
        self._shared = shared
        self._server = shared.server
        self._base = shared.server.mark()

    def __getattr__(self, name):
        return getattr(self._server, name)  # port, pid, worker_pids()...

    def log(self):
        with self._server.cond:
            return "\n".join(l for l in self._server.lines[self._base:] if l is not None)

    def mark(self):
        return self._server.mark() - self._base

    def wait_log(self, pattern, timeout=10.0, start=0, count=1):
        return self._server.wait_log(pattern, timeout, self._base + start, count)

    def wait_ready(self, n, start=0):
        self.wait_log(r"worker W\d+ \(pid \d+\) ready", start=start, count=n, timeout=15)

    def _refuse(self, *args, **kw):
        raise TestFailure("a shared server is not to be signalled or stopped: "
                          "a test that does so starts its own with server()")

    signal = stop = kill = wait_exit = _refuse


_shared = {}  # (args, kw) -> _Shared, for this file
# How long a shared server may take after a test to close what the test
# left (a worker reading the client's EOF, say).
SHARED_IDLE_TIMEOUT = 5.0
_views = []   # the SharedServers handed to the current test


def shared_server(*args, **kw):
    """A Server with these arguments (as for server()) that every test of
    this file asking for the same ones shares: started for the first,
    stopped at the end of the file. After each test that used it, the
    test fails unless the master and the same workers are alive, back to
    the descriptors they held idle at the start, and the log since the
    test began has no sanitizer report; then, or if the test failed, the
    server is stopped and the next test gets a fresh one. A test that
    kills workers, signals the master, changes its state (a setting, a
    counter it reads) or reads the log from its start keeps its own
    server()."""
    key = repr((args, sorted(kw.items())))
    if key not in _shared:
        name = " ".join([*map(str, args), *(f"{k}={v}" for k, v in sorted(kw.items()))])
        _shared[key] = _Shared(name, args, kw)
    sh = _shared[key]
    view = SharedServer(sh)
    _views.append(view)
    return view


def _stop(s):
    """Stops <s> gracefully (so that LeakSanitizer checks every process);
    returns what went wrong, or None."""
    err = None
    if s.proc.poll() is None:
        try:
            s.signal(signal.SIGTERM)
            s.proc.wait(15 * SLOW)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            err = "server did not stop on SIGTERM"
    if s.reader.is_alive():
        s.reader.join(5)
    if err is None:
        report = s.sanitizer_report()
        if report:
            err = "sanitizer report in server log:\n" + report[-4000:]
    s.kill()
    return err


def _shared_after_test(sh, base):
    """What a test left wrong in shared server <sh>, or None."""
    s = sh.server
    if s.proc.poll() is not None:
        return f"the shared master exited ({s.proc.returncode})"
    workers = s.worker_pids()
    if workers != sh.workers:
        return (f"the shared server's workers changed from {sh.workers} to {workers}: "
                "a test that kills or replaces workers needs its own server()")

    def fds():
        # (Not held_connections(): with the tens of thousands of TIME_WAIT
        # sockets a busy machine has, each scan of /proc/net/tcp takes
        # tens of milliseconds.)
        try:
            return {p: sh.count(p) for p in sh.fds}
        except OSError:
            return None  # one has gone

    try:
        wait_until(lambda: fds() == sh.fds, timeout=SHARED_IDLE_TIMEOUT,
                   what="the shared server to be idle")
    except TestFailure:
        return (f"the shared server did not come back to idle: descriptors {fds()}, "
                f"at the start {sh.fds}")
    with s.cond:
        since = "\n".join(l for l in s.lines[base:] if l is not None)
    for mark in SANITIZER_MARKS:
        if mark in since:
            return "sanitizer report in the shared server's log:\n" + since[-4000:]
    return None


def _retire(sh, why):
    """Stops shared server <sh> for good; the next test asking gets another."""
    for key, v in list(_shared.items()):
        if v is sh:
            del _shared[key]
    err = _stop(sh.server)
    sys.stderr.write(f"--- shared server log ({sh.name}; {why}) ---\n"
                     f"{sh.server.log()[-4000:]}\n")
    if err is not None:
        sys.stderr.write(f"--- and at its stop ---\n{err}\n")


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
            stop_err = _stop(s)
            err = err or stop_err
            if err is not None:
                sys.stderr.write(f"--- server log ({name}) ---\n{s.log()[-4000:]}\n")
        _servers.clear()
        seen = set()
        for view in _views:
            sh = view._shared
            if id(sh) in seen:
                continue
            seen.add(id(sh))
            sh.users.append(name)
            err = err or _shared_after_test(sh, view._base)
            if err is not None:
                _retire(sh, f"after {name}")
        _views.clear()
        if err is None:
            print(f"ok {name}", flush=True)
        else:
            failures += 1
            first = err.strip().splitlines()[-1]
            print(f"FAIL {name}: {first[:200]}", flush=True)
            sys.stderr.write(f"--- {name} ---\n{err}\n")
    # What only shows at exit (LeakSanitizer) can be told of a shared
    # server only here, for the tests that used it together.
    for sh in list(_shared.values()):
        err = _stop(sh.server)
        if err is not None:
            failures += 1
            print(f"FAIL shared_server({sh.name}): {err.strip().splitlines()[-1][:160]} "
                  f"(used by {', '.join(sh.users)})", flush=True)
            sys.stderr.write(f"--- shared server log ({sh.name}) ---\n{sh.server.log()[-4000:]}\n"
                             f"--- shared_server({sh.name}) ---\n{err}\n")
    _shared.clear()
    for fn in _at_end:
        fn()
    sys.exit(1 if failures else 0)


_at_end = []


def at_end(fn):
    """Calls fn() once every test of the file has run and the shared
    servers are stopped (to remove what they served, say)."""
    _at_end.append(fn)


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
