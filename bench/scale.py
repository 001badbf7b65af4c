#!/usr/bin/env python3
"""strand at scale: attaching to a process with many goroutines, many threads, and to a
large binary, and the daemon with many processes on the machine; and what the live view costs
on the process with many goroutines. For each: how long `strand trace -p` takes to attach (its first look at the
process included: the goroutine snapshot, the threads' list), how long the report and
detach take after Ctrl-C, strand's peak RSS and CPU, and whether the counts are right.
Appends a section to bench/RESULTS.md.

    python3 bench/scale.py [--goroutines N] [--threads N] [--out bench/RESULTS.md]

The thread run raises kernel.pid_max and vm.max_map_count for itself when they are too
small for N threads, and puts them back after.
"""
import argparse
import json
import re
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

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


RUNS = 3  # strand runs on each process: the medians are reported


PHASE = re.compile(r"strand: phase (.*?)\s+([0-9.]+) ms")


def measure_once(strand, pid, scratch):
    """Attach, let it run 2 s, Ctrl-C: (attach s, report+detach s, report, the attach's
    phases as STRAND_PHASES tells them: [(what, ms)])."""
    out = os.path.join(scratch, "scale.json")
    t0 = time.monotonic()
    st = subprocess.Popen([strand, "trace", "-p", str(pid), "--json", "-o", out, "--no-live"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, STRAND_PHASES="1"))
    phases = []
    line = st.stderr.readline()
    while line and not line.startswith("strand: attached"):
        m = PHASE.match(line)
        if m:
            phases.append((m.group(1), float(m.group(2))))
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
    return attach, detach, rep, phases


def median_phases(runs):
    """The phases of the runs' attaches, in order, each with its median (ms)."""
    times = {}
    for phases in runs:
        seen = set()
        for what, ms in phases:
            if what not in seen:  # a phase a scan marks again is counted once a run
                seen.add(what)
                times.setdefault(what, []).append(ms)
    return [(what, statistics.median(ms)) for what, ms in times.items()]


def measure(strand, pid, scratch):
    """RUNS strand runs on pid, one after the other: the median attach, report+detach, the
    last run's report with the median peak RSS and CPU in its stats, the attach's phases."""
    runs = [measure_once(strand, pid, scratch) for _ in range(RUNS)]
    rep = runs[-1][2]
    for key in ("max_rss_kib", "cpu_seconds"):
        rep["stats"][key] = statistics.median(r[2]["stats"].get(key, 0) for r in runs)
    rep["attach_phases"] = median_phases(r[3] for r in runs)
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), rep)


def sysctl(name, value=None):
    path = "/proc/sys/" + name.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()
    if value is not None:
        with open(path, "w") as f:
            f.write(str(value))
    return old


# Waits this old have their stacks read at attach (strand reads a wait's stack once it is half
# the threshold old, 2.5 s by default): an idle service's are, and every run sees them so.
SETTLE_S = 3.0


def measure_program(strand, argv, scratch):
    """Starts argv, measures strand on it once it is ready and settled, kills it:
    (attach s, report+detach s, report, seconds it took to get ready)."""
    p, made = start(argv, "ready")
    try:
        time.sleep(SETTLE_S)
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


