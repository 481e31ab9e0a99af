#!/usr/bin/env python3
"""Unmodified Node.js cluster programs as handoff's workers (--node): the
C master speaks Node's cluster IPC (NODE_CHANNEL_FD, JSON lines,
queryServer, newconn in NODE_HANDLE with the fd) and the programs in
tests/integration/node/ run their worker branch under it, as they would
under Node's own primary. Driven from the outside: raw sockets, curl-like
requests, signals to the master by PID."""

import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
HELLO = os.path.join(NODE_DIR, "hello_cluster.js")
MESSAGES = os.path.join(NODE_DIR, "messages_cluster.js")


# handoff's preload is on by default; HANDOFF_NODE_PRELOAD=off runs every
# test here without it (test_node_preload.py does, to show that all works
# as before it).
PRELOAD = os.environ.get("HANDOFF_NODE_PRELOAD", "on") != "off"
PRELOAD_JS = os.path.join(os.path.dirname(h.HANDOFF), "handoff-preload.cjs")


def node_server(script, *args, workers=2, **kw):
    off = () if PRELOAD else ("--node-preload", "off")
    return h.server("--node", script, *off, *args, workers=workers, **kw)


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


def pids_by_worker_id(s):
    """{W id: pid} from the master's "Node worker Wn (pid p) started" lines."""
    return {int(m.group(1)): int(m.group(2)) for m in re.finditer(
        r"Node worker W(\d+) \(pid (\d+)\) started", s.log())}


def test_tutorial_program_runs_its_worker_branch():
    s = node_server(HELLO, workers=2)
    pids = s.worker_pids()
    h.check(len(pids) == 2, f"children: {pids}")
    for pid in pids:
        argv = cmdline(pid)
        # node [--require handoff-preload.cjs] SCRIPT: the program itself
        # is not changed.
        pre = [b"--require", PRELOAD_JS.encode()] if PRELOAD else []
        h.check(os.path.basename(argv[0]) == b"node" and argv[1:-1] == pre + [HELLO.encode()],
                f"worker {pid} runs {argv}")
        env = environ(pid)
        # What Node's cluster.fork() sets; Node deletes them from
        # process.env at start-up, /proc keeps the exec-time copy.
        h.check(env.get(b"NODE_CHANNEL_FD") == b"3", f"NODE_CHANNEL_FD: {env.get(b'NODE_CHANNEL_FD')}")
        h.check(env.get(b"NODE_UNIQUE_ID") in (b"1", b"2"), f"NODE_UNIQUE_ID {env.get(b'NODE_UNIQUE_ID')}")
        h.check(env.get(b"NODE_CHANNEL_SERIALIZATION_MODE") == b"json", "serialization")
        h.check(env.get(b"PORT") == str(s.port).encode(), f"PORT {env.get(b'PORT')}")
    # The primary branch never ran: it would have printed "Primary" and
    # forked grandchildren.
    h.check("Primary" not in s.log(), "the program ran its primary branch")
    for pid in pids:
        h.check(h.children(pid) == [], f"worker {pid} forked: {h.children(pid)}")
    # Node's own primary would have sent exactly these: online, then
    # queryServer answered with the key and the master's address.
    s.wait_log(r"worker W\d+ \(pid \d+\) online")
    s.wait_log(r"worker W\d+ \(pid \d+\) listening", count=2)


def test_sequential_connections_split_evenly():
    s = node_server(HELLO, workers=2)
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(20))
    h.check(sorted(served.values()) == [10, 10], f"per worker: {dict(served)}")
    h.check(set(served) == set(s.worker_pids()), f"{served} vs {s.worker_pids()}")


def test_keepalive_connection_stays_with_one_worker():
    s = node_server(HELLO, "--trace", workers=2)
    with h.connect(s.port) as c:
        r = h.Reader(c)
        pids = set()
        for _ in range(10):
            c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            pids.add(h.hello_pid(r.read_response()))
    h.check(len(pids) == 1, f"one connection, answers from {pids}")
    newconns = re.findall(r"ipc\s+-> W\d+ .*\"act\":\"newconn\"", s.log())
    h.check(len(newconns) == 1, f"{len(newconns)} newconn messages for one connection")


