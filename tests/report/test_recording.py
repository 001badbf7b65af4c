"""Recordings (`strand trace --record`) read back by `strand report`: the same report later,
on another machine, as far as the file goes when a trace was cut short, and a clear refusal
of what is not a recording."""

import gzip
import json
import os
import shutil
import signal
import tempfile
import time
import zlib

from harness import Session, check, expect_eq, fail, run_strand, split_report
from gohelp import describe, group, judged, marker, site

PROG = "goleak"


class Scratch:
    """A temporary directory removed on every path."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="strand-report-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, name):
        return os.path.join(self.dir, name)


def snapshots(path):
    """The lines of a recording as Python objects, read as far as the file goes."""
    raw = open(path, "rb").read()
    d = zlib.decompressobj(wbits=31)
    text = d.decompress(raw)
    lines = text.split(b"\n")
    return [json.loads(l) for l in lines[:-1]], lines[-1]


def report(args, expect_rc=0, timeout=20):
    rc, out, err = run_strand(["report"] + list(args), timeout=timeout)
    if expect_rc is not None and rc != expect_rc:
        fail("strand report %s exited %d, expected %d" % (" ".join(args), rc, expect_rc),
             "stdout:\n%s\nstderr:\n%s" % (out[-3000:], err[-3000:]))
    return out, err


def record_goleak(scratch, mode, duration="3s", every="500ms", extra=(), expect_rc=10):
    """Traces goleak MODE with --record, the text report to a file; returns (recording path,
    text report path)."""
    rec, txt = scratch.path("trace.strand"), scratch.path("trace.txt")
    with Session() as s:
        t = s.start_target("go/" + PROG, [mode])
        st = s.start_strand(["trace", "-p", str(t.pid), "--for", duration, "-t", "1s",
                             "--record", rec, "--record-every", every, "-o", txt] +
                            list(extra))
        st.wait_attached()
        t.go()
        t.wait_line("blocked", timeout=8)
        rc, _, _ = st.finish(timeout=20)
        expect_eq(rc, expect_rc, "strand trace's exit status", st.describe())
    return rec, txt


def test_recording_reports_what_the_trace_said():
    """The final report read back from the recording is the one the trace printed, byte for
    byte; the recording holds the snapshots of its whole span, the last one final."""
    with Scratch() as sc:
        rec, txt = record_goleak(sc, "chan", duration="3s", every="500ms")
        lines, tail = snapshots(rec)
        expect_eq(tail, b"", "the recording ends with a whole line")
        head = lines[0]
        expect_eq(head.get("strand_recording"), 1, "the header's version")
        cmd = head.get("command", [])
        check(cmd[:2] == ["strand", "trace"] and "--record" in cmd,
              "the header keeps the command line", json.dumps(head))
        snaps = lines[1:]
        check(len(snaps) >= 4, "a snapshot every 500 ms over 3 s", "%d snapshots" % len(snaps))
        expect_eq([s["snapshot"] for s in snaps], list(range(1, len(snaps) + 1)),
                  "snapshots numbered in order")
        expect_eq([s["final"] for s in snaps], [False] * (len(snaps) - 1) + [True],
                  "only the last snapshot is final")
        ats = [s["at_seconds"] for s in snaps]
        check(ats == sorted(ats) and ats[-1] >= 2.9, "snapshots in time order over the trace",
              json.dumps(ats))

        out, err = report([rec])
        expect_eq(out, open(txt).read(), "strand report's text vs the trace's own")
        expect_eq(err, "", "no note on a complete recording")

        out, _ = report(["--json", rec])
        rep = json.loads(out)
        g = group(rep, PROG, "chan", "chan receive", wait="chan")
        expect_eq((g.get("verdict"), g.get("count")), ("stranded", 5),
                  "the recorded verdict on the 5 workers", describe(rep))
        expect_eq(site(rep, PROG, "chan").get("live"), 5, "the workers' site, recorded",
                  describe(rep))
        expect_eq(judged(rep), [g], "the workers are all that is stranded", describe(rep))
        expect_eq(rep.get("final"), True, "the last snapshot is the final report")


def test_full_text_lists_everything():
    """The text report shows the first 16 goroutine groups and 12 spawn sites and counts the
    rest; --full lists every one. A recorded report, its groups and sites multiplied."""
    with Scratch() as sc:
        rec, _ = record_goleak(sc, "chan", duration="2500ms", every="500ms")
        out, _ = report(["--json", rec])
        rep = json.loads(out)
        gr = rep["goroutines"]
        mine = [g for g in gr["groups"] if not g.get("runtime")]
        check(mine and rep.get("sites"), "a goroutine group and a site to multiply",
              describe(rep))
        gr["groups"] = [dict(mine[0], state="chan receive#%d" % k) for k in range(20)]
        rep["sites"] = [dict(rep["sites"][0], id="x%d" % k) for k in range(15)]
        big = sc.path("big.json")
        with open(big, "w") as f:
            json.dump(rep, f)
        for args, groups, sites, more in (([big], 16, 12, True), (["--full", big], 20, 15, False)):
            out, _ = report(args)
            shown_groups = sum("[chan receive#%d " % k in out for k in range(20))
            shown_sites = sum(("\n  x%d " % k) in out for k in range(15))
            expect_eq((shown_groups, shown_sites), (groups, sites),
                      "goroutine groups and spawn sites shown by strand report %s"
                      % " ".join(args[:-1]), out[-3000:])
            expect_eq(("4 more groups (--full lists them all)" in out and
                       "3 more sites (--full lists them all)" in out), more,
                      "the rest counted, saying how to see it", out[-3000:])


def test_a_snapshot_of_the_recording():
    """--snapshot N reports the trace as it stood then; N past the end is refused."""
    with Scratch() as sc:
        rec, _ = record_goleak(sc, "chan", duration="2500ms", every="500ms")
        lines, _ = snapshots(rec)
        n = len(lines) - 1
        out, _ = report(["--json", "--snapshot", "1", rec])
        first = json.loads(out)
        expect_eq(first, lines[1]["report"], "snapshot 1 as recorded")
        check(first["duration_seconds"] < lines[-1]["report"]["duration_seconds"],
              "the first snapshot is earlier than the last")
        _, err = report(["--snapshot", str(n + 1), rec], expect_rc=3)
        check("no snapshot %d: the recording holds %d" % (n + 1, n) in err,
              "says how many snapshots there are", err)


def test_what_grew_during_a_trace():
    """--base FILE --base-snapshot 1 FILE: what grew between the first snapshot and the end;
    each line's counts are those of the two snapshots. Requests pile up on a mutex their
    predecessor left locked: the Lock group is stranded at the end, not at the start."""
    with Scratch() as sc:
        rec, _ = record_goleak(sc, "mutex", duration="3s", every="300ms")
        out, _ = report(["--json", "--snapshot", "1", rec])
        first = json.loads(out)
        out, _ = report(["--json", rec])
        last = json.loads(out)
        out, _ = report(["--base", rec, "--base-snapshot", "1", rec])
        sections = out.split("\n\n")
        grew = next((s for s in sections if s.startswith("Spawn sites that grew")), "")
        new = next((s for s in sections if s.startswith("Stranded groups that are new")), "")
        gone = next((s for s in sections if s.startswith("Stranded groups of the base")), "")

        was, now = _site_live(first, "mutexreq"), _site_live(last, "mutexreq")
        check(now >= 20, "20 requests alive at the end", describe(last))
        line = "+%d  go main." % (now - was)
        check(now > was and any(l.strip().startswith(line.strip()) and
                                "(%d -> %d" % (was, now) in l for l in grew.splitlines()),
              "the request site grew %d -> %d" % (was, now), out)
        g = group(last, PROG, "mutexreq", "semacquire", wait="mutexlock")
        expect_eq(g.get("verdict"), "stranded", "the waiters at the end", describe(last))
        wait = "stranded goroutine [semacquire] at main.(*store).update (%s:%d)" % marker(
            PROG, "mutexlock", "WAIT")
        check(wait in new and "-> %d" % g["count"] in new,
              "the stranded Lock group is new or grew", out)
        expect_eq(gone.splitlines()[1:], ["  none"], "nothing stranded at the start is gone")


def _site_live(rep, name):
    try:
        return site(rep, PROG, name).get("live", 0)
    except AssertionError:
        return 0


def test_a_recording_still_being_written():
    """A trace still running: its recording reads as far as it goes (no final snapshot yet),
    and a copy cut in the middle of a line or a compressed block reads up to its last whole
    snapshot."""
    with Scratch() as sc, Session() as s:
        rec = sc.path("live.strand")
        t = s.start_target("waits", ["mutex"])
        st = s.start_strand(["trace", "-p", str(t.pid), "--for", "20s", "-t", "1s",
                             "--record", rec, "--record-every", "300ms", "--json", "-o",
                             sc.path("final.json")])
        st.wait_attached()
        attached = time.monotonic()
        t.go()
        t.wait_line("blocked")

        def stranded3(rep):
            return any(g.get("verdict") == "stranded" and g.get("count") == 3
                       for g in rep.get("groups") or [])

        # the snapshots come every 300 ms: read the recording until one judged the waiters
        deadline = time.monotonic() + 10
        while True:
            # before the first snapshot is written the recording holds none (exit 3)
            out, err = report(["--json", rec], expect_rc=None)
            rep = json.loads(out) if out.strip() else {}
            if stranded3(rep) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check("ends early (a trace still running, or cut short)" in err,
              "says the trace may not be over", err)
        expect_eq(rep.get("final"), False, "a snapshot of a running trace is not final")
        check(stranded3(rep), "the 3 stranded mutex waiters, recorded while the trace runs",
              json.dumps(rep.get("groups"))[:3000])
        data = open(rec, "rb").read()
        st.signal(signal.SIGINT)
        st.finish()
        traced = time.monotonic() - attached
        t.kill()

        lines, _ = snapshots(rec)
        count = len(lines) - 1
        cut = sc.path("cut.strand")
        for size in (len(data) * 3 // 4, len(data) - 7):
            open(cut, "wb").write(data[:size])
            out, err = report(["--json", cut])
            check("ends early" in err, "a cut recording says so", err)
            rep = json.loads(out)
            check(rep["duration_seconds"] > 0.3, "a snapshot of the trace was read")
        # the final recording has more snapshots than the copy taken while it ran
        out, _ = report(["--json", rec])
        expect_eq(json.loads(out).get("final"), True, "the finished recording is final")
        check(count >= max(3, int(traced / 0.3) - 3), "snapshots every 300 ms",
              "%d snapshots in %.1f s" % (count, traced))


def test_what_is_not_a_recording():
    """Refusals say why, with exit status 3; a plain JSON report reads as a final report."""
    with Scratch() as sc:
        def refused(name, data, why):
            p = sc.path(name)
            if data is not None:
                open(p, "wb").write(data)
            _, err = report([p], expect_rc=3)
            check(why in err, "%s: says %r" % (name, why), err)

        refused("empty", b"", "not a strand recording or report (not JSON")
        refused("garbage", os.urandom(4096).replace(b"\x1f\x8b", b"xx"),
                "not a strand recording or report (not JSON")
        refused("other.json", b'{"hello": "world"}\n',
                "not a strand recording or report (not a strand report of schema version 1)")
        refused("other.ndjson", b'{"a": 1}\n{"b": 2}\n', "not a strand recording or report")
        refused("future", gzip.compress(b'{"strand_recording": 99}\n{"snapshot": 1}\n'),
                "a recording of version 99")
        refused("headonly", gzip.compress(b'{"strand_recording": 1}\n'),
                "holds no complete snapshot")
        refused("gzjunk", b"\x1f\x8b" + os.urandom(2000), "damaged from its start")
        cut = gzip.compress(b'{"strand_recording": 1}\n{"snapshot": 1, "report"')
        refused("gzcut", cut[:40], "holds no complete snapshot")  # in the first snapshot
        refused("gzcuthead", cut[:30], "holds no complete snapshot")  # in the header
        refused("missing", None, "No such file or directory")
        os.mkdir(sc.path("dir"))
        refused("dir", None, "not a regular file")
        _, err = report([], expect_rc=2)
        check("give the recording" in err, "no file: says what to give", err)
        _, err = report(["--snapshot", "0", sc.path("x")], expect_rc=2)
        check("invalid snapshot" in err, "snapshot 0 is refused", err)

        # a JSON report from strand trace --json is a one-snapshot recording
        rc, out, err = run_strand(["trace", "--for", "300ms", "--json", "-q", "--no-go-probes"],
                                  timeout=30)
        check(rc in (0, 10), "a short trace of the machine", err)
        p = sc.path("report.json")
        open(p, "w").write(out)
        text, err = report([p])
        expect_eq(err, "", "a JSON report is complete")
        check(text.startswith("strand:"), "rendered as the text report", text[:500])
        _, err = report(["--snapshot", "2", p], expect_rc=3)
        check("a JSON report is one" in err, "no snapshot 2 in a JSON report", err)
