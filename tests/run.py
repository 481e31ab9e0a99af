#!/usr/bin/env python3
"""Runs every test: the C unit binaries and the Python integration scripts,
for each --build directory given, each with a time limit. Every test prints
"ok NAME" or "FAIL NAME: why"; each file's time goes to stderr; the last
two lines are the wall time of each build and "N passed, N failed"."""

import argparse
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UNIT_TIMEOUT = 120
INTEGRATION_TIMEOUT = 400


def run_one(label, cmd, env, timeout):
    """Runs one test program; returns (passed, failed) counts."""
    passed = failed = 0
    start = time.monotonic()
    stem = os.path.splitext(os.path.basename(cmd[-1]))[0]
    label = f"{label}{stem}."
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, errors="replace")
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = "timeout"
    for line in out.splitlines():
        if line.startswith("ok "):
            passed += 1
            print(f"ok   {label}{line[3:]}")
        elif line.startswith("FAIL "):
            failed += 1
            print(f"FAIL {label}{line[5:]}")
    if rc != 0 and failed == 0:
        failed += 1
        print(f"FAIL {label}run: exited {rc}")
    if failed:
        tail = "\n".join(err.splitlines()[-40:])
        print(f"---- stderr of {' '.join(cmd)} (last lines) ----\n{tail}\n----")
    sys.stdout.flush()
    print(f"     ({label[:-1]} took {time.monotonic() - start:.1f}s)", file=sys.stderr)
    return passed, failed


FUZZ_SECONDS = 10


def run_fuzz(build, env):
    """A short run of each libFuzzer target on its seed corpus."""
    passed = failed = 0
    for target in sorted(glob.glob(os.path.join(ROOT, build, "fuzz_*"))):
        if not os.access(target, os.X_OK) or target.endswith(".log"):
            continue
        name = os.path.basename(target)[len("fuzz_"):]
        corpus = os.path.join(ROOT, build, f"corpus-{name}")
        os.makedirs(corpus, exist_ok=True)
        cmd = [target, f"-max_total_time={FUZZ_SECONDS}", "-timeout=10", "-rss_limit_mb=2048",
               "-print_final_stats=1", "-artifact_prefix=" + os.path.join(ROOT, build) + "/",
               corpus, os.path.join(HERE, "fuzz", name)]
        try:
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                               timeout=FUZZ_SECONDS + 120)
            out, rc = p.stderr, p.returncode
        except subprocess.TimeoutExpired:
            out, rc = "", "timeout"
        m = re.search(r"stat::number_of_executed_units: *(\d+)", out)
        execs = m.group(1) if m else "?"
        if rc == 0:
            passed += 1
            print(f"ok   fuzz.{name} ({execs} executions in {FUZZ_SECONDS}s, no findings)")
        else:
            failed += 1
            print(f"FAIL fuzz.{name}: exit {rc} after {execs} executions")
            print("\n".join(out.splitlines()[-30:]))
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", required=True,
                    help="build directory to test (repeatable)")
    ap.add_argument("--only", default="", help="substring of test files to run")
    ap.add_argument("--fuzz", help="build directory of the libFuzzer targets to smoke-run")
    args = ap.parse_args()

    passed = failed = 0
    walls = []  # (what, seconds)
    for build in args.build:
        start = time.monotonic()
        label = "" if build == "build" else f"[{os.path.basename(build)}] "
        env = dict(os.environ)
        env["HANDOFF_BUILD"] = os.path.join(ROOT, build)
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=86"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        units = sorted(glob.glob(os.path.join(ROOT, build, "tests", "test_*")))
        units = [u for u in units if os.access(u, os.X_OK) and not u.endswith(".d")]
        for u in units:
            if args.only and args.only not in u:
                continue
            p, f = run_one(label, [u], env, UNIT_TIMEOUT)
            passed += p
            failed += f
        for t in sorted(glob.glob(os.path.join(HERE, "integration", "test_*.py"))):
            if args.only and args.only not in t:
                continue
            p, f = run_one(label, [sys.executable, t], env, INTEGRATION_TIMEOUT)
            passed += p
            failed += f
        walls.append((build, time.monotonic() - start))
    if args.fuzz and not args.only:
        start = time.monotonic()
        p, f = run_fuzz(args.fuzz, dict(os.environ))
        passed += p
        failed += f
        walls.append(("fuzz", time.monotonic() - start))
    # On stdout, so that the count stays the last line when both are piped.
    print("wall time: " + ", ".join(f"{what} {secs:.1f}s" for what, secs in walls))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
