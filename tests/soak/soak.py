#!/usr/bin/env python3
"""Soak: `strand daemon` for a long while under process, thread and goroutine churn, its
memory, fds, tracked objects and BPF map occupancy sampled; they must be flat once warm.

    python3 tests/soak/soak.py [--minutes 30] [--strand ./strand] [--out FILE]

The churn: short C processes that spawn and join threads (build/targets/churn), one after
another; Go processes that create and exit goroutines in bursts and leak a few
(build/targets/go/goleak chan, 5 leaked each, killed after a few seconds); a long-lived C
process whose thread pool is signalled forever (build/targets/pool). Every 30 s the
daemon's /metrics and /proc entry are read. After the first fifth of the run (warm-up) the
RSS may rise by at most 8 MiB, the fds by at most 8, and what strand tracks must stay
bounded. Writes a markdown table to --out (default: stdout only). Exits 1 if not flat.
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "build" / "targets"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(strand_tracked|strand_bpf_map_entries)\{(?:what|map)="([^"]+)"\} (\S+)$',
                     line)
        if m:
            out["%s/%s" % (m.group(1)[7:], m.group(2))] = float(m.group(3))
        m = re.match(r'^strand_events_dropped_total\{reason="([^"]+)"\} (\S+)$', line)
        if m:
            out["dropped/" + m.group(1)] = float(m.group(2))
    return out


def rss_kib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def churn(stop, counts):
    """Short-lived processes, one after another, of three kinds."""
    i = 0
    while not stop.is_set():
        i += 1
        if i % 10 == 0:
            p = subprocess.Popen([str(BIN / "go" / "goleak"), "chan", "--now"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop.wait(3)
            p.send_signal(signal.SIGTERM)
            p.wait()
            counts["go"] += 1
        else:
            subprocess.run([str(BIN / "churn"), "--now", "64", "8"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
            counts["c"] += 1
        stop.wait(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--strand", default=str(ROOT / "strand"))
    ap.add_argument("--out")
    args = ap.parse_args()
    port = free_port()
    daemon = subprocess.Popen([args.strand, "daemon", "--listen", "127.0.0.1:%d" % port],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = daemon.stderr.readline()
    while line and "serving on" not in line:
        line = daemon.stderr.readline()
    threading.Thread(target=lambda: daemon.stderr.read(), daemon=True).start()
    pool = subprocess.Popen([str(BIN / "pool"), "--now"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    stop, counts = threading.Event(), {"c": 0, "go": 0}
    worker = threading.Thread(target=churn, args=(stop, counts))
    worker.start()
    samples, t0 = [], time.monotonic()
    try:
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(30)
            m = metrics(port)
            samples.append((time.monotonic() - t0, rss_kib(daemon.pid),
                            len(os.listdir("/proc/%d/fd" % daemon.pid)), dict(counts), m))
            s = samples[-1]
            print("%6.0f s  rss %6d KiB  fds %3d  processes run %5d  tracked %s" % (
                s[0], s[1], s[2], s[3]["c"] + s[3]["go"],
                {k: int(v) for k, v in m.items() if k.startswith("tracked/")}), flush=True)
    finally:
        stop.set()
        worker.join()
        pool.send_signal(signal.SIGTERM)
        pool.wait()
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(30)
    warm = samples[max(0, len(samples) // 5 - 1)]
    last = samples[-1]
    peak_rss = max(s[1] for s in samples[len(samples) // 5:])
    peak_fds = max(s[2] for s in samples[len(samples) // 5:])
    keys = sorted(k for k in last[4] if k.startswith(("tracked/", "bpf_map_entries/")))
    bounded = {k: max(s[4].get(k, 0) for s in samples) for k in keys}
    ok = peak_rss <= warm[1] + 8192 and peak_fds <= warm[2] + 8 and rc == 0
    lines = [
        "`python3 tests/soak/soak.py --minutes %g` on %s: %d C and %d Go processes churned "
        "through the daemon, a pool process signalled throughout." % (
            args.minutes, time.strftime("%Y-%m-%d"), last[3]["c"], last[3]["go"]),
        "",
        "| at (s) | RSS (KiB) | fds | " + " | ".join(k.split("/", 1)[1] for k in keys) + " |",
        "|---" * (3 + len(keys)) + "|",
    ]
    step = max(1, len(samples) // 12)
    for s in samples[::step] + ([last] if samples[::step][-1] is not last else []):
        lines.append("| %.0f | %d | %d | " % (s[0], s[1], s[2]) +
                     " | ".join("%d" % s[4].get(k, 0) for k in keys) + " |")
    lines += ["",
              "After warm-up (%.0f s): RSS %d -> peak %d KiB (+%d), fds %d -> peak %d; the most "
              "tracked at any sample: %s; daemon exit status %s. %s." % (
                  warm[0], warm[1], peak_rss, peak_rss - warm[1], warm[2], peak_fds,
                  ", ".join("%s %d" % (k.split("/", 1)[1], v) for k, v in bounded.items()),
                  rc, "Flat" if ok else "NOT flat")]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
