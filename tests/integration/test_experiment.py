#!/usr/bin/env python3
"""tools/experiment runs end to end: a CSV row per (workload, policy) with
per-worker connection counts that add up, PNG plots, and a table whose
latencies carry their unit; its --help is whole: a complete description,
every option's default, the workloads and the policies (handoff's own)."""

import csv
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import tempfile

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
    h.check(re.match(r"workload +policy +req/s +p50 +p99 +p99\.9 +jain +max/min ",
                     lines[0]), lines[0])
    rows = []
    for line in lines[1:]:
        if line.startswith("wrote "):
            break
        m = re.fullmatch(rf"(\S+) +(\S+) +\d+ +{LATENCY} +{LATENCY} +{LATENCY} +"
                         r"[01]\.\d{3} +\S+ +[\d;]+", line)
        h.check(m, f"a row that does not read number + unit: {line!r}")
        row = {"workload": m.group(1), "policy": m.group(2)}
        for k, name in enumerate(("p50", "p99", "p999")):
            number, unit = m.group(3 + 2 * k), m.group(4 + 2 * k)
            row[name] = float(number) * MS_PER[unit]
            decimals = len(number.split(".")[1]) if "." in number else 0
            row[name + "_step"] = 10 ** -decimals * MS_PER[unit]
        rows.append(row)
    return rows


def test_experiment_smoke():
    with tempfile.TemporaryDirectory() as out:
        p = subprocess.run(
            [EXPERIMENT, "--build", h.BUILD,
             "--out", out, "--duration", "1", "--workers", "2",
             "--connections", "8", "--policies", "rr,none",
             "--workloads", "close,keepalive"],
            capture_output=True, text=True, timeout=120 * h.SLOW)
        h.check(p.returncode == 0, p.stdout + p.stderr)
        with open(os.path.join(out, "results.csv")) as f:
            rows = list(csv.DictReader(f))
        # The table says what the CSV says, in the unit each cell names.
        shown = table(p.stdout)
        h.check([(r["workload"], r["policy"]) for r in shown] ==
                [(r["workload"], r["policy"]) for r in rows], p.stdout)
        for t, r in zip(shown, rows):
            for name in ("p50", "p99", "p999"):
                h.check(abs(t[name] - float(r[name + "_ms"])) <= t[name + "_step"] / 2
                        + 1e-9, f"{name}: table {t}, CSV {r}")
        h.check([(r["workload"], r["policy"]) for r in rows] ==
                [("close", "rr"), ("close", "none"), ("keepalive", "rr"),
                 ("keepalive", "none")], rows)
        for r in rows:
            conns = [int(x) for x in r["conns_per_worker"].split(";")]
            h.check(len(conns) == 2, r)
            h.check(int(r["requests"]) > 0 and float(r["throughput_rps"]) > 0, r)
            h.check(0 < float(r["jain"]) <= 1, r)
            if r["workload"] == "close":
                # one connection per request (wrk may cut the last ones short)
                h.check(abs(sum(conns) - int(r["requests"])) <= 16, r)
            else:
                # 8 connections, plus reconnects after --max-conn-requests
                h.check(8 <= sum(conns) <= 8 + int(r["requests"]) // 1000 + 8, r)
        for name in ("conns-close.png", "latency-close.png", "conns-keepalive.png",
                     "latency-keepalive.png"):
            with open(os.path.join(out, name), "rb") as f:
                h.check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG")


def test_experiment_rejects_bad_arguments():
    for args in (["--policies", "rr,bogus"], ["--workloads", "slow"], ["--duration", "0"],
                 ["--heavy-share", "2"], ["--workers", "two"], ["--bogus"]):
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
    h.check(len(opts) == 10 and set(blocks) == {"--help"} | {a.option_strings[-1]
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
