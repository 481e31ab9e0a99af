#!/usr/bin/env python3
"""bench: handoff against its peers under the same load, in one run.

Peers (all with the same number of workers, answering a ~24-byte body):
  handoff-rr, handoff-cyclic, handoff-reuseport   build/handoff --policy ...
  node-rr, node-none      tools/bench/node_cluster.js, NODE_CLUSTER_SCHED_POLICY
  handoff-node            the same Node workers under handoff's C master (--node)
  handoff-node-nopreload  ...without handoff's preload (--node-preload off;
                          not in the default list: tools/bench_node.py runs it)
  nginx, nginx-reuseport  tools/bench/nginx.conf.in, `return 200`

Scenarios: keep-alive (wrk -t1 -cCONNS) and one connection per request
(Connection: close), each with wrk's latency percentiles; and static
files as a drop-in user serves them, keep-alive with wrk -t1 -c32: a
4 KiB and a 1 MiB file, from handoff's --root and from nginx's root with
sendfile and tcp_nopush on (both send ETag and Last-Modified). Node's
peers serve no files and sit the static scenarios out. Peers alternate
(A B C ... A B C ...) over --rounds rounds; the table shows medians, each
throughput's ratio to nginx and to node-rr, the CPU time all of a peer's
processes spent per request (from /proc; wrk's own excluded), the
master's CPU per connection, and each process's RSS. Also written as CSV.

HTTPS (handoff's peers but handoff-node, and nginx's, each given a TLS
listener too, with the same ECDSA P-256 certificate the bench makes with
openssl req and the same TLS 1.2 ciphers; the rest as OpenSSL's defaults
on both sides): keep-alive over TLS (wrk), one connection per request
with a full handshake each (wrk with Connection: close: wrk never
resumes a session), and handshakes without and with resumption from
`openssl s_time -new` and `-reuse` (HTTP/1.0, one connection per
request), TLS_CLIENTS of them at once, their connections per second
summed.

Benchmarks are not tests: this prints figures. The load generator shares
the machine's cores with the server, so only ratios within one run mean
anything. Only 127.0.0.1 is used.
"""

import argparse
import csv
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
PEERS = ["handoff-rr", "handoff-cyclic", "handoff-reuseport", "node-rr", "node-none",
         "handoff-node", "nginx", "nginx-reuseport"]
# scenario -> (path, wrk connections or None for --connections, extra wrk args)
SCENARIOS = {
    "keepalive": ("/", None, []),
    "close": ("/", None, ["-H", "Connection: close"]),
    "static-4k": ("/static/4k.bin", 32, []),
    "static-1m": ("/static/1m.bin", 32, []),
}
STATIC_FILES = {"4k.bin": 4096, "1m.bin": 1024 * 1024}
SCENARIOS.update({
    "https-keepalive": ("/", None, []),
    "https-close": ("/", None, ["-H", "Connection: close"]),
    "https-new": ("/", None, ["-new"]),
    "https-resume": ("/", None, ["-reuse"]),
})
TLS_CLIENTS = 4  # s_time processes at once (each one connection at a time)
# Both servers' TLS 1.2 list: handoff's default (worker/http/tls_ctx.c).
TLS_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
               "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
# Also accepted: handoff-<policy>-w<N>, i.e. with --window N;
# handoff-<policy>[-w<N>]-norehand, with --rehand off (the cost of
# connections that outlive their worker, in the same run); and with
# --baseline DIR, any handoff peer with "@base" after its name runs the
# binaries in DIR (an older build), to compare two builds in one run.


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_tree(pid):
    """<pid> and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def make_site(tmp):
    """The files of the static scenarios, under <tmp>/site/static/."""
    site = os.path.join(tmp, "site")
    os.makedirs(os.path.join(site, "static"))
    # nginx's workers run as nobody: they must reach the files
    os.chmod(tmp, 0o755)
    for name, size in STATIC_FILES.items():
        with open(os.path.join(site, "static", name), "wb") as f:
            f.write(os.urandom(size))
    return site


def serves_files(name):
    name = name.split("@")[0]
    return name.startswith("nginx") or (name.startswith("handoff")
                                        and not name.startswith("handoff-node"))


def serves_tls(name):
    """A peer with a TLS listener: handoff's own workers (not an older
    build's, which may predate it) and nginx."""
    return serves_files(name) and "@" not in name


