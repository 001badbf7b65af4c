#!/usr/bin/env python3
"""strand at scale: attaching to a process with many goroutines, many threads, and to a
large binary. For each: how long `strand trace -p` takes to attach (its first look at the
process included: the goroutine snapshot, the threads' list), how long the report and
detach take after Ctrl-C, strand's peak RSS and CPU, and whether the counts are right.
Appends a section to bench/RESULTS.md.

    python3 bench/scale.py [--goroutines N] [--threads N] [--out bench/RESULTS.md]

The thread run raises kernel.pid_max and vm.max_map_count for itself when they are too
small for N threads, and puts them back after.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "build", "bench")


def start(argv, ready):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    t0 = time.monotonic()
    line = p.stdout.readline()
    if not line.startswith(ready):
        p.kill()
        sys.exit("%s did not get ready: %r" % (argv[0], line))
    return p, time.monotonic() - t0


def measure(strand, pid, scratch):
    """Attach, let it run 2 s, Ctrl-C: (attach s, report+detach s, report)."""
    out = os.path.join(scratch, "scale.json")
    t0 = time.monotonic()
    st = subprocess.Popen([strand, "trace", "-p", str(pid), "--json", "-o", out, "--no-live"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = st.stderr.readline()
    while line and "attached" not in line:
        line = st.stderr.readline()
    attach = time.monotonic() - t0
    time.sleep(2)
    t1 = time.monotonic()
    st.send_signal(signal.SIGINT)
    rest = st.stderr.read()
    rc = st.wait(600)
    detach = time.monotonic() - t1
    if rc not in (0, 10):
        sys.exit("strand exited %d: %s" % (rc, rest[-2000:]))
    with open(out) as f:
        rep = json.load(f)
    return attach, detach, rep


def sysctl(name, value=None):
    path = "/proc/sys/" + name.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()
    if value is not None:
        with open(path, "w") as f:
            f.write(str(value))
    return old


def measure_program(strand, argv, scratch):
    """Starts argv, measures strand on it once it is ready, kills it:
    (attach s, report+detach s, report, seconds it took to get ready)."""
    p, made = start(argv, "ready")
    try:
        return measure(strand, p.pid, scratch) + (made,)
    finally:
        p.kill()
        p.wait()


def run_goroutines(strand, n, scratch):
    attach, detach, rep, made = measure_program(strand, [os.path.join(BIN, "goidle"), str(n)],
                                                scratch)
    gr = rep.get("goroutines") or {}
    return ("%d parked goroutines (Go 1.19)" % n, attach, detach, rep,
            "goroutines seen: %d (made in %.1f s)" % (gr.get("live", 0), made))


def run_threads(strand, n, scratch):
    saved = {}
    for name, need in (("kernel.pid_max", n * 2 + 10000), ("vm.max_map_count", n * 3 + 10000),
                       ("kernel.threads-max", n * 2 + 10000)):
        if int(sysctl(name)) < need:
            saved[name] = sysctl(name, need)
    try:
        attach, detach, rep, made = measure_program(
            strand, [os.path.join(BIN, "manythreads"), str(n)], scratch)
    finally:
        for name, old in saved.items():
            sysctl(name, old)
    return ("%d blocked threads (C)" % n, attach, detach, rep,
            "threads seen: %d (made in %.1f s)" % (rep["totals"]["live"], made))


def run_big_binary(strand, scratch):
    exe = "/usr/lib/chromium/chromium"
    size = os.path.getsize(exe) / 2**20
    # its helper processes write the profile until they are gone: the whole group is killed
    with tempfile.TemporaryDirectory(prefix="strand-chromium-",
                                     ignore_cleanup_errors=True) as profile:
        p = subprocess.Popen([exe, "--headless", "--no-sandbox", "--disable-gpu",
                              "--user-data-dir=" + profile, "--remote-debugging-port=0",
                              "about:blank"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(3)
        try:
            attach, detach, rep = measure(strand, p.pid, scratch)
        finally:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            time.sleep(0.5)
    return ("Chromium (%.0f MB binary, headless)" % size, attach, detach, rep,
            "threads seen: %d, spawn sites: %d" % (rep["totals"]["live"], len(rep["sites"])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strand", default=os.path.join(ROOT, "strand"))
    ap.add_argument("--goroutines", type=int, default=1000000)
    ap.add_argument("--threads", type=int, default=100000)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="strand-scale-") as scratch:
        for run in (lambda: run_goroutines(args.strand, args.goroutines, scratch),
                    lambda: run_threads(args.strand, args.threads, scratch),
                    lambda: run_big_binary(args.strand, scratch)):
            name, attach, detach, rep, seen = run()
            st = rep["stats"]
            rows.append((name, attach, detach, st.get("max_rss_kib", 0) / 1024,
                         st.get("cpu_seconds", 0), seen))
            print("%-40s attach %.2f s  report+detach %.2f s  RSS %.0f MiB  CPU %.2f s  %s" %
                  rows[-1], flush=True)
    lines = ["", "## Scale", "",
             "`python3 bench/scale.py` (run by `make bench`): `strand trace -p` attached to a",
             "process already running, 2 s of tracing, then Ctrl-C. Attach is until strand",
             "says it is attached, its first look at the process (the goroutine snapshot, the",
             "threads' list) included; report+detach from Ctrl-C to exit; RSS and CPU are",
             "strand's own (the report's stats).", "",
             "| process | attach (s) | report + detach (s) | strand RSS (MiB) | strand CPU (s) | check |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %.2f | %.2f | %.0f | %.2f | %s |" % r)
    go, _, binary = rows

    def verdict(ok):
        return "met" if ok else "**not met**"

    lines += ["", "Scale targets:", "",
              "- 1M live goroutines, strand's RSS <= 256 MB: %.0f MiB, %s" %
              (go[3], verdict(go[3] <= 256)),
              "- ... snapshot at attach <= 1 s: %.2f s, %s" % (go[1], verdict(go[1] <= 1)),
              "- attach and detach each <= 0.5 s on an ordinary binary (Chromium): %.2f s and "
              "%.2f s, %s" % (binary[1], binary[2], verdict(binary[1] <= 0.5 and
                                                          binary[2] <= 0.5))]
    results.put_section(args.out, "## Scale", "\n".join(lines).lstrip("\n"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
