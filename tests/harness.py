"""Helpers for strand's BPF tests (python3 stdlib only).

A test looks like:

    @both_builds
    def test_something(fp):
        with Session() as s:
            t = s.start_target("spawn_storm", fp=fp)
            st = s.start_strand(["trace", "-p", str(t.pid), "--for", "3s", "--json"])
            st.wait_attached()
            t.go()                       # SIGUSR1: the spawn phase starts
            t.wait_line("spawned")
            rep = st.report()            # waits for strand to exit 0, parses the JSON
            site = find_site(rep, lambda s: s["start_routine"] == "handle_item", "...")

Every process started through a Session is killed (SIGTERM, then SIGKILL, then reaped) when the
Session ends, whatever the path out. The runner (tests/run.py) sets STRAND and a per-test
deadline; every wait here is bounded by both its own timeout and that deadline.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SRC = ROOT / "tests" / "targets"
TARGET_BIN = ROOT / "build" / "targets"

STRAND = None  # path of the strand binary under test, set by run.py
EXTRA_ARGS = []  # options run.py adds to every trace and daemon (--exact-waits)

# A Session kills every process it started on its way out. run.py runs each test in a process
# of its own and is told of every process the test starts (through REPORT_FD), so that a test
# that overruns its timeout is ended with all it started, and one that leaves a process
# running is failed.
REPORT_FD = None  # set by run.py in a test's process


def note_started(pid, label):
    """Tells run.py that the test started pid (a strand when label is "strand")."""
    if REPORT_FD is not None:
        os.write(REPORT_FD, ("PID %d %s\n" % (pid, label)).encode())

_deadline = None  # absolute time.monotonic() the current test must finish by


class TestFailure(AssertionError):
    pass


def set_deadline(deadline):
    global _deadline
    _deadline = deadline


def _bounded(timeout):
    """Clamp a timeout (seconds) to the current test's deadline."""
    if _deadline is None:
        return timeout
    return max(0.0, min(timeout, _deadline - time.monotonic()))


def fail(msg, *details):
    """Raise a TestFailure with msg and the given details (strings or JSON-able objects)."""
    parts = [msg]
    for d in details:
        if d is None:
            continue
        if isinstance(d, (bytes, bytearray)):
            d = d.decode("utf-8", "replace")
        if not isinstance(d, str):
            d = json.dumps(d, indent=1, sort_keys=True)
        d = clip(d, 6000)
        parts.append(d)
    raise TestFailure("\n".join(parts))


def check(cond, msg, *details):
    if not cond:
        fail(msg, *details)


def clip(text, limit=4000):
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n... [%d chars cut] ...\n" % (len(text) - limit) + text[-half:]


def timeout(seconds):
    """A test that needs longer than run.py's default timeout (its own, in seconds)."""
    def mark(fn):
        fn.timeout = seconds
        return fn
    return mark


def alone(why):
    """A test run with no other beside it (run.py runs the others side by side): one that
    measures the machine, or whose subject is the whole machine. why says which. (A module
    all of whose tests are so says ALONE = why.)"""
    def mark(fn):
        fn.alone = why
        return fn
    return mark


def both_builds(fn):
    """Run the test once per target build: fp=False (no frame pointers) and fp=True."""
    fn.variants = [("nofp", {"fp": False}), ("fp", {"fp": True})]
    return fn


def target_path(name, fp=False):
    p = TARGET_BIN / (name + ("-fp" if fp else ""))
    check(p.exists(), "target %s not built (run `make targets`)" % p)
    return p


