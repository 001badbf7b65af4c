"""Goroutine leaks (scenarios 9-20, tests/targets/go/goleak): each mode's leaked goroutines
are reported at their go statement and wait line, with the verdict and evidence its header
names; its controls and its healthy goroutines are not. A goroutine stuck in a system call
or a C call and its OS thread say the same thing."""

import json

from gohelp import describe, go_trace, group, numbers, site, site_groups
from harness import check, expect_eq

PROG = "goleak"


def _stranded(g, count, rep):
    expect_eq((g.get("count"), g.get("verdict")), (count, "stranded"), "group", describe(rep))
    check(1.0 <= (g.get("blocked_oldest_seconds") or 0) < 5.0,
          "exact blocked time from the park probe", json.dumps(g, indent=1)[:2000])


def _evidence(g):
    return " | ".join(g.get("evidence") or [])


def test_range_over_channel_never_closed():
    """Scenario 9: four handlers each start a worker ranging over their own channel and
    return without closing it."""
    rep, _ = go_trace(PROG, "range", expect_rc=10)
    g = group(rep, PROG, "range", "chan receive", wait="range")
    _stranded(g, 4, rep)
    expect_eq((g.get("orphans"), g.get("objects"), g.get("max_sharing")), (4, 4, 1),
              "four orphans, a channel each", describe(rep))
    check("has exited" in _evidence(g), "evidence: the spawner exited", _evidence(g))
    req = site(rep, PROG, "rangereq")
    expect_eq((req.get("live"), req.get("spawned"), req.get("exited")), (0, 4, 4),
              "the handlers all returned", describe(rep))


def test_fetch_with_timeout_unbuffered_send_leaks():
    """Scenario 10: the caller returns on ctx.Done(); the worker blocks in its send."""
    rep, _ = go_trace(PROG, "timeout", expect_rc=10)
    g = group(rep, PROG, "timeout", "chan send", wait="timeout")
    _stranded(g, 6, rep)
    expect_eq(g.get("orphans"), 6, "their callers returned", describe(rep))
    expect_eq(site(rep, PROG, "timeout")["created_at"].get("function"), "main.fetchWithTimeout",
              "created by")


def test_control_fetch_with_timeout_buffered_is_clean():
    """Scenario 10's control: a result channel of capacity 1; every worker sends and exits."""
    rep, line = go_trace(PROG, "timeoutbuf", expect_rc=0, steady="blocked 0 exited")
    s = site(rep, PROG, "timeoutbuf")
    expect_eq((s.get("live"), s.get("spawned"), s.get("exited")), (0, 6, 6),
              "workers all exited", describe(rep))
    check(not site_groups(rep, PROG, "timeoutbuf"), "nothing left at the site", describe(rep))
    check(not rep["goroutines"].get("stranded"), "no stranded goroutine", describe(rep))


def test_early_return_orphans_the_result_sender():
    """Scenario 11: three of nine calls fail validation and return early; the goroutine that
    was to deliver their result blocks in its send. Their creator is main, alive: the calls
    that made them are over."""
    rep, _ = go_trace(PROG, "early", expect_rc=10)
    g = group(rep, PROG, "early", "chan send", wait="early")
    _stranded(g, 3, rep)
    check("has returned" in _evidence(g), "evidence: the creating call returned", _evidence(g))
    s = site(rep, PROG, "early")
    expect_eq((s.get("spawned"), s.get("exited")), (9, 6), "six delivered, three stuck",
              describe(rep))


