#!/usr/bin/env python3
"""tools/experiment runs end to end: five runs per (workload, policy), a
CSV row per run and one per cell whose medians and quartiles are the
runs', error bars drawn from those quartiles, every figure as PNG, SVG and
PDF that parse, axes with units and legends in words, and a table whose
latencies carry their unit; loadgen spreads its clients over several
addresses (ip-hash sees them) and its open loop counts a stall for every
request it delays; --help is whole: a complete description, every
option's default, the workloads and the policies (handoff's own)."""

import csv
import importlib.machinery
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPERIMENT = os.path.join(ROOT, "tools", "experiment")
# A latency cell of the table: a number and its unit.
LATENCY = r"(\d+(?:\.\d+)?) (µs|us|ms|s)"
MS_PER = {"µs": 0.001, "us": 0.001, "ms": 1.0, "s": 1000.0}


def tool():
    """tools/experiment as a module (its file name has no .py)."""
    loader = importlib.machinery.SourceFileLoader("experiment_tool", EXPERIMENT)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name,
                                                                          loader))
    loader.exec_module(mod)
    return mod


def table(stdout):
    """The table's rows: {workload, policy, p50, p99, p999 (in ms), and
    the precision of each of the three as shown}."""
    lines = stdout.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("workload "))
    h.check(re.match(r"workload +policy +req/s +IQR +p50 +p99 +p99\.9 +jain ", lines[head]),
            lines[head])
    rows = []
    for line in lines[head + 1:]:
        if line.startswith("wrote "):
            break
        m = re.fullmatch(rf"(\S+) +(\S+) +\d+ +\d+-\d+ +{LATENCY} +{LATENCY} +{LATENCY} +"
                         r"[01]\.\d{3} +[\d;.]+(  \([^)]*\))*", line)
        h.check(m, f"a row that does not read number + unit: {line!r}")
        row = {"workload": m.group(1), "policy": m.group(2)}
        for k, name in enumerate(("p50", "p99", "p999")):
            number, unit = m.group(3 + 2 * k), m.group(4 + 2 * k)
            row[name] = float(number) * MS_PER[unit]
            decimals = len(number.split(".")[1]) if "." in number else 0
            row[name + "_step"] = 10 ** -decimals * MS_PER[unit]
        rows.append(row)
    return rows


def quartiles(xs):
    """First quartile, median, third quartile: with 5 runs, the 2nd, 3rd
    and 4th smallest (computed here on its own, not by the tool)."""
    xs = sorted(xs)
    h.check(len(xs) == 5, xs)
    return xs[1], xs[2], xs[3]


def close(a, b):
    return abs(a - b) <= 1e-3 * max(1.0, abs(b))


def pdf_pages(path):
    """Parses <path> as a PDF far enough to trust it: the header, the
    trailer's startxref pointing at the cross-reference table, every
    object that table lists found where it says, and the pages."""
    with open(path, "rb") as f:
        data = f.read()
    h.check(data.startswith(b"%PDF-1."), f"{path}: no PDF header")
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    h.check(m, f"{path}: no startxref at the end")
    xref = int(m.group(1))
    t = re.match(rb"xref\s+(\d+) (\d+)\s+", data[xref:])
    h.check(t, f"{path}: startxref does not point at a cross-reference table")
    first, count = int(t.group(1)), int(t.group(2))
    entries = re.findall(rb"(\d{10}) (\d{5}) ([nf])", data[xref + t.end():])[:count]
    h.check(len(entries) == count, f"{path}: the table is short")
    for k, (off, _, kind) in enumerate(entries):
        if kind == b"n":
            h.check(re.match(rb"%d 0 obj" % (first + k), data[int(off):]),
                    f"{path}: object {first + k} is not at {int(off)}")
    return len(re.findall(rb"/Type\s*/Page\b", data))


def svg_text(path):
    """Parses <path> as SVG (XML); its text, every string in it joined."""
    root = ET.parse(path).getroot()
    h.check(root.tag.endswith("svg"), f"{path}: the root is {root.tag}")
    return " ".join(" ".join(e.itertext()) for e in root.iter()
                    if e.tag.endswith("text"))


def dat_rows(path):
    """A figure's data as gnuplot reads it: label, then numbers."""
    with open(path) as f:
        return [shlex.split(l) for l in f if l.strip()]


