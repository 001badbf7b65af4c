"""Goroutines (tests/targets/go/goleak.go, built plain, PIE and stripped): the runtime's own
goroutine list read from an unmodified Go program, grouped by creation site and wait reason;
with the runtime probes, exact park times and spawn stacks; leaks never woken are stranded,
waits the runtime says can never end always are, a pool fed with work never is; a Go
program's parked OS threads are never called stranded."""

import json

from harness import Session, check, expect_eq, fail, marker_line

GOLEAK = "go/goleak.go"

BAD = ("stranded", "deadlock")


def _trace(mode, variant="", expect_rc=0, extra=(), before_attach=False):
    """Traces goleak MODE for 2.5 s with a 1 s threshold; the goroutines are created after
    strand attached, or before it with before_attach."""
    with Session() as s:
        t = s.start_target("go/goleak" + variant, [mode] + (["--now"] if before_attach else []))
        if before_attach:
            t.wait_line("blocked")
        st = s.trace_pid(t, duration="2500ms", extra=["-t", "1s"] + list(extra))
        if not before_attach:
            t.go()
            t.wait_line("blocked")
        rep = st.report(expect_rc=expect_rc)
    return rep


def _user_groups(rep):
    gr = rep.get("goroutines")
    check(gr is not None, "no goroutines in the report of a Go program",
          json.dumps(rep.get("warnings")))
    return [g for g in gr.get("groups") or [] if not g.get("runtime")]


def _describe(rep):
    out = ["thread verdicts: %s" % json.dumps(rep.get("verdicts"))]
    for g in (rep.get("goroutines") or {}).get("groups") or []:
        out.append("  %s x%s [%s] created by %s, runs %s%s" % (
            g.get("verdict"), g.get("count"), g.get("state"),
            g["created_at"].get("function"), g["start"].get("function"),
            " (runtime)" if g.get("runtime") else ""))
    return "\n".join(out)


def _group(rep, state, created_by=None):
    gs = [g for g in _user_groups(rep) if g.get("state") == state and
          created_by in (None, g["created_at"].get("function"))]
    if len(gs) != 1:
        fail("expected one goroutine group in %r, found %d" % (state, len(gs)), _describe(rep))
    return gs[0]


def _no_bad_threads(rep):
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") in BAD]
    check(not bad, "threads of a Go program called stranded: the runtime's parked Ms are "
          "idle", json.dumps(bad, indent=1)[:3000])


def _check_chan_leak(variant):
    rep = _trace("chan", variant, expect_rc=10)
    g = _group(rep, "chan receive", "main.handleRequest")
    expect_eq((g.get("count"), g["created_at"].get("function"), g.get("verdict")),
              (5, "main.handleRequest", "stranded"), "chan receive group", _describe(rep))
    check(any("never woken" in e for e in g.get("evidence") or []),
          "no never-woken evidence from the park/ready probes", json.dumps(g, indent=1))
    check(1.0 <= g.get("blocked_oldest_seconds", 0) < 3.0, "exact blocked time",
          json.dumps(g, indent=1))
    expect_eq((g.get("site_spawned"), g.get("site_exited")), (5, 0), "spawned/exited at the site")
    stack = [f.get("function") for f in g.get("spawn_stack") or []]
    check(stack[:2] == ["main.handleRequest", "main.main"],
          "spawn stack from the create probe should start at the go statement",
          json.dumps(g.get("spawn_stack"), indent=1))
    check(g.get("seen_seconds", 0) >= 1.0, "waits not timed across scans", _describe(rep))
    site = g["created_at"]
    expect_eq((site.get("file", "").rsplit("/", 1)[-1], site.get("line")),
              ("goleak.go", marker_line(GOLEAK, "SITE: chan")), "creation site file:line",
              _describe(rep))
    check(rep["goroutines"].get("live", 0) >= 6, "too few live goroutines", _describe(rep))
    _no_bad_threads(rep)


def test_chan_receive_grouped_by_creation_site():
    _check_chan_leak("")


def test_chan_receive_pie():
    _check_chan_leak("-pie")


def test_waits_that_can_never_end_are_stranded():
    rep = _trace("forever", expect_rc=10)
    sel = _group(rep, "select (no cases)")
    nil = _group(rep, "chan receive (nil chan)")
    expect_eq((sel.get("count"), sel.get("verdict"), sel["created_at"].get("function")),
              (2, "stranded", "main.spawnForever"), "select {} group", _describe(rep))
    expect_eq((nil.get("count"), nil.get("verdict"), nil["created_at"].get("function")),
              (1, "stranded", "main.spawnForever"), "nil channel group", _describe(rep))
    expect_eq(rep["goroutines"].get("stranded"), 3, "stranded goroutines", _describe(rep))
    _no_bad_threads(rep)


def test_leak_from_before_attach_is_stranded():
    """Goroutines parked before strand attached, never woken while probed."""
    rep = _trace("chan", expect_rc=10, before_attach=True)
    g = _group(rep, "chan receive", "main.handleRequest")
    expect_eq((g.get("count"), g.get("verdict"), g.get("blocked_since_before_attach")),
              (5, "stranded", True), "chan receive group parked before attach", _describe(rep))
    check(any("since before strand attached" in e for e in g.get("evidence") or []),
          "evidence should say the wait began before the attach", json.dumps(g, indent=1))


def test_snapshots_only_prove_no_leak():
    """Without the runtime probes nothing tells a leak from a wait woken between scans: the
    goroutines are listed with their wait, with no verdict."""
    rep = _trace("chan", extra=["--no-go-probes"])
    g = _group(rep, "chan receive", "main.handleRequest")
    expect_eq((g.get("count"), g.get("verdict")), (5, None), "chan receive, snapshots only",
              _describe(rep))
    expect_eq(_runtime(rep).get("probes"), False, "probes reported off")


def test_control_pool_has_nothing_stranded():
    rep = _trace("pool")
    check(not [g for g in _user_groups(rep) if g.get("verdict")],
          "a healthy pool has stranded goroutines", _describe(rep))
    _no_bad_threads(rep)


def _runtime(rep):
    rts = (rep.get("goroutines") or {}).get("runtimes") or []
    check(len(rts) == 1, "expected the runtime of one Go process", json.dumps(rts))
    return rts[0]


def test_stripped_binary_layout_inferred_equals_dwarf():
    """Without DWARF (-ldflags='-s -w') the g offsets are inferred from the live process; they
    must be exactly what DWARF says for the same program and toolchain."""
    plain = _runtime(_trace("chan", expect_rc=10))
    rep = _trace("chan", "-stripped", expect_rc=10)
    stripped = _runtime(rep)
    expect_eq((plain.get("layout"), stripped.get("layout")), ("DWARF", "inferred"),
              "layout sources", json.dumps([plain, stripped]))
    expect_eq(stripped.get("g_offsets"), plain.get("g_offsets"), "inferred g offsets")
    expect_eq(stripped.get("wait_reasons"), plain.get("wait_reasons"), "wait reason names")
    check(stripped.get("go_version", "").startswith("go1.19"), "Go version from .go.buildinfo",
          json.dumps(stripped))
    # and the report itself is the one of the unstripped build
    g = _group(rep, "chan receive", "main.handleRequest")
    expect_eq((g.get("count"), g["created_at"].get("function"), g["created_at"].get("line"),
               g.get("verdict")),
              (5, "main.handleRequest", marker_line(GOLEAK, "SITE: chan"), "stranded"),
              "chan receive group of the stripped build", _describe(rep))
    _no_bad_threads(rep)
