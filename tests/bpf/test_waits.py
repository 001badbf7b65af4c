"""Blocked threads: wait reasons, wait sites, verdicts and their evidence, on real targets
(tests/targets/waits.c, one scenario per mode). Leaks must come out stranded (or deadlock)
with the right wait reason, wait site file:line and spawn site; healthy controls must come
out with no stranded or deadlocked thread at all.

Each runs against the build without frame pointers (as distributions build); the deadlock,
whose two wait stacks are checked frame by frame, against the one with them too (the
frame-pointer unwinding of spawn stacks is test_threads' spawn storm and shared library)."""

import json
import os
import signal
import time

import harness
from harness import (Session, both_builds, caller_frames, check, expect_eq, fail, marker_line,
                     run_strand, split_report)

THRESHOLD = "1s"
TRACE_FOR = "2500ms"
# a request every 100 ms for 0.8 s, and the last one past the threshold by the end
PER_REQUEST_FOR = "3200ms"
BAD = ("stranded", "deadlock")


def _trace_mode(mode, fp, extra=(), expect_rc=10, duration=TRACE_FOR):
    with Session() as s:
        t = s.start_target("waits", [mode], fp=fp)
        st = s.trace_pid(t, duration=duration, extra=["-t", THRESHOLD] + list(extra))
        t.go()
        t.wait_line("blocked")
        rep = st.report(expect_rc=expect_rc)
    return t, rep


def _groups(rep, verdicts=None, kind=None):
    gs = rep.get("groups") or []
    return [g for g in gs if (verdicts is None or g.get("verdict") in verdicts) and
            (kind is None or g.get("wait_kind") == kind)]


def _describe(rep):
    lines = ["verdicts: %s" % json.dumps(rep.get("verdicts"))]
    for g in rep.get("groups") or []:
        ws = [f for f in g.get("wait_stack") or [] if f.get("file")]
        where = ", ".join("%s %s:%s" % (f.get("function"), os.path.basename(f["file"]),
                                         f.get("line")) for f in ws[:4])
        lines.append("  %s x%s site %s %s | %s | at %s" % (g.get("verdict"), g.get("count"), g.get("site"),
                                                 g.get("wait_kind"), g.get("wait_reason"),
                                                 where))
        lines += ["      - %s" % e for e in g.get("evidence") or []]
    return "\n".join(lines)


def _one_group(rep, verdicts, kind):
    gs = _groups(rep, verdicts, kind)
    if len(gs) != 1:
        fail("expected one %s group waiting in %s, found %d" % ("/".join(verdicts), kind,
                                                                len(gs)), _describe(rep))
    return gs[0]


def _wait_frame(g, function, marker):
    """The wait stack holds function at the line of marker in waits.c."""
    line = marker_line("waits.c", marker)
    for f in g.get("wait_stack") or []:
        if f.get("function") == function:
            expect_eq((os.path.basename(f.get("file") or ""), f.get("line")), ("waits.c", line),
                      "wait site of %s" % function, json.dumps(g.get("wait_stack"), indent=1))
            return
    fail("no frame %s in the wait stack" % function, json.dumps(g.get("wait_stack"), indent=1))


def _spawn_site(rep, g, caller, marker, via=None):
    """The group's spawn site: spawn() at its pthread_create line, called from caller (through
    via, a helper, when given)."""
    sites = {s["id"]: s for s in rep.get("sites") or []}
    site = sites.get(g.get("site"))
    check(site is not None, "group's site %s not among the sites" % g.get("site"), _describe(rep))
    frames = caller_frames(site)
    expect_eq((frames[0].get("function"), frames[0].get("line")),
              ("spawn", marker_line("waits.c", "SITE: spawn")), "spawn frame")
    if via:
        check(len(frames) > 1 and frames[1].get("function") == via,
              "spawn's caller is not %s" % via, json.dumps(frames[:3], indent=1))
        frames = frames[1:]
    check(len(frames) > 1 and frames[1].get("function") == caller and
          frames[1].get("line") == marker_line("waits.c", marker),
          "spawn frame's caller is not %s at SITE %s" % (caller, marker),
          json.dumps(frames[:3], indent=1))


