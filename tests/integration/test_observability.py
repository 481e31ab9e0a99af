#!/usr/bin/env python3
"""Observability: /stats checked against the traffic sent, counters that
survive worker restarts, /metrics accepted by promtool, the dashboard in
headless Chromium, and handoffctl over the control socket."""

import base64
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def admin_addr(s):
    return s.wait_log(r"admin listening on http://([0-9.]+:\d+)/").group(1)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        h.check(r.headers["Content-Type"] == "application/json", r.headers)
        return json.load(r)


def test_stats_match_the_traffic():
    s = h.server("--admin", "0", workers=2)
    base = f"http://{admin_addr(s)}"
    for _ in range(25):
        h.hello_pid(h.request(s.port, "/"))
    st = h.wait_until(lambda: (lambda j: j if j["totals"]["requests_served"] == 25 else None)(
        get_json(base + "/stats")), what="25 requests in /stats")
    m = st["master"]
    h.check(m["accepted"] == 25 and m["handoffs"] == 25 and m["acknowledged"] == 25, m)
    h.check(m["queued"] == 0 and m["refusals"] == 0 and m["workers"] == 2, m)
    h.check(st["policy"] == "rr" and st["pid"] == s.pid, st)
    ws = st["workers"]
    h.check(sorted(w["pid"] for w in ws) == sorted(s.worker_pids()), ws)
    h.check(sum(w["requests_served"] for w in ws) == 25, ws)
    h.check(sorted(w["connections_handed"] for w in ws) == [12, 13], ws)  # rr
    for w in ws:
        h.check(w["state"] == "ready" and w["rss_kib"] > 0 and w["open_connections"] == 0, w)
        for key in ("id", "slot", "requests_in_flight", "loop_lag_ms", "restarts"):
            h.check(key in w, f"{key} missing")
    h.check("accept_queue" in m and m["accept_queue_max"] == 511, m)
    # counters stay monotonic across a worker's death
    victim = ws[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    s.wait_ready(3)
    st2 = get_json(base + "/stats")
    h.check(st2["totals"]["requests_served"] == 25, st2["totals"])
    h.check(st2["totals"]["connections_handed"] == 25, st2["totals"])
    h.check(st2["master"]["worker_exits"] == 1, st2["master"])
    restarted = [w for w in st2["workers"] if w["slot"] == ws[0]["slot"]]
    h.check(restarted and restarted[0]["restarts"] == 1, st2["workers"])
    # a draining worker shows as such, and the admin answers HEAD / 404 / 405
    req = urllib.request.Request(base + "/stats", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as r:
        h.check(r.status == 200 and r.read() == b"")
    for path, code in (("/nope", 404),):
        try:
            urllib.request.urlopen(base + path, timeout=10)
            h.check(False, f"{path} answered 200")
        except urllib.error.HTTPError as e:
            h.check(e.code == code, f"{path}: {e.code}")


def raw_admin(addr, data, shut=False):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as c:
        c.sendall(data)
        if shut:
            c.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = c.recv(65536)  # a reset here would raise
            if not chunk:
                return out
            out += chunk


def test_admin_edge_requests():
    s = h.server("--admin", "0", workers=1)
    addr = admin_addr(s)
    r = raw_admin(addr, b"HEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n")
    h.check(r.startswith(b"HTTP/1.1 404") and r.endswith(b"\r\n\r\n"), r)
    r = raw_admin(addr, b"GET /stats HTTP/1.1\nHost: a\n\n")  # bare LF
    h.check(r.startswith(b"HTTP/1.1 200") and b'"policy"' in r, r[:200])
    r = raw_admin(addr, b" / HTTP/1.1\r\n\r\n")
    h.check(r.startswith(b"HTTP/1.1 400"), r)
    # too large: the whole 431 arrives, not a reset
    r = raw_admin(addr, b"GET /stats HTTP/1.1\r\nX: " + b"a" * 10000 + b"\r\n\r\n")
    h.check(r.startswith(b"HTTP/1.1 431"), r[:100])
    r = raw_admin(addr, b"POST /stats HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    h.check(r.startswith(b"HTTP/1.1 405"), r[:100])


def test_metrics_pass_promtool():
    s = h.server("--admin", "127.0.0.1:0", workers=2)
    base = f"http://{admin_addr(s)}"
    for _ in range(10):
        h.request(s.port, "/")
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        h.check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers)
        text = r.read().decode()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    h.check(p.returncode == 0, f"promtool: {p.stdout}{p.stderr}")
    h.check(re.search(r"^handoff_connections_accepted_total 10$", text, re.M), text[:500])
    for name in ("handoff_http_requests_total", "handoff_http_request_duration_seconds_bucket",
                 "handoff_http_received_bytes_total", "handoff_worker_restarts_total",
                 "handoff_build_info", "process_cpu_seconds_total", "process_open_fds"):
        h.check(re.search(rf"^{name}\b", text, re.M), f"no {name}")
    slots = re.findall(r'^handoff_slot_requests_total\{slot="(\d)"\} (\d+)$', text, re.M)
    h.check(len(slots) == 2, slots)


def metrics(base):
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        return r.read().decode()


def series(text, name):
    """{labels: value} of the samples of <name> in <text>."""
    out = {}
    for m in re.finditer(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", text, re.M):
        out[m.group(1) or ""] = float(m.group(2))
    return out


def test_metrics_count_what_was_sent():
    # Status classes by listener, a latency histogram measured in the
    # workers, bytes in and out: the counts match the requests sent.
    s = h.server("--admin", "127.0.0.1:0", workers=2)
    base = f"http://{admin_addr(s)}"
    sent = received = 0
    for path, n in (("/", 30), ("/missing", 5)):
        for _ in range(n):
            raw = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
            with h.connect(s.port) as c:
                c.sendall(raw)
                sent += len(raw)
                data = h.read_to_eof(c)
                received += len(data)
    text = h.wait_until(lambda: (lambda t: t if series(
        t, "handoff_http_request_duration_seconds_count").get("") == 35 else None)(
        metrics(base)), what="35 requests in the histogram")
    codes = series(text, "handoff_http_requests_total")
    lis = f"127.0.0.1:{s.port}"
    h.check(codes == {f'{{listener="{lis}",code="{k}xx"}}': v for k, v in
                      ((1, 0), (2, 30), (3, 0), (4, 5), (5, 0))}, codes)
    buckets = series(text, "handoff_http_request_duration_seconds_bucket")
    les = [float(k[5:-2]) if "Inf" not in k else float("inf") for k in buckets]
    counts = list(buckets.values())
    h.check(les == sorted(les) and les[-1] == float("inf") and len(les) == 16, buckets)
    h.check(counts == sorted(counts) and counts[-1] == 35, buckets)
    total = series(text, "handoff_http_request_duration_seconds_sum")[""]
    h.check(0 < total < 35 * 1.0, f"sum {total}")
    h.check(series(text, "handoff_http_received_bytes_total")[""] == sent,
            (sent, series(text, "handoff_http_received_bytes_total")))
    h.check(series(text, "handoff_http_sent_bytes_total")[""] == received,
            (received, series(text, "handoff_http_sent_bytes_total")))
    st = get_json(base + "/stats")
    t = st["totals"]
    h.check(t["responses"] == {"1xx": 0, "2xx": 30, "3xx": 0, "4xx": 5, "5xx": 0}, t)
    h.check(sum(t["latency"]["counts"]) == 35 and len(t["latency"]["bounds_ms"]) == 15, t)
    h.check(t["bytes_in"] == sent and t["bytes_out"] == received, t)
    # a slow response lands in a higher bucket
    h.request(s.port, "/cpu?n=30000000")
    text = h.wait_until(lambda: (lambda t: t if series(
        t, "handoff_http_request_duration_seconds_count").get("") == 36 else None)(
        metrics(base)), what="the /cpu request in the histogram")
    fast = series(text, "handoff_http_request_duration_seconds_bucket")['{le="0.0025"}']
    h.check(fast <= 35, f"a 30M-iteration /cpu took under 2.5 ms? {fast}")


def test_restarts_by_cause():
    s = h.server("--admin", "127.0.0.1:0", "--worker-timeout", "1s", "--max-requests", "10",
                 workers=2)
    base = f"http://{admin_addr(s)}"

    def causes():
        return {k[8:-2]: v for k, v in series(metrics(base),
                                                "handoff_worker_restarts_total").items()}

    h.check(causes() == {"crash": 0, "recycle": 0, "watchdog": 0, "reload": 0}, causes())
    victim = s.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    h.wait_until(lambda: causes()["crash"] == 1, what="a crash counted")
    s.wait_ready(3)
    stuck = s.worker_pids()[0]
    os.kill(stuck, signal.SIGSTOP)
    h.wait_until(lambda: causes()["watchdog"] == 1, what="a watchdog kill counted")
    h.check(causes()["crash"] == 1, causes())
    s.wait_ready(4)
    mark = s.mark()
    s.signal(signal.SIGHUP)  # before any request: no recycling under way
    s.wait_log(r"rolling restart done", start=mark)
    h.check(causes()["reload"] == 2, causes())
    for _ in range(30):
        h.request(s.port, "/")
    h.wait_until(lambda: causes()["recycle"] >= 1, what="a recycle counted")
    text = metrics(base)
    h.check(series(text, "handoff_build_info") == {'{version="0.1.0"}': 1.0}
            or re.search(r'^handoff_build_info\{version="[^"]+"\} 1$', text, re.M), text)
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_open_fds", "process_max_fds", "process_start_time_seconds"):
        h.check(series(text, name).get("", 0) > 0, f"{name}: {series(text, name)}")
    h.check(abs(series(text, "process_start_time_seconds")[""] - time.time()) < 120, text)


class WebDriver:
    """Just enough of the W3C WebDriver protocol, over urllib."""

    def __init__(self):
        self.port = h.free_port()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.profile = tempfile.mkdtemp(prefix="handoff-chromium-")
        try:
            self._start()
        except BaseException:
            self.proc.kill()
            self.proc.wait(10)
            subprocess.run(["rm", "-rf", self.profile])
            raise

    def _start(self):
        h.wait_until(self._up, timeout=60, what="chromedriver")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", f"--user-data-dir={self.profile}",
                         "--window-size=1100,600"]}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def _up(self):
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=2) as r:
                return json.load(r)["value"].get("ready")
        except OSError:
            return False

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)["value"]

    def s(self, path):
        return f"/session/{self.session}{path}"

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        except OSError:
            pass
        self.proc.terminate()
        self.proc.wait(10)
        subprocess.run(["rm", "-rf", self.profile])


