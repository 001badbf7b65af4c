"""Goroutines of an unmodified Go program (tests/targets/go/goleak, built plain, PIE, stripped
and with cgo): the runtime's own goroutine list read from its memory, grouped by creation
site, state and wait site; with the runtime probes, exact park times, spawn stacks, fan-out;
leaks never woken are stranded with their evidence, waits the runtime says can never end
always are, a pool fed with work never is, and a Go program's parked OS threads are never
called stranded. The layout of a stripped binary is inferred and must equal DWARF's."""

import json

from gohelp import describe, go_trace, group, marker, no_stranded, site, site_groups, sites
from harness import check, expect_eq

PROG = "goleak"


def _no_bad_threads(rep):
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") in ("stranded", "deadlock")]
    check(not bad, "threads of a Go program called stranded: the runtime's parked Ms are idle",
          json.dumps(bad, indent=1)[:3000])


def _runtime(rep):
    rts = rep["goroutines"].get("runtimes") or []
    check(len(rts) == 1, "expected the runtime of one Go process", json.dumps(rts))
    return rts[0]


def _check_chan_leak(variant):
    """Mode chan: main calls handleRequest 5 times; each leaves a worker blocked on a channel
    of its own and returns."""
    rep, _ = go_trace(PROG, "chan", variant=variant, expect_rc=10)
    g = group(rep, PROG, "chan", "chan receive", wait="chan")
    s = site(rep, PROG, "chan")
    expect_eq((g.get("count"), g.get("verdict"), s["created_at"].get("function")),
              (5, "stranded", "main.handleRequest"), "chan receive group", describe(rep))
    ev = " | ".join(g.get("evidence") or [])
    check("never woken" in ev and "has returned" in ev and "channel of its own" in ev,
          "evidence: never woken since they parked, their creator's call over, a channel each",
          ev)
    expect_eq((g.get("objects"), g.get("max_sharing")), (5, 1), "five channels, one each")
    check(1.0 <= g.get("blocked_oldest_seconds", 0) < 4.0, "exact blocked time", ev)
    expect_eq((s.get("spawned"), s.get("exited"), s.get("max_children_per_parent")), (5, 0, 5),
              "spawned/exited/fan-out at the site", describe(rep))
    stack = [f.get("function") for f in s.get("spawn_stack") or []]
    check(stack[:2] == ["main.handleRequest", "main.main"],
          "spawn stack from the create probe should start at the go statement",
          json.dumps(s.get("spawn_stack"), indent=1))
    check(g.get("stack_bytes", 0) >= 5 * 2048, "the stacks the group pins", json.dumps(g))
    check(rep["goroutines"].get("live", 0) >= 7, "too few live goroutines", describe(rep))
    # the main goroutine: made by the runtime's start-up, no go statement to name
    mains = [x for x in sites(rep) if (x.get("start") or {}).get("function") == "runtime.main"]
    check(len(mains) == 1 and mains[0].get("created_at") is None,
          "the main goroutine's site, created by no go statement",
          json.dumps(mains, indent=1)[:2000])
    _no_bad_threads(rep)


def test_chan_receive_grouped_by_creation_and_wait_site():
    _check_chan_leak("")


def test_chan_receive_pie():
    _check_chan_leak("-pie")


def test_chan_receive_cgo_binary():
    """A cgo build: dynamically linked, threads from pthread_create."""
    _check_chan_leak("-cgo")


def test_waits_that_can_never_end_are_stranded():
    rep, _ = go_trace(PROG, "forever", expect_rc=10)
    sel = group(rep, PROG, "select", "select (no cases)")
    nil = group(rep, PROG, "nilchan", "chan receive (nil chan)")
    expect_eq((sel.get("count"), sel.get("verdict")), (2, "stranded"), "select {} group",
              describe(rep))
    expect_eq((nil.get("count"), nil.get("verdict")), (1, "stranded"), "nil channel group",
              describe(rep))
    expect_eq(rep["goroutines"].get("stranded"), 3, "stranded goroutines", describe(rep))
    _no_bad_threads(rep)


def test_growing_leak_from_before_attach_is_stranded():
    """Mode mutex started before strand attached: requests keep piling up on a mutex a failed
    request left locked. The waits began before the probes; their age counts from the
    attach, the lock and the growth are the evidence."""
    rep, _ = go_trace(PROG, "mutex", ["-n", "60"], expect_rc=10, before_attach=True,
                      duration="3s")
    g = group(rep, PROG, "mutexreq", "semacquire", wait="mutexlock")
    expect_eq((g.get("verdict"), g.get("sync_wait"), g.get("blocked_since_before_attach")),
              ("stranded", "sync.Mutex.Lock", True), "mutex waiters parked before attach",
              describe(rep))
    ev = " | ".join(g.get("evidence") or [])
    check("since before strand" in ev and "lock held" in ev,
          "evidence", ev)