def _evidence(g, *phrases):
    ev = " | ".join(g.get("evidence") or [])
    for p in phrases:
        check(p in ev, "evidence lacks %r" % p, ev)


def _no_bad(rep):
    bad = _groups(rep, BAD)
    check(not bad, "a healthy target has stranded or deadlocked threads", _describe(rep))
    v = rep.get("verdicts") or {}
    expect_eq((v.get("stranded"), v.get("deadlock")), (0, 0), "verdict counts", _describe(rep))


def test_mutex_whose_holder_died(fp=False):
    """3 workers on a mutex a request thread took and never gave back, that thread gone:
    stranded, proven (the lock died with its holder)."""
    t, rep = _trace_mode("mutex", fp)
    g = _one_group(rep, BAD, "mutex")
    expect_eq((g["verdict"], g["count"], g.get("proven")), ("stranded", 3, True),
              "verdict, count, proven", _describe(rep))
    expect_eq(g.get("wait_reason"), "pthread_mutex_lock", "wait reason")
    check(g.get("oldest_seconds", 0) >= 1.0, "oldest wait under the threshold", _describe(rep))
    _wait_frame(g, "mutex_worker", "WAIT: mutex")
    _spawn_site(rep, g, "start_mutex", "SITE: mutex")
    _evidence(g, "which no longer exists: the lock died with its holder")


def _per_request(rep, mode, kind, caller, worker, *phrases):
    """A leak of a thread per request: one stranded group at start_MODE's site, every
    thread of the site blocked past the threshold in it (at least 5 of the 8), judged by
    the evidence: it grew while traced, and the phrases."""
    g = _one_group(rep, BAD, kind)
    expect_eq((g["verdict"], g.get("proven")), ("stranded", False), "verdict, proven",
              _describe(rep))
    site = g.get("site")
    long_ = [x for x in rep.get("tasks") or [] if x.get("site") == site and
             (x.get("blocked_seconds") or 0) >= float(THRESHOLD.rstrip("s"))]
    check(g["count"] >= 5 and g["count"] == len(long_),
          "%d threads in the group, %d of the site's blocked past the threshold"
          % (g["count"], len(long_)), _describe(rep))
    _wait_frame(g, worker, "WAIT: " + mode)
    _spawn_site(rep, g, caller, "SITE: " + mode, via="serve_requests")
    _evidence(g, "the group only grew during the trace", *phrases)
    return g


def test_mutex_waiters_pile_up(fp=False):
    """A worker per request on a mutex main left locked on an error path: they pile up."""
    t, rep = _trace_mode("lockpile", fp, duration=PER_REQUEST_FOR)
    _per_request(rep, "lockpile", "mutex", "start_lockpile", "lockpile_worker",
                 "the mutex is held by tid %d" % t.pid)


@both_builds
def test_deadlock(fp):
    """Two threads, two mutexes, opposite orders: a deadlock, both stacks, the cycle."""
    _, rep = _trace_mode("deadlock", fp)
    gs = _groups(rep, ("deadlock",))
    check(len(gs) == 2 and sum(g["count"] for g in gs) == 2,
          "expected the two deadlocked threads, each with its stack", _describe(rep))
    check(not _groups(rep, ("stranded",)), "deadlocked threads also called stranded",
          _describe(rep))
    by_fn = {}
    for g in gs:
        _evidence(g, "lock cycle")
        for f in g.get("wait_stack") or []:
            if f.get("function") in ("deadlock_ab", "deadlock_ba"):
                by_fn[f["function"]] = g
    check(set(by_fn) == {"deadlock_ab", "deadlock_ba"}, "both lock sites must be reported",
          _describe(rep))
    _wait_frame(by_fn["deadlock_ab"], "deadlock_ab", "WAIT: ab")
    _wait_frame(by_fn["deadlock_ba"], "deadlock_ba", "WAIT: ba")


def test_cond_of_its_own_never_signalled(fp=False):
    """A thread per request, each on a condition variable of its own nobody signals."""
    _, rep = _trace_mode("cond", fp, duration=PER_REQUEST_FOR)
    g = _per_request(rep, "cond", "condvar", "start_cond", "cond_waiter",
                     "each waits on a futex of its own")
    expect_eq(g.get("wait_reason"), "pthread_cond_wait", "wait reason")