def test_dashboard_in_chromium():
    # Under load: the first paint already shows real figures (it showed
    # 0 requests/s: the page knew nothing until its second poll), then
    # they rise, with charts of the last minutes; a screenshot lands in
    # the build folder.
    s = h.server("--admin", "0", workers=2)
    addr = admin_addr(s)
    # The browser first, then the load: its first start on a new machine
    # reads Chromium from a cold disk, which could outlast the load.
    wd = WebDriver()
    load = None
    try:
        load = h.Wrk(s.port, duration=25, conns=8)

        def rates():
            st = get_json(f"http://{addr}/stats")
            return [st["totals"]["requests_per_s"] or 0] + [
                w["requests_per_s"] or 0 for w in st["workers"]]

        # Each worker's rate comes with its load reports, a second apart.
        h.wait_until(lambda: all(r > 0 for r in rates()), timeout=20,
                     what="a request rate in /stats, in all and for each worker")
        wd.call("POST", wd.s("/url"), {"url": f"http://{addr}/"})

        def js(code):
            return wd.call("POST", wd.s("/execute/sync"), {"script": code, "args": []})

        first = js("return window.firstPaint;")
        h.check(first is not None, "no first paint")
        rps = float(first["rps"].replace(",", ""))
        h.check(rps > 0 and first["samples"] >= 2, f"first paint: {first}")
        h.check(first["p50"].endswith(" ms") and first["p99"].endswith(" ms"), first)
        h.check(first["errors"] == "0 %", first)
        h.check(len(first["workers"]) == 2 and all(r > 0 for r in first["workers"]), first)
        rows = "return Array.from(document.querySelectorAll('tr.worker'))" \
               ".map(r => [r.dataset.id, Number(r.dataset.served)]);"
        before = js(rows)
        after = h.wait_until(lambda: (lambda r: r if js(
            "return document.body.dataset.source;") == "live" and all(
            dict(r).get(i, 0) > n for i, n in before) else None)(js(rows)), timeout=20,
            what="every worker's count to rise under load")
        points = h.wait_until(lambda: (lambda n: n if n >= 4 else None)(js(
            "return document.querySelector('#c-rps polyline').getAttribute('points')"
            ".split(' ').length;")), timeout=20, what="a chart of requests/s")
        summary = js("return document.getElementById('summary').textContent;")
        h.check("policy rr" in summary and "2 workers" in summary, summary)
        h.check(not js("return document.getElementById('error').textContent;"), "poll error")
        h.check(js("return document.querySelectorAll('script[src], link[href]').length;") == 0,
                "the page loads something from elsewhere")
        png = base64.b64decode(wd.call("GET", wd.s("/screenshot")))
        h.check(png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
        out = os.path.join(h.BUILD, "dashboard.png")
        with open(out, "wb") as f:
            f.write(png)
        sys.stderr.write(f"dashboard: first paint {first}, {before} -> {after}, "
                         f"{points} chart points; screenshot {out}\n")
    finally:
        wd.close()
        if load is not None:
            load.result()


def handoffctl(*args):
    return subprocess.run([os.path.join(h.BUILD, "handoffctl"), *args], capture_output=True,
                          text=True, timeout=30)


def test_handoffctl():
    tmp = tempfile.mkdtemp(prefix="handoff-ctl-")
    sock = os.path.join(tmp, "ctl.sock")
    try:
        s = h.server("--control", sock, workers=2)
        st = os.stat(sock)
        # owner only: nobody else may even connect
        h.check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077 == 0,
                oct(st.st_mode))
        p = handoffctl("--socket", sock, "stats")
        h.check(p.returncode == 0 and json.loads(p.stdout)["master"]["workers"] == 2, p)
        p = handoffctl("--socket", sock, "workers", "3")
        h.check(p.returncode == 0 and p.stdout.startswith("ok: 3 workers"), p)
        h.wait_until(lambda: len([x for x in s.worker_pids() if h.alive(x)]) == 3,
                     what="three workers")
        p = handoffctl("--socket", sock, "workers", "1")
        h.check(p.returncode == 0, p)
        h.wait_until(lambda: len([x for x in s.worker_pids() if h.alive(x)]) == 1,
                     what="one worker")
        mark = s.mark()
        p = handoffctl("--socket", sock, "reload")
        h.check(p.returncode == 0 and "rolling restart" in p.stdout, p)
        s.wait_log(r"rolling restart done", start=mark)
        p = handoffctl("--socket", sock, "trace", "on")
        h.check(p.returncode == 0, p)
        h.request(s.port, "/")
        s.wait_log(r"master\[\d+\] trace: handoff", start=mark)
        s.wait_log(r"worker W\d+\[\d+\] trace: C\d+ GET /", start=mark)
        p = handoffctl("--socket", os.path.join(tmp, "nothing.sock"), "stats")
        h.check(p.returncode == 1 and "cannot reach" in p.stderr, p)
        p = handoffctl()
        h.check(p.returncode == 2, p)
        # a command ended by a half-close rather than a newline
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(sock)
            c.sendall(b"stats")
            c.shutdown(socket.SHUT_WR)
            out = h.read_to_eof(c)
        h.check(json.loads(out)["master"]["workers"] == 1, out[:200])
        # the default path carries the port
        s2 = h.server(workers=1)
        p = handoffctl("--port", str(s2.port), "stats")
        h.check(p.returncode == 0, p)
        s.stop()
        h.check(not os.path.exists(sock), "control socket left behind")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_handoffctl_status():
    # A table for a person, as pm2 list: one row per worker with its pid,
    # state, uptime, restarts, connections, requests a second and RSS.
    tmp = tempfile.mkdtemp(prefix="handoff-ctl-")
    sock = os.path.join(tmp, "ctl.sock")
    try:
        s = h.server("--control", sock, workers=2)
        os.kill(s.worker_pids()[0], signal.SIGKILL)
        s.wait_ready(3)
        load = h.Wrk(s.port, duration=4, conns=4)

        def table():
            p = handoffctl("--socket", sock, "status")
            h.check(p.returncode == 0 and p.stderr == "", p)
            lines = p.stdout.splitlines()
            head = lines.index(next(l for l in lines if l.startswith("worker ")))
            cols = lines[head].split()
            row = re.compile(r"^(W\d+) +(\d+) +(\S+) +(\S+) +(\S+) +(\d+) +(\S+) +(\S+) +"
                             r"([\d.]+ MiB|-) +([\d.]+ ms|-)$")
            rows = [row.match(l) for l in lines[head + 1:] if l]
            h.check(all(rows), lines)
            return lines, [dict(zip(cols, m.groups())) for m in rows]

        lines, rows = h.wait_until(lambda: (lambda t: t if len(t[1]) == 2 and all(
            float(r["req/s"]) > 0 for r in t[1]) else None)(table()), what="two busy rows")
        load.result()
        h.check(lines[0].startswith(f"master {s.pid}, policy rr, up ") and "req/s" in lines[0]
                and lines[0].endswith("accepting"), lines[0])
        h.check(lines[1] == f"listening on 127.0.0.1:{s.port}", lines[1])
        h.check(lines[3].split() == ["worker", "pid", "slot", "state", "uptime", "restarts",
                                      "conns", "req/s", "rss", "lag"], lines[3])
        h.check(sorted(int(r["pid"]) for r in rows) == sorted(s.worker_pids()), rows)
        for r in rows:
            h.check(re.fullmatch(r"W\d+", r["worker"]) and r["state"] == "ready"
                    and re.fullmatch(r"\d+s|\d+m\d\ds", r["uptime"])
                    and r["conns"].isdigit() and r["rss"].endswith(" MiB")
                    and r["lag"].endswith(" ms"), r)
        h.check(sorted(r["restarts"] for r in rows) == ["0", "1"], rows)
        # stats stays the JSON
        p = handoffctl("--socket", sock, "stats")
        h.check(json.loads(p.stdout)["pid"] == s.pid, p)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_handoffctl_bad_usage_exits_2():
    # The man page's promise: bad usage exits 2 with a usage line, naming
    # what is wrong (`trace bogus` was the master's "unknown command
    # 'trace'", exit 1), and is never sent to the master.
    tmp = tempfile.mkdtemp(prefix="handoff-ctl-")
    sock = os.path.join(tmp, "ctl.sock")
    try:
        s = h.server("--control", sock, workers=1)
        cases = [
            (["trace", "bogus"], "trace: 'bogus' is neither on nor off"),
            (["trace", "on", "off"], "trace takes on, off or nothing"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["workers"], "workers takes one number"),
            (["workers", "0"], "'0' is not a number from 1 to 1024"),
            (["workers", "3x"], "'3x' is not a number from 1 to 1024"),
            (["stats", "now"], "stats takes no argument"),
            (["status", "all"], "status takes no argument"),
            (["reload", "all"], "reload takes no argument"),
        ]
        for args, msg in cases:
            for where in (sock, os.path.join(tmp, "nothing.sock")):
                p = handoffctl("--socket", where, *args)
                lines = p.stderr.splitlines()
                h.check(p.returncode == 2 and p.stdout == "" and len(lines) == 2
                        and msg in lines[0] and lines[1].startswith("Usage: handoffctl "),
                        f"{args} at {where}: {p}")
        # The master says what is wrong too, to a client that sends it.
        with socket.socket(socket.AF_UNIX) as c:
            c.connect(sock)
            c.sendall(b"trace bogus\n")
            c.settimeout(10 * h.SLOW)
            answer = c.recv(4096)
        h.check(answer == b"error: trace takes on, off or nothing\n", answer)
        p = handoffctl("--socket", sock, "trace", "off")
        h.check(p.returncode == 0 and p.stdout == "ok: trace off\n", p)
        h.check("trace on" not in s.log(), "a bad command reached the master")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_second_master_refuses_a_live_control_socket():
    # A second master on the same --control path took it over and, on its
    # exit, deleted it: handoffctl could no longer reach the first one.
    tmp = tempfile.mkdtemp(prefix="handoff-ctl-")
    sock = os.path.join(tmp, "ctl.sock")
    try:
        s = h.server("--control", sock, workers=1)
        try:
            p = subprocess.run([h.HANDOFF, "--host", "127.0.0.1", "--port", "0",
                                "--workers", "1", "--control", sock],
                               capture_output=True, text=True, timeout=10 * h.SLOW)
        except subprocess.TimeoutExpired as e:
            raise h.TestFailure(f"the second master took the socket over: {e.stderr!r}")
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 1 and len(lines) == 1 and sock in lines[0]
                and "in use, something answers on it" in lines[0], p)
        p = handoffctl("--socket", sock, "stats")
        h.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == s.pid, p)
        s.stop()
        h.check(not os.path.exists(sock), "control socket left behind")
        # A stale socket (its master killed) is replaced.
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(sock)
        stale.close()
        s2 = h.server("--control", sock, workers=1)
        p = handoffctl("--socket", sock, "stats")
        h.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == s2.pid, p)
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_control_socket_in_runtime_directory():
    # systemd's RuntimeDirectory= (docs/systemd/handoff.service) sets
    # $RUNTIME_DIRECTORY; the unit's private /tmp is out of handoffctl's
    # reach, so the socket goes there, without the (dynamic) uid.
    tmp = tempfile.mkdtemp(prefix="handoff-run-")
    try:
        env = dict(os.environ, RUNTIME_DIRECTORY=tmp)
        s = h.server(workers=1, env=env)
        sock = os.path.join(tmp, f"handoff-{s.port}.sock")
        s.wait_log(rf"control socket {re.escape(sock)} \(handoffctl\)")
        h.check(stat.S_ISSOCK(os.stat(sock).st_mode), sock)
        in_tmp = f"/tmp/handoff-{os.getuid()}-{s.port}.sock"
        h.check(not os.path.exists(in_tmp), f"{in_tmp} exists too")
        p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--port", str(s.port),
                            "stats"], capture_output=True, text=True, timeout=30, env=env)
        h.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == s.pid, p)
        # Without $RUNTIME_DIRECTORY handoffctl looks in /run/handoff (the
        # unit's directory), then /tmp; it names each place it tried.
        plain = {k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"}
        p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--port", str(s.port),
                            "stats"], capture_output=True, text=True, timeout=30, env=plain)
        h.check(p.returncode == 1 and f"/run/handoff/handoff-{s.port}.sock or {in_tmp}"
                in p.stderr, p)
        # ...and finds a master there: a directory as systemd makes it.
        if os.geteuid() == 0 and not os.path.exists("/run/handoff"):
            os.mkdir("/run/handoff", 0o755)
            try:
                s2 = h.server(workers=1, env=dict(os.environ, RUNTIME_DIRECTORY="/run/handoff"))
                p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--port",
                                    str(s2.port), "stats"], capture_output=True, text=True,
                                   timeout=30, env=plain)
                h.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == s2.pid, p)
                s2.stop()
            finally:
                subprocess.run(["rm", "-rf", "/run/handoff"])
        else:
            sys.stderr.write("/run/handoff exists or not root: its lookup not checked\n")
        # A master outside systemd is still found in /tmp, past the others.
        s3 = h.server(workers=1, env=plain)
        p = subprocess.run([os.path.join(h.BUILD, "handoffctl"), "--port", str(s3.port),
                            "stats"], capture_output=True, text=True, timeout=30, env=env)
        h.check(p.returncode == 0 and json.loads(p.stdout)["pid"] == s3.pid, p)
        s.stop()
        h.check(not os.path.exists(sock), "control socket left behind")
    finally:
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    h.main(globals())
