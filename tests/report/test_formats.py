"""The flame-style outputs of a real trace (folded stacks, the SVG flame graph, pprof,
speedscope), as the tools people open them with read them: folded stacks line by line,
`go tool pprof` from Debian's Go toolchain, headless Chromium for the SVG, speedscope's own
file schema. Each is checked against the JSON report of the same trace and against the
targets' source markers, and again as `strand report` renders it from the recording."""

import gzip
import json
import os
import re
import subprocess

from harness import Session, check, expect_eq, fail, marker_line, run_strand
from gohelp import marker
from test_recording import Scratch, report

import svgcheck

GO = "/usr/lib/go-1.19/bin/go"
FORMATS = ("folded", "svg", "pprof", "speedscope")
FOLDED_LINE = re.compile(r"^(\S.*) (\d+)$")


def trace_all_formats(sc, target, argv, steady, extra=()):
    """Traces TARGET ARGV (started after strand attached) for 3 s with every output and a
    recording; returns {format: path} with "json" (the report) and "rec"."""
    out = {f: sc.path("trace." + f) for f in FORMATS + ("json", "rec")}
    with Session() as s:
        t = s.start_target(target, argv)
        args = ["trace", "-p", str(t.pid), "--for", "3s", "-t", "1s", "--json",
                "-o", out["json"], "--record", out["rec"]]
        for f in FORMATS:
            args += ["--" + f, out[f]]
        st = s.start_strand(args + list(extra))
        st.wait_attached()
        t.go()
        t.wait_line(steady, timeout=8)
        rc, _, _ = st.finish(timeout=25)
        expect_eq(rc, 10, "strand trace's exit status (a leak remained)", st.describe())
    return out


def folded(path):
    """[(frames, count)] of a folded file, every line checked."""
    stacks = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = FOLDED_LINE.match(line.rstrip("\n"))
            if not m:
                fail("%s:%d is not 'frame;frame count'" % (path, n), repr(line))
            frames = m.group(1).split(";")
            check(all(fr.strip() for fr in frames), "%s:%d has no empty frame" % (path, n),
                  line)
            stacks.append((frames, int(m.group(2))))
    check(stacks, "%s has stacks" % path)
    return stacks


def live_tasks(rep):
    """Every task the report counts live: threads, and the goroutines of Go processes."""
    return rep["totals"]["live"] + ((rep.get("goroutines") or {}).get("live") or 0)


def pprof(args, path, scratch):
    """`go tool pprof ARGS PATH`'s output; it must succeed."""
    env = dict(os.environ, HOME=scratch.dir, GOCACHE=scratch.path("gocache"),
               PPROF_TMPDIR=scratch.dir)
    r = subprocess.run([GO, "tool", "pprof"] + args + [path], capture_output=True, text=True,
                       timeout=60, env=env, check=False)
    if r.returncode:
        fail("go tool pprof %s failed (%d)" % (" ".join(args), r.returncode), r.stderr[-3000:])
    return r.stdout


