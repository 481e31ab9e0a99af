#!/usr/bin/env python3
"""The documents that map handoff onto Node's source name real things:
every C function written as `name()` in docs/node-cluster.md and
docs/architecture.md is defined in master/, worker/ or common/, and every
repository path written in backticks exists.

A definition is a line that starts with `name(`: our style puts the return
type on the line before. A struct's callback member, `(*name)(`, counts
too (a policy's `pick()`). Fenced code blocks (trace output, commands) are
not checked. Qualified names such as `RoundRobinHandle.handoff()` are
Node's and are skipped (write Node's bare function names without `()`);
the system calls the documents mention are listed in NOT_OURS."""

import glob
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = ["docs/node-cluster.md", "docs/architecture.md", "docs/node-workers.md"]
SOURCE_DIRS = ["master", "worker", "common"]
# Top-level directories whose paths a document may name.
REPO_DIRS = ("master", "worker", "common", "tests", "tools", "docs")

# System calls and libev functions the documents mention. Anything else
# written `name()` must be ours.
NOT_OURS = {
    "accept", "accept4", "bind", "close", "dup2", "execv", "execve", "fork", "kill",
    "listen", "openat2", "recvmmsg", "recvmsg", "sendmsg", "socketpair", "waitpid",
    "fstat", "fstatat", "sendfile", "shutdown",
    "ev_async_send",
}

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SPAN = re.compile(r"`([^`\n]+)`")
CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(\)$")
PATH = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.*-]+)+/?$|^[A-Za-z0-9_-]+/$")


def spans(doc):
    with open(os.path.join(ROOT, doc)) as f:
        text = FENCE.sub("", f.read())
    return SPAN.findall(text)


def sources():
    text = []
    for d in SOURCE_DIRS:
        for p in sorted(glob.glob(os.path.join(ROOT, d, "**", "*.[ch]"), recursive=True)):
            with open(p) as f:
                text.append(f.read())
    return "\n".join(text)


def defined(name, src):
    return re.search(rf"^{re.escape(name)}\(", src, re.M) is not None \
        or re.search(rf"\(\*{re.escape(name)}\)\(", src) is not None


def functions_named(doc):
    out = []
    for s in spans(doc):
        m = CALL.match(s)
        if m and m.group(1) not in NOT_OURS:
            out.append(m.group(1))
    return out


def paths_named(doc):
    out = []
    for s in spans(doc):
        if PATH.match(s) and s.split("/")[0] in REPO_DIRS:
            out.append(s)
    return out


def missing_functions(names, src):
    return sorted({n for n in names if not defined(n, src)})


def test_functions_named_are_defined():
    src = sources()
    bad = []
    for doc in DOCS:
        names = functions_named(doc)
        h.check(doc != "docs/node-cluster.md" or len(names) >= 40,
                f"{doc}: only {len(names)} functions found; is the pattern right?")
        bad += [f"{doc}: {n}()" for n in missing_functions(names, src)]
    h.check(not bad, "not defined in master/, worker/ or common/: " + ", ".join(bad))


def test_paths_named_exist():
    bad = []
    for doc in DOCS:
        for p in paths_named(doc):
            if not glob.glob(os.path.join(ROOT, p)):
                bad.append(f"{doc}: {p}")
    h.check(not bad, "no such path: " + ", ".join(sorted(set(bad))))


def test_check_catches_a_bad_name():
    # The check itself: a name that is not defined, or a wrong path, fails.
    src = sources()
    h.check(missing_functions(["sched_ack", "sched_worker_down"], src)
            == ["sched_worker_down"], "an undefined name was not caught")
    h.check(defined("pick", src), "a policy callback member was not found")
    h.check(not defined("sched_ac", src), "a prefix of a name matched")
    h.check(PATH.match("master/sched.c") and not glob.glob(os.path.join(ROOT, "master/shed.c")),
            "a wrong path would pass")
    h.check(not PATH.match("lib internal"), "a phrase looked like a path")


README_CURL = re.compile(r"^(curl .*?)\s+#\s*(.+)$")


def readme_examples():
    """The README's "Then:" commands with the answer each comment promises."""
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    block = re.search(r"^Then:\n+```sh\n(.*?)^```", text, re.S | re.M)
    h.check(block is not None, "README has no 'Then:' block of commands")
    out = [README_CURL.match(l).groups() for l in block.group(1).splitlines()
           if README_CURL.match(l)]
    h.check(len(out) >= 3, f"only {len(out)} commands with an answer in README's block")
    return out


