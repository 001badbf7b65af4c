#!/usr/bin/env python3
"""The cost of proving goroutines lost by walking the heap (docs/verdicts.md): a Go program
with a heap of H MiB of linked nodes, 10 goroutines leaked each on a channel only it holds,
and a worker allocating for 8 s (bench/go/goheap.go). Per heap size, interleaved rounds of
the program untraced and under `strand trace -p PID` (walking every 2 s while the leaks are
unproven, then no more): the worker's throughput, traced over untraced (medians), and what
the walks read and how long each held the process still.

    python3 bench/gowalk.py [--runs 3] [--record bench/RESULTS.md]
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import results

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "build", "bench", "goheap")
STRAND = os.path.join(ROOT, "strand")
SIZES = (16, 256, 1024)
SECONDS = 8
SECTION = "## Heap walks (goroutines proven unreachable)"


def run(mib, traced):
    p = subprocess.Popen([TARGET, str(mib), "10", str(SECONDS)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    report = None
    if traced:
        st = subprocess.run([STRAND, "trace", "-q", "-p", str(p.pid), "--for",
                             "%ds" % (SECONDS - 1), "--json"], capture_output=True, text=True)
        report = json.loads(st.stdout)
    out = p.stdout.read()
    p.wait()
    return int(out.split()[-1]), report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--record")
    args = ap.parse_args()
    rows = []
    for mib in SIZES:
        plain, traced, walks = [], [], []
        for _ in range(args.runs):
            plain.append(run(mib, False)[0])
            ops, rep = run(mib, True)
            traced.append(ops)
            rt = rep["goroutines"]["runtimes"][0]["heap_walks"]
            lost = sum(g["count"] for g in rep["goroutines"]["groups"]
                       if g.get("verdict") == "stranded")
            walks.append((rt["count"], rt["last_seconds"], rt["objects"], rt["bytes"], lost,
                          rt["problem"]))
        w = walks[len(walks) // 2]
        rows.append("| %d MiB | %.3f | %d | %.0f ms | %d | %.0f MiB | %d of 10 | %s |" % (
            mib, statistics.median(traced) / statistics.median(plain), w[0], w[1] * 1e3,
            w[2], w[3] / 1048576, w[4], w[5] or ""))
        print(rows[-1], flush=True)
    text = "\n".join([
        SECTION, "",
        "Measured %s on %s: `python3 bench/gowalk.py --runs %d` (bench/go/goheap.go: a heap "
        "of linked 64-byte nodes, 10 leaked senders, a worker allocating for %d s; "
        "`strand trace -p` for %d s). Throughput is the worker's, traced over untraced, "
        "medians; the walk columns are the median run's: walks taken, the last one's time "
        "(the process held still that long), objects marked and bytes read." % (
            datetime.date.today().isoformat(), os.uname().release, args.runs, SECONDS,
            SECONDS - 1), "",
        "| heap | throughput traced/untraced | walks | last walk | objects | read | proven lost | problem |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"] + rows) + "\n"
    print(text)
    if args.record:
        results.put_section(args.record, SECTION, text)


if __name__ == "__main__":
    sys.exit(main())
