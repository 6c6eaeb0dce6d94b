#!/usr/bin/env python3
"""perf-share.py SCRIPT.txt ROOT [N] — inclusive shares under one function.

From `perf script` output of a `perf record --call-graph dwarf` run of
softse-bench: of the samples whose stack holds ROOT (the row's iteration
function, p11_sign, p11_digest ...), the share that also holds each other
function below ROOT (inclusive) and that ends in it (self).  This is how
the percentages of docs/performance.md's issue 18 section were taken.
"""
import collections
import re
import sys


def stacks(path):
    for block in open(path, errors="replace").read().split("\n\n"):
        syms = []
        for line in block.strip().split("\n")[1:]:
            parts = line.split()
            if len(parts) > 1:
                syms.append(re.sub(r"\+0x[0-9a-f]+$", "", parts[1]))
        yield syms  # leaf first


def main():
    path, root = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    total, incl, own = 0, collections.Counter(), collections.Counter()
    for syms in stacks(path):
        if root not in syms:
            continue
        total += 1
        below = syms[: syms.index(root)]
        incl.update(set(below))
        own[syms[0]] += 1
    print(f"{root}: {total} samples")
    for name, count in incl.most_common(n):
        print(f"  {100 * count / total:5.1f}% incl {100 * own[name] / total:5.1f}% self  {name}")


if __name__ == "__main__":
    main()
