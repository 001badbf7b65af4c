"""Healthy controls (tests/targets/go/gohealthy): patterns that block for long by design must
come out with no stranded goroutine and no stranded thread, with a 1 s threshold shorter
than their idle periods: a pool idle between bursts, a limit taken before spawning, a
sweeper on a ticker, a server in accept, a keep-alive connection, a load spike that comes
back down. Each also asserts the healthy goroutines were seen (count, site, wait): a trace
that saw nothing would judge nothing."""

from gohelp import describe, go_trace, group, no_stranded, seen, site
from harness import check, expect_eq

PROG = "gohealthy"


def test_worker_pool_idle_between_bursts():
    """8 workers started once, fed a burst every 3 s: parked on one shared channel for
    longer than the threshold, woken when work comes."""
    rep, _ = go_trace(PROG, "pool", duration="4500ms", expect_rc=0)
    no_stranded(rep, "a bounded pool")
    seen(rep, PROG, "hpool", "chan receive", "hpool", live=8)
    seen(rep, PROG, "hfeeder", "select", "hfeeder", live=1)
    check(not site(rep, PROG, "hpool").get("runaway"), "a pool is no runaway", describe(rep))


def test_limit_acquired_before_spawning():
    """errgroup-style SetLimit: a semaphore acquired before each go statement."""
    rep, _ = go_trace(PROG, "errgroup", steady="running", expect_rc=0)
    no_stranded(rep, "a limited group")
    # workers come and go every 200 ms: the limit held all along (a fifth may be alive a
    # moment: a worker gives its slot back before its goroutine ends), some sleeping now
    w = site(rep, PROG, "egworker")
    check(w.get("peak_live") in (4, 5) and 1 <= w.get("live", 0) <= 5 and
          w.get("spawned", 0) > 4, "egworker: at most 4 (or 5) alive at once, many spawned",
          describe(rep))
    seen(rep, PROG, "egworker", "sleep", "egwork", live=w.get("live"), at_least=1)
    check(site(rep, PROG, "egspawner").get("live") == 1, "the spawner is alive", describe(rep))


def test_sweeper_on_a_ticker():
    rep, _ = go_trace(PROG, "sweeper", duration="3s", expect_rc=0)
    no_stranded(rep, "a sweeper")
    seen(rep, PROG, "sweeper", "select", "sweeper", live=1)


def test_metrics_server_in_accept():
    rep, _ = go_trace(PROG, "metrics", steady="listening", expect_rc=0)
    no_stranded(rep, "a server in accept")
    seen(rep, PROG, "metrics", "IO wait", "metrics", live=1)
    idle = [g for g in rep["goroutines"]["groups"] if g.get("state") == "IO wait" and
            not g.get("runtime")]
    check(len(idle) == 1 and "a listener in accept" in " ".join(idle[0]["evidence"]),
          "the accept loop is listed, in IO wait on its listener", describe(rep))


def _idle_for(rep, name, state, count, reason):
    """Nothing stranded; the goroutines of SITE: name, parked at WAIT: name in state, all
    count of them idle for the reason given."""
    no_stranded(rep, "SITE: " + name)
    g = group(rep, PROG, name, state, wait=name)
    expect_eq((g.get("count"), g.get("verdict")), (count, "idle"), "SITE: " + name,
              describe(rep))
    check(reason in " ".join(g.get("evidence") or []), "no reason given", describe(rep))


def test_select_forever_made_at_start_up():
    """One goroutine made at start-up parked in `select {}` while main runs: the idiom for
    "run forever", idle (a `select {}` per request is stranded: test_goroutines)."""
    rep, _ = go_trace(PROG, "forever", expect_rc=0)
    _idle_for(rep, "forever", "select (no cases)", 1, "run forever")


def test_select_bounded_by_a_timer():
    """3 waiters, each made by a call that is over, select on a channel of their own and on
    time.After(1h): past the threshold, never woken, but each ends when its timer fires
    (the timer's channel is among the select's cases): idle."""
    rep, _ = go_trace(PROG, "timedselect", duration="2500ms", expect_rc=0)
    _idle_for(rep, "timed", "select", 3, "ends when the timer fires")


def test_http_keep_alive_connection():
    """A client holding an idle keep-alive connection: the server's reader and the client's
    connection loops (net/http's persistConn) all wait for long."""
    rep, _ = go_trace(PROG, "keepalive", steady="listening", duration="3s", expect_rc=0)
    no_stranded(rep, "an idle keep-alive connection")
    seen(rep, PROG, "kaserve", "IO wait", "kaserve", live=1)
    ev = " ".join(e for g in rep["goroutines"]["groups"] for e in g.get("evidence") or [])
    check("an accepted connection waiting for its client" in ev,
          "the server's reader is known to wait on an accepted connection", describe(rep))


def test_load_spike_that_comes_back_down():
    """50 workers, a spike to 250 for 2 s, back to 50: a runaway may be reported during the
    spike, stranded never."""
    rep, _ = go_trace(PROG, "spike", steady="phase baseline", duration="4500ms", expect_rc=0)
    no_stranded(rep, "a load spike")
    # back at the baseline by the end: its workers asleep between requests (a few may be
    # running one at the moment of the scan)
    seen(rep, PROG, "spikebase", "sleep", "spikebase", live=50, at_least=40)
    extra = site(rep, PROG, "spikeextra")
    check(extra.get("spawned") == 200 and extra.get("live") == 0,
          "the spike's 200 extra workers came and went", describe(rep))
