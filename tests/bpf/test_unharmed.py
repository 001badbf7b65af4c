"""The target is unharmed (issue 8): real test suites (the Go standard library's own tests
for sync and context, strand's own C unit suites) pass under `strand trace --` exactly as
they do untraced, a suite
keeps passing while strand attaches and detaches over and over, and a ring buffer far too
small loses records that are counted and reported, with no wrong verdict from it."""

import json
import os
import re
import time

import harness
from harness import (ROOT, TARGET_BIN, Session, Target, check, expect_eq, run_strand,
                     split_report, target_path, timeout)

PASS_LINE = re.compile(r"^\s*--- PASS: (\S+)", re.M)


def _std_test(pkg):
    p = TARGET_BIN / "gostd" / ("%s.test" % pkg)
    check(p.exists(), "%s not built (make targets)" % p)
    return str(p)


def _passed(out):
    return sorted(set(PASS_LINE.findall(out)))


def test_go_std_test_suites_pass_traced_as_untraced():
    """sync's and context's tests, -test.short -test.v: the same tests pass, none fails."""
    untraced = {}
    with Session() as s:  # both untraced suites at once, then each traced
        plain = {pkg: Target(s, [_std_test(pkg), "-test.short", "-test.v", "-test.count=1"],
                             label=pkg + ".test") for pkg in ("sync", "context")}
        for pkg, t in plain.items():
            expect_eq(t.wait(60), 0, "%s.test untraced" % pkg, t.stdout[-2000:])
            untraced[pkg] = t.stdout
    for pkg in ("sync", "context"):
        argv = [_std_test(pkg), "-test.short", "-test.v", "-test.count=1"]
        rc, out, err = run_strand(["trace", "-q", "--json", "-o", "/dev/null", "--"] + argv,
                                  timeout=90)
        expect_eq(rc, 0, "%s.test under strand (strand passes its status on)" % pkg,
                  out[-3000:], err[-2000:])
        check("\nPASS\n" in out and "FAIL" not in out,
              "%s.test under strand: PASS and no FAIL" % pkg, out[-3000:])
        expect_eq(_passed(out), _passed(untraced[pkg]), "%s: the tests that passed" % pkg)
        check(len(_passed(out)) >= 20, "too few %s tests ran" % pkg, out[-2000:])


@timeout(150)  # the suite twice, ~15 s each alone, longer on a busy machine
def test_go_net_http_suite_traced_as_untraced_no_verdict():
    """net/http's tests, -test.short, run in its source directory (testdata): servers,
    clients, keep-alive pools, helper processes, thousands of goroutines come and go. The
    same tests pass traced and untraced, and strand passes the suite's own status on (one
    test fails either way on Debian: it runs `go tool nm` on a stripped go): no verdict,
    no goroutine or thread called stranded, in any of its processes."""
    argv = [_std_test("net/http"), "-test.short", "-test.v", "-test.count=1"]
    src = "/usr/lib/go-1.19/src/net/http"
    with Session() as s:
        # both at once: the suite is mostly servers and clients waiting on each other
        plain = Target(s, argv, label="http.test", cwd=src)
        st = s.start_strand(["trace", "-q", "--json", "-o", "/dev/stderr", "--"] + argv,
                            cwd=src)
        rc_plain = plain.wait(120)
        untraced = plain.stdout
        check(rc_plain in (0, 1), "http.test untraced died", untraced[-2000:], plain.stderr[-2000:])
        rc, out, err = st.finish(timeout=180)
    expect_eq(rc, rc_plain, "strand's status: the suite's own (10 would be a verdict)",
              err[-3000:])
    expect_eq(_passed(out), _passed(untraced), "net/http: the tests that passed")
    check(len(_passed(out)) >= 300, "too few net/http tests ran", out[-2000:])
    check("{" in err, "strand wrote no report (status %s)" % rc, err[-4000:])
    rep = json.loads(err[err.index("{"):])
    bad = [g for g in (rep.get("goroutines") or {}).get("groups") or []
           if g.get("verdict") in ("stranded", "deadlock")]
    bad += [g for g in rep.get("groups") or [] if g.get("verdict") in ("stranded", "deadlock")]
    expect_eq(bad, [], "groups called stranded or deadlocked")
    check(len((rep.get("goroutines") or {}).get("runtimes") or []) >= 2,
          "the suite's processes were not read as Go programs", err[-2000:])


