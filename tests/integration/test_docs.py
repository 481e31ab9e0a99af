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
        for p in sorted(glob.glob(os.path.join(ROOT, d, "*.[ch]"))):
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


if __name__ == "__main__":
    h.main(globals())
