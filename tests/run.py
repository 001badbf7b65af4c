#!/usr/bin/env python3
"""strand's test runner (python3 stdlib only).

    python3 tests/run.py --strand PATH [-j JOBS] [NAME_FILTER...]

Runs, in this order:
  - every unit test build/unit/FOLDER/test_* of tests/unit/FOLDER/test_*.c (one test each:
    passes iff it exits 0; one not built fails), then
    every fuzz target build/fuzz/fuzz_* replaying tests/fuzz/corpus/fuzz_* (its seeds and
    the inputs that once crashed it) and the seeds made from binaries in build/fuzz/seeds;
  - every function test_* of the modules tests/tree/test_*.py (the layers of user/), of
    tests/cli/test_*.py (the commands' options), of
    tests/bpf/test_*.py (a function marked with
    harness.both_builds runs twice, as NAME[nofp] and NAME[fp]), then of tests/report/test_*.py
    (recordings and the formats rendered from them: these trace real targets too), of
    tests/daemon and of tests/servers; JOBS of them side by side (each traces only what it
    started, and most of a test is waiting for its trace to end), then those marked
    harness.alone (that measure the machine, or trace all of it) one at a time;
  - a final check, bpf/no_leftovers: no BPF program strand loads (every program of the built
    objects build/*.bpf.o, read from their skeletons) still loaded, no strand or target
    process started by this run still alive.
A NAME_FILTER selects the tests whose name contains it (names as printed, e.g.
"unit/lib/test_lib", "bpf/test_threads.test_churn_pid[fp]"). Each BPF test runs in a process
of its own (forked, in its own process group) that tells the runner of every process it
starts; at its timeout that process, its group and everything it started are killed, and a
test that leaves a process running fails. Prints "PASS name (1.2s)" or "FAIL name: reason"
(and what the test printed) per test as it ends, then "N passed, N failed"; exits 1 if any
failed, 2 on a usage error.
"""

import argparse
import importlib
import inspect
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "tree"))
sys.path.insert(0, str(TESTS / "cli"))
sys.path.insert(0, str(TESTS / "bpf"))
sys.path.insert(0, str(TESTS / "report"))
sys.path.insert(0, str(TESTS / "daemon"))
sys.path.insert(0, str(TESTS / "servers"))
TEST_DIRS = ("tree", "cli", "bpf", "report", "daemon", "servers")

import harness  # noqa: E402

UNIT_TIMEOUT = 60.0
BPF_TIMEOUT = 30.0  # per test; tests are meant to take < 15 s
GRACE = 5.0  # after the timeout, for the test's own cleanup before it is killed
JOBS = 3


class Runner:
    def __init__(self, filters):
        self.filters = filters
        self.passed = 0
        self.failed = 0

    def selected(self, name):
        return not self.filters or any(f in name for f in self.filters)

    def report(self, name, ok, elapsed, reason=""):
        if ok:
            self.passed += 1
            print("PASS %s (%.1fs)" % (name, elapsed), flush=True)
        else:
            self.failed += 1
            lines = (reason or "failed").rstrip().splitlines() or ["failed"]
            print("FAIL %s: %s" % (name, lines[0]), flush=True)
            for l in lines[1:]:
                print("    " + l)
            sys.stdout.flush()


def unit_commands():
    """[(name, argv)]: the unit tests, then each fuzz target replaying its corpus (the seeds
    and every input that once crashed it, kept in tests/fuzz/corpus/NAME)."""
    cmds = []
    # one binary per source, in the folder of the code it tests (tests/unit/sym/test_unwind.c:
    # build/unit/sym/test_unwind, "unit/sym/test_unwind"); one not built fails
    for src in sorted((TESTS / "unit").rglob("test_*.c")):
        rel = src.relative_to(TESTS / "unit").with_suffix("").as_posix()
        cmds.append(("unit/" + rel, [str(ROOT / "build" / "unit" / rel)]))
    for exe in sorted((ROOT / "build" / "fuzz").glob("fuzz_*")):
        dirs = [d for d in (TESTS / "fuzz" / "corpus" / exe.name,
                            ROOT / "build" / "fuzz" / "seeds" / exe.name) if d.is_dir()]
        if exe.is_file() and os.access(exe, os.X_OK) and dirs:
            # whole binaries are seeds: no cut to libFuzzer's default 1 MiB
            cmds.append(("fuzz/" + exe.name, [str(exe), "-runs=0", "-max_len=16777216"] +
                         [str(d) for d in dirs]))
    return cmds


