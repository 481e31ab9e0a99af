#!/usr/bin/env python3
"""The command line: bad flags exit 2 with one clear line, a bind failure
exits 1 naming the address, --help and --version exit 0."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def run(*args, timeout=10):
    return subprocess.run([h.HANDOFF, *args], capture_output=True, text=True,
                          timeout=timeout * h.SLOW)


def test_bad_flags_exit_2():
    cases = [
        (["--port", "abc"], "--port"),
        (["--port", "65536"], "--port"),
        (["--port", "-1"], "--port"),
        (["--workers", "0"], "--workers"),
        (["--workers", "2x"], "--workers"),
        (["--backlog", ""], "--backlog"),
        (["--grace", "soon"], "--grace"),
        (["--max-queue", "0"], "--max-queue"),
        (["--host", "[::1"], "--host"),
        (["--bogus"], "--bogus"),
        (["-x"], "-x"),
        (["--port"], "--port"),
        (["extra"], "extra"),
        # --admin was checked only when opened, and exited 1 like a bind
        # failure.
        (["--admin", "127.0.0.1:abc"], "--admin"),
        (["--admin", ":99999"], "--admin"),
        (["--admin", "99999"], "--admin"),
        (["--admin", "[::1]"], "--admin"),
        (["--admin", "127.0.0.1:"], "--admin"),
        (["--worker-sched", "fifo"], "--worker-sched"),
        (["--worker-sched", ""], "--worker-sched"),
        (["--admin", "[::1:9090"], "--admin"),
    ]
    for args, needle in cases:
        p = run(*args)
        h.check(p.returncode == 2, f"{args}: exit {p.returncode}")
        lines = p.stderr.strip().splitlines()
        h.check(len(lines) == 1, f"{args}: stderr {p.stderr!r}")
        h.check(needle in lines[0], f"{args}: {lines[0]!r} does not name {needle}")


def test_port_in_use_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = run("--host", "127.0.0.1", "--port", str(port))
    h.check(p.returncode == 1, f"exit {p.returncode}")
    lines = p.stderr.strip().splitlines()
    h.check(len(lines) == 1, p.stderr)
    h.check(f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], lines[0])


def test_admin_port_in_use_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = run("--host", "127.0.0.1", "--port", "0", "--control", "none",
                "--admin", f"127.0.0.1:{port}")
    h.check(p.returncode == 1, f"exit {p.returncode}: {p.stderr}")
    lines = p.stderr.strip().splitlines()
    h.check(len(lines) == 1, p.stderr)
    h.check("--admin" in lines[0] and f"127.0.0.1:{port}" in lines[0]
            and "in use" in lines[0], lines[0])


def test_unresolvable_host_exits_1():
    p = run("--host", "no.such.host.invalid", "--port", "0")
    h.check(p.returncode == 1, f"exit {p.returncode}: {p.stderr}")
    h.check("no.such.host.invalid" in p.stderr, p.stderr)


def test_missing_worker_program_exits_1():
    p = run("--host", "127.0.0.1", "--port", "0", "--worker-bin", "/nonexistent/w")
    h.check(p.returncode == 1, f"exit {p.returncode}")
    h.check("/nonexistent/w" in p.stderr, p.stderr)


def test_help_and_version():
    p = run("--help")
    h.check(p.returncode == 0 and "Usage: handoff" in p.stdout, p)
    for flag in ("--port", "--host", "--workers", "--backlog", "--grace",
                 "--trace", "--max-queue", "--version"):
        h.check(flag in p.stdout, f"--help does not mention {flag}")
    p = run("--version")
    h.check(p.returncode == 0 and p.stdout.startswith("handoff "), p)


def test_man_page_matches_help():
    import re
    helptext = run("--help").stdout
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "handoff.1")) as f:
        man = f.read().replace("\\-", "-")
    flags = set(re.findall(r"(--[a-z][a-z-]+)", helptext))
    h.check(len(flags) > 25, flags)
    missing = sorted(f for f in flags if f not in man)
    h.check(not missing, f"in --help but not in handoff.1: {missing}")
    extra = sorted(set(re.findall(r"\.BR? (--[a-z][a-z-]+)", man)) - flags)
    h.check(not extra, f"in handoff.1 but not in --help: {extra}")


def test_worker_program_refuses_manual_start():
    p = subprocess.run([os.path.join(h.BUILD, "handoff-worker")],
                       capture_output=True, text=True, timeout=10)
    h.check(p.returncode == 2 and "started by handoff" in p.stderr, p)


if __name__ == "__main__":
    h.main(globals())
