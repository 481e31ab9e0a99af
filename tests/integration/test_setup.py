"""The set-up on a new machine: every README target installs the Debian
packages before any rule that needs them is read, so the first try works.

A real new machine lacks libev-dev and node-llhttp; here the set-up step
(DEPS_SH) is replaced by a script that makes the llhttp sources and header
appear only when it runs, at paths the Makefile is pointed to. A Makefile
that reads its llhttp rules before the set-up has run fails at once ("No
rule to make target 'build/obj/llhttp/api.o'"), as it did on a new machine.

It builds from scratch, so it runs once, on the normal build's pass.
"""

import os
import shutil
import stat
import subprocess
import tempfile

import harness as h

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LLHTTP_SRC = "/usr/share/llhttp"
LLHTTP_INC = "/usr/share/include/llhttp"

FAKE_DEPS = """#!/bin/sh
# Stands in for tools/deps.sh: records what it was asked for, then makes
# the packages' files appear, as apt-get would.
set -eu
echo "extra=${{HANDOFF_DEPS_EXTRA:-}} cmds=${{HANDOFF_DEPS_CMDS:-}}" >> "{tmp}/deps-runs"
[ -n "${{FAIL_AFTER_RECORD:-}}" ] && exit 1
mkdir -p "{tmp}/pkg/src" "{tmp}/pkg/inc"
cp {src}/*.c "{tmp}/pkg/src/"
cp {inc}/*.h "{tmp}/pkg/inc/"
"""


def _make(tmp, *goals, env_extra=None):
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    env.pop("HANDOFF_SETUP_DONE", None)
    env.update(env_extra or {})
    return subprocess.run(
        ["make", "--no-print-directory", f"BUILD={tmp}/build", "OPT=-O0",
         f"LLHTTP_SRC={tmp}/pkg/src", f"LLHTTP_INC={tmp}/pkg/inc",
         f"DEPS_SH={tmp}/deps.sh", *goals],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def _fake_deps(tmp):
    path = os.path.join(tmp, "deps.sh")
    with open(path, "w") as f:
        f.write(FAKE_DEPS.format(tmp=tmp, src=LLHTTP_SRC, inc=LLHTTP_INC))
    os.chmod(path, stat.S_IRWXU)


def _runs(tmp):
    try:
        with open(os.path.join(tmp, "deps-runs")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_first_build_and_install_on_a_new_machine():
    tmp = tempfile.mkdtemp(prefix="handoff-setup-")
    try:
        _fake_deps(tmp)
        h.check(not os.path.exists(os.path.join(tmp, "pkg")), "packages present before set-up")
        p = _make(tmp, "install", f"DESTDIR={tmp}/dest", "PREFIX=/usr")
        h.check(p.returncode == 0, "first try failed:\n" + (p.stdout + p.stderr)[-3000:])
        h.check(len(_runs(tmp)) == 1, f"set-up ran {_runs(tmp)}")
        for rel in ("usr/bin/handoff", "usr/bin/handoffctl", "usr/lib/handoff/handoff-worker"):
            h.check(os.access(os.path.join(tmp, "dest", rel), os.X_OK), f"{rel} not installed")
        # the worker was compiled from the sources the set-up brought
        h.check(os.path.exists(os.path.join(tmp, "build/obj/llhttp/api.o")), "no llhttp object")
        # the installed server serves
        s = h.Server(workers=1, binary=os.path.join(tmp, "dest/usr/bin/handoff"))
        h._servers.append(s)
        h.hello_pid(h.request(s.port, "/"))
        s.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_each_target_asks_for_its_packages_first():
    """The first pass installs what the goal needs before anything else
    runs: a failing set-up stops it there, with nothing built."""
    tmp = tempfile.mkdtemp(prefix="handoff-setup-")
    try:
        _fake_deps(tmp)
        want = {
            "run": ([], []),
            "test": (["clang", "wrk", "prometheus", "chromium"], ["node=nodejs"]),
            "bench": (["wrk", "nginx"], ["node=nodejs"]),
            "demo": ([], ["node=nodejs"]),
            "experiment": (["wrk", "gnuplot-nox"], []),
            "paper": (["gnuplot-nox"], []),
        }
        for goal, (pkgs, cmds) in want.items():
            before = len(_runs(tmp))
            p = _make(tmp, goal, env_extra={"FAIL_AFTER_RECORD": "1"})
            h.check(p.returncode != 0, f"make {goal} went on after a failed set-up")
            runs = _runs(tmp)[before:]
            h.check(len(runs) == 1, f"make {goal}: set-up ran {runs}")
            extra = runs[0].split(" cmds=")[0][len("extra="):].split()
            for pkg in pkgs:
                h.check(pkg in extra, f"make {goal} does not install {pkg}: {runs[0]}")
            for cmd in cmds:
                h.check(cmd in runs[0], f"make {goal} does not ask for {cmd}: {runs[0]}")
            h.check(not os.path.exists(os.path.join(tmp, "build")),
                    f"make {goal} built before its set-up succeeded")
        # goals that need no package skip the set-up
        p = _make(tmp, "check-format")
        h.check(len(_runs(tmp)) == len(want), "check-format ran the set-up")
        p = _make(tmp, "clean")
        h.check(p.returncode == 0 and len(_runs(tmp)) == len(want), "clean ran the set-up")
        h.check(os.path.exists(h.HANDOFF), "make clean BUILD=elsewhere removed the real build")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if h.SLOW == 1.0:
        h.main(globals())