def marker_line(path, marker):
    """Line number (1-based) of the single line holding the comment /* marker */ in path, or
    ending with the comment // marker (Go, Java) or # marker (Python); a file name is looked
    up in tests/targets."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = TARGET_SRC / path
    needle = "/* %s */" % marker
    tails = ("// %s" % marker, "# %s" % marker)
    hits = [i for i, l in enumerate(path.read_text().splitlines(), 1)
            if needle in l or l.rstrip().endswith(tails)]
    if len(hits) != 1:
        raise RuntimeError("marker %r found %d times in %s" % (needle, len(hits), path))
    return hits[0]


# --- processes ----------------------------------------------------------------------------


class _Reader:
    """Collects a pipe's output on a thread so waits can time out."""

    def __init__(self, pipe, name):
        self.name = name
        self.buf = bytearray()
        self.closed = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.thread.start()

    def _run(self, pipe):
        try:
            while True:
                chunk = os.read(pipe.fileno(), 65536)
                if not chunk:
                    break
                with self.cond:
                    self.buf += chunk
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def text(self):
        with self.cond:
            return self.buf.decode("utf-8", "replace")

    def lines(self):
        return self.text().splitlines()

    def wait_for(self, pred, timeout):
        """Wait until pred(list of complete lines) returns a true value; return it, or None on
        timeout or end of file."""
        end = time.monotonic() + _bounded(timeout)
        with self.cond:
            while True:
                text = self.buf.decode("utf-8", "replace")
                complete = text.splitlines() if text.endswith("\n") or self.closed else \
                    text.splitlines()[:-1]
                r = pred(complete)
                if r:
                    return r
                left = end - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def wait_closed(self, timeout):
        self.thread.join(_bounded(timeout))
        return not self.thread.is_alive()


