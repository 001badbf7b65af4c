#!/usr/bin/env python3
"""Checks the Go targets against the Go runtime's own view of their goroutines (no strand, no
root): for every mode, runs build/targets/go/PROG[VARIANT] MODE, sends SIGUSR1, waits for the
steady-state line its header promises, takes the runtime's goroutine dump (SIGQUIT with
GOTRACEBACK=all; for goservice, which serves net/http/pprof at its "listening ADDR",
/debug/pprof/goroutine?debug=2 and ?debug=1 instead) and compares it with the header's table:

    python3 tests/targets/go/validate.py [--variants] [PROG[:MODE]...]

A header (the comment atop tests/targets/go/PROG/PROG.go) holds two tables, each a comment
code block with a heading row: `mode  steady line  progress lines` and `mode  site  created by
wait  state  count  verdict` (columns separated by two or more spaces). In the second, site is
a `// SITE:` marker of the program's directory (`-`: the goroutines created by the function
of the next column, in the standard library); created by is the function the runtime names
after "created by"; wait is a `// WAIT:` marker that must be a frame of every goroutine of
the row, or `-`; state is the runtime's wait reason (`-`: any); count is exact. Every goroutine of the dump must belong to
a row, except the main goroutine (parked at `// WAIT: main`), os/signal's loop and the
runtime's own goroutines (created by runtime.*). Each mode
runs on the plain build, or on all four (plain, -pie, -stripped, -cgo) with --variants, and
once more to check that SIGTERM at the steady state exits 0.
Prints one line per run, "ok" or what differs; exits 1 if any run failed.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gotraceback import parse_dump  # noqa: E402

HERE = Path(__file__).resolve().parent
BIN = HERE.parents[2] / "build" / "targets" / "go"
VARIANTS = ("", "-pie", "-stripped", "-cgo")
SETTLE = 0.05  # seconds between the steady line and the dump
BASELINE_CREATORS = ("os/signal.Notify.func1.1",)

# Flags given while validating, so the goroutines a dump counts are still alive when it is
# taken; they change durations only, never a count of the tables.
VALIDATE_ARGS = {("gorunaway", "items"): ["-sleep", "10s"]}

# Programs that serve net/http/pprof at the address of their "listening ADDR" line.
PPROF_PROGS = {"goservice"}

# Modes that exit with a usage error unless built with cgo.
CGO_ONLY = {("goleak", "cgo")}


def header_tables(path):
    """The two tables of a program's header: {mode: steady line} and its rows."""
    steady, rows, table = {}, [], None
    for line in path.read_text().splitlines():
        if not line.startswith("//"):
            break
        if not line.startswith("//\t"):
            table = None
            continue
        cols = re.split(r"\s{2,}", line[3:].strip())
        if cols[:2] == ["mode", "steady line"]:
            table = "steady"
        elif cols[:3] == ["mode", "site", "created by"]:
            table = "rows"
        elif table == "steady":
            steady[cols[0]] = cols[1]
        elif table == "rows":
            if len(cols) != 7:
                raise SystemExit("%s: bad row %r" % (path, line))
            mode, site, creator, wait, state, count, verdict = cols
            rows.append(dict(mode=mode, site=site, creator=creator, wait=wait, state=state,
                             count=int(count), verdict=verdict))
    return steady, rows