def test_pipe_writer_gone(fp=False):
    _, rep = _trace_mode("pipe", fp, duration=PER_REQUEST_FOR)
    g = _per_request(rep, "pipe", "read", "start_pipe", "pipe_reader",
                     "each waits on a file descriptor of its own",
                     "write end is open in this process")
    check("pipe:[" in g.get("wait_reason", ""), "wait reason does not name the pipe",
          _describe(rep))


def test_epoll_empty_set(fp=False):
    _, rep = _trace_mode("epoll", fp, duration=PER_REQUEST_FOR)
    g = _per_request(rep, "epoll", "epoll", "start_epoll", "epoll_waiter",
                     "watches no file descriptor")
    check("watching 0 fds" in g.get("wait_reason", ""), "reason does not say the set is empty",
          _describe(rep))


def test_recv_silent_peer(fp=False):
    """The clients' recv are stranded; the server's accept for a next client is idle."""
    _, rep = _trace_mode("recv", fp, duration=PER_REQUEST_FOR)
    g = _per_request(rep, "recv", "read", "start_recv", "client",
                     "an outbound connection with no answer and no timeout")
    check(g.get("wait_reason", "").startswith("recvfrom on fd") and "TCP 127.0.0.1:" in
          g["wait_reason"], "reason does not name the connection", _describe(rep))
    acc = _one_group(rep, ("idle",), "accept")
    _wait_frame(acc, "silent_server", "WAIT: accept_again")


def test_preblocked_true_age():
    """Threads stuck 2 s before strand attached are reported with their real age."""
    with Session() as s:
        t = s.start_target("waits", ["preblocked"], ready_timeout=8.0)
        st = s.trace_pid(t, duration="2s", extra=["--threshold", THRESHOLD])
        rep = st.report(expect_rc=10)
    g = _one_group(rep, BAD, "mutex")
    expect_eq((g["verdict"], g["count"], g.get("proven")), ("stranded", 3, True),
              "verdict, count, proven", _describe(rep))
    check(g.get("since_before_attach") is True, "not marked as blocked before attach",
          _describe(rep))
    # blocked 2 s before "ready", then traced for 2 s
    check(3.5 <= g.get("oldest_seconds", 0) <= 8.0,
          "oldest wait %.1f s, expected about 4 s" % g.get("oldest_seconds", 0), _describe(rep))
    _wait_frame(g, "mutex_worker", "WAIT: mutex")
    sites = {s["id"]: s for s in rep.get("sites") or []}
    check(sites.get(g.get("site"), {}).get("before_attach") is True,
          "spawn site of a pre-attach thread must be 'before attach'", _describe(rep))
    # a wait from before the trace has no per-thread state in the kernel (none is made for
    # it): its stack is still copied once, not at every scan
    stats = rep.get("stats") or {}
    threads = [x for x in rep.get("tasks") or [] if x.get("pid") == t.pid]
    check(0 < stats.get("task_stacks_copied", 0) <= len(threads),
          "each thread's stack copied at most once, over scans %s s apart in 2 s" %
          stats.get("scan_gap_seconds"),
          "%s stacks copied, %d threads" % (stats.get("task_stacks_copied"), len(threads)))


def _thread_states(pid):
    states = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            pass
    return states


def _until(pred, what, timeout=5.0):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            fail("timed out waiting for " + what)
        time.sleep(0.02)


def test_preblocked_wait_outlives_a_stop():
    """Threads stuck before strand attached, their process then stopped and continued (job
    control): the kernel restarts their lock waits, and those are the same waits still, of
    their real age (the kernel had no state for them until the stop)."""
    with Session() as s:
        t = s.start_target("waits", ["preblocked"], ready_timeout=8.0)
        st = s.trace_pid(t, duration="3s", extra=["--threshold", THRESHOLD])
        os.kill(t.pid, signal.SIGSTOP)
        _until(lambda: all(x == "T" for x in _thread_states(t.pid)), "the process stopped")
        os.kill(t.pid, signal.SIGCONT)
        _until(lambda: "T" not in _thread_states(t.pid), "the process continued")
        rep = st.report(expect_rc=10)
    g = _one_group(rep, BAD, "mutex")
    expect_eq((g["verdict"], g["count"]), ("stranded", 3), "verdict, count", _describe(rep))
    check(g.get("since_before_attach") is True, "not marked as blocked before attach",
          _describe(rep))
    # blocked 2 s before "ready", then traced for 3 s: not dated from the continue
    check(4.5 <= g.get("oldest_seconds", 0) <= 9.0,
          "oldest wait %.1f s, expected about 5 s" % g.get("oldest_seconds", 0), _describe(rep))