def test_trace_shows_nodes_handoff_timeline():
    # The sequence node-cluster.md describes, on the wire: newconn with
    # the fd, NODE_HANDLE_ACK, {ack, accepted:true}, then the master
    # closes its copy.
    s = node_server(HELLO, "--trace", workers=1)
    h.hello_pid(h.request(s.port, "/"))
    m = s.wait_log(r'ipc\s+-> W1 \{"cmd":"NODE_HANDLE","type":"net.Native",'
                   r'"msg":\{"cmd":"NODE_CLUSTER","act":"newconn","key":"null:\d+:4:undefined:0",'
                   r'"seq":(\d+)\}\} \+ fd \d+')
    seq = m.group(1)
    # The client may have its answer before the master has logged the
    # worker's lines: each is waited for, and they come in this order.
    at = []
    for line in (r'ipc\s+<- W1 \{"cmd":"NODE_HANDLE_ACK"\}',
                 r'ipc\s+<- W1 \{"cmd":"NODE_CLUSTER","ack":' + seq + r',"accepted":true',
                 r"ack\s+C1 <- W1 accepted, master closes fd"):
        at.append(s.log().index(s.wait_log(line).group(0)))
    h.check(s.log().index(m.group(0)) < at[0] < at[1] < at[2], f"out of order: {at}")


def test_stats_say_what_node_workers_do_not_report():
    # Without the preload Node workers send no load reports: /stats says
    # "unknown" (null) for those figures rather than 0, and /metrics
    # leaves their series out; what the master itself knows (handoffs) is
    # there. (With it: test_node_preload.py.)
    s = h.server("--node", HELLO, "--node-preload", "off", "--admin", "127.0.0.1:0",
                 workers=2)
    base = "http://" + s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)
    for _ in range(6):
        h.hello_pid(h.request(s.port, "/"))
    with urllib.request.urlopen(base + "/stats", timeout=10) as r:
        st = json.load(r)
    h.check(st["totals"]["requests_served"] is None, st["totals"])
    h.check(st["totals"]["connections_handed"] == 6, st["totals"])
    for w in st["workers"]:
        h.check(w["kind"] == "node" and w["requests_served"] is None
                and w["rss_kib"] is None and w["connections_handed"] == 3, w)
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    h.check(p.returncode == 0, f"promtool: {p.stdout}{p.stderr}")
    h.check("handoff_requests_total" not in text and "handoff_slot_rss_bytes{" not in text,
            text)
    h.check(re.search(r"^handoff_handoffs_total 6$", text, re.M), text)


def test_killed_worker_is_replaced():
    s = node_server(HELLO, workers=2)
    old = s.worker_pids()
    mark = s.mark()
    os.kill(old[0], signal.SIGKILL)
    s.wait_log(r"killed by signal 9", start=mark)
    s.wait_ready(1, start=mark)
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
    h.check(len(served) == 2 and old[0] not in served and old[1] in served,
            f"served by {dict(served)}; old {old}")


def open_until_handed_to(s, wid, tries=4):
    """Opens connections, each with a request, until the trace shows one
    handed to W<wid>; returns (all of them, that one)."""
    held = []
    for _ in range(tries):
        mark = s.mark()
        c = h.connect(s.port)
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        held.append(c)
        m = s.wait_log(r"handoff\s+C\d+ -> W(\d+)", start=mark)
        if int(m.group(1)) == wid:
            return held, c
    raise h.TestFailure(f"W{wid} was never handed a connection")


def test_unacknowledged_connection_survives_worker_death():
    # Node's gap (v0.x-archive #7006): a connection handed to a worker that
    # dies before accepting it is never closed nor served. Here the master
    # keeps its fd until the accept, so it goes to another worker.
    s = node_server(HELLO, "--trace", workers=2)
    wids = pids_by_worker_id(s)
    stopped_wid, stopped = min(wids.items())
    os.kill(stopped, signal.SIGSTOP)
    try:
        held, victim = open_until_handed_to(s, stopped_wid)
        mark = s.mark()
        os.kill(stopped, signal.SIGKILL)
        s.wait_log(r"reclaim\s+C\d+ from W%d" % stopped_wid, start=mark)
        pid = h.hello_pid(h.Reader(victim).read_response())
        h.check(pid != stopped, "answered by the dead worker?")
        for c in held:
            c.close()
    finally:
        try:
            os.kill(stopped, signal.SIGCONT)
        except ProcessLookupError:
            pass


