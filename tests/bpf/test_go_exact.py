"""Go waits timed two ways give one verdict: by default the scans time each wait from the
runtime's own state (g.trackingSeq, one more each time a goroutine stops running, and the
saved context, the same at every scan: not run since), at no cost to the program; with
--exact-waits uprobes on every park and ready time it from the park. Both strands watch the
same processes at once, a leak and the healthy patterns that look most like one (a pool
parked between bursts, connections idle between heartbeats), and must judge every group
alike."""
import json

from gohelp import BAD, describe, groups
from harness import Session, check, expect_eq

CASES = (  # (target, mode, what its program's goroutines must be judged)
    ("go/goleak", "chan", "stranded"),
    ("go/goleak", "mutex", "stranded"),
    ("go/gohealthy", "pool", None),
    ("go/gohealthy", "keepalive", None),
)


def _key(g):
    at = g.get("created_at") or {}
    ws = g.get("wait_site") or {}
    return "%s:%s %s at %s:%s" % (at.get("function"), at.get("line"), g.get("state"),
                                  (ws.get("file") or "").rsplit("/", 1)[-1], ws.get("line"))


def _verdicts(rep):
    return {_key(g): g.get("verdict") for g in groups(rep) if g.get("verdict") in BAD}


def test_waits_timed_by_the_scans_judge_as_the_probes_do():
    with Session() as s:
        runs = []
        for prog, mode, want in CASES:
            t = s.start_target(prog, [mode])
            default = s.trace_pid(t, duration="4500ms", extra=["-t", "1s"])
            exact = s.trace_pid(t, duration="4500ms", extra=["-t", "1s", "--exact-waits"])
            t.go()
            runs.append((prog, mode, want, t, default, exact))
        for prog, mode, want, t, default, exact in runs:
            reps = [default.report(expect_rc=None), exact.report(expect_rc=None)]
            check(t.popen.poll() is None, "%s %s died under two strands" % (prog, mode),
                  t.describe())
            rts = [(r["goroutines"].get("runtimes") or [{}])[0] for r in reps]
            expect_eq([rt.get("exact_waits") for rt in rts], [False, True],
                      "%s %s: waits timed by the scans, then by the probes" % (prog, mode),
                      json.dumps(rts)[:2000])
            v = [_verdicts(r) for r in reps]
            expect_eq(v[0], v[1], "%s %s: verdicts by the scans, by the probes" % (prog, mode),
                      describe(reps[0]) + "\n---\n" + describe(reps[1]))
            expect_eq(sorted(set(v[0].values())), [want] if want else [],
                      "%s %s: verdicts" % (prog, mode), describe(reps[0]))
            check(groups(reps[0]), "%s %s: its goroutines were not seen" % (prog, mode),
                  describe(reps[0]))