def test_experiment_smoke():
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run(
            [EXPERIMENT, "--build", h.BUILD, "--out", out, "--runs", "5",
             "--duration", "0.25", "--workers", "2", "--connections", "8",
             "--rate", "400", "--sources", "4", "--policies", "rr,none",
             "--workloads", "close,keepalive"],
            capture_output=True, text=True, timeout=240 * h.SLOW)
        h.check(p.returncode == 0, p.stdout + p.stderr)
        with open(os.path.join(out, "runs.csv")) as f:
            runs = list(csv.DictReader(f))
        with open(os.path.join(out, "results.csv")) as f:
            cells = list(csv.DictReader(f))
        h.check([(r["workload"], r["policy"]) for r in cells] ==
                [("close", "rr"), ("close", "none"), ("keepalive", "rr"),
                 ("keepalive", "none")], cells)
        # Five runs per cell, each a run of its own.
        for c in cells:
            mine = [r for r in runs if (r["workload"], r["policy"]) == (c["workload"],
                                                                         c["policy"])]
            h.check(sorted(int(r["run"]) for r in mine) == [1, 2, 3, 4, 5]
                    and c["runs"] == "5", f"{c}: runs {mine}")
            for r in mine:
                conns = [int(x) for x in r["conns_per_worker"].split(";")]
                h.check(len(conns) == 2 and conns == sorted(conns, reverse=True), r)
                h.check(int(r["requests"]) > 0 and float(r["throughput_rps"]) > 0, r)
                h.check(0 < float(r["jain"]) <= 1, r)
                # The open loop offered 400/s for 0.25 s: about 100 requests.
                h.check(80 <= int(r["open_requests"]) + int(r["open_errors"]) <= 120, r)
                if r["workload"] == "close":
                    h.check(sum(conns) == int(r["requests"]), r)  # one per request
                else:
                    h.check(8 <= sum(conns) <= 8 + int(r["requests"]) // 100 + 8, r)
            # The summary is the runs' median and quartiles, figure by figure.
            for k in ("throughput_rps", "jain", "open_p99_ms", "closed_p99_ms"):
                q1, med, q3 = quartiles([float(r[k]) for r in mine])
                h.check(close(float(c[k]), med) and close(float(c[k + "_q1"]), q1)
                        and close(float(c[k + "_q3"]), q3), f"{k}: {c} from {mine}")
            h.check(float(c["throughput_rps_q1"]) < float(c["throughput_rps_q3"]),
                    f"five runs and no spread at all: {mine}")
        # The error bars drawn are those quartiles: the throughput figure's
        # data has, per policy and workload, median, low and high.
        bars = {r[0]: [float(x) for x in r[1:]] for r in dat_rows(
            os.path.join(out, "throughput.dat"))}
        for c in cells:
            col = 3 * ["close", "keepalive"].index(c["workload"])
            got = bars[c["policy"]][col:col + 3]
            want = [float(c["throughput_rps"]), float(c["throughput_rps_q1"]),
                    float(c["throughput_rps_q3"])]
            h.check(all(close(a, b) for a, b in zip(got, want)), f"{got} != {want}")
        # The table says what results.csv says, in the unit each cell names.
        shown = table(p.stdout)
        h.check([(r["workload"], r["policy"]) for r in shown] ==
                [(r["workload"], r["policy"]) for r in cells], p.stdout)
        for t, r in zip(shown, cells):
            for name in ("p50", "p99", "p999"):
                h.check(abs(t[name] - float(r[f"open_{name}_ms"])) <= t[name + "_step"] / 2
                        + 1e-9, f"{name}: table {t}, CSV {r}")
        # Every figure as PNG, SVG and PDF, each of which parses.
        names = ["throughput"] + [f"{k}-{w}" for w in ("close", "keepalive")
                                  for k in ("share", "latency-cdf", "latency",
                                            "latency-closed")]
        for name in names:
            with open(os.path.join(out, name + ".png"), "rb") as f:
                h.check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name}.png is not a PNG")
            h.check(pdf_pages(os.path.join(out, name + ".pdf")) == 1, f"{name}.pdf")
            text = svg_text(os.path.join(out, name + ".svg"))
            h.check("policy" in text or "percentile" in text, f"{name}.svg: {text[:300]}")
        # Axes with units, legends in words.
        text = svg_text(os.path.join(out, "share-close.svg"))
        for words in ("share of the connections (%)", "busiest worker",
                      "least busy worker", "fair share", "Jain"):
            h.check(words in text, f"share-close.svg lacks {words!r}: {text[:500]}")
        text = svg_text(os.path.join(out, "latency-cdf-close.svg"))
        h.check("latency (ms, log scale)" in text and "open loop" in text, text[:500])
        text = svg_text(os.path.join(out, "latency-closed-close.svg"))
        h.check("CLOSED loop" in text and "coordinated omission" in text, text[:500])
        text = svg_text(os.path.join(out, "throughput.svg"))
        h.check("throughput (requests/s)" in text and "keep-alive connections" in text,
                text[:500])