def test_sigterm_drains_in_flight_requests():
    s = node_server(HELLO, "--trace", workers=2)
    c = h.connect(s.port)
    c.sendall(b"GET /slow?ms=700 HTTP/1.1\r\nHost: t\r\n\r\n")
    s.wait_log(r"ack\s+C1 <- W\d+ accepted")
    s.signal(signal.SIGTERM)
    s.wait_log(r"stopping gracefully")
    r = h.Reader(c).read_response()
    h.hello_pid(r)
    h.check(s.wait_exit() == 0, "master exit code")
    # Node's disconnect, or with the preload its drain, which ends in the
    # worker's own disconnect.
    told = r'"cmd":"NODE_HANDOFF","act":"drain"' if PRELOAD else \
        r'"cmd":"NODE_CLUSTER","act":"disconnect"'
    h.check(re.search(r'ipc\s+-> W\d+ \{' + told, s.log()), f"no {told} sent")
    h.check(len(re.findall(r"exited with code 0", s.log())) == 2, "workers did not exit 0")
    with socket.socket() as probe:
        h.check(probe.connect_ex(("127.0.0.1", s.port)) != 0, "still listening")


def test_process_send_is_logged_and_disconnect_replaces_the_worker():
    s = node_server(MESSAGES, workers=2)
    for wid, pid in pids_by_worker_id(s).items():
        s.wait_log(r'worker W%d \(pid %d\) message: \{"hello":%d,"id":%d\}' % (wid, pid, pid, wid))
    mark = s.mark()
    r = h.request(s.port, "/bye")
    h.check(r.status == 200 and r.body.startswith(b"Bye from worker"), f"{r}")
    bye = int(r.body.split()[-1])
    s.wait_log(r'message: \{"bye":%d' % bye, start=mark)
    s.wait_log(r"\(pid %d\) leaves: it disconnects" % bye, start=mark)
    s.wait_log(r"\(pid %d\) exited with code 0" % bye, start=mark)
    s.wait_ready(1, start=mark)
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
    h.check(len(served) == 2 and bye not in served, f"served by {dict(served)}")


def write_program(body):
    d = tempfile.mkdtemp(prefix="handoff-node-")
    path = os.path.join(d, "app.js")
    with open(path, "w") as f:
        f.write(body)
    return d, path


def test_listen_on_another_port_is_a_clear_error():
    d, path = write_program(
        "const http = require('http');\n"
        "http.createServer((q, r) => r.end('x')).listen(1);\n")
    try:
        s = node_server(path, workers=1, wait_ready=False)
        s.wait_log(r"called listen\(1\), but this master serves port %d \(--port\)" % s.port)
        # Node raises the listen error in the program, which exits; the
        # slot restarts with backoff, and since no worker ever listened
        # (a Node worker is ready once its queryServer is answered), the
        # master gives up after 5 attempts rather than restart it forever.
        s.wait_log(r"restarting slot 0 in \d+ ms", count=2)
        h.check(s.wait_exit(timeout=60) == 3, f"exit {s.proc.returncode}")
        s.wait_log(r"error: worker failed to boot \(%s\): 5 workers in a row exited "
                   r"before they were ready; giving up" % re.escape(path))
        h.check(len(re.findall(r"called listen\(1\)", s.log())) == 5, s.log())
    finally:
        shutil.rmtree(d)


def test_no_listening_worker_pauses_accepting():
    # A Node worker takes connections while its server listens. With its
    # only worker's server closed, the master stops accepting (a
    # connection waits in the kernel's backlog, not in the master) and
    # accepts again when the worker listens anew.
    d, path = write_program(
        "const http = require('http');\n"
        "const srv = http.createServer((q, r) => {\n"
        "  r.end(`${process.pid}\\n`);\n"
        "  if (q.url === '/close') srv.close();\n"
        "});\n"
        "process.on('SIGWINCH', () => srv.listen(process.env.PORT));\n"
        "srv.listen(process.env.PORT);\n")
    c = None
    try:
        s = node_server(path, "--admin", "127.0.0.1:0", workers=1)
        addr = s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)
        mark = s.mark()
        pid = int(h.request(s.port, "/close").body)
        s.wait_log(r"worker W1 \(pid \d+\) closed its server", start=mark)
        s.wait_log(r"warn: no worker is ready; accepting paused", start=mark)
        c = h.connect(s.port)
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        st = h.wait_until(lambda: (lambda m: m["accept_queue"] == 1 and m)(
            json.loads(urllib.request.urlopen(f"http://{addr}/stats", timeout=10).read())
            ["master"]), what="the connection in the kernel's backlog")
        h.check(st["accept_paused"] == "no_worker_ready" and st["accepted"] == 1
                and st["queued"] == 0 and st["workers_ready"] == 0, st)
        os.kill(pid, signal.SIGWINCH)  # listen again
        s.wait_log(r"info: a worker is ready again; accepting", start=mark)
        r = h.Reader(c).read_response()
        h.check(r.status == 200 and int(r.body) == pid, r)
    finally:
        if c is not None:
            c.close()
        shutil.rmtree(d)


