"""Global deadlocks of Go programs proved live (strand trace -p): the shapes of GoKer's
blocking bugs, each a test of tests/gotest/deadlocks run alone and hanging until its
-test.timeout alarm, whose pending timer keeps the runtime from saying "all goroutines are
asleep". strand must prove the deadlock far under its 30 s threshold, every goroutine with
its go statement and wait line, and must not when a timer will wake the test."""
from gohelp import describe, marker, groups
from harness import ROOT, Session, Target, check, expect_eq, split_report, target_path

SRC = ROOT / "tests" / "gotest"
PKG = "deadlocks"


def _tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(next(l for l in f if l.startswith("TracerPid:")).split()[1])


def _trace(test, duration="2500ms"):
    with Session() as s:
        t = Target(s, [str(target_path("gotest/deadlocks.test")), "-test.run", "^%s$" % test,
                       "-test.timeout", "60s"], label=test)
        # a deadlock needs two scans that agree: 2.5 s holds several
        st = s.trace_pid(t, duration=duration)
        rep = st.report(expect_rc=None)
        check(t.popen.poll() is None, "%s ended under strand" % test, t.describe())
        expect_eq(_tracer_of(t.pid), 0, "the tracer of %s after strand (held for walks)" % test)
        return rep, st.popen.returncode


def _at(frame, name, kind):
    where = marker(PKG, name, kind, src=SRC)
    return bool(frame) and (frame.get("file") or "").rsplit("/", 1)[-1] == where[0] and \
        frame.get("line") == where[1]


def _proven_deadlock(test, waits):
    rep, rc = _trace(test)
    expect_eq(rc, 10, "strand's exit status with a deadlock found", describe(rep))
    _deadlocked(rep, waits)


def _deadlocked(rep, waits):
    """The program's goroutines, the test's and main's (testing's, waiting for the test) with
    them: all deadlocked, one at each (WAIT: name, SITE: name) of waits."""
    gs = groups(rep)
    n = len(waits) + 1
    expect_eq(sorted((g.get("verdict") or "-", g.get("count")) for g in gs),
              [("deadlock", 1)] * n, "verdicts of the program's goroutines", describe(rep))
    for wait, site in waits:
        hit = [g for g in gs if _at(g.get("wait_site"), wait, "WAIT") and
               (site is None or _at(g.get("created_at"), site, "SITE"))]
        check(len(hit) == 1, "no deadlocked group waiting at WAIT: %s (go statement %s)" %
              (wait, site), describe(rep))
        ev = " ".join(hit[0].get("evidence") or [])
        check("all %d goroutines of the program are blocked" % n in ev and
              "nothing can run to wake them" in ev, "the proof is not in the evidence", ev)


def test_abba_mutexes_and_the_waitgroup_waiting_on_them():
    _proven_deadlock("TestABBA", [("ab", "ab"), ("ba", "ba"), ("abba test", None)])


def test_a_send_after_the_receiver_left():
    _proven_deadlock("TestSendAfterReceiverLeft", [("sender", "sender"), ("send test", None)])


def test_a_waitgroup_that_never_reaches_zero():
    _proven_deadlock("TestWaitGroupNeverZero", [("wg test", None)])


def test_a_cond_never_signalled():
    _proven_deadlock("TestCondNeverSignalled", [("cond waiter", "cond waiter"), ("cond test", None)])


def test_a_select_with_no_live_case():
    _proven_deadlock("TestSelectWithNoLiveCase", [("selector", "selector"), ("select test", None)])


def test_a_deadlocked_test_under_ci_mode_fails_with_its_goroutines():
    """`strand trace -- k.test` on a test that deadlocks until its -test.timeout panics
    (exit 2): strand exits 10, the goroutines of the deadlock flagged with their go
    statements and wait lines, read as the panic's exit left them."""
    with Session() as s:
        st = s.start_strand(["trace", "--json", "--", str(target_path("gotest/deadlocks.test")),
                             "-test.run", "^TestABBA$", "-test.timeout", "3s"])
        rc, out, err = st.finish(timeout=20)
    expect_eq(rc, 10, "strand's exit status", st.describe())
    _, rep = split_report(out, st.describe())
    expect_eq([t.get("exit_code") for t in rep.get("targets") or []], [2],
              "the test binary's status (the timeout's panic)", describe(rep))
    gs = groups(rep)
    for wait, site in (("ab", "ab"), ("ba", "ba"), ("abba test", None)):
        hit = [g for g in gs if _at(g.get("wait_site"), wait, "WAIT") and
               (site is None or _at(g.get("created_at"), site, "SITE")) and
               g.get("verdict") in ("stranded", "deadlock")]
        check(len(hit) == 1, "WAIT: %s not flagged" % wait, describe(rep))