def test_a_verdict_counts_only_the_waits_it_judged():
    """Requests keep piling up on a mutex left locked until just before the report: those
    blocked past the threshold are stranded, the ones younger than it are not judged with
    them but shown as a group of their own, and every one is counted once."""
    n = 70  # one every 40 ms: the last ones arrive in the trace's final second
    rep, _ = go_trace(PROG, "mutex", ["-n", str(n)], expect_rc=10, duration="3500ms")
    gs = site_groups(rep, PROG, "mutexreq", "semacquire", wait="mutexlock")
    bad = [g for g in gs if g.get("verdict") == "stranded"]
    rest = [g for g in gs if g.get("verdict") in (None, "none")]
    check(len(bad) == 1 and len(rest) == 1 and len(gs) == 2,
          "the stranded waiters and the younger ones, as two groups", describe(rep))
    bad, rest = bad[0], rest[0]
    expect_eq(bad.get("count"), bad.get("blocked_long"), "a stranded group counts what it judged",
              describe(rep))
    check(bad.get("blocked_newest_seconds", 0) >= 1.0,
          "every stranded member blocked past the threshold (1 s): the youngest %.2f s" %
          bad.get("blocked_newest_seconds", 0), describe(rep))
    check(rest.get("blocked_oldest_seconds", 9) < 1.0 and
          any("not judged with the" in e for e in rest.get("evidence") or []),
          "the younger ones not judged, and saying why", describe(rep))
    expect_eq(bad["count"] + rest["count"], n, "every waiter counted once", describe(rep))


def test_snapshots_only_time_the_waits_by_the_runtimes_state():
    """With no uprobe on the runtime at all (--no-go-probes) the scans still time the waits:
    a goroutine whose g.trackingSeq (one more each time it stops running) and saved context
    are the same at every scan has not run since. The leaked workers are stranded on that
    evidence; the workers of a pool fed every 100 ms, which run between scans, are not."""
    rep, _ = go_trace(PROG, "chan", extra=["--no-go-probes"], expect_rc=10)
    g = group(rep, PROG, "chan", "chan receive", wait="chan")
    expect_eq((g.get("count"), g.get("verdict"), g.get("blocked_at_least")),
              (5, "stranded", True), "chan receive, snapshots only", describe(rep))
    ev = " | ".join(g.get("evidence") or [])
    check("g.trackingSeq" in ev, "the evidence says what timed the waits", ev)
    expect_eq((_runtime(rep).get("probes"), _runtime(rep).get("exact_waits")), (False, False),
              "probes reported off")
    rep, _ = go_trace(PROG, "pool", extra=["--no-go-probes"], expect_rc=0)
    no_stranded(rep, "a pool fed every 100 ms, snapshots only")
    expect_eq(group(rep, PROG, "pool", "chan receive", wait="pool").get("count"), 4,
              "the pool's workers", describe(rep))


def test_control_pool_has_nothing_stranded():
    rep, _ = go_trace(PROG, "pool", expect_rc=0)
    no_stranded(rep, "a pool fed every 100 ms")
    g = group(rep, PROG, "pool", "chan receive", wait="pool")
    expect_eq(g.get("count"), 4, "the pool's workers", describe(rep))


def test_stripped_binary_layout_inferred_equals_dwarf():
    """Without DWARF (-ldflags='-s -w') every offset is inferred from the live process: the
    g, sudog and M layouts must be exactly what DWARF says for the same program."""
    plain = _runtime(go_trace(PROG, "range", expect_rc=10)[0])
    rep, _ = go_trace(PROG, "range", variant="-stripped", expect_rc=10)
    stripped = _runtime(rep)
    expect_eq((plain.get("layout"), stripped.get("layout")), ("DWARF", "inferred"),
              "layout sources", json.dumps([plain, stripped]))
    for key in ("g_offsets", "sudog_offsets", "wait_reasons"):
        expect_eq(stripped.get(key), plain.get(key), "inferred " + key)
    check(stripped.get("go_version", "").startswith("go1.19"), "Go version from .go.buildinfo",
          json.dumps(stripped))
    g = group(rep, PROG, "range", "chan receive", wait="range")
    where = marker(PROG, "range")
    expect_eq((g.get("count"), g.get("verdict"), g["created_at"].get("function"),
               g["created_at"].get("line")),
              (4, "stranded", "main.handleJobs", where[1]), "range group of the stripped build",
              describe(rep))
    _no_bad_threads(rep)