def test_uninterruptible_wait():
    """A thread in vfork() waits uninterruptibly (D state): said so, and it is no leak."""
    with Session() as s:
        t = s.start_target("waits", ["vfork"])
        st = s.trace_pid(t, duration="2500ms", extra=["-t", THRESHOLD])
        t.go()
        t.wait_line("blocked")
        rep = st.report(expect_rc=0)
    g = _one_group(rep, ("idle",), "child")
    expect_eq(g.get("wait_reason"), "vfork [uninterruptible]", "wait reason", _describe(rep))
    _wait_frame(g, "vforker", "SITE: vfork_child")
    d = [x for x in rep.get("tasks") or [] if x.get("state") == "D"]
    check(len(d) == 1 and d[0].get("wait_reason") == "vfork [uninterruptible]",
          "expected one task in state D", json.dumps(rep.get("tasks"), indent=1))
    _no_bad(rep)


def _healthy(mode, start_routine, count, waits):
    """Traces a healthy control in both builds: nothing judged stranded or deadlocked, and
    its threads were seen all the same: `count` live from start_MODE's spawn site (SITE:
    MODE), each running or waiting in one of `waits` (wait reasons' beginnings) at the last scan."""
    for fp in (False, True):
        _, rep = _trace_mode(mode, fp, expect_rc=0)
        _no_bad(rep)
        site = [x for x in rep.get("sites") or [] if x.get("start_routine") == start_routine]
        check(len(site) == 1, "one site of %s" % start_routine, _describe(rep))
        expect_eq(site[0].get("live"), count, "live threads of %s" % start_routine,
                  _describe(rep))
        _spawn_site(rep, {"site": site[0]["id"]}, "start_" + mode, "SITE: " + mode)
        tasks = [t for t in rep.get("tasks") or [] if t.get("site") == site[0]["id"]]
        expect_eq(len(tasks), count, "tasks of %s" % start_routine, tasks)
        states = [t.get("wait_reason") if t.get("state") in ("S", "D") else "running"
                  for t in tasks]
        check(all(w.startswith(waits + ("running",)) for w in states) and
              any(w.startswith(waits) for w in states),
              "%s: waits %s, expected %s" % (start_routine, states, waits), tasks)
    return rep


@harness.alone("makes 20500 threads")
def test_a_crowd_of_threads_is_read_on_two_cpus():
    """The idle pool 20500 workers strong, more threads than a scan reads on one CPU: the
    kernel's work is split between two task iterators read side by side (each taking the
    threads of one parity of tid, handed to one reader). Every worker is seen exactly once
    (a record lost or read twice changes the count), at its wait site, and the crowd is one
    group, stranded by its size: more identical waits than any pool needs (--runaway)."""
    t, rep = _trace_mode("crowd", False, duration="3s")
    check((rep.get("stats") or {}).get("task_scans_in_halves", 0) >= 1,
          "no scan was read in halves", json.dumps(rep.get("stats")))
    g = _one_group(rep, ("stranded",), "condvar")
    expect_eq(g.get("count"), 20500, "workers in the stranded group", _describe(rep))
    _wait_frame(g, "idle_worker", "WAIT: idlepool")
    _evidence(g, "20500 identical waits")
    tasks = [x for x in rep.get("tasks") or [] if x.get("pid") == t.pid]
    blocked = {x.get("tid") for x in tasks if x.get("state") == "S" and
               (x.get("wait_reason") or "").startswith("pthread_cond_wait")}
    expect_eq(len(blocked), 20500, "distinct workers blocked on the pool's condition variable",
              "%d tasks of pid %d" % (len(tasks), t.pid))