def make_run_flags():
    """What `make run` passes to the master, from the Makefile itself."""
    p = subprocess.run(["make", "-n", "-s", "--no-print-directory", "HANDOFF_SETUP_DONE=1",
                        "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = [l for l in p.stdout.splitlines() if re.match(r"^\S*/handoff\s", l)]
    h.check(len(lines) == 1, f"no single handoff command in `make -n run`: {p.stdout}")
    args = shlex.split(lines[0])[1:]
    h.check(args[:2] == ["--port", "8080"], f"make run does not serve on :8080: {args}")
    return args[2:]


def test_readme_examples_answer_as_shown():
    """Each command the README shows after `make run` gets the answer its
    comment says, from a server started with make run's own flags."""
    s = h.server(*make_run_flags(), workers=1)
    for cmd, want in readme_examples():
        argv = [a.replace("127.0.0.1:8080", f"127.0.0.1:{s.port}") for a in shlex.split(cmd)]
        got = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        pattern = re.escape(want.strip()).replace("12345", r"\d+")
        h.check(re.fullmatch(pattern, got), f"README: `{cmd}` promises {want!r}, got {got!r}")


def long_flags():
    """Every long flag `handoff --help` lists."""
    out = subprocess.run([h.HANDOFF, "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    flags = sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]+)", out)))
    h.check(len(flags) >= 30, f"only {len(flags)} flags in --help: is the pattern right?")
    return flags


def test_every_flag_is_documented():
    """The README's tables and the man page name every flag --help has."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(ROOT, "docs/handoff.1")) as f:
        man = f.read().replace("\\-", "-")
    bad = [f"README.md: --{f}" for f in long_flags() if f"`--{f}" not in readme
           and not re.search(rf"`[^`]*--{re.escape(f)}\b", readme)]
    bad += [f"handoff.1: --{f}" for f in long_flags()
            if not re.search(rf"\\fB--{re.escape(f)}\\fR|^\.BR? .*(?<![\w-])--{re.escape(f)}(?![\w-])",
                             man, re.M)]
    h.check(not bad, "flags --help lists but the docs do not: " + ", ".join(bad))


def demo_scenarios():
    out = subprocess.run([os.path.join(ROOT, "tools/demo"), "--list"], capture_output=True,
                         text=True, timeout=30).stdout
    names = [l.split()[0] for l in out.splitlines() if l[:1].strip()]
    h.check(len(names) >= 7, f"tools/demo --list gave {names}")
    return names


def test_every_demo_scenario_is_documented():
    """The README's table and the man page's EXAMPLES list each scenario
    `tools/demo --list` runs."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(ROOT, "docs/handoff.1")) as f:
        man = f.read().replace("\\-", "-")
    examples = man.split(".SH EXAMPLES", 1)[-1].split(".SH ", 1)[0]
    bad = [f"README.md: {n}" for n in demo_scenarios() if f"| `{n}` |" not in readme]
    bad += [f"handoff.1 EXAMPLES: {n}" for n in demo_scenarios()
            if not re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", examples)]
    h.check(not bad, "scenarios the docs do not list: " + ", ".join(bad))


def test_the_repository_stands_alone():
    """No tracked file points outside the repository (the shared folder
    beside the checkout, or this machine's own paths)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           text=True, timeout=30).stdout.split("\0")
    # Spelt in pieces, so that this file passes its own check.
    sibling, machine = re.escape("." * 2 + "/" + "shared"), re.escape("/" + "work" + "/")
    outside = re.compile(rf"{sibling}\b|(?<![\w.]){machine}")
    bad = []
    for rel in filter(None, files):
        if rel.startswith(".ci/"):
            continue
        try:
            with open(os.path.join(ROOT, rel), errors="replace") as f:
                if outside.search(f.read()):
                    bad.append(rel)
        except (IsADirectoryError, FileNotFoundError):
            pass
    h.check(not bad, "files that point outside the repository: " + ", ".join(bad))


def test_worker_location_is_where_install_puts_it():
    """--help and the man page's FILES name the place `make install`
    puts the worker."""
    with open(os.path.join(ROOT, "Makefile")) as f:
        mk = f.read()
    h.check("$(DESTDIR)$(PREFIX)/lib/handoff/" in mk, "make install no longer uses lib/handoff/")
    out = subprocess.run([h.HANDOFF, "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    h.check("lib/handoff/handoff-worker" in out, "--help does not say where the worker is")
    with open(os.path.join(ROOT, "docs/handoff.1")) as f:
        man = f.read().replace("\\-", "-")
    files = man.split(".SH FILES", 1)[-1].split(".SH ", 1)[0]
    h.check("lib/handoff/handoff-worker" in files, "handoff(1) FILES does not name lib/handoff/")


if __name__ == "__main__":
    h.main(globals())