def pprof_top(text):
    """{function: (flat, cum)} of `pprof -top` (counts), or of -sample_index=blocked (s)."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([\d.]+)(\w*)\s+[\d.]+%\s+[\d.]+%\s+([\d.]+)(\w*)\s+[\d.]+%\s+(.+)$",
                     line)
        if m:
            rows[m.group(5).strip()] = (float(m.group(1)), float(m.group(3)))
    return rows


def go_leak_lines():
    """The combined-view stack of goleak chan's leak: the go statement, then the goroutine's
    function, then where it waits."""
    _, site = marker("goleak", "chan")
    _, wait = marker("goleak", "chan", "WAIT")
    return ["main.handleRequest (goleak.go:%d)" % site,
            "main.handleRequest.func1 (goleak.go:%d)" % site,
            "main.worker (goleak.go:%d)" % wait]


def test_folded_stacks_count_every_task():
    """Every line parses, the counts sum to the live tasks of the JSON report, the leaking
    go statement's five goroutines are one stack with file:line from the source, each view
    says what it should, and `strand report` renders the same file from the recording."""
    with Scratch() as sc:
        out = trace_all_formats(sc, "go/goleak", ["chan"], "blocked")
        rep = json.load(open(out["json"]))
        stacks = folded(out["folded"])
        expect_eq(sum(c for _, c in stacks), live_tasks(rep), "folded counts sum to the tasks",
                  open(out["folded"]).read())
        # spawned after strand attached: the spawner's whole stack, main.main down
        leak = [(f, c) for f, c in stacks if f[-3:] == go_leak_lines()]
        expect_eq([c for _, c in leak], [5], "the leak is one stack of 5",
                  open(out["folded"]).read())
        check(any(fr.startswith("main.main (goleak.go:") for fr in leak[0][0]),
              "the spawner's stack goes down to main.main", leak[0][0])
        # The main goroutine starts at runtime.main (no creator: the runtime's startup),
        # and no stack goes on past the runtime's bottom frames into another stack.
        _, hold = marker("goleak", "main", "WAIT")
        mains = [f for f, _ in stacks if f[-1] == "main.hold (goleak.go:%d)" % hold]
        expect_eq([f[0].split(" ")[0] for f in mains], ["runtime.main"],
                  "the main goroutine's stack starts at runtime.main", mains)
        for frames, _ in stacks:
            for bottom in ("runtime.goexit", "runtime.mstart ", "runtime.mcall"):
                for i, fr in enumerate(frames):
                    check(not fr.startswith(bottom) or i <= 1,
                          "%s is the bottom of a stack" % bottom.strip(), ";".join(frames))
            check(not any(fr.endswith("[?]") for fr in frames), "no unknown frame",
                  ";".join(frames))

        again, _ = report(["--folded", "-", out["rec"]])
        expect_eq(again, open(out["folded"]).read(), "the recording renders the same folded file")
        spawn = folded_text(report(["--view", "spawn", "--folded", "-", out["rec"]])[0])
        expect_eq([c for k, c in spawn.items() if k.endswith(";".join(go_leak_lines()[:2]))],
                  [5], "spawn view: where the 5 came from, nothing above", spawn)
        wait = folded_text(report(["--view", "wait", "--folded", "-", out["rec"]])[0])
        expect_eq(wait.get(";".join(go_leak_lines()[1:])), 5,
                  "wait view: the goroutine's own stack, from its function", wait)
        expect_eq(sum(spawn.values()), sum(wait.values()), "every view counts the same tasks")


def folded_text(text):
    """{stack: count} of folded text."""
    out = {}
    for line in text.splitlines():
        m = FOLDED_LINE.match(line)
        check(m, "a folded line", repr(line))
        out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def test_pprof_opens_in_go_tool_pprof():
    """`go tool pprof -top` lists the leak's functions with their counts, -lines its
    file:line, -traces its labels, -sample_index=blocked the time the leak has been
    blocked; the profile is named after the program and is the one the recording renders."""
    with Scratch() as sc:
        out = trace_all_formats(sc, "go/goleak", ["chan"], "blocked")
        rep = json.load(open(out["json"]))
        with gzip.open(out["pprof"]) as f:
            check(f.read(1), "the pprof file is gzipped and not empty")
        top = pprof(["-top"], out["pprof"], sc)
        check("File: goleak" in top, "pprof names the program", top[:600])
        rows = pprof_top(top)
        expect_eq(rows.get("main.worker"), (5.0, 5.0), "main.worker: 5 tasks waiting in it",
                  top)
        expect_eq(rows.get("main.handleRequest", (0, 0))[1], 5.0,
                  "main.handleRequest: spawned the 5", top)
        total = re.search(r"Total samples = (\d+)", top)
        expect_eq(int(total.group(1)) if total else None, live_tasks(rep),
                  "the profile counts every live task", top[:600])

        lines = pprof(["-top", "-lines"], out["pprof"], sc)
        _, wait = marker("goleak", "chan", "WAIT")
        check(re.search(r"\b5\b.*main\.worker .*goleak\.go:%d" % wait, lines),
              "-lines: main.worker at goleak.go:%d" % wait, lines)

        traces = pprof(["-traces"], out["pprof"], sc)
        leak = [b for b in traces.split("-----------+") if "main.worker" in b]
        expect_eq(len(leak), 1, "one trace of the leak", traces)
        for label in ("kind:  goroutine", "verdict:  stranded", "wait_reason:  chan receive"):
            check(label in leak[0], "the leak's trace has %s" % label, leak[0])

        blocked = pprof_top(pprof(["-top", "-sample_index=blocked"], out["pprof"], sc))
        check(blocked.get("main.worker", (0, 0))[0] >= 5 * 1.0,
              "blocked: 5 goroutines of at least 1 s each", blocked)

        again = sc.path("again.pb.gz")
        report(["--pprof", again, out["rec"]])
        expect_eq(open(again, "rb").read(), open(out["pprof"], "rb").read(),
                  "the recording renders the same pprof file")


def test_svg_flame_graph_in_a_browser():
    """Well-formed, self-contained; the leak is a frame of 5 coloured stranded; the title,
    the legend's totals and the timeline are there; it renders in headless Chromium to a
    picture, and its script's hover, click-to-zoom and search work there."""
    with Scratch() as sc:
        out = trace_all_formats(sc, "go/goleak", ["chan"], "blocked")
        rep = json.load(open(out["json"]))
        svg = out["svg"]
        root = svgcheck.well_formed(svg)
        frames = svgcheck.frames(svg)
        expect_eq([w for name, w, _ in frames if name == "main.worker"], [5],
                  "main.worker: one frame of 5 tasks", frames)
        expect_eq([w for name, w, d in frames if d == 0], [live_tasks(rep)],
                  "the root frame holds every task", frames)
        ns = svgcheck.SVG
        texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
        check(any(t.startswith("strand: pid ") and "(goleak)" in t for t in texts),
              "a title naming the target", texts[:10])
        check("stranded 5 tasks" in texts, "the legend's stranded total", texts[:20])
        worker = [g for g in root.iter(ns + "g") if g.get("class") == "f" and
                  g.find(ns + "title").text.startswith("main.worker\n")]
        check("stranded, chan receive, goroutine" in worker[0].find(ns + "title").text,
              "hover text: stranded in chan receive",
              worker[0].find(ns + "title").text)
        rgb = [int(v) for v in re.findall(r"\d+", worker[0].find(ns + "rect").get("fill"))]
        check(rgb[0] > 180 and rgb[1] < 120 and rgb[2] < 120,
              "the leak is coloured stranded (red)", rgb)
        _, site = marker("goleak", "chan")
        check(any(t.startswith("g") and "main.handleRequest (goleak.go:%d)" % site in t
                  for t in texts), "the timeline names the leak's site", texts)

        png = svgcheck.screenshot(svg, sc.path("flame.png"))
        check(svgcheck.png_colours(png) >= 8, "the screenshot is a picture",
              "%d colours" % svgcheck.png_colours(png))
        done = svgcheck.exercise(svg)
        check(done["details"].startswith(done["title"].split("\n")[0]),
              "hover shows the frame's details", done)
        check(done["hidden"] > 0 and done["hidden_after"] == 0,
              "a click zooms (other frames hidden), reset shows them again", done)
        check(done["matched"] and "of %d tasks" % live_tasks(rep) in done["matched"],
              "search reports what it matched", done)

        again, _ = report(["--svg", "-", out["rec"]])
        expect_eq(again, open(svg).read(), "the recording renders the same SVG")