def test_listen_zero_and_a_second_server():
    # listen(0) shares the master's port, as it shares the primary's one
    # in Node; a second server in the same worker gets EADDRINUSE, as a
    # second RoundRobinHandle would.
    d, path = write_program(
        "const http = require('http');\n"
        "const a = http.createServer((q, r) => r.end(`Hello from worker ${process.pid}\\n`));\n"
        "a.listen(0, () => {\n"
        "  process.send({port: a.address().port});\n"
        "  const b = http.createServer();\n"
        "  b.on('error', (e) => process.send({second: e.code}));\n"
        "  b.listen(0);\n"
        "});\n")
    try:
        s = node_server(path, workers=1)
        s.wait_log(r'message: \{"port":%d\}' % s.port)
        s.wait_log(r'message: \{"second":"EADDRINUSE"\}')
        h.hello_pid(h.request(s.port, "/"))
    finally:
        shutil.rmtree(d)


def test_policies_with_node_workers():
    for policy in ("cyclic", "least-loaded", "p2c", "random", "ip-hash"):
        s = node_server(HELLO, "--policy", policy, workers=2)
        served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
        h.check(sum(served.values()) == 10 and set(served) <= set(s.worker_pids()),
                f"{policy}: {dict(served)}")
        if policy == "cyclic":
            h.check(sorted(served.values()) == [5, 5], f"cyclic: {dict(served)}")
        h.check(s.stop() == 0, f"{policy}: exit code")


def test_none_policy_sends_nodes_shared_handle():
    # Node's SCHED_NONE: the queryServer answer carries the listening
    # socket and each worker accepts on it itself.
    s = node_server(HELLO, "--policy", "none", "--trace", workers=2)
    s.wait_log(r'ipc\s+-> W\d+ \{"cmd":"NODE_HANDLE","type":"net.Native","msg":'
               r'\{"cmd":"NODE_CLUSTER","errno":0,.* \+ fd \d+', count=2)
    master = h.listening_sockets(s.pid)
    h.check(len(master) == 1, f"master listeners {master}")
    for pid in s.worker_pids():
        h.wait_until(lambda: master <= {inode for _, inode in h.sockets(pid)},
                     what=f"worker {pid} to hold the listening socket")
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
    h.check(sum(served.values()) == 10, f"{served}")
    h.check("newconn" not in s.log(), "the master handed out connections under none")


def test_reuseport_gives_each_node_worker_its_socket():
    s = node_server(HELLO, "--policy", "reuseport", workers=2)
    held = [h.listening_sockets(pid) for pid in s.worker_pids()]
    h.check(all(len(x) == 1 for x in held) and held[0] != held[1], f"{held}")
    for _ in range(10):
        h.hello_pid(h.request(s.port, "/"))


def test_rolling_restart_of_node_workers():
    s = node_server(HELLO, workers=2)
    old = set(s.worker_pids())
    mark = s.mark()
    s.signal(signal.SIGHUP)
    s.wait_log(r"rolling restart done", start=mark)
    s.wait_log(r"exited with code 0", start=mark, count=2)
    new = set(s.worker_pids())
    h.check(not (old & new) and len(new) == 2, f"old {old}, now {new}")
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
    h.check(set(served) == new, f"{served}")


