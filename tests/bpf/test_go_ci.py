"""strand in CI: `strand trace -- go test ./pkg` fails with exit status 10 when the
tests leave goroutines stranded (in the test binary go test runs as its child), naming the go
statement and where they wait, and passes the tests' own result through otherwise: goleak
for any package, with no change to its tests."""

import json
import os

from gohelp import marker
from harness import ROOT, Session, check, expect_eq, fail, split_report

GO = "/usr/lib/go-1.19/bin/go"


def _go_test(pkg):
    env = dict(os.environ, GOCACHE=str(ROOT / "build" / "gocache"),
               GOPATH=str(ROOT / "build" / "gopath"), GO111MODULE="off", GOFLAGS="",
               CGO_ENABLED="0")
    with Session() as s:
        from harness import STRAND, Proc
        # the build cache warmed first, as a CI machine's is: what strand traces is then the
        # test binary, not a first compile of the package (on a fresh clone, compile, vet
        # and link are big Go programs whose first look takes strand a while under ASan)
        warm = Proc(s, [GO, "test", "-count=1", "-run", "^$", "./tests/gotest/%s" % pkg],
                    env=env, label="go test (warm-up)")
        check(warm.wait(120) == 0, "go test builds the package", warm.describe())
        p = Proc(s, [STRAND, "trace", "--json", "--", GO, "test", "-count=1",
                     "./tests/gotest/%s" % pkg], env=env, label="strand")
        rc = p.wait(90)
        check(rc is not None, "strand trace -- go test did not finish", p.describe())
        _, rep = split_report(p.stdout, p.describe())
    return rc, rep, p


def _stranded(rep):
    return [g for g in (rep.get("goroutines") or {}).get("groups") or []
            if g.get("verdict") == "stranded"]


def _groups_said(rep):
    """What a failure shows first: each goroutine group's count, state, verdict and evidence
    (the whole report is past what a failure's output keeps)."""
    gor = rep.get("goroutines") or {}
    return json.dumps({"runtimes": gor.get("runtimes"),
                       "groups": [{k: g.get(k) for k in ("pid", "count", "state", "verdict",
                                                         "evidence", "wait_site")}
                                  for g in gor.get("groups") or []]}, indent=1)


def test_go_test_with_a_leak_fails():
    rc, rep, p = _go_test("leaky")
    expect_eq(rc, 10, "exit status of a test run that leaks goroutines", _groups_said(rep),
              "--- strand's stderr:\n" + p.stderr)
    gs = _stranded(rep)
    check(len(gs) == 1, "one stranded group", json.dumps(gs, indent=1)[:3000])
    g = gs[0]
    expect_eq((g.get("count"), g.get("state")), (5, "chan send"), "the leaked workers")
    where = marker("../../gotest/leaky", "fetch", "WAIT")
    ws = g.get("wait_site") or {}
    expect_eq(((ws.get("file") or "").rsplit("/", 1)[-1], ws.get("line")), where,
              "where they wait", json.dumps(g, indent=1)[:3000])
    rts = rep["goroutines"].get("runtimes") or []
    check(any(r.get("exited") and r.get("layout") for r in rts),
          "the test binary was read before it exited", json.dumps(rts, indent=1)[:3000])


def test_go_test_without_a_leak_passes():
    rc, rep, p = _go_test("clean")
    expect_eq(rc, 0, "exit status of a clean test run", p.describe())
    check(not _stranded(rep), "nothing stranded", json.dumps(rep.get("goroutines"))[:3000])


def _state(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _poll(pred, timeout):
    """pred() polled until true or timeout seconds: for states no event announces."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_killed_strand_never_leaves_a_process_held_at_its_exit():
    """strand holds a traced process on its way out while it reads what the process leaves;
    SIGKILLed then, its guardian lets the process go: it exits with its own status, and the
    guardian leaves too."""
    import signal
    with Session() as s:
        t = s.start_target("go/goleak", ["chan", "--now"])
        t.wait_line("blocked")
        st = s.trace_pid(t, duration="60s")
        guards = open("/proc/%d/task/%d/children" % (st.pid, st.pid)).read().split()
        check(len(guards) == 1, "strand's guardian is its one child", guards)
        guard = int(guards[0])
        st.signal(signal.SIGSTOP)  # strand cannot read the exit, nor let it go
        t.signal(signal.SIGTERM)   # the target's exit: os.Exit(0), through runtime.exit
        check(_poll(lambda: _state(t.pid) == "T", 10),
              "the target was not held on its way out (state %r)" % _state(t.pid),
              t.describe())
        st.signal(signal.SIGKILL)
        st.wait(5)
        expect_eq(t.wait(10), 0, "the target's exit status, released by the guardian",
                  t.describe())
        check(_poll(lambda: _state(guard) in (None, "Z"), 5), "the guardian is still there")