def test_clients_come_from_several_addresses():
    # ip-hash keyed on the client address: with --sources 4, the four
    # addresses spread over the workers (each always to the same one);
    # with one address, one worker takes everything.
    s = h.server("--policy", "ip-hash", workers=4)
    got = {}
    for sources in (1, 4):
        q = subprocess.run([os.path.join(h.BUILD, "loadgen"), "--port", str(s.port),
                            "--mode", "close", "--connections", "4", "--duration", "0.3",
                            "--sources", str(sources)],
                           capture_output=True, text=True, timeout=30 * h.SLOW)
        h.check(q.returncode == 0, q)
        got[sources] = json.loads(q.stdout.split(" ", 1)[1])["conns"]
    h.check(len(got[1]) == 1, f"one address, several workers: {got[1]}")
    h.check(len(got[4]) >= 2, f"four addresses, one worker: {got[4]}")


def test_open_loop_counts_the_wait():
    # The worker is stopped (SIGSTOP) for 0.3 s while loadgen runs on one
    # keep-alive connection. Open loop: the requests due meanwhile wait,
    # and their latency counts from when each was due, so a tenth of them
    # are late. Closed loop: its client simply stops sending, only the one
    # request in flight is late (coordinated omission). The connection is
    # never closed by the server, so the one the worker holds is loadgen's.
    s = h.server("--max-conn-requests", "1000000", workers=1)
    pid = s.worker_pids()[0]
    result = {}
    for rate in ("200", "0"):
        proc = subprocess.Popen([os.path.join(h.BUILD, "loadgen"), "--port", str(s.port),
                                 "--mode", "keepalive", "--connections", "1",
                                 "--duration", "2", "--rate", rate],
                                stdout=subprocess.PIPE, text=True)
        h.wait_until(lambda: h.held_connections(pid) == 1, what="loadgen's connection")
        os.kill(pid, signal.SIGSTOP)
        time.sleep(0.3)  # the stall being measured
        os.kill(pid, signal.SIGCONT)
        out = proc.communicate(timeout=30 * h.SLOW)[0]
        result[rate] = json.loads(out.split(" ", 1)[1])
    opened, closed = result["200"], result["0"]
    h.check(opened["max_us"] >= 250000 and opened["p90_us"] > 20000, opened)
    h.check(closed["max_us"] >= 250000 and closed["p90_us"] < 20000, closed)


def test_open_loop_sends_every_request_due():
    # loadgen itself stopped (SIGSTOP) across the end of its 0.5 s: when it
    # runs again, the requests that fell due meanwhile are sent all the
    # same (they had been dropped), so the count is exactly rate x duration.
    s = h.server("--max-conn-requests", "1000000", workers=1)
    pid = s.worker_pids()[0]
    proc = subprocess.Popen([os.path.join(h.BUILD, "loadgen"), "--port", str(s.port),
                             "--mode", "keepalive", "--connections", "1",
                             "--duration", "0.5", "--rate", "200"],
                            stdout=subprocess.PIPE, text=True)
    h.wait_until(lambda: h.held_connections(pid) == 1, what="loadgen's connection")
    os.kill(proc.pid, signal.SIGSTOP)
    time.sleep(0.6)  # the stall being measured: past the end of the run
    os.kill(proc.pid, signal.SIGCONT)
    r = json.loads(proc.communicate(timeout=30 * h.SLOW)[0].split(" ", 1)[1])
    h.check(r["requests"] + r["errors"] + r["timeouts"] == 100 and r["errors"] == 0
            and r["timeouts"] == 0, r)
    h.check(r["issue_lag_max_us"] >= 100000 and r["max_us"] >= 100000, r)