def make_cert(tmp):
    """An ECDSA P-256 certificate for 127.0.0.1, and its key."""
    cert, key = os.path.join(tmp, "bench.crt"), os.path.join(tmp, "bench.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o644)  # nginx's master reads it as root; readable for the bench only
    return cert, key


class Peer:
    def __init__(self, name, workers, build, tmp, site, cert=None):
        self.name = name
        self.port = free_port()
        self.tls_port = free_port() if cert and serves_tls(name) else None
        env = dict(os.environ)
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        if "@" in name:
            name, build = name.split("@")[0], build[1]
        elif isinstance(build, tuple):
            build = build[0]
        if name in ("handoff-node", "handoff-node-nopreload"):
            # Node's workers, unmodified, with handoff's master as primary
            # (and without handoff's preload in them).
            cmd = [os.path.join(build, "handoff"), "--host", "127.0.0.1", "--port",
                   str(self.port), "--workers", str(workers), "--control", "none",
                   "--node", os.path.join(ROOT, "tools", "bench", "node_cluster.js")] \
                + (["--node-preload", "off"] if name.endswith("nopreload") else [])
        elif name.startswith("handoff"):
            m = re.match(r"handoff-([a-z-]+?)(?:-w(\d+))?(-norehand)?$", name)
            # --host and --port as every build has them (an older one may
            # be the --baseline), --listen beside --listen-tls.
            where = (["--listen", f"127.0.0.1:{self.port}"] if self.tls_port
                     else ["--host", "127.0.0.1", "--port", str(self.port)])
            cmd = [os.path.join(build, "handoff"), *where,
                   "--workers", str(workers), "--policy", m.group(1),
                   "--control", "none", "--root", site, "--demo-routes", "on"] \
                + (["--window", m.group(2)] if m.group(2) else []) \
                + (["--rehand", "off"] if m.group(3) else [])
            if self.tls_port:
                cmd += ["--listen-tls", f"127.0.0.1:{self.tls_port}", "--tls-cert", cert[0],
                        "--tls-key", cert[1]]
        elif name.startswith("node"):
            env.update(PORT=str(self.port), WORKERS=str(workers),
                       NODE_CLUSTER_SCHED_POLICY=name.split("-", 1)[1])
            cmd = ["node", os.path.join(ROOT, "tools", "bench", "node_cluster.js")]
        else:
            with open(os.path.join(ROOT, "tools", "bench", "nginx.conf.in")) as f:
                conf = f.read()
            conf = (conf.replace("@PORT@", str(self.port)).replace("@DIR@", self.dir)
                    .replace("@SITE@", site)
                    .replace("@REUSEPORT@", "reuseport" if "reuseport" in name else "")
                    .replace("@TLS@", self.nginx_tls(cert, "reuseport" in name))
                    .replace("worker_processes 2", f"worker_processes {workers}"))
            path = os.path.join(self.dir, "nginx.conf")
            with open(path, "w") as f:
                f.write(conf)
            cmd = ["nginx", "-c", path, "-p", self.dir, "-e", os.path.join(self.dir, "error.log")]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "w"))
        if not wait_port(self.port):
            raise SystemExit(f"bench: {name} did not start (see {self.dir}/log)")
        # let every worker come up (Node's take a moment)
        deadline = time.monotonic() + 10
        while len(proc_tree(self.proc.pid)) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    def nginx_tls(self, cert, reuseport):
        if not self.tls_port:
            return ""
        # one line: the template's header comment names @TLS@ too
        return (f"listen 127.0.0.1:{self.tls_port} ssl{' reuseport' if reuseport else ''}; "
                f"ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]}; "
                f"ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {TLS_CIPHERS}; "
                f"ssl_prefer_server_ciphers on;")

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM if not self.name.startswith("nginx")
                                  else signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                for p in self.pids():
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                self.proc.wait()


def parse_latency(out, pct):
    m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v