def test_speedscope_file():
    """speedscope's file schema: one sampled profile, weights summing to the tasks, frames
    with file and line; the recording renders the same file."""
    with Scratch() as sc:
        out = trace_all_formats(sc, "go/goleak", ["chan"], "blocked")
        rep = json.load(open(out["json"]))
        doc = json.load(open(out["speedscope"]))
        expect_eq(doc.get("$schema"), "https://www.speedscope.app/file-format-schema.json",
                  "speedscope's schema")
        frames = doc["shared"]["frames"]
        check(all("name" in f for f in frames), "every frame is named", frames[:5])
        for p in doc["profiles"]:
            expect_eq(p["type"], "sampled", "a sampled profile")
            expect_eq(len(p["samples"]), len(p["weights"]), "a weight per sample")
            check(all(0 <= i < len(frames) for s in p["samples"] for i in s),
                  "samples index the shared frames")
        expect_eq(sum(doc["profiles"][0]["weights"]), live_tasks(rep), "weights are tasks")
        _, wait = marker("goleak", "chan", "WAIT")
        check(any(f["name"] == "main.worker" and f.get("line") == wait and
                  f.get("file", "").endswith("goleak.go") for f in frames),
              "main.worker at goleak.go:%d" % wait, frames)
        again, _ = report(["--speedscope", "-", out["rec"]])
        expect_eq(json.loads(again), doc, "the recording renders the same file")