def test_flags_that_do_not_apply_and_bad_paths():
    cases = [
        (["--node", HELLO, "--root", "/tmp"], 2, "--root configures handoff's own workers"),
        (["--node", HELLO, "--max-body", "1k"], 2, "--max-body configures handoff's own workers"),
        (["--node", HELLO, "--access-log", "-"], 2, "--access-log configures"),
        (["--node-bin", "/usr/bin/node"], 2, "--node-bin needs --node SCRIPT"),
        (["--node", "/nonexistent/app.js"], 1, "--node /nonexistent/app.js: No such file"),
        (["--node", HELLO, "--node-bin", "/nonexistent/node"], 1,
         "--node-bin /nonexistent/node: No such file"),
        (["--node", ""], 2, "--node needs a script"),
        (["--node", HELLO, "--node-preload", "maybe"], 2,
         "invalid value 'maybe' for --node-preload (expected on or off)"),
        (["--node-preload", "off"], 2, "--node-preload needs --node SCRIPT"),
    ]
    for args, code, msg in cases:
        p = subprocess.run([h.HANDOFF, "--port", "0", *args], capture_output=True,
                           text=True, timeout=10)
        h.check(p.returncode == code, f"{args}: exit {p.returncode}, {p.stderr!r}")
        h.check(msg in p.stderr and len(p.stderr.strip().splitlines()) == 1,
                f"{args}: {p.stderr!r}")