def test_heartbeat_outlives_its_connection():
    """Scenario 12: a heartbeat per connection, never stopped: woken by its ticker (not
    stranded), but its count tracks connections ever made, not open ones: a runaway whose
    goroutines all outlived the connection handler that started them."""
    rep, _ = go_trace(PROG, "heartbeat", ["-every", "100ms"], duration="3500ms", expect_rc=0,
                      steady="blocked")
    s = site(rep, PROG, "heartbeat")
    check(s.get("runaway"), "the heartbeat site is a runaway", describe(rep))
    ev = " | ".join(s.get("runaway_evidence") or [])
    check("outlived" in ev, "evidence: they outlived their creators", ev)
    check(s.get("live", 0) >= 10 and s.get("orphans") == s.get("live"),
          "heartbeats of closed connections, all orphans", describe(rep))
    samples = s["live_over_time"]["samples"]
    check(samples == sorted(samples) and samples[-1] > samples[0], "the count only grew",
          json.dumps(samples))
    for g in site_groups(rep, PROG, "heartbeat"):
        check(g.get("verdict") != "stranded", "a ticking heartbeat is not stranded",
              describe(rep))
    acc = group(rep, PROG, "hbaccept", "IO wait", wait="hbaccept")
    check(acc.get("verdict") != "stranded", "the accept loop is healthy", describe(rep))


def test_cache_warmer_outlives_its_cancelled_request():
    """Scenario 13: each request starts a warmer on a ticker and cancels its context on
    return; the warmer never looks at it."""
    rep, _ = go_trace(PROG, "warmer", expect_rc=0)
    s = site(rep, PROG, "warmer")
    expect_eq((s.get("live"), s.get("orphans"), s.get("runaway")), (4, 4, True),
              "warmers outlive their requests", describe(rep))
    for g in site_groups(rep, PROG, "warmer"):
        check(g.get("verdict") != "stranded", "a ticking warmer is not stranded",
              describe(rep))


def test_outbound_call_to_a_silent_peer():
    """Scenario 14: three calls write a request on a connection with no deadline to a local
    server that accepts and never answers. All are in IO wait: the callers on the connections
    they made (stranded), the server on its listener (idle). Which fd each waits on comes
    from the runtime's epoll set and its poll descriptors."""
    rep, _ = go_trace(PROG, "tcp", expect_rc=10)
    g = group(rep, PROG, "tcpcall", "IO wait", wait="tcpcall")
    _stranded(g, 3, rep)
    check("on a connection this process made" in _evidence(g) and "peer 127.0.0.1:" in
          _evidence(g), "evidence: the outbound connection and its peer", _evidence(g))
    acc = group(rep, PROG, "tcpaccept", "IO wait", wait="tcpaccept")
    expect_eq(acc.get("verdict"), "idle", "the silent server's accept", describe(rep))
    check("a listener in accept" in _evidence(acc), "evidence: a listener", _evidence(acc))


def test_waitgroup_missing_done():
    """Scenario 15: a worker panics, recovers and skips its Done; the handler waits forever
    (Go 1.19 parks sync.WaitGroup.Wait as semacquire: the stack says which)."""
    rep, _ = go_trace(PROG, "wg", expect_rc=10)
    g = group(rep, PROG, "wgreq", "semacquire", wait="wgwait")
    _stranded(g, 3, rep)
    expect_eq(g.get("sync_wait"), "sync.WaitGroup.Wait", "the sync primitive", describe(rep))
    w = site(rep, PROG, "wgworker")
    expect_eq((w.get("live"), w.get("spawned"), w.get("exited")), (0, 24, 24),
              "all the batch's workers exited", describe(rep))


def test_mutex_left_locked_piles_up_waiters():
    """Scenario 16: a request returns on an error path with the mutex held; the requests after
    it pile up in Lock. They come 40 ms apart for 0.9 s: the trace lasts 2.5 s, so that even
    on a loaded machine the last is past the 1 s threshold when it ends (a younger wait is
    rightly not judged yet, and would be a group of its own)."""
    rep, _ = go_trace(PROG, "mutex", duration="2500ms", expect_rc=10)
    g = group(rep, PROG, "mutexreq", "semacquire", wait="mutexlock")
    _stranded(g, 20, rep)
    expect_eq(g.get("sync_wait"), "sync.Mutex.Lock", "the sync primitive", describe(rep))
    check("lock held" in _evidence(g), "evidence: a lock held past the threshold", _evidence(g))