def test_c_test_suites_pass_traced_as_untraced():
    """C suites (strand's own unwinder, flame graph and pprof tests, ASan builds with
    thousands of checks each): the same summary line traced and untraced."""
    for name in ("sym/test_unwind", "report/fmt/test_flamegraph", "report/fmt/test_pprof"):
        exe = str(ROOT / "build" / "unit" / name)
        with Session() as s:
            plain = Target(s, [exe], label=name)
            rc = plain.wait(60)
            untraced = plain.stdout + plain.stderr
        expect_eq(rc, 0, "%s untraced" % name, untraced[-2000:])
        rc, out, err = run_strand(["trace", "-q", "--json", "-o", "/dev/null", "--", exe],
                                  timeout=90)
        expect_eq(rc, 0, "%s under strand" % name, err[-2000:])
        summary = [l for l in (out + err).splitlines() if l.startswith("unit:")]
        expect_eq(summary, [l for l in untraced.splitlines() if l.startswith("unit:")],
                  "%s: its summary line" % name)


@harness.alone("counts the rounds the machine gives it in 8 s")
def test_attach_and_detach_over_and_over_while_a_suite_runs():
    """sync's tests run again and again while strand attaches to them, traces 0.2 s and
    detaches, round after round for 8 s: every round detaches cleanly and the suite passes.
    (Hundreds of rounds: the same loop run by hand, docs/safety.md.)"""
    argv = [_std_test("sync"), "-test.short", "-test.count=200"]
    with Session() as s:
        t = Target(s, argv, label="sync.test")
        # attach once the Go runtime is up (its sysmon and first Ms are threads)
        deadline = time.monotonic() + 10
        while t.popen.poll() is None and time.monotonic() < deadline and \
                len(os.listdir("/proc/%d/task" % t.pid)) < 3:
            time.sleep(0.02)
        cycles, t0 = 0, time.monotonic()
        while t.popen.poll() is None and time.monotonic() - t0 < 8:
            st = s.start_strand(["trace", "-p", str(t.pid), "--for", "200ms", "-q", "--json",
                                 "-o", "/dev/null"])
            rc = st.wait(15)
            if t.popen.poll() is not None:
                break
            expect_eq(rc, 0, "strand's exit status, cycle %d" % (cycles + 1), st.describe())
            cycles += 1
        check(t.popen.poll() is None, "the suite ended (or died) under the cycles",
              t.describe())
        t.signal(15)  # enough: the suite ran through every cycle; let it go
        rc = t.wait(10)
    check(cycles >= 6, "only %d attach/detach cycles in 8 s" % cycles)
    check("FAIL" not in t.stdout and "panic" not in t.stdout and "SIGTRAP" not in t.stderr,
          "the suite failed under %d attach/detach cycles" % cycles, t.describe())


def test_ring_buffer_overflow_is_counted_not_misjudged():
    """A 4 KiB ring buffer (the smallest) under 2000 thread spawns: records are lost, and
    strand says how many, lists nothing as blocked that has exited, judges nothing
    stranded, and the command's own result is intact."""
    churn = str(target_path("churn"))
    rc, out, err = run_strand(["trace", "--json", "--ringbuf", "4K", "-t", "1s", "--", churn,
                               "--now", "2000", "64"], timeout=60)
    expect_eq(rc, 0, "strand's exit status (the command's)", err[-2000:])
    child, rep = split_report(out, err[-2000:])
    check("exited 2000" in child, "the command's own result", child[-500:])
    drops = rep.get("drops") or {}
    check(drops.get("ringbuf", 0) > 0, "no ring-buffer drop counted with a 4 KiB buffer",
          json.dumps(drops))
    v = rep.get("verdicts") or {}
    expect_eq((v.get("stranded"), v.get("deadlock")), (0, 0), "verdicts", json.dumps(v))
    live = [t for t in rep.get("tasks") or [] if t.get("name") == "churn" and
            t.get("tid") != t.get("pid")]
    expect_eq(live, [], "threads of the exited command still listed")
    check(any("ring buffer" in w or "dropped" in w for w in rep.get("warnings") or []) or
          "drop" in err, "nothing says records were lost",
          json.dumps(rep.get("warnings")), err[-1000:])