def as_nobody():
    """preexec_fn: run as nobody when the tests run as root, who reads a
    file of mode 000 anyway (the error is about what a user would see)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def test_unreadable_script_is_permission_denied():
    # The check for SCRIPT.js (node's own fallback) reported ENOENT for a
    # script that exists but cannot be read.
    d = tempfile.mkdtemp(prefix="handoff-node-")
    try:
        os.chmod(d, 0o755)
        app = os.path.join(d, "app.js")
        shutil.copy(HELLO, app)
        os.chmod(app, 0)
        bare = os.path.join(d, "app")  # found as app.js, as node would
        for script, msg in ((app, f"--node {app}: Permission denied"),
                            (bare, f"--node {bare}: {app}: Permission denied")):
            p = subprocess.run([h.HANDOFF, "--host", "127.0.0.1", "--port", "0",
                                "--control", "none", "--node", script],
                               capture_output=True, text=True, timeout=10 * h.SLOW,
                               preexec_fn=as_nobody)
            h.check(p.returncode == 1, f"{script}: exit {p.returncode}, {p.stderr!r}")
            lines = p.stderr.strip().splitlines()
            h.check(len(lines) == 1 and msg in lines[0], f"{script}: {p.stderr!r}")
    finally:
        shutil.rmtree(d)


def test_node_on_path_and_script_arguments():
    # `node` is found on PATH; what follows -- goes to the script.
    d, path = write_program(
        "const http = require('http');\n"
        "http.createServer((q, r) => r.end(JSON.stringify(process.argv.slice(2)) + '\\n'))"
        ".listen(process.env.PORT);\n")
    try:
        s = node_server(path, "--", "--flag", "two words", workers=1)
        r = h.request(s.port, "/")
        h.check(json.loads(r.body) == ["--flag", "two words"], f"{r.body!r}")
    finally:
        shutil.rmtree(d)


FAKE = os.path.join(NODE_DIR, "fake_node.py")


def fake_server(mode, *args, workers=1):
    env = dict(os.environ, FAKE_MODE=mode)
    return node_server(HELLO, "--node-bin", FAKE, *args, workers=workers, env=env)


def test_misbehaving_worker_does_not_hurt_the_master():
    # Lines no Node would send: the master logs and drops each, answers
    # handles as Node would, and keeps serving.
    s = fake_server("garbage", workers=2)
    s.wait_log(r"sent a line that is not JSON; ignored: this is not json", count=2)
    s.wait_log(r"sent a message over 1048576 bytes; dropped", count=2)
    s.wait_log(r"message: \[1,2,3\]", count=2)
    s.wait_log(r"answered message 999, which is no connection it holds", count=2)
    s.wait_log(r"fake worker got NODE_HANDLE_NACK", count=2)
    s.wait_log(r"fake worker got NODE_HANDLE_ACK", count=2)
    s.wait_log(r"fake worker: the master closed the handle", count=2)
    s.wait_log(r'message with a handle \(closed: the master keeps none\): .*"with fd"', count=2)
    s.wait_log(r"over 20 messages a second; the rest of this second's are counted",
               count=2)
    s.wait_log(r"queryServer without seq; ignored", count=4)
    s.wait_log(r"asked for address \?, but this master listens on", count=2)
    s.wait_log(r"asked to listen on a file descriptor", count=2)
    s.wait_log(r"asked for a UDP socket", count=2)
    s.wait_log(r"acknowledged a handle never sent", count=2)
    base = h.idle_fd_count(s.pid)
    served = collections.Counter(h.hello_pid(h.request(s.port, "/")) for _ in range(10))
    h.check(sorted(served.values()) == [5, 5], f"{dict(served)}")
    # The handles the workers sent were closed, and so were the
    # connections' copies.
    h.check(h.idle_fd_count(s.pid) == base, f"master fds {h.idle_fd_count(s.pid)} != {base}")
    # What was counted and not shown is told, at the latest when the
    # worker's channel closes.
    h.check(s.stop() == 0, "master exit code")
    s.wait_log(r"W\d \(pid \d+\): \d+ more messages? not shown", count=2)


def test_worker_lines_cannot_forge_log_lines():
    # The garbage worker puts "\n" (escaped) in a queryServer's address,
    # which the master logs, and a raw "\r" and an escape sequence in a
    # line, which --trace shows: the log gets "?" instead of each.
    s = fake_server("garbage", "--trace", workers=1)
    s.wait_log(r"asked for address x\?FORGED by the worker, but this master listens on")
    s.wait_log(r'ipc\s+<- W1 \{"cmd":"x\?\[2J\?FORGED raw"\}')
    s.wait_log(r"fake worker got NODE_HANDLE_ACK")
    log = s.log()
    h.check(not re.search(r"^FORGED", log, re.M), "a worker forged a log line")
    h.check("\x1b" not in log and "\r" not in log, "control characters in the log")


def test_worker_leaving_on_its_own_is_not_told_to_disconnect():
    # A worker that said exitedAfterDisconnect (its servers closed) calls
    # process.disconnect() once answered. Told to disconnect as well (a
    # stop in between), Node's worker (child.js _disconnect) calls it a
    # second time, which throws ERR_IPC_DISCONNECTED: a stack trace and
    # exit code 1. The stand-in keeps its channel open to see.
    s = fake_server("leaving", "--grace", "3s", workers=2)
    s.wait_log(r"fake worker: acknowledged, leaving")
    s.wait_log(r"worker W1 \(pid \d+\) leaves: it disconnects")
    s.signal(signal.SIGTERM)
    s.wait_log(r"grace period over; killing 1 remaining worker")
    s.wait_exit()
    h.check("after leaving got" not in s.log(), "the master told a leaving worker to disconnect")


def test_worker_flooding_its_channel_cannot_swell_the_master():
    # Each NODE_HANDLE without an fd asks for a NACK. W1 writes them without
    # end and never reads its channel: the master must neither queue
    # answers without end (it stops reading W1 while what waits for it is
    # over a bound, so W1's writes stall) nor spend its time on them (an
    # answer used to be placed by walking all those queued before it).
    # W2 serves meanwhile.
    env = dict(os.environ, FAKE_MODE="flood")
    s = node_server(HELLO, "--node-bin", FAKE, workers=2, env=env, wait_ready=False)
    s.wait_log(r"worker W2 \(pid \d+\) ready")
    m = s.wait_log(r"fake worker: flood (\w+) after (\d+) bytes", timeout=60)
    rss = h.rss_kib(s.pid)
    h.check(m.group(1) == "stalled" and int(m.group(2)) < 16 << 20,
            f"the master took {m.group(2)} bytes of a flood ({m.group(1)}); RSS {rss} KiB")
    s.wait_log(r"worker W1 \(pid \d+\) does not read its channel")
    for _ in range(5):
        h.hello_pid(h.request(s.port, "/"))
    h.check(h.alive(s.pid), "master died")


def test_answer_written_in_parts_keeps_its_one_fd():
    # Under none the queryServer answer is a NODE_HANDLE line with the
    # listening socket and, here, 60 kB of data. Each worker asks for
    # thousands of NACKs first (a different number each, as where the
    # writes stall depends on it) and reads slowly: the master's writes meet
    # a full socket and resume, and in some workers the answer's own
    # sendmsg() is cut (strace shows 36544 of its 60140 bytes written
    # with the fd, the rest following without). Every worker must get
    # every line whole and the socket once.
    env = dict(os.environ, FAKE_MODE="slowread")
    s = node_server(HELLO, "--node-bin", FAKE, "--policy", "none", workers=8, env=env)
    s.wait_log(r"fake worker: slowread", count=8, timeout=60)
    found = re.findall(r"fake worker: slowread: (\d+) of (\d+) NACKs, (\d+) fds, "
                       r"answer intact: (\w+)", s.log())
    # W1 to W8, none restarted (a worker that met a broken line died).
    h.check(sorted(int(f[1]) for f in found) == list(range(9000, 17000, 1000)), f"{found}")
    for got, asked, fds, intact in found:
        h.check(got == asked and fds == "1" and intact == "True", f"{found}")
    h.hello_pid(h.request(s.port, "/"))


def test_nacked_connection_is_not_lost():
    # Node loses a newconn whose fd did not arrive; here it is handed again.
    s = fake_server("nack", "--trace", workers=1)
    r = h.request(s.port, "/")
    h.hello_pid(r)
    s.wait_log(r"did not receive the fd of C1 \(NODE_HANDLE_NACK\); it goes to the queue tail")
    # The second handoff is logged just before the answer: the log reader
    # may not have it yet when the answer is in.
    s.wait_log(r"handoff\s+C1 -> W1", count=2)
    h.check(len(re.findall(r"handoff\s+C1 -> W1", s.log())) == 2, "C1 handed twice")


def test_refused_connection_goes_to_the_queue_tail():
    s = fake_server("refuse", "--trace", workers=1)
    h.hello_pid(h.request(s.port, "/"))
    s.wait_log(r"refuse\s+C1 <- W1 refused, back to the queue tail")
    s.wait_log(r"ack\s+C1 <- W1 accepted")


def test_answer_for_a_connection_not_yet_sent_is_ignored():
    # With a window, several newconns wait behind the one in flight; an
    # answer naming one of them must not make the master close its fd.
    s = fake_server("guess", "--policy", "cyclic", workers=1)
    results = []

    def client():
        try:
            results.append(h.hello_pid(h.request(s.port, "/")))
        except Exception as e:  # reported below
            results.append(e)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    h.check(len(results) == 8 and all(isinstance(r, int) for r in results), f"{results}")
    s.wait_log(r"answered message \d+, which is no connection it holds; ignored")


def test_worker_that_never_answers_is_killed_and_its_connection_served():
    s = fake_server("silent", "--trace", "--worker-timeout", "1s", workers=2)
    wids = pids_by_worker_id(s)
    # Until W1 has been handed a connection, the others go to W2.
    held, victim = open_until_handed_to(s, 1)
    s.wait_log(r"worker W1 \(pid %d\) silent for [\d.]+ s \(--worker-timeout\); killing it"
               % wids[1])
    pid = h.hello_pid(h.Reader(victim).read_response())
    h.check(pid != wids[1], "answered by the silent worker")
    for c in held:
        c.close()


def express_dir():
    """build/node-express: the Express program and express from npm."""
    # One install serves the normal and the sanitizer runs.
    d = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "node-express")
    os.makedirs(d, exist_ok=True)
    for name in ("express_cluster.js", "package.json"):
        shutil.copy(os.path.join(NODE_DIR, name), d)
    if not os.path.isdir(os.path.join(d, "node_modules", "express")):
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=d, capture_output=True, text=True, timeout=300)
        h.check(p.returncode == 0, f"npm install express failed:\n{p.stdout}\n{p.stderr}")
    return d


def test_node_worker_kills_under_load():
    # test_faults.py's kill -9 every 200 ms, with real Node workers: the
    # master never dies, no request times out (a connection a killed
    # worker had not yet accepted goes to another), every failed request
    # was on a connection a killed worker held, and the master's
    # descriptors come back to where they were.
    workers = 4
    s = node_server(HELLO, workers=workers)
    h.kill_workers_under_load(s, workers, "node faults")


def test_express_app_under_load():
    d = express_dir()
    s = node_server(os.path.join(d, "express_cluster.js"), workers=2)
    served = collections.Counter()
    for _ in range(20):
        r = h.request(s.port, "/")
        h.check(r.status == 200 and json.loads(r.body) == {"success": True}, f"{r}")
        served[int(r.header("x-worker-pid"))] += 1
    h.check(sorted(served.values()) == [10, 10], f"per worker: {dict(served)}")
    w = h.Wrk(s.port, duration=3, conns=16)
    w.check_no_failures("express under handoff")


if __name__ == "__main__":
    h.main(globals())
