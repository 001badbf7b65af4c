"""Healthy controls (tests/targets/go/gohealthy): patterns that block for long by design must
come out with no stranded goroutine and no stranded thread, with a 1 s threshold shorter
than their idle periods: a pool idle between bursts, a limit taken before spawning, a
sweeper on a ticker, a server in accept, a keep-alive connection, a load spike that comes
back down."""

from gohelp import describe, go_trace, group, no_stranded, site
from harness import check, expect_eq

PROG = "gohealthy"


def test_worker_pool_idle_between_bursts():
    """8 workers started once, fed a burst every 3 s: parked on one shared channel for
    longer than the threshold, woken when work comes."""
    rep, _ = go_trace(PROG, "pool", duration="4500ms", expect_rc=0)
    no_stranded(rep, "a bounded pool")
    g = group(rep, PROG, "hpool", "chan receive", wait="hpool")
    expect_eq(g.get("count"), 8, "the pool's workers", describe(rep))
    check(not site(rep, PROG, "hpool").get("runaway"), "a pool is no runaway", describe(rep))


def test_limit_acquired_before_spawning():
    """errgroup-style SetLimit: a semaphore acquired before each go statement."""
    rep, _ = go_trace(PROG, "errgroup", steady="running", expect_rc=0)
    no_stranded(rep, "a limited group")


def test_sweeper_on_a_ticker():
    rep, _ = go_trace(PROG, "sweeper", duration="3s", expect_rc=0)
    no_stranded(rep, "a sweeper")


def test_metrics_server_in_accept():
    rep, _ = go_trace(PROG, "metrics", steady="listening", expect_rc=0)
    no_stranded(rep, "a server in accept")
    idle = [g for g in rep["goroutines"]["groups"] if g.get("state") == "IO wait" and
            not g.get("runtime")]
    check(len(idle) == 1 and "a listener in accept" in " ".join(idle[0]["evidence"]),
          "the accept loop is listed, in IO wait on its listener", describe(rep))


def test_http_keep_alive_connection():
    """A client holding an idle keep-alive connection: the server's reader and the client's
    connection loops (net/http's persistConn) all wait for long."""
    rep, _ = go_trace(PROG, "keepalive", steady="listening", duration="3s", expect_rc=0)
    no_stranded(rep, "an idle keep-alive connection")
    ev = " ".join(e for g in rep["goroutines"]["groups"] for e in g.get("evidence") or [])
    check("an accepted connection waiting for its client" in ev,
          "the server's reader is known to wait on an accepted connection", describe(rep))


def test_load_spike_that_comes_back_down():
    """50 workers, a spike to 250 for 2 s, back to 50: a runaway may be reported during the
    spike, stranded never."""
    rep, _ = go_trace(PROG, "spike", steady="phase baseline", duration="4500ms", expect_rc=0)
    no_stranded(rep, "a load spike")