class Proc:
    """A process started by a Session, in its own session (so its process group is its pid)."""

    def __init__(self, session, argv, stdin=subprocess.DEVNULL, env=None, label=None,
                 cwd=None):
        self.argv = [str(a) for a in argv]
        self.label = label or os.path.basename(self.argv[0])
        self.popen = subprocess.Popen(self.argv, stdin=stdin, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True, env=env,
                                      cwd=str(cwd or ROOT))
        self.pid = self.popen.pid
        note_started(self.pid, self.label)
        session.procs.append(self)
        self.out = _Reader(self.popen.stdout, self.label + " stdout")
        self.err = _Reader(self.popen.stderr, self.label + " stderr")

    @property
    def stdout(self):
        return self.out.text()

    @property
    def stderr(self):
        return self.err.text()

    def describe(self):
        rc = self.popen.poll()
        return "%s (pid %d, %s)\n--- stdout:\n%s\n--- stderr:\n%s" % (
            " ".join(self.argv), self.pid, "running" if rc is None else "exit %d" % rc,
            clip(self.stdout, 3000), clip(self.stderr, 3000))

    def wait(self, timeout):
        """Wait for exit; returns the exit status, or None on timeout."""
        try:
            rc = self.popen.wait(_bounded(timeout))
        except subprocess.TimeoutExpired:
            return None
        self.out.wait_closed(2)
        self.err.wait_closed(2)
        return rc

    def signal(self, sig):
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGTERM the process (and its group), then SIGKILL after a grace period; reap."""
        for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            if self.popen.poll() is not None:
                break
            for fn in (lambda: os.killpg(self.pid, sig), lambda: os.kill(self.pid, sig)):
                try:
                    fn()
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever else is left in its process group (e.g. a `--` child of strand).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.out.wait_closed(2)
        self.err.wait_closed(2)
        for f in (self.popen.stdout, self.popen.stderr):
            try:
                f.close()
            except OSError:
                pass


class Target(Proc):
    def wait_ready(self, timeout=5.0):
        if not self.out.wait_for(lambda ls: "ready" in ls, timeout):
            fail("target did not print 'ready' within %.0fs" % timeout, self.describe())

    def go(self):
        """SIGUSR1: start the spawn phase."""
        self.signal(signal.SIGUSR1)

    def wait_line(self, prefix, timeout=5.0):
        """Wait for a stdout line starting with prefix; returns the line."""
        line = self.out.wait_for(
            lambda ls: next((l for l in ls if l.startswith(prefix)), None), timeout)
        if line is None:
            fail("target did not print %r within %.0fs" % (prefix, timeout), self.describe())
        return line


class Strand(Proc):
    def wait_attached(self, timeout=10.0):
        """Wait for the "strand: attached" line on stderr."""
        ok = self.err.wait_for(lambda ls: any(l.startswith("strand: attached") for l in ls),
                               timeout)
        if not ok:
            fail("strand did not print 'strand: attached' within %.0fs" % timeout,
                 self.describe())

    def finish(self, timeout=15.0):
        """Wait for strand to exit; returns (rc, stdout, stderr)."""
        t0 = time.monotonic()
        rc = self.wait(timeout)
        if rc is None:
            fail("strand did not exit within %.1fs" % (time.monotonic() - t0), self.describe())
        return rc, self.stdout, self.stderr

    def report(self, timeout=15.0, expect_rc=0):
        """Wait for exit, check the exit status, parse the JSON report on stdout."""
        rc, out, err = self.finish(timeout)
        if expect_rc is not None and rc != expect_rc:
            fail("strand exited %d, expected %d" % (rc, expect_rc), self.describe())
        _, rep = split_report(out, self.describe())
        return rep


class Session:
    """Context manager owning the processes of one test: all are killed and reaped on exit."""

    def __init__(self):
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            p.kill()
        return False

    def start_target(self, name, args=(), fp=False, wait_ready=True, ready_timeout=5.0):
        t = Target(self, [target_path(name, fp)] + list(args), label=name)
        if wait_ready:
            t.wait_ready(ready_timeout)
        return t

    def start_strand(self, args, cwd=None):
        check(STRAND is not None, "no strand binary given (--strand)")
        args = list(args)
        if args and args[0] in ("trace", "daemon") and EXTRA_ARGS:
            args[1:1] = [a for a in EXTRA_ARGS if a not in args]
        return Strand(self, [STRAND] + args, label="strand", cwd=cwd)

    def trace_pid(self, target, duration="3s", extra=()):
        """strand trace -p PID --for DURATION --json, started and attached."""
        st = self.start_strand(["trace", "-p", str(target.pid), "--for", duration, "--json"] +
                               list(extra))
        st.wait_attached()
        return st


def run_strand(args, timeout=10.0):
    """Run strand to completion (no session needed: it is always reaped here).
    Returns (rc, stdout, stderr)."""
    with Session() as s:
        st = s.start_strand(args)
        return st.finish(timeout)


# --- BPF programs left behind ------------------------------------------------------------


def strand_programs():
    """The names of every BPF program strand can load: the progs of the built skeletons."""
    names = set()
    for skel in (ROOT / "build").glob("*.skel.h"):
        names.update(re.findall(r"struct bpf_program \*(\w+);", skel.read_text()))
    return sorted(names)


def bpf_prog_holders():
    """{BPF program id: pids holding it}, through a program's or a link's fd (bpftool here
    is built without the pid iterator, so fdinfo it is)."""
    holders = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fds = os.listdir(d / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(d / "fd" / fd).startswith(("anon_inode:bpf-prog",
                                                               "anon_inode:bpf_link")):
                    continue
                info = (d / "fdinfo" / fd).read_text()
            except OSError:
                continue
            m = re.search(r"^prog_id:\s*(\d+)", info, re.M)
            if m:
                holders.setdefault(int(m.group(1)), set()).add(int(d.name))
    return holders


def leftover_programs(pids=()):
    """[(id, name, holders)] of strand's programs loaded with nothing holding them, or held by
    one of pids (processes that should be gone): what a strand that exited left behind.
    Another strand's programs, held by it, are not. Raises on a bpftool failure."""
    ours = strand_programs()
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, timeout=20,
                         check=True).stdout
    holders = bpf_prog_holders()
    left = []
    for p in json.loads(out or b"[]"):
        name = p.get("name") or ""
        # the kernel cuts names to 15 characters (pthread_create_entry -> pthread_create_)
        if not any(name == n or (len(name) == 15 and n.startswith(name)) for n in ours):
            continue
        held = holders.get(p.get("id"), set())
        if not held or held & set(pids):
            left.append((p.get("id"), name, sorted(held)))
    return left


# --- the report ---------------------------------------------------------------------------


def split_report(text, context=None):
    """Find the JSON report in text: either all of it, or an object starting at the beginning
    of a line and running to the end (what a `--` child printed comes before it).
    Returns (text before the report, report)."""
    dec = json.JSONDecoder()
    starts = [0] + [m.start() + 1 for m in re.finditer(r"\n(?=\{)", text)]
    for i in starts:
        if i >= len(text) or text[i] != "{":
            continue
        try:
            obj, end = dec.raw_decode(text, i)
        except ValueError:
            continue
        if text[end:].strip() == "" and isinstance(obj, dict):
            return text[:i], obj
    fail("no JSON report found on strand's stdout", context or clip(text))


