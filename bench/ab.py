#!/usr/bin/env python3
"""Two strand binaries side by side on one workload: a before/after measurement of a change.

    python3 bench/ab.py OLD_STRAND NEW_STRAND ROUNDS -- WORKLOAD [ARGS...]

Each round runs the workload untraced, under `OLD trace --` and under `NEW trace --`, in a
shuffled order; the workload prints its own elapsed time ("... in S s"). Prints the medians
and the time each strand adds over the untraced median.
"""

import random
import statistics
import subprocess
import sys

from run import workload_time


def elapsed(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    return workload_time(out, argv)


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    old, new, rounds, cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[5:]
    modes = {"untraced": cmd,
             "old": [old, "trace", "-q", "--no-live", "--json", "-o", "/dev/null", "--"] + cmd,
             "new": [new, "trace", "-q", "--no-live", "--json", "-o", "/dev/null", "--"] + cmd}
    times = {m: [] for m in modes}
    for _ in range(rounds):
        order = list(modes)
        random.shuffle(order)
        for m in order:
            times[m].append(elapsed(modes[m]))
    base = statistics.median(times["untraced"])
    for m in modes:
        med = statistics.median(times[m])
        print("%-8s median %.3f s  added %+.3f s  runs %s" %
              (m, med, med - base, " ".join("%.3f" % t for t in times[m])))


if __name__ == "__main__":
    main()
