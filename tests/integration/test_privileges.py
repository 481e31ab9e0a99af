#!/usr/bin/env python3
"""--user USER[:GROUP]: started as root, the master binds and stays root;
its workers drop to the user (groups, group, user), as /proc shows, and
serve; the access log the master creates is theirs to append to."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def ids(pid):
    """(uids, gids, groups) of <pid> from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return ([int(x) for x in out["Uid"]], [int(x) for x in out["Gid"]],
            sorted(int(x) for x in out.get("Groups", [])))


def root_only():
    if os.geteuid() != 0:
        sys.stderr.write("not root: skipped\n")
        return True
    return False


def test_workers_drop_to_the_user():
    if root_only():
        return
    nobody = pwd.getpwnam("nobody")
    tmp = tempfile.mkdtemp(prefix="handoff-user-")
    os.chmod(tmp, 0o755)
    log = os.path.join(tmp, "access.log")
    try:
        s = h.server("--user", "nobody", "--access-log", log, workers=2)
        want_groups = sorted(set(os.getgrouplist("nobody", nobody.pw_gid)))
        for pid in s.worker_pids():
            uids, gids, groups = ids(pid)
            h.check(uids == [nobody.pw_uid] * 4 and gids == [nobody.pw_gid] * 4
                    and groups == want_groups, f"worker {pid}: {uids} {gids} {groups}")
        uids, _, _ = ids(s.pid)
        h.check(uids == [0] * 4, f"the master is no longer root: {uids}")
        for _ in range(4):
            h.hello_pid(h.request(s.port, "/"))
        st = os.stat(log)
        h.check(st.st_uid == nobody.pw_uid, f"the access log is uid {st.st_uid}'s")
        h.wait_until(lambda: len(open(log).read().splitlines()) == 4,
                     what="four access log lines written by the workers")
        # a replacement drops too
        victim = s.worker_pids()[0]
        os.kill(victim, 9)
        s.wait_ready(3)
        for pid in s.worker_pids():
            h.check(ids(pid)[0] == [nobody.pw_uid] * 4, f"replacement {pid}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_user_and_group():
    if root_only():
        return
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    s = h.server("--user", f"nobody:{group}", workers=1)
    for pid in s.worker_pids():
        uids, gids, groups = ids(pid)
        h.check(uids == [nobody.pw_uid] * 4 and gids == [nobody.pw_gid] * 4
                and groups == [nobody.pw_gid], f"{uids} {gids} {groups}")
    h.hello_pid(h.request(s.port, "/"))


def test_unknown_user_or_group():
    for spec, msg in (("no-such-user-x", "no user 'no-such-user-x'"),
                      ("nobody:no-such-group-x", "no group 'no-such-group-x'"),
                      ("nobody:", "expected USER or USER:GROUP")):
        p = subprocess.run([h.HANDOFF, "--host", "127.0.0.1", "--port", "0", "--control",
                            "none", "--user", spec], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        lines = p.stderr.strip().splitlines()
        h.check(p.returncode == 1 and len(lines) == 1 and msg in lines[0], (spec, p))
        p = subprocess.run([h.HANDOFF, "-t", "--user", spec], capture_output=True, text=True,
                           timeout=10 * h.SLOW)
        h.check(p.returncode == 1 and p.stderr.startswith("command line: --user")
                and msg in p.stderr, (spec, p))


if __name__ == "__main__":
    h.main(globals())