def run_stime(peer, scenario, args):
    """TLS_CLIENTS `openssl s_time` at once: handshakes per second, full
    (-new) or resumed (-reuse), one HTTP/1.0 request each."""
    path, _, extra = SCENARIOS[scenario]
    pids = peer.pids()
    before = {p: cpu_seconds(p) for p in pids}
    procs = [subprocess.Popen(["openssl", "s_time", "-connect", f"127.0.0.1:{peer.tls_port}",
                               "-www", path, "-time", str(args.duration), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(TLS_CLIENTS)]
    total, secs = 0, 0.0
    for p in procs:
        out = p.communicate(timeout=args.duration * 3 + 60)[0]
        m = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
        if not m:
            raise SystemExit(f"bench: s_time against {peer.name} failed:\n{out[-800:]}")
        total += int(m.group(1))
        secs = max(secs, float(m.group(2)))
    after = {p: cpu_seconds(p) for p in pids}
    cpu = sum(after[p] - before.get(p, 0) for p in after)
    master = after.get(peer.proc.pid, 0) - before.get(peer.proc.pid, 0)
    return {"rps": total / max(secs, 1e-9), "p50_ms": float("nan"), "p99_ms": float("nan"),
            "cpu_us_per_req": 1e6 * cpu / max(total, 1),
            "master_us_per_req": 1e6 * master / max(total, 1), "errors": 0}


def run_wrk(peer, scenario, args):
    path, conns, extra = SCENARIOS[scenario]
    if scenario in ("https-new", "https-resume"):
        return run_stime(peer, scenario, args)
    url = (f"https://127.0.0.1:{peer.tls_port}{path}" if scenario.startswith("https")
           else f"http://127.0.0.1:{peer.port}{path}")
    pids = peer.pids()
    before = {p: cpu_seconds(p) for p in pids}
    out = subprocess.run(["wrk", "-t1", f"-c{conns or args.connections}", f"-d{args.duration}s",
                          "--latency", *extra, url],
                         capture_output=True, text=True, timeout=args.duration + 60).stdout
    after = {p: cpu_seconds(p) for p in pids}
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        raise SystemExit(f"bench: {peer.name} answered {m.group(1)} requests for {path} "
                         f"with an error status:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))
    secs = float(re.search(r"requests in ([\d.]+)(m?s)", out).group(1))
    if re.search(r"requests in [\d.]+ms", out):
        secs /= 1000
    errors = sum(map(int, re.search(r"Socket errors: connect (\d+), read (\d+), write "
                                    r"(\d+), timeout (\d+)", out).groups())) \
        if "Socket errors" in out else 0
    cpu = sum(after[p] - before.get(p, 0) for p in after)
    master = after.get(peer.proc.pid, 0) - before.get(peer.proc.pid, 0)
    return {
        "rps": total / secs,
        "p50_ms": parse_latency(out, 50),
        "p99_ms": parse_latency(out, 99),
        "cpu_us_per_req": 1e6 * cpu / max(total, 1),
        "master_us_per_req": 1e6 * master / max(total, 1),
        "errors": errors,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--baseline", help="a directory with an older handoff and "
                    "handoff-worker, run by the peers named NAME@base")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="which of " + ", ".join(SCENARIOS))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p.endswith("@base") and p.startswith("handoff") and args.baseline:
            p = p[:-len("@base")]
        known = p in PEERS + ["handoff-node-nopreload"] or (
            re.match(r"handoff-[a-z-]+?(-w\d+)?(-norehand)?$", p)
            and not p.startswith("handoff-node-"))
        if not known:
            raise SystemExit(f"bench: unknown peer {p} (choose from {', '.join(PEERS)})")
    scenarios = [x for x in args.scenarios.split(",") if x]
    for x in scenarios:
        if x not in SCENARIOS:
            raise SystemExit(f"bench: unknown scenario {x} (choose from {', '.join(SCENARIOS)})")
    for tool in ("wrk", "node", "nginx"):
        if not shutil.which(tool) and any(tool in p or tool == "wrk" for p in peers):
            raise SystemExit(f"bench: {tool} not found (make bench installs it)")
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="handoff-bench-")
    running = {}
    results = {}  # (peer, scenario) -> list of runs
    try:
        site = make_site(tmp)
        cert = make_cert(tmp) if any(x.startswith("https") for x in scenarios) else None
        for p in peers:
            running[p] = Peer(p, args.workers, (args.build, args.baseline), tmp, site, cert)
        idle_rss = {p: [rss_kib(x) for x in running[p].pids()] for p in peers}
        for p in peers:  # warm up (Node's JIT, connection pools)
            subprocess.run(["wrk", "-t1", "-c16", "-d1s", f"http://127.0.0.1:{running[p].port}/"],
                           capture_output=True, timeout=30)
        for r in range(args.rounds):
            for scenario in scenarios:
                for p in peers:
                    if scenario.startswith("static") and not serves_files(p):
                        continue
                    if scenario.startswith("https") and not running[p].tls_port:
                        continue
                    res = run_wrk(running[p], scenario, args)
                    results.setdefault((p, scenario), []).append(res)
                    print(f"round {r + 1} {scenario:<9} {p:<18} {res['rps']:>9.0f} req/s  "
                          f"p99 {res['p99_ms']:.2f} ms  cpu {res['cpu_us_per_req']:.1f} us/req"
                          + (f"  {res['errors']} errors" if res["errors"] else ""),
                          file=sys.stderr, flush=True)
        load_rss = {p: [rss_kib(x) for x in running[p].pids()] for p in peers}
    finally:
        for p in running.values():
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def med(p, s, k):
        return statistics.median(x[k] for x in results[(p, s)])

    rows = []
    print(f"\n{args.workers} workers each; wrk -t1 -c{args.connections} -d{args.duration}s; "
          f"{args.rounds} rounds, peers alternating; medians. {os.cpu_count()} cores shared "
          f"with wrk.")
    titles = {"keepalive": "keep-alive", "close": "one connection per request",
              "static-4k": "static file, 4 KiB, keep-alive (wrk -c32)",
              "static-1m": "static file, 1 MiB, keep-alive (wrk -c32)",
              "https-keepalive": "HTTPS keep-alive",
              "https-close": "HTTPS, one connection per request, a full handshake each (wrk)",
              "https-new": f"HTTPS full handshakes (openssl s_time -new, {TLS_CLIENTS} at once)",
              "https-resume": f"HTTPS resumed handshakes (openssl s_time -reuse, "
                              f"{TLS_CLIENTS} at once)"}
    for s in scenarios:
        unit = "conn/s" if s in ("close", "https-close", "https-new", "https-resume") \
            else "req/s"
        print(f"\n{titles[s]}")
        print(f"{'peer':<18} {unit:>9} {'/nginx':>7} {'/node-rr':>8} {'p50 ms':>7} "
              f"{'p99 ms':>7} {'CPU us/req':>10} {'master us':>9}")
        for p in peers:
            if (p, s) not in results:
                continue
            rps = med(p, s, "rps")
            ng = med("nginx", s, "rps") if ("nginx", s) in results else float("nan")
            nd = med("node-rr", s, "rps") if ("node-rr", s) in results else float("nan")
            master = med(p, s, "master_us_per_req") if not p.startswith("nginx") else float("nan")
            row = {"scenario": s, "peer": p, "throughput": round(rps),
                   "ratio_nginx": round(rps / ng, 2), "ratio_node_rr": round(rps / nd, 2),
                   "p50_ms": med(p, s, "p50_ms"), "p99_ms": med(p, s, "p99_ms"),
                   "cpu_us_per_req": round(med(p, s, "cpu_us_per_req"), 1),
                   "master_us_per_req": round(master, 1),
                   "errors": sum(x["errors"] for x in results[(p, s)])}
            rows.append(row)
            print(f"{p:<18} {rps:>9.0f} {row['ratio_nginx']:>7.2f} {row['ratio_node_rr']:>8.2f} "
                  f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['cpu_us_per_req']:>10.1f} "
                  f"{row['master_us_per_req']:>9.1f}")
    print("\nRSS (KiB): first the master or main process, then the workers; idle / after load")
    for p in peers:
        print(f"{p:<18} {' '.join(map(str, idle_rss[p])):<28} / {' '.join(map(str, load_rss[p]))}")
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"\nwrote {os.path.join(args.out, 'results.csv')}")


if __name__ == "__main__":
    main()