def sites(rep):
    return rep.get("sites") or []


def find_sites(rep, pred):
    return [s for s in sites(rep) if pred(s)]


def find_site(rep, pred, what):
    """The single site matching pred; fails with the list of sites otherwise."""
    hits = find_sites(rep, pred)
    if len(hits) != 1:
        fail("expected exactly one site %s, found %d" % (what, len(hits)), summarize_sites(rep))
    return hits[0]


def fmt_frame(f):
    return "%s %s:%s%s [%s] %s" % (
        f.get("function"), os.path.basename(f.get("file") or "?"), f.get("line"),
        " (inlined)" if f.get("inlined") else "", os.path.basename(f.get("module") or "?"),
        f.get("address"))


def fmt_stack(frames):
    return "\n".join("    #%-2d %s" % (i, fmt_frame(f)) for i, f in enumerate(frames or []))


def fmt_site(s):
    head = {k: v for k, v in s.items() if k != "spawn_stack"}
    return "  site %s\n%s" % (json.dumps(head, sort_keys=True), fmt_stack(s.get("spawn_stack")))


def summarize_sites(rep):
    out = ["report: totals=%s drops=%s warnings=%s" % (
        json.dumps(rep.get("totals")), json.dumps(rep.get("drops")),
        json.dumps(rep.get("warnings")))]
    out += [fmt_site(s) for s in sites(rep)]
    if not sites(rep):
        out.append("  (no sites)")
    return "\n".join(out)


def summarize_tasks(rep, limit=60):
    tasks = rep.get("tasks") or []
    out = ["tasks (%d):" % len(tasks)]
    out += ["  " + json.dumps(t, sort_keys=True) for t in tasks[:limit]]
    if len(tasks) > limit:
        out.append("  ...")
    return "\n".join(out)


LIBC_FUNCS = re.compile(r"clone|pthread_create|create_thread|start_thread")


def is_libc_frame(f):
    mod = os.path.basename(f.get("module") or "")
    return mod.startswith("libc.so") or mod.startswith("libc-") or \
        mod.startswith("libpthread") or bool(LIBC_FUNCS.search(f.get("function") or ""))


def caller_frames(site):
    """The spawn stack without its innermost libc frames (clone..., pthread_create): frame 0
    is the function that called pthread_create. Fails unless a pthread_create frame is among
    the frames skipped."""
    stack = site.get("spawn_stack") or []
    i = 0
    while i < len(stack) and is_libc_frame(stack[i]):
        i += 1
    if i == len(stack):
        fail("spawn stack of site %s has %d frame(s), all in libc: it never reaches the caller "
             "of pthread_create (unwinding stopped in libc)" % (site.get("id"), len(stack)),
             fmt_site(site))
    if not any("pthread_create" in (f.get("function") or "") for f in stack[:i]):
        fail("spawn stack of site %s has no pthread_create frame before its caller"
             % site.get("id"), fmt_site(site))
    return stack[i:]


def frame_matches(f, function=None, file=None, line=None, module=None):
    """function: exact name; file and module: basename; line: exact."""
    if function is not None and f.get("function") != function:
        return False
    if file is not None and os.path.basename(f.get("file") or "") != file:
        return False
    if line is not None and f.get("line") != line:
        return False
    if module is not None and os.path.basename(f.get("module") or "") != module:
        return False
    return True


def expect_frame(site, frames, idx, what, **want):
    """Check frames[idx] matches want (see frame_matches); the message shows the site."""
    desc = ", ".join("%s=%r" % kv for kv in want.items())
    if idx >= len(frames):
        fail("%s: spawn stack too short, wanted frame %d (%s)" % (what, idx, desc),
             fmt_site(site))
    if not frame_matches(frames[idx], **want):
        fail("%s: caller frame %d is %s, expected %s" % (what, idx, fmt_frame(frames[idx]), desc),
             fmt_site(site))


def expect_eq(actual, expected, what, *details):
    if actual != expected:
        fail("%s: got %r, expected %r" % (what, actual, expected), *details)


def free_pid():
    """A pid that no process has right now."""
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    pid = min(pid_max - 1, 4000000)
    while pid > 300 and Path("/proc/%d" % pid).exists():
        pid -= 7
    return pid