def run_unit(runner):
    for name, argv in unit_commands():
        if not runner.selected(name):
            continue
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=UNIT_TIMEOUT, cwd=str(ROOT))
            out = p.stdout.decode("utf-8", "replace")
            if p.returncode == 0:
                runner.report(name, True, time.monotonic() - t0)
            else:
                runner.report(name, False, time.monotonic() - t0,
                              "exit status %d\n%s" % (p.returncode, harness.clip(out, 8000)))
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode("utf-8", "replace")
            runner.report(name, False, time.monotonic() - t0,
                          "timed out after %.0fs\n%s" % (UNIT_TIMEOUT, harness.clip(out, 8000)))
        except OSError as e:
            runner.report(name, False, time.monotonic() - t0, "cannot run: %s" % e)


def collect_bpf(runner):
    """[(name, callable or None, error text, its own timeout or None)] for the selected BPF
    tests."""
    tests = []
    paths = [p for d in TEST_DIRS for p in sorted((TESTS / d).glob("test_*.py"))]
    for path in paths:
        modname, group = path.stem, path.parent.name
        try:
            mod = importlib.import_module(modname)
        except Exception:
            name = "%s/%s" % (group, modname)
            if runner.selected(name):
                tests.append((name, None, "cannot import:\n" + traceback.format_exc(), None))
            continue
        funcs = [f for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == modname]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            for suffix, kwargs in getattr(f, "variants", [("", {})]):
                name = "%s/%s.%s%s" % (group, modname, f.__name__,
                                       "[%s]" % suffix if suffix else "")
                if runner.selected(name):
                    run = lambda f=f, kw=kwargs: f(**kw)  # noqa: E731
                    run.alone = getattr(f, "alone", None) or getattr(mod, "ALONE", None)
                    tests.append((name, run, None, getattr(f, "timeout", None)))
    return tests


def _kill_group(pid):
    for fn in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            fn()
        except (ProcessLookupError, PermissionError):
            pass


def _in_test(fn, timeout, wfd):
    """The body of a test's process: runs fn, writes "RESULT <json>" to wfd, never returns."""
    result = {}
    try:
        os.setpgid(0, 0)
        harness.REPORT_FD = wfd
        harness.set_deadline(time.monotonic() + timeout)
        fn()
        result["ok"] = True
    except harness.TestFailure as e:
        result["err"] = str(e)
    except BaseException:
        result["err"] = traceback.format_exc()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(wfd, ("RESULT %s\n" % json.dumps(result)).encode())
    finally:
        os._exit(0)


class Running:
    """A test running in a forked process of its own, its output kept apart (tests run side
    by side) and printed under its result when it fails."""

    def __init__(self, name, fn, timeout):
        self.name, self.t0 = name, time.monotonic()
        self.deadline = self.t0 + timeout + GRACE
        self.timeout = timeout
        self.out = tempfile.TemporaryFile()
        rfd, wfd = os.pipe()
        sys.stdout.flush()  # or the child's copy of the buffer is printed twice
        sys.stderr.flush()
        self.child = os.fork()
        if self.child == 0:
            os.close(rfd)
            os.dup2(self.out.fileno(), 1)
            os.dup2(self.out.fileno(), 2)
            _in_test(fn, timeout, wfd)
        os.close(wfd)
        self.rfd = rfd
        try:
            os.setpgid(self.child, self.child)  # also here: the kill below must not race
        except OSError:
            pass
        self.buf, self.result, self.mine = b"", None, []

    def fileno(self):
        return self.rfd

    def feed(self):
        """Reads what the test said; True once it is over (its result, or its pipe closed)."""
        chunk = os.read(self.rfd, 65536)
        if not chunk:
            return True
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            if text.startswith("PID "):
                _, pid, label = text.split(" ", 2)
                self.mine.append((int(pid), label, _starttime(int(pid))))
            elif text.startswith("RESULT "):
                self.result = json.loads(text[7:])
        return False

    def finish(self, runner, started):
        """Kills what is left of it, reports it; started collects (pid, label, start time) of
        every process it started, for the final check."""
        os.close(self.rfd)
        result = self.result
        if result is None:
            result = {"err": "timed out after %.0fs: the test, and every process it started, "
                             "were killed" % self.timeout}
            if time.monotonic() < self.deadline:
                result = {"err": "the test's process ended without a result"}
        _kill_group(self.child)
        os.waitpid(self.child, 0)
        left = [(pid, label) for pid, label, st in self.mine
                if st is not None and _starttime(pid) == st and not _is_zombie(pid)]
        for pid, _ in left:
            _kill_group(pid)
        if left and result.get("ok"):
            result = {"err": "test left processes running: %s" % sorted(left)}
        started.extend(self.mine)
        self.out.seek(0)
        printed = self.out.read().decode("utf-8", "replace").rstrip()
        self.out.close()
        err = result.get("err", "")
        if printed and not result.get("ok"):
            err = (err or "failed") + "\n--- what it printed ---\n" + harness.clip(printed, 8000)
        runner.report(self.name, result.get("ok", False), time.monotonic() - self.t0, err)