def test_a_timer_that_will_wake_the_test_is_no_deadlock():
    rep, rc = _trace("TestWokenByATimer")
    expect_eq(rc, 0, "strand's exit status", describe(rep))
    gs = groups(rep)
    check(any(_at(g.get("wait_site"), "timer test", "WAIT") for g in gs),
          "the test goroutine waiting for the timer was not seen", describe(rep))
    expect_eq([g for g in gs if g.get("verdict")], [], "goroutines with a verdict",
              describe(rep))


def _proven_leak(test, name):
    """Traces TEST long enough for two heap walks: exit status 10, and the 3 goroutines of
    the go statement SITE: name, waiting at WAIT: name, stranded on a proof. The groups."""
    rep, rc = _trace(test, duration="6s")
    expect_eq(rc, 10, "strand's exit status with leaks proven", describe(rep))
    gs = groups(rep)
    leak = [g for g in gs if _at(g.get("wait_site"), name, "WAIT") and
            _at(g.get("created_at"), name, "SITE")]
    check(len(leak) == 1, "no group of the leaked goroutines (%s)" % name, describe(rep))
    expect_eq((leak[0].get("verdict"), leak[0].get("count")), ("stranded", 3),
              "the leaked goroutines' verdict and count", describe(rep))
    ev = " ".join(leak[0].get("evidence") or [])
    check("proven unreachable" in ev and "heap walks" in ev, "no proof in the evidence", ev)
    return rep, gs, leak[0]


def _seen_not_judged(rep, gs, wait, what):
    beside = [g for g in gs if _at(g.get("wait_site"), wait, "WAIT")]
    check(len(beside) == 1, "%s was not seen" % what, describe(rep))
    expect_eq(beside[0].get("verdict"), None, "%s's verdict" % what, describe(rep))


def test_leaked_senders_proven_unreachable_beside_a_held_channel():
    """A partial leak, the program still at work: 3 senders parked on channels only they
    hold are proven unreachable by two heap walks (the process held still a moment for
    each); a receiver on a channel the test still holds, the test asleep and main waiting
    for it are not judged."""
    rep, gs, leak = _proven_leak("TestLeakedSendersBesideAHeldChannel", "leak")
    _seen_not_judged(rep, gs, "held", "the receiver on the held channel")
    _seen_not_judged(rep, gs, "sleeping test", "the sleeping test")
    expect_eq([g.get("verdict") for g in gs if g is not leak and g.get("verdict")], [],
              "verdicts beside the leak", describe(rep))


def test_leaked_lock_waiters_proven_unreachable_beside_a_global_lock():
    """3 waiters on mutexes of requests that are over, left locked on an error path: the
    mutexes are reachable from nothing but the waiters (the runtime's semaphore table,
    which lists them, aside), proven by two heap walks; a waiter on a global's mutex is
    not judged."""
    rep, gs, _ = _proven_leak("TestLeakedLockWaitersBesideAGlobalLock", "lockleak")
    _seen_not_judged(rep, gs, "globallock", "the waiter on the global's lock")


def test_leaked_cond_waiters_proven_unreachable_beside_a_global_cond():
    """3 waiters on the conditions of jobs dropped without their Broadcast: each Cond is
    reachable from nothing but its waiter's frames (a Cond lists its waiters itself), proven
    by two heap walks; a waiter on a global's Cond is not judged."""
    rep, gs, _ = _proven_leak("TestLeakedCondWaitersBesideAGlobalCond", "condleak")
    _seen_not_judged(rep, gs, "globalcond", "the waiter on the global's Cond")