def test_two_lock_deadlock():
    """Scenario 16: two goroutines take two mutexes in opposite orders."""
    rep, _ = go_trace(PROG, "deadlock", expect_rc=10)
    for name in ("deadlockab", "deadlockba"):
        g = group(rep, PROG, name, "semacquire", wait="deadlock")
        _stranded(g, 1, rep)
        expect_eq(g.get("sync_wait"), "sync.Mutex.Lock", "the sync primitive", describe(rep))


def test_leak_retaining_a_buffer_reports_what_it_pins():
    """Scenario 18: three leaked goroutines each hold a 10 MiB buffer through their closure:
    the group pins its stacks and, found from them through the heap's own index as the
    garbage collector finds objects, the 30 MiB they keep alive."""
    rep, line = go_trace(PROG, "retain", expect_rc=10)
    expect_eq(numbers(line), [3, 10485760], "the target's steady line")
    g = group(rep, PROG, "retain", "chan receive", wait="retain")
    _stranded(g, 3, rep)
    check(g.get("stack_bytes", 0) >= 3 * 2048, "the stacks the group pins", json.dumps(g))
    heap = g.get("heap_bytes") or 0
    check(30 << 20 <= heap < 32 << 20, "the heap the group keeps: %d bytes" % heap,
          json.dumps(g, indent=1)[:3000])


def test_leak_without_a_buffer_keeps_little():
    """The control of scenario 18: goroutines that hold nothing keep little heap."""
    rep, _ = go_trace(PROG, "chan", expect_rc=10)
    g = group(rep, PROG, "chan", "chan receive", wait="chan")
    check(g.get("heap_measured") and (g.get("heap_bytes") or 0) < 64 << 10,
          "five idle workers keep a few channels, not megabytes", json.dumps(g, indent=1)[:3000])


def test_goroutine_stuck_in_c_and_its_thread_agree():
    """Scenario 20 (cgo build): one goroutine's C call locks a pthread mutex whose holder, a C
    thread, ended without unlocking it; another's reads a pipe nobody writes. Each pins an OS
    thread, and the goroutine takes its thread's verdict: the lock waiter stranded with its
    thread's proof (named for the goroutine it serves), the reader with none on either side
    (one thread on a pipe its own process could write: nothing proves it forgotten)."""
    rep, _ = go_trace(PROG, "cgo", variant="-cgo", expect_rc=10)
    lock = group(rep, PROG, "cgolock", "syscall", wait="cgolock")
    read = group(rep, PROG, "cgoread", "syscall", wait="cgoread")
    expect_eq((lock.get("count"), lock.get("verdict")), (1, "stranded"), "goroutine in C",
              describe(rep))
    check("pthread_mutex_lock" in _evidence(lock) and "no longer exists" in _evidence(lock),
          "the goroutine's evidence is its thread's", _evidence(lock))
    expect_eq((read.get("count"), read.get("verdict")), (1, None), "goroutine reading in C",
              describe(rep))
    by_site = {g.get("go_site"): g for g in rep.get("groups") or []}
    t = by_site.get(lock["site"])
    check(t is not None and t.get("verdict") == "stranded" and t.get("proven"),
          "the goroutine's thread is stranded too, proven, naming its site",
          json.dumps(rep.get("groups"), indent=1)[:4000])
    expect_eq(t.get("wait_kind"), "mutex", "the C mutex wait")
    check("which no longer exists" in " ".join(t.get("evidence")),
          "the C mutex's holder is said gone", json.dumps(t))
    r = by_site.get(read["site"])
    check(r is not None and r.get("verdict") not in ("stranded", "deadlock"),
          "the reader's thread has no verdict either",
          json.dumps(rep.get("groups"), indent=1)[:4000])