def test_c_threads_in_every_format():
    """A C program's stranded threads (waits mutex): the spawner's stack down to the
    pthread_create call, then the thread's own stack up to pthread_mutex_lock, in folded
    stacks and in pprof, with the source's file:line."""
    with Scratch() as sc:
        out = trace_all_formats(sc, "waits", ["mutex"], "blocked")
        rep = json.load(open(out["json"]))
        stacks = folded(out["folded"])
        expect_eq(sum(c for _, c in stacks), live_tasks(rep), "folded counts sum to the tasks")
        want = ["start_mutex (waits.c:%d)" % marker_line("waits.c", "SITE: mutex"),
                "spawn (waits.c:%d)" % marker_line("waits.c", "SITE: spawn"),
                "mutex_worker (waits.c:%d)" % marker_line("waits.c", "WAIT: mutex")]
        hits = [(f, c) for f, c in stacks if any(f[i:i + 3] == want for i in range(len(f)))]
        expect_eq([c for _, c in hits], [3], "the 3 stranded workers, spawn stack then wait",
                  open(out["folded"]).read())
        above = hits[0][0][hits[0][0].index(want[2]) + 1:]
        check(any("pthread_mutex_lock" in fr for fr in above),
              "the workers wait in pthread_mutex_lock", hits[0][0])
        check(not any(fr.startswith(("start_thread", "__clone")) for fr in hits[0][0]),
              "no libc thread-start frames between spawn and the thread's stack", hits[0][0])

        top = pprof(["-top"], out["pprof"], sc)
        check("File: waits" in top, "pprof names the program", top[:600])
        rows = pprof_top(top)
        expect_eq(rows.get("mutex_worker", (0, 0))[1], 3.0, "mutex_worker: 3 tasks", top)
        expect_eq(rows.get("start_mutex", (0, 0))[1], 3.0, "start_mutex spawned them", top)
        traces = pprof(["-traces"], out["pprof"], sc)
        leak = [b for b in traces.split("-----------+") if "mutex_worker" in b]
        check(leak and "verdict:  stranded" in leak[0] and "kind:  thread" in leak[0],
              "the workers' trace is labelled thread, stranded", traces)


def test_bad_output_paths():
    """An output that cannot be written is an error before tracing starts (trace) or a
    clear one (report), never a silent loss."""
    with Scratch() as sc:
        rc, _, err = run_strand(["trace", "--for", "1s", "--svg", "/nonexistent/dir/f.svg",
                                 "--", "/bin/true"], timeout=20)
        check(rc != 0 and "/nonexistent/dir/f.svg" in err, "trace refuses an unwritable SVG",
              "rc %d: %s" % (rc, err))
        rc, _, err = run_strand(["trace", "--view", "sideways", "--", "/bin/true"])
        expect_eq(rc, 2, "an unknown view is a usage error", err)
        rc, _, err = run_strand(["trace", "--svg", "-", "--pprof", "-", "--", "/bin/true"])
        expect_eq(rc, 2, "two outputs on stdout is a usage error", err)
        check(os.listdir(sc.dir) == [], "nothing was written")