def test_control_pool_signalled():
    """A pool on a condition variable signalled every 300 ms: never stranded."""
    # a wait younger than half the threshold has no stack read yet: a bare futex wait
    _healthy("pool", "pool_worker", 4, ("pthread_cond_wait", "futex wait"))


def test_control_accept_server():
    rep = _healthy("accept", "acceptor", 1, ("accept on fd",))
    g = _one_group(rep, ("idle",), "accept")
    _wait_frame(g, "acceptor", "WAIT: accept")


def test_control_timer_loop():
    _healthy("timer", "sleeper", 3, ("nanosleep", "clock_nanosleep"))


def test_ci_exit_code_command():
    """strand trace -- CMD: exit 10 when stranded threads remain at the end, listed."""
    rc, out, err = run_strand(["trace", "-t", THRESHOLD, "--for", "2500ms", "-q", "--",
                               str(_target("waits")), "mutex", "--now"], timeout=15.0)
    expect_eq(rc, 10, "exit code", err)
    check("stranded" in out and "mutex_worker" in out, "the stranded threads are not listed",
          out)


def test_ci_exit_code_when_command_exits():
    """The command exits with threads still stuck: reported as the last scan saw them."""
    rc, out, err = run_strand(["trace", "-t", THRESHOLD, "--json", "-q",
                               "--", str(_target("waits")), "mutex", "--now", "--exit", "2000"],
                              timeout=15.0)
    expect_eq(rc, 10, "exit code", err)
    _, rep = split_report(out, err)
    g = _one_group(rep, BAD, "mutex")
    expect_eq(g["count"], 3, "stranded count", _describe(rep))
    check((rep.get("verdicts") or {}).get("seen_seconds_before_exit", 0) > 0,
          "report does not say the verdicts are from before the exit", _describe(rep))


def test_ci_threads_left_blocked_at_exit_are_proven():
    """The command exits 0 with 8 threads on condition variables nobody signals: held on its
    way out, they are read as the exit leaves them and proven stranded far under the 30 s
    threshold (goleak's rule, for threads); strand exits 10 and the command's 0 is kept."""
    rc, out, err = run_strand(["trace", "--json", "-q", "--", str(_target("waits")), "cond",
                               "--now", "--exit", "0"], timeout=15.0)
    expect_eq(rc, 10, "exit code", err)
    _, rep = split_report(out, err)
    g = _one_group(rep, BAD, "futex")
    expect_eq((g["verdict"], g["proven"], g["count"]), ("stranded", True, 8),
              "verdict, proof and count of the cond waiters", _describe(rep))
    ev = " ".join(g.get("evidence") or [])
    check("when the process called exit (status 0)" in ev, "no exit in the evidence", ev)
    expect_eq([t.get("exit_code") for t in rep.get("targets") or []], [0],
              "the command's status in the report", _describe(rep))


def test_ci_timed_waits_at_exit_are_not_leaks():
    """Threads asleep in a timed wait when the command exits end by themselves: exit 0,
    nothing stranded, and the sleepers were seen asleep."""
    rc, out, err = run_strand(["trace", "--json", "-q", "--", str(_target("waits")), "timer",
                               "--now", "--exit", "0"], timeout=15.0)
    expect_eq(rc, 0, "exit code", err)
    _, rep = split_report(out, err)
    expect_eq(_groups(rep, BAD, None), [], "stranded groups", _describe(rep))
    # each sleeps 200 ms at a time: on a busy machine one may be between two sleeps
    seen = sum(g["count"] for g in rep.get("groups") or [] if g.get("verdict") == "idle" and
               g.get("wait_kind") == "sleep")
    check(seen >= 1, "no sleeper was seen asleep at the exit", _describe(rep))
    expect_eq((rep.get("totals") or {}).get("spawned"), 3, "threads spawned", _describe(rep))


def test_ci_healthy_command_exit_zero():
    rc, out, err = run_strand(["trace", "-t", THRESHOLD, "--for", "2500ms", "-q", "--",
                               str(_target("waits")), "timer", "--now"], timeout=15.0)
    expect_eq(rc, 0, "exit code", out + err)


def _target(name):
    from harness import target_path
    return target_path(name)
