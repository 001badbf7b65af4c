"""Helpers for the goroutine tests: run a Go target (tests/targets/go/PROG, built plain, -pie,
-stripped and -cgo) in one of its modes under `strand trace -p`, and find in the JSON report
the sites and groups its header contract names by marker (`// SITE: name` at a go statement,
`// WAIT: name` at the line a goroutine parks at, unique within the program's directory)."""

import json
import re
import signal

from harness import ROOT, Session, check, expect_eq, fail

GO_SRC = ROOT / "tests" / "targets" / "go"

BAD = ("stranded", "deadlock")


def marker(prog, name, kind="SITE", src=GO_SRC):
    """(file name, line) of the line of SRC/PROG/*.go (tests/targets/go) ending with
    `// KIND: name`."""
    tail = "// %s: %s" % (kind, name)
    hits = []
    for path in sorted((src / prog).glob("*.go")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if line.rstrip().endswith(tail):
                hits.append((path.name, i))
    if len(hits) != 1:
        raise RuntimeError("marker %r found %d times in %s" % (tail, len(hits), GO_SRC / prog))
    return hits[0]


def go_trace(prog, mode, args=(), variant="", duration="2s", threshold="1s", extra=(),
             expect_rc=None, before_attach=False, steady="blocked", after_steady=None,
             after_report=None):
    """Traces PROG MODE ARGS with strand -p for DURATION; the mode starts after strand
    attached (SIGUSR1), or before it with before_attach (--now). Returns (report, the
    target's steady line). after_steady(target), if given, runs once the line is there;
    after_report(target) once strand exited with its report, the target still running (what
    it says then is what strand's last scan, a moment before, saw)."""
    with Session() as s:
        argv = [mode] + list(args) + (["--now"] if before_attach else [])
        t = s.start_target("go/%s%s" % (prog, variant), argv)
        line = None
        if before_attach:
            line = t.wait_line(steady, timeout=8)
        st = s.trace_pid(t, duration=duration, extra=["-t", threshold] + list(extra))
        if not before_attach:
            t.go()
            line = t.wait_line(steady, timeout=8)
        if after_steady:
            after_steady(t)
        rep = st.report(expect_rc=expect_rc)
        check(t.popen.poll() is None, "the target died under tracing", t.describe())
        if after_report:
            after_report(t)
        # unharmed: it still ends as it would have, on SIGTERM with status 0
        t.signal(signal.SIGTERM)
        expect_eq(t.wait(5), 0, "the target's exit status after tracing", t.describe())
    check(rep.get("goroutines") is not None, "no goroutines in the report of a Go program",
          json.dumps(rep.get("warnings")))
    return rep, line


def numbers(line):
    return [int(x) for x in re.findall(r"\d+", line or "")]


def sites(rep):
    return [s for s in rep["goroutines"].get("sites") or [] if not s.get("runtime")]


def groups(rep):
    return [g for g in rep["goroutines"].get("groups") or [] if not g.get("runtime")]


def _at(frame, where):
    return bool(frame) and (frame.get("file") or "").rsplit("/", 1)[-1] == where[0] and \
        frame.get("line") == where[1]


def site(rep, prog, name):
    """The site of the go statement marked SITE: name."""
    where = marker(prog, name)
    hits = [s for s in sites(rep) if _at(s.get("created_at"), where)]
    if len(hits) != 1:
        fail("expected one site at %s:%d (SITE: %s), found %d" % (where + (name, len(hits))),
             describe(rep))
    return hits[0]


def site_groups(rep, prog, name, state=None, wait=None):
    """Groups of the site SITE: name (in state, parked at WAIT: wait, if given)."""
    sid = site(rep, prog, name)["id"]
    where = marker(prog, wait, "WAIT") if wait else None
    return [g for g in groups(rep) if g.get("site") == sid and
            (state is None or g.get("state") == state) and
            (where is None or _at(g.get("wait_site"), where))]


def group(rep, prog, name, state=None, wait=None):
    gs = site_groups(rep, prog, name, state, wait)
    if len(gs) != 1:
        fail("expected one group of SITE: %s (state %s, WAIT: %s), found %d" %
             (name, state, wait, len(gs)), describe(rep))
    return gs[0]


def seen(rep, prog, name, state, wait, live, at_least=None):
    """A healthy control was seen, not merely not judged: the site SITE: name has `live`
    goroutines, and they wait in state at WAIT: wait, `at_least` of them (default: all) at
    strand's last scan. Returns the group."""
    s = site(rep, prog, name)
    expect_eq(s.get("live"), live, "live goroutines of SITE: %s" % name, describe(rep))
    g = group(rep, prog, name, state, wait)
    want = live if at_least is None else at_least
    check(g.get("count", 0) >= want, "SITE: %s: %s of %d seen in %s at WAIT: %s, expected %d"
          % (name, g.get("count"), live, state, wait, want), describe(rep))
    return g


def judged(rep):
    """Every group of the program's own goroutines with a verdict, and every site flagged as
    a runaway: what a control must not have."""
    return [g for g in groups(rep) if g.get("verdict") in BAD]


def no_stranded(rep, what):
    bad = judged(rep)
    check(not bad, "%s: goroutines called stranded" % what, describe(rep))
    tbad = [g for g in rep.get("groups") or [] if g.get("verdict") in BAD]
    check(not tbad, "%s: threads of a Go program called stranded" % what,
          json.dumps(tbad, indent=1)[:3000])


def describe(rep):
    """A few lines per site and group, for failure messages."""
    g = rep.get("goroutines") or {}
    out = ["thread verdicts: %s" % json.dumps(rep.get("verdicts"))]
    for rt in g.get("runtimes") or []:
        out.append("runtime pid %s layout %s probes %s problem %s" % (
            rt.get("pid"), rt.get("layout"), rt.get("probes"), rt.get("problem")))
    for s in sites(rep):
        c = s.get("created_at") or {}
        out.append("site %s live %s peak %s spawned %s exited %s parents %s fanout %s "
                   "runaway %s at %s (%s:%s)" % (
                       s["id"], s.get("live"), s.get("peak_live"), s.get("spawned"),
                       s.get("exited"), s.get("parents"), s.get("max_children_per_parent"),
                       s.get("runaway"), c.get("function"),
                       (c.get("file") or "").rsplit("/", 1)[-1], c.get("line")))
    for grp in groups(rep):
        w = grp.get("wait_site") or {}
        out.append("  %s x%s [%s%s] site %s at %s (%s:%s) long %s served %s orphans %s "
                   "returned? objects %s/%s/%s: %s" % (
                       grp.get("verdict"), grp.get("count"), grp.get("state"),
                       " " + grp["sync_wait"] if grp.get("sync_wait") else "", grp.get("site"),
                       w.get("function"), (w.get("file") or "").rsplit("/", 1)[-1],
                       w.get("line"), grp.get("blocked_long"), grp.get("served"),
                       grp.get("orphans"), grp.get("objects"), grp.get("max_sharing"),
                       grp.get("unknown_objects"), " | ".join(grp.get("evidence") or [])))
    return "\n".join(out)