def proc_stat(pid):
    """(CPU seconds, RSS MiB, peak RSS MiB, open fds) of a process now."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, rss, hwm, len(os.listdir("/proc/%d/fd" % pid))


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        return r.read().decode()


def run_live(strand, n, seconds=60):
    """`strand trace -p` with its live view (on a pseudo-terminal, as `script` gives it) on a
    process with n parked goroutines: strand's CPU over `seconds`, from 15 s after it
    started (past the attach and its first scans), in % of one CPU."""
    g, _ = start([os.path.join(BIN, "goidle"), str(n)], "ready")
    try:
        s = subprocess.Popen(["script", "-qfec", "%s trace -p %d" % (strand, g.pid),
                              "/dev/null"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(15)
            out = subprocess.run(["pgrep", "-f", "^%s trace -p %d$" % (strand, g.pid)],
                                 capture_output=True, text=True).stdout.split()
            if not out:
                sys.exit("strand trace with a live view did not start")
            pid = int(out[0])
            cpu0, t0 = proc_stat(pid)[0], time.monotonic()
            time.sleep(seconds)
            cpu1, t1 = proc_stat(pid)[0], time.monotonic()
            os.kill(pid, signal.SIGINT)
            s.wait(120)
        finally:
            if s.poll() is None:
                s.kill()
                s.wait()
    finally:
        g.kill()
        g.wait()
    return 100 * (cpu1 - cpu0) / (t1 - t0)


def run_daemon(strand, nprocs, seconds=20):
    """strand daemon with nprocs small processes (half C with 8 blocked threads, half Go with
    100 parked goroutines) on the machine, scraped every 5 s: its RSS, fds and CPU per scan
    (one a second) after `seconds`, and how long it takes to exit on SIGTERM."""
    procs = []
    try:
        for i in range(nprocs):
            argv = ([os.path.join(BIN, "manythreads"), "8"] if i % 2 else
                    [os.path.join(BIN, "goidle"), "100"])
            procs.append(start(argv, "ready")[0])
        with socket.socket() as so:
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        d = subprocess.Popen([strand, "daemon", "--listen", "127.0.0.1:%d" % port],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = d.stderr.readline()
        while line and "serving on" not in line:
            line = d.stderr.readline()
        if not line:
            sys.exit("strand daemon did not start: %s" % d.stderr.read()[-2000:])
        cpu0 = proc_stat(d.pid)[0]
        scans0 = scans = None
        t0 = time.monotonic()
        seen = 0
        while time.monotonic() - t0 < seconds:
            text = scrape(port)
            pids = {str(p.pid) for p in procs}
            seen = sum(1 for l in text.splitlines() if l.startswith("strand_process_info{")
                       and any('pid="%s"' % pid in l for pid in pids))
            scans = next(int(l.split()[1]) for l in text.splitlines()
                         if l.startswith("strand_scans_total "))
            cpu = proc_stat(d.pid)[0]
            if scans0 is None:
                scans0, cpu0 = scans, cpu
            time.sleep(5)
        rss, hwm, fds = proc_stat(d.pid)[1:]
        per_scan = (cpu - cpu0) / max(scans - scans0, 1)
        t1 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        rc = d.wait(60)
        stop = time.monotonic() - t1
        if rc != 0:
            sys.exit("strand daemon exited %d on SIGTERM" % rc)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return rss, hwm, fds, per_scan, stop, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--strand", default=os.path.join(ROOT, "strand"))
    ap.add_argument("--goroutines", type=int, default=1000000)
    ap.add_argument("--threads", type=int, default=100000)
    ap.add_argument("--processes", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    rows, phases = [], []
    with tempfile.TemporaryDirectory(prefix="strand-scale-") as scratch:
        for run in (lambda: run_goroutines(args.strand, args.goroutines, scratch),
                    lambda: run_threads(args.strand, args.threads, scratch),
                    lambda: run_big_binary(args.strand, scratch)):
            name, attach, detach, rep, seen = run()
            phases.append((name, attach, rep.get("attach_phases", [])))
            st = rep["stats"]
            rows.append((name, attach, detach, st.get("max_rss_kib", 0) / 1024,
                         st.get("cpu_seconds", 0), seen))
            print("%-40s attach %.2f s  report+detach %.2f s  RSS %.0f MiB  CPU %.2f s  %s" %
                  rows[-1], flush=True)
    live = run_live(args.strand, args.goroutines)
    print("live view on %d parked goroutines: %.1f%% of a CPU" % (args.goroutines, live))
    drss, dhwm, dfds, dscan, dstop, dseen = run_daemon(args.strand, args.processes)
    print("daemon on %d processes: RSS %.0f MiB (peak %.0f), %d fds, CPU %.3f s a scan, "
          "stop %.2f s, %d seen" % (args.processes, drss, dhwm, dfds, dscan, dstop, dseen))
    lines = ["", "## Scale", "",
             "`python3 bench/scale.py` (run by `make bench`): `strand trace -p` attached to a",
             "process already running (%.0f s after it got ready: its waits are old enough to have" % SETTLE_S,
             "their stacks read at attach, as an idle service's are), 2 s of tracing, then",
             "Ctrl-C. Attach is until strand",
             "says it is attached, its first look at the process (the goroutine snapshot, the",
             "threads' list) included; report+detach from Ctrl-C to exit; RSS and CPU are",
             "strand's own (the report's stats). strand is run %d times on each process, one" % RUNS,
             "after the other; every figure is the median of the runs.", "",
             "| process | attach (s) | report + detach (s) | strand RSS (MiB) | strand CPU (s) | check |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %.2f | %.2f | %.0f | %.2f | %s |" % r)
    lines += ["", "Where an attach goes (`STRAND_PHASES=1`: each step's median over the runs, "
              "steps of 5 ms or more; a step repeated by the first scan counted once):", "",
              "| process | attach (s) | steps (ms) |", "|---|---|---|"]
    for name, attach, steps in phases[:2]:
        lines.append("| %s | %.2f | %s |" % (name, attach, ", ".join(
            "%s %.0f" % (what, ms) for what, ms in steps if ms >= 5)))
    lines += ["", "The live view (`strand trace -p`, its report redrawn every 2 s on a terminal) "
              "on the process with %d parked goroutines: strand takes %.1f%% of a CPU over 60 s "
              "(its scans spaced to keep them within 3%% of a CPU; the redrawn report is the rest)." %
              (args.goroutines, live)]
    lines += ["", "`strand daemon` with %d small processes on the machine (half C with 8 "
              "blocked threads, half Go with 100 parked goroutines; everything else on it "
              "traced too), scraped every 5 s for 20 s; CPU per scan is its CPU from the first "
              "scrape to the last divided by its scans meanwhile (strand_scans_total), the "
              "first scrape's and the scrapes' own included; stop is from SIGTERM to its exit." %
              args.processes, "",
              "| processes seen | RSS (MiB) | peak RSS (MiB) | open fds | CPU a scan (s) | stop (s) |",
              "|---|---|---|---|---|---|",
              "| %d of %d | %.0f | %.0f | %d | %.3f | %.2f |" % (dseen, args.processes, drss,
                                                           dhwm, dfds, dscan, dstop)]
    go, threads, binary = rows

    def verdict(ok):
        return "met" if ok else "**not met**"

    lines += ["", "Scale targets:", "",
              "- 1M live goroutines, strand's RSS <= 256 MB: %.0f MiB, %s" %
              (go[3], verdict(go[3] <= 256)),
              "- ... snapshot at attach <= 1 s: %.2f s, %s" % (go[1], verdict(go[1] <= 1)),
              "- ... report and detach <= 1 s: %.2f s, %s" % (go[2], verdict(go[2] <= 1)),
              "- ... a live refresh costs < 5%% of a CPU: %.1f%%, %s" % (live, verdict(live < 5)),
              "- 100k blocked threads, strand's RSS <= 256 MB: %.0f MiB, %s" %
              (threads[3], verdict(threads[3] <= 256)),
              "- ... attach <= 1 s: %.2f s, %s; report and detach <= 1 s: %.2f s, %s" %
              (threads[1], verdict(threads[1] <= 1), threads[2], verdict(threads[2] <= 1)),
              "- the daemon on %d processes, RSS <= 100 MiB: %.0f MiB (peak %.0f), %s" %
              (args.processes, drss, dhwm, verdict(dhwm <= 100)),
              "- ... exits <= 0.5 s after SIGTERM: %.2f s, %s" % (dstop, verdict(dstop <= 0.5)),
              "- ... every process seen: %d of %d, %s" % (dseen, args.processes,
                                                         verdict(dseen == args.processes)),
              "- attach and detach each <= 0.5 s on an ordinary binary (Chromium): %.2f s and "
              "%.2f s, %s" % (binary[1], binary[2], verdict(binary[1] <= 0.5 and
                                                          binary[2] <= 0.5))]
    results.put_section(args.out, "## Scale", "\n".join(lines).lstrip("\n"))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
