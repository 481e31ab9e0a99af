#!/usr/bin/env python3
"""layout: what docs/architecture.md §0 promises of the tree, measured.

- circles: module A uses module B when A's object file has an undefined
  symbol that B's defines ("module": a .c with its .h). Prints every
  circle of modules (strongly connected component) of master/ and of
  worker/, from the object files under BUILD/obj.
- long functions: every function definition (a line starting with
  `name(` after its return type's line, to its closing brace) over N
  lines in master/, worker/, common/ and tools/.

  tools/layout.py [--build DIR] [--max-lines N]
"""

import argparse
import collections
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def symbols(obj):
    """(defined, undefined) symbol names of object file <obj>."""
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
    return defined, undefined


def module_graph(objdir):
    """{module: set of modules it uses} for the objects under <objdir>."""
    defs, undefs = {}, {}
    for obj in sorted(glob.glob(os.path.join(objdir, "**", "*.o"), recursive=True)):
        mod = os.path.relpath(obj, objdir)[:-2]
        defs[mod], undefs[mod] = symbols(obj)
    owner = {s: m for m, d in defs.items() for s in d}
    graph = collections.defaultdict(set)
    for m, u in undefs.items():
        graph[m]  # every module is a node
        for s in u:
            if s in owner and owner[s] != m:
                graph[m].add(owner[s])
    return graph


def circles(graph):
    """The strongly connected components of more than one module."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def long_functions(max_lines, files):
    """(lines, file, name) of every function longer than <max_lines>."""
    out = []
    for path in files:
        with open(path) as f:
            lines = f.read().split("\n")
        i = 0
        while i < len(lines):
            m = re.match(r"^([a-z_][a-z0-9_]*)\(", lines[i])
            if m and i > 0 and lines[i - 1] and not lines[i - 1].startswith(("#", " ", "/", "*")):
                j = i
                while j < len(lines) and lines[j] != "{" and not lines[j].endswith(";"):
                    j += 1
                if j < len(lines) and lines[j] == "{":
                    k = j
                    while k < len(lines) and lines[k] != "}":
                        k += 1
                    if k - i + 1 > max_lines:
                        out.append((k - i + 1, os.path.relpath(path, ROOT), m.group(1)))
                    i = k
            i += 1
    return sorted(out, reverse=True)


def sources():
    return [p for d in ("master", "worker", "common", "tools")
            for p in glob.glob(os.path.join(ROOT, d, "**", "*.c"), recursive=True)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--max-lines", type=int, default=100)
    args = ap.parse_args()
    bad = 0
    for part in ("master", "worker"):
        found = circles(module_graph(os.path.join(args.build, "obj", part)))
        for c in found:
            folders = {os.path.dirname(m) for m in c}
            print(f"{part}: a circle of {len(c)}: {' '.join(c)}"
                  + (" (crosses folders)" if len(folders) > 1 else ""))
        if not found:
            print(f"{part}: no circle")
    for n, path, name in long_functions(args.max_lines, sources()):
        print(f"{path}: {name}() is {n} lines")
        bad += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
