#!/usr/bin/env python3
"""The shape docs/architecture.md §0 promises, measured on the build's
object files (tools/layout.py): no circle of modules crosses a folder or
holds more than five, each folder uses only the folders its row allows,
and no function is over 100 lines."""

import importlib.util
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location("layout", os.path.join(ROOT, "tools", "layout.py"))
layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout)

# Which folders each folder's modules may use ("" is the part's top).
ALLOWED = {
    "master": {
        "sched": set(),
        "conf": {"sched"},
        "accept": {"conf", "sched"},
        "fleet": {"accept", "conf", "sched"},
        "node": {"fleet", "accept", "conf", "sched"},
        "ops": {"fleet", "accept", "conf", "sched"},
        "": {"sched", "conf", "accept", "fleet", "node", "ops"},
    },
    "worker": {
        "http": set(),
        "app": {"http"},
        "": {"http", "app"},
    },
}


def folder(module):
    return os.path.dirname(module)


def graph(part):
    g = layout.module_graph(os.path.join(h.BUILD, "obj", part))
    h.check(len(g) >= 10, f"only {len(g)} modules under {part}: is the build there?")
    return g


def test_no_circle_crosses_a_folder():
    bad = []
    for part in ALLOWED:
        for c in layout.circles(graph(part)):
            if len({folder(m) for m in c}) > 1 or len(c) > 5:
                bad.append(f"{part}: {' '.join(c)}")
    h.check(not bad, "circles: " + "; ".join(bad))


def test_folders_use_only_what_they_may():
    bad = []
    for part, rules in ALLOWED.items():
        for mod, uses in graph(part).items():
            here = folder(mod)
            h.check(here in rules, f"{part}/{mod}: a folder §0 does not know")
            for other in uses:
                there = folder(other)
                if there != here and there not in rules[here]:
                    bad.append(f"{part}/{mod} uses {part}/{other}")
    h.check(not bad, "uses across the rules: " + ", ".join(sorted(bad)))


def test_no_function_over_100_lines():
    long = layout.long_functions(100, layout.sources())
    h.check(not long, "over 100 lines: " + ", ".join(f"{p}: {n}() {k}" for k, p, n in long))


def test_the_check_sees_a_circle():
    g = {"a/x": {"b/y"}, "b/y": {"a/x"}, "a/z": set()}
    h.check(layout.circles(g) == [["a/x", "b/y"]], layout.circles(g))


if __name__ == "__main__":
    if h.SLOW == 1.0:  # the layout is the build's, whatever the sanitizer
        h.main(globals())