def test_experiment_rejects_bad_arguments():
    for args in (["--policies", "rr,bogus"], ["--workloads", "slow"], ["--duration", "0"],
                 ["--heavy-share", "2"], ["--workers", "two"], ["--bogus"],
                 ["--runs", "4"], ["--sources", "300"], ["--rate", "0"]):
        p = subprocess.run([EXPERIMENT, "--build", h.BUILD, *args], capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 2 and p.stderr.startswith("experiment:")
                and len(p.stderr.splitlines()) == 1, f"{args}: {p}")


def handoff_policies():
    """The policy names build/handoff --help lists, read here on their own."""
    text = subprocess.run([h.HANDOFF, "--help"], capture_output=True, text=True,
                          timeout=30).stdout
    section = text.split("\nPolicies:\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z][\w-]*) ", section, re.M)


def test_help():
    env = dict(os.environ, COLUMNS="80")
    p = subprocess.run([EXPERIMENT, "--build", h.BUILD, "--help"], capture_output=True,
                       text=True, timeout=30, env=env)
    h.check(p.returncode == 0 and not p.stderr, p)
    text = p.stdout
    wide = [l for l in text.splitlines() if len(l) > 80]
    h.check(not wide, f"lines wider than 80: {wide}")
    # The description: every sentence finished (it stopped at "...in turn and").
    head, rest = text.split("\noptions:\n", 1)
    paras = head.split("\n\n")[1:]
    h.check(paras, text)
    for para in paras:
        if not para.startswith(" "):  # the list of files aside
            h.check(para.rstrip().endswith((".", ":")), f"unfinished: {para!r}")
    # Every option: a help text with its default as the tool has it.
    options, epilog = rest.split("\n\n", 1)
    blocks = {}
    for line in options.splitlines():
        m = re.match(r"  (?:-\w, )?(--[\w-]+)", line)
        if m:
            name = m.group(1)
            blocks[name] = ""
        blocks[name] += line[len(m.group(0)) if m else 0:]
    mod = tool()
    ap = mod.make_parser(h.BUILD, mod.handoff_policies(h.HANDOFF))
    defaults = vars(ap.parse_args([]))
    opts = [a for a in ap._actions if a.option_strings and a.dest != "help"]
    h.check(len(opts) == 13 and set(blocks) == {"--help"} | {a.option_strings[-1]
                                                            for a in opts}, blocks)
    for a in opts:
        flat = re.sub(r"\s+", "", blocks[a.option_strings[-1]])
        want = re.sub(r"\s+", "", f"(default: {defaults[a.dest]})")
        h.check(flat.endswith(want) and len(flat) > len(want) + 10,
                f"{a.option_strings[-1]}: no help or no {want}: {blocks}")
    # The workloads and the policies, these from handoff itself.
    policies = handoff_policies()
    h.check(len(policies) >= 8 and "rr" in policies and "none" in policies, policies)
    h.check(defaults["policies"] == ",".join(policies), defaults)
    workloads, policy_part = epilog.split("\nPolicies", 1)
    for w in mod.WORKLOADS:
        h.check(re.search(rf"^  {w} +\S", workloads, re.M), f"workload {w}:\n{epilog}")
    for name in policies:
        h.check(re.search(rf"^  {re.escape(name)} +\S", policy_part, re.M),
                f"policy {name}:\n{epilog}")


def test_help_without_a_build():
    with tempfile.TemporaryDirectory() as empty:
        p = subprocess.run([EXPERIMENT, "--build", empty, "--help"],
                           capture_output=True, text=True, timeout=30)
        flat = " ".join(p.stdout.split())
        h.check(p.returncode == 0 and "not built yet: run make" in flat
                and "(default: every policy, as below)" in flat
                and re.search(r"^  keepalive +\S", p.stdout, re.M), p)
        p = subprocess.run([EXPERIMENT, "--build", empty], capture_output=True,
                           text=True, timeout=30)
        h.check(p.returncode == 2 and "not built (run make)" in p.stderr, p)


def test_latency_units():
    duration = tool().duration
    for ms, want in ((12.02, "12.02 ms"), (12.0249, "12.02 ms"), (0.085, "85 [µu]s"),
                     (0, "0 [µu]s"), (0.9994, "999 [µu]s"), (0.9996, "1.00 ms"),
                     (999.994, "999.99 ms"), (999.996, "1.00 s"), (1250, "1.25 s"),
                     (61000, "61.00 s")):
        h.check(re.fullmatch(want, duration(ms)), f"{ms} ms: {duration(ms)!r}")


if __name__ == "__main__":
    h.main(globals())