def markers(progdir):
    """{"SITE: x", "WAIT: x" or "CALL: x": (file name, line)} over the program's .go files,
    each marker once."""
    found = {}
    for f in sorted(progdir.glob("*.go")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = re.search(r"// ((?:SITE|WAIT|CALL): [\w-]+)\s*$", line)
            if m:
                if m.group(1) in found:
                    raise SystemExit("%s: marker %r twice in %s" % (progdir, m.group(1), progdir))
                found[m.group(1)] = (f.name, n)
    return found


class Run:
    def __init__(self, exe, args):
        env = dict(os.environ, GOTRACEBACK="all")
        self.p = subprocess.Popen([str(exe)] + args, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines, self.err = [], b""
        self.cond = threading.Condition()
        threading.Thread(target=self._out, daemon=True).start()
        self.errt = threading.Thread(target=self._err, daemon=True)
        self.errt.start()

    def _out(self):
        for l in self.p.stdout:
            with self.cond:
                self.lines.append(l.decode().rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def _err(self):
        self.err = self.p.stderr.read()

    def wait_line(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines:
                    if l is None:
                        return None
                    if pred(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def dump(self):
        """SIGQUIT: the runtime prints every goroutine to stderr and exits."""
        self.p.send_signal(signal.SIGQUIT)
        self.p.wait(timeout=30)
        self.errt.join(timeout=30)
        return self.err.decode("utf-8", "replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def check_dump(gs, rows, marks):
    """What differs between a dump and the rows of one mode (empty: nothing)."""
    problems = []
    claimed = set()
    by_site = {}
    for r in rows:
        site = r["site"] if r["site"] != "-" else r["creator"]
        loc = None
        if r["site"] != "-":
            loc = marks.get("SITE: " + r["site"])
            if loc is None:
                problems.append("no marker SITE: %s" % r["site"])
                continue
        at_site = [g for g in gs if g["creator"] and
                   ((g["creator"][1:] == loc) if loc else g["creator"][0] == r["creator"])]
        by_site.setdefault(site, [0, at_site])[0] += r["count"]
        wrong = set(g["creator"][0] for g in at_site) - {r["creator"]}
        if wrong:
            problems.append("site %s: created by %s, header says %s" %
                            (site, ", ".join(sorted(wrong)), r["creator"]))
        mine = [g for g in at_site if r["state"] in ("-", g["state"])]
        if len(mine) != r["count"]:
            problems.append("site %s state %s: %d goroutines, header says %d" %
                            (site, r["state"], len(mine), r["count"]))
        if r["wait"] != "-":
            wloc = marks.get("WAIT: " + r["wait"])
            if wloc is None:
                problems.append("no marker WAIT: %s" % r["wait"])
            else:
                off = [g["id"] for g in mine if not any(f[1:] == wloc for f in g["frames"])]
                if off:
                    problems.append("site %s: goroutines %s not parked at WAIT: %s (%s:%d)" %
                                    ((site, off[:5], r["wait"]) + wloc))
        claimed.update(g["id"] for g in mine)
    for site, (want, at_site) in by_site.items():
        if len(at_site) != want:
            states = sorted(set(g["state"] for g in at_site))
            problems.append("site %s: %d goroutines in all (%s), header says %d" %
                            (site, len(at_site), ", ".join(states), want))
    main_wait = marks.get("WAIT: main")
    for g in gs:
        if g["id"] in claimed:
            continue
        if g["id"] == 1 and g["creator"] is None:
            if g["state"] != "chan receive" or not any(f[1:] == main_wait for f in g["frames"]):
                problems.append("main goroutine not parked at WAIT: main: [%s] %s" %
                                (g["state"], g["frames"][:3]))
            continue
        if g["id"] == 0 or (g["creator"] and (g["creator"][0] in BASELINE_CREATORS or
                                             g["creator"][0].startswith("runtime."))):
            continue  # the signalled M's g0, the runtime's own goroutines, os/signal's loop
        problems.append("goroutine %d [%s] created by %s at %s:%d is in no row" %
                        ((g["id"], g["state"]) + (g["creator"] or ("?", "?", 0))))
    return problems


def pprof_check(addr, rows, marks):
    """What differs between the rows and pprof's debug=2 (goroutines with their creators), and
    between the rows and debug=1 (counts by stack: the goroutines whose stack holds each
    WAIT line, and the total)."""
    url = "http://%s/debug/pprof/goroutine?debug=" % addr
    gs = parse_dump(urllib.request.urlopen(url + "2", timeout=10).read().decode())
    problems = check_dump(gs, rows, marks)
    text1 = urllib.request.urlopen(url + "1", timeout=10).read().decode()
    total = int(re.search(r"goroutine profile: total (\d+)", text1).group(1))
    if total != len(gs):
        problems.append("debug=1 total %d, debug=2 lists %d" % (total, len(gs)))
    stacks = []  # (count, {(file, line)})
    for block in re.split(r"\n\s*\n", text1):
        m = re.search(r"^(\d+) @", block, re.M)
        if m:
            locs = set((f.rsplit("/", 1)[-1], int(l))
                       for f, l in re.findall(r"^#\s+0x\w+\s+\S+\s+(\S+):(\d+)", block, re.M))
            stacks.append((int(m.group(1)), locs))
    waits = {}
    for r in rows:
        if r["wait"] != "-":
            waits[r["wait"]] = waits.get(r["wait"], 0) + r["count"]
    for w, want in sorted(waits.items()):
        loc = marks.get("WAIT: " + w)
        got = sum(c for c, locs in stacks if loc in locs)
        if got != want:
            problems.append("debug=1: %d goroutines at WAIT: %s, header says %d" % (got, w, want))
    return ["pprof: " + p for p in problems]


def start(exe, args, line):
    """Runs exe, waits for "ready", sends SIGUSR1 and waits for the line that begins with the
    steady line's first word: (the run, that line or None, seconds since SIGUSR1)."""
    r = Run(exe, args)
    if r.wait_line(lambda l: l == "ready", 5) is None:
        return r, None, 0
    t0 = time.monotonic()
    r.p.send_signal(signal.SIGUSR1)
    got = r.wait_line(lambda l: l.split()[:1] == line.split()[:1], 10)
    return r, got, time.monotonic() - t0


def run_mode(prog, mode, variant, line, rows, marks):
    exe = BIN / (prog + variant)
    args = [mode] + VALIDATE_ARGS.get((prog, mode), [])
    if (prog, mode) in CGO_ONLY and variant != "-cgo":
        p = subprocess.run([str(exe)] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=10)
        err = p.stderr.decode()
        if p.returncode == 2 and "needs a cgo build" in err and b"ready" not in p.stdout:
            return []
        return ["without cgo: exit %d, stderr %r (want 2, 'needs a cgo build')" %
                (p.returncode, err)]
    pat = re.compile("^" + " ".join(r"\S+" if re.fullmatch(r"[A-Z]+", w) else re.escape(w)
                                    for w in line.split()) + "$")
    r, got, took = start(exe, args, line)
    try:
        if got is None:
            return ["no steady line %r; stdout %r" % (line, r.lines[-5:])]
        problems = []
        if not pat.match(got):
            problems.append("steady line %r, header says %r" % (got, line))
        if took > 1.5:
            problems.append("steady line %.2f s after SIGUSR1 (want ~1 s)" % took)
        time.sleep(SETTLE)  # the line's own write returns, the main goroutine parks
        if prog in PPROF_PROGS:
            addr = r.wait_line(lambda l: l.startswith("listening "), 0)
            if not addr:
                return problems + ["no 'listening ADDR' line before the steady line"]
            problems += pprof_check(addr.split()[1], rows, marks)
            r.p.send_signal(signal.SIGTERM)
            rc = r.p.wait(timeout=10)
            return problems + ([] if rc == 0 else ["SIGTERM: exit %d, want 0" % rc])
        gs = parse_dump(r.dump())
        if not gs:
            return problems + ["no goroutine dump on SIGQUIT"]
        return problems + check_dump(gs, rows, marks) + check_term(exe, args, line)
    finally:
        r.kill()


def check_term(exe, args, line):
    """SIGTERM at the steady state: exit 0."""
    r, got, _ = start(exe, args, line)
    try:
        if got is None:
            return ["second run: no steady line"]
        r.p.send_signal(signal.SIGTERM)
        rc = r.p.wait(timeout=10)
        return [] if rc == 0 else ["SIGTERM at the steady state: exit %d, want 0" % rc]
    finally:
        r.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variants", action="store_true", help="also -pie, -stripped and -cgo")
    ap.add_argument("which", nargs="*", help="PROG or PROG:MODE (default: all)")
    a = ap.parse_args()
    progs = sorted(d.name for d in HERE.iterdir() if (d / (d.name + ".go")).exists())
    want = [w.split(":", 1) for w in a.which] or [[p] for p in progs]
    failed = 0
    for w in want:
        prog = w[0]
        progdir = HERE / prog
        steady, rows = header_tables(progdir / (prog + ".go"))
        marks = markers(progdir)
        for mode in ([w[1]] if len(w) > 1 else list(steady)):
            if mode not in steady:
                raise SystemExit("%s: no mode %s in the header" % (prog, mode))
            mrows = [r for r in rows if r["mode"] == mode]
            for v in (VARIANTS if a.variants else ("",)):
                t0 = time.monotonic()
                try:
                    problems = run_mode(prog, mode, v, steady[mode], mrows, marks)
                except Exception as e:
                    problems = ["%s: %s" % (type(e).__name__, e)]
                name = "%s%s %s" % (prog, v, mode)
                if problems:
                    failed += 1
                    print("FAIL %s:" % name)
                    for p in problems:
                        print("    " + p)
                else:
                    print("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
                sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