def run_tests(runner, tests, jobs, started):
    """Runs the tests, up to jobs at once; those marked harness.alone afterwards, one at a
    time with nothing beside them. Each is [name, callable, timeout]."""
    side_by_side = [t for t in tests if not getattr(t[1], "alone", False)]
    alone = [t for t in tests if getattr(t[1], "alone", False)]
    running = []

    def start_next(queue):
        name, fn, timeout = queue.pop(0)
        running.append(Running(name, fn, timeout))

    for queue, width in ((side_by_side, jobs), (alone, 1)):
        while queue or running:
            while queue and len(running) < width:
                start_next(queue)
            now = time.monotonic()
            wait = max(0.0, min(r.deadline for r in running) - now)
            ready, _, _ = select.select(running, [], [], wait)
            for r in list(running):
                if (r in ready and r.feed()) or time.monotonic() >= r.deadline:
                    running.remove(r)
                    r.finish(runner, started)


def _is_zombie(pid):
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


def _starttime(pid):
    """Start time of pid in clock ticks after boot, or None."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def _cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace").strip()
    except OSError:
        return "?"


def check_no_leftovers(strand, since, started):
    problems = []
    # 1. BPF programs (freed asynchronously after their last fd closes: allow a moment).
    # Another strand on the machine (a daemon, a person tracing) holds its own: a program is
    # left over when nothing holds it, or only a process this run started.
    if not harness.strand_programs():
        problems.append("no skeleton in build/: the names of strand's programs are unknown")
    left = []
    for _ in range(20):
        try:
            left = harness.leftover_programs({pid for pid, _, _ in started})
        except (OSError, subprocess.SubprocessError, ValueError) as e:
            problems.append("cannot list BPF programs with bpftool: %s" % e)
            break
        if not left:
            break
        time.sleep(0.25)
    if left:
        problems.append("strand BPF programs still loaded (id, name, holders): %s" % left)
    # 2. Processes: strand binaries or targets started since this run began, and every
    # process a test said it started.
    watched = set()
    if strand:
        watched.add(os.path.realpath(strand))
    tdir = os.path.realpath(ROOT / "build" / "targets")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        pid = int(d.name)
        try:
            exe = os.path.realpath(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            continue
        if exe in watched or os.path.dirname(exe) == tdir:
            st = _starttime(pid)
            if st is not None and since is not None and st >= since:
                problems.append("process still running: pid %d: %s" % (pid, _cmdline(pid)))
    for pid, label, st in started:
        if st is not None and _starttime(pid) == st and not _is_zombie(pid):
            msg = "process still running: pid %d: %s" % (pid, _cmdline(pid))
            if msg not in problems:
                problems.append(msg)
    if problems:
        raise harness.TestFailure("\n".join(problems))


def main():
    # A shell starts a background job (`make test &`, CI scripts) with SIGINT and SIGQUIT
    # ignored, and an ignored signal stays ignored across exec: strand, started by the
    # tests, would then lose a Ctrl-C sent before it set its handlers. The programs the
    # tests start get the default action, as from a terminal.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description="Run strand's unit and BPF tests.")
    ap.add_argument("--strand", required=True, help="strand binary under test")
    ap.add_argument("--timeout", type=float, default=BPF_TIMEOUT,
                    help="per-BPF-test timeout in seconds (default %(default)s)")
    ap.add_argument("--exact-waits", action="store_true",
                    help="run every trace and daemon with --exact-waits (every Go probe "
                    "on): its verdicts must be the default's; tests of the default's "
                    "own mechanics (the budget, the scans' timing) are expected to fail")
    ap.add_argument("-j", "--jobs", type=int, default=JOBS,
                    help="BPF tests run side by side (default %(default)s: most of a test "
                    "is waiting for a trace to end); those marked harness.alone run last, "
                    "one at a time")
    ap.add_argument("filters", nargs="*", metavar="NAME_FILTER")
    args = ap.parse_args()

    strand = os.path.abspath(args.strand)
    harness.STRAND = strand
    harness.EXTRA_ARGS = ["--exact-waits"] if args.exact_waits else []
    runner = Runner(args.filters)
    since = _starttime(os.getpid())

    run_unit(runner)

    tests = collect_bpf(runner)
    if tests and not (os.path.isfile(strand) and os.access(strand, os.X_OK)):
        for name, _, _, _ in tests:
            runner.report(name, False, 0, "strand binary %s not found or not executable"
                          % strand)
        tests = []
    started, runnable = [], []
    for name, fn, err, own_timeout in tests:
        if fn is None:
            runner.report(name, False, 0, err)
        else:
            runnable.append([name, fn, own_timeout or args.timeout])
    run_tests(runner, runnable, args.jobs, started)

    final = "bpf/no_leftovers"
    if tests or (args.filters and runner.selected(final)):
        run_tests(runner, [[final, lambda: check_no_leftovers(strand, since, started),
                            args.timeout]], 1, [])

    print("%d passed, %d failed" % (runner.passed, runner.failed), flush=True)
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
