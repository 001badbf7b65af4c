"""Healthy real servers must come out with no STRANDED and no DEADLOCK (docs/verdicts.md):
redis (io threads, bio threads, jemalloc's background thread), memcached (workers, logger,
crawler, rebalancer), nginx with a thread pool, postgres, an OpenJDK HttpServer with a fixed
pool, python3's ThreadingHTTPServer with a queue-fed pool, Debian's prometheus (Go,
goroutines judged too). All run at once, each traced by
its own `strand trace -p` with `-t 2s` for 10 s: idle since start-up (their threads blocked
far past the threshold), a light load at the start of the trace, idle again after it. Each
must exit 0, and its healthy threads must have been seen: counted, named, with their roles.
The leaks that look like these pools (a thread per request on a queue nobody fills, in
Python and Java, traced at once) are caught."""

import gzip
import os
import pathlib
import re
import shutil
import json
import threading
import time

from harness import (ROOT, Session, check, expect_eq, fail, marker_line, run_strand,
                     split_report, timeout)
from servers import PY_SERVER, SERVERS, scratch, start_java, start_python

THRESHOLD = "2s"
TRACE_FOR = 10.0  # seconds: the loads, then idle past the threshold again
BAD = ("stranded", "deadlock")


def _trace_all(s, running):
    """Every server traced by a strand of its own; once all are attached, each server's load
    at once (a thread each). Each load must be over well before its trace ends (the rest of
    the trace is its threads idling past the threshold): said when a machine too loaded made
    it run late, rather than judged."""
    strands, loaded, errors = {}, {}, {}
    for name, srv in running.items():
        strands[name] = s.start_strand(["trace", "-p", str(srv.pid), "--for",
                                        "%gs" % TRACE_FOR, "-t", THRESHOLD, "--json"])
    for st in strands.values():
        st.wait_attached(timeout=30)
    t0 = time.monotonic()

    def load(name, srv):
        try:
            srv.load()
        except BaseException as e:  # reported below, with the server's name
            errors[name] = e
        loaded[name] = time.monotonic() - t0

    threads = [threading.Thread(target=load, args=(n, srv)) for n, srv in running.items()]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for name, e in errors.items():
        fail("%s: its load failed: %s" % (name, e))
    late = {n: round(t, 1) for n, t in loaded.items() if t > TRACE_FOR - 3 * 2.0}
    check(not late, "loads still running when their threads had to idle past the threshold "
          "(seconds after attach; the machine is too loaded to judge)", late)
    out = {}
    for name, st in strands.items():
        rc, _, _ = st.finish(timeout=60)
        out[name] = (rc, st)
    return out


def _report(st):
    from harness import split_report
    return split_report(st.stdout, st.describe())[1]


def _describe(rep):
    lines = ["targets %s" % json.dumps(rep.get("targets")),
             "verdicts %s" % json.dumps(rep.get("verdicts"))]
    for g in rep.get("groups") or []:
        role = g.get("role") or {}
        lines.append("  %s x%d %s%s | %s" % (g.get("verdict"), g.get("count"), g.get(
            "wait_reason"), " [%s: %s]" % (role.get("runtime"), role.get("role")) if role else "",
                                           " / ".join(g.get("evidence") or [])))
    names = sorted("%s:%s" % (t.get("name"), t.get("wait_reason")) for t in rep.get("tasks") or [])
    lines.append("  tasks: " + ", ".join(names))
    return "\n".join(lines)


def _names(rep):
    return [t.get("name") or "" for t in rep.get("tasks") or []]


def _jvm_frames(rep):
    """The function names of the frames in libjvm.so on the report's wait stacks."""
    return [f.get("function") or "" for g in rep.get("groups") or []
            for f in g.get("wait_stack") or [] if (f.get("module") or "").endswith("libjvm.so")]


def _roles(rep):
    return {(g["role"]["runtime"], g["role"]["role"]) for g in rep.get("groups") or []
            if g.get("role")}


def _seen(rep):
    """What each healthy server must have shown, beyond having nothing stranded."""
    return {
        "redis": lambda r: (
            all(n in _names(r) for n in ("bio_close_file", "bio_aof_fsync", "bio_lazy_free",
                                         "io_thd_1")) and
            ("jemalloc", "background purging thread") in _roles(r) and
            [(t.get("comm"), t.get("exec_path")) for t in r.get("targets") or []] ==
            [("redis-server", shutil.which("redis-server"))],
            "the 3 bio threads, io_thd_1 and jemalloc's background thread (role); named as "
            "run (redis-server), whatever file its symlink names"),
        "memcached": lambda r: (
            sum(n.startswith("mc-worker") for n in _names(r)) == 4 and
            all(n in _names(r) for n in ("mc-log", "mc-assocmaint", "mc-slabmaint",
                                         "mc-itemcrawler")),
            "its 4 workers and the logger, hash maintenance, slab rebalancer and crawler"),
        "nginx": lambda r: (
            len(r.get("tasks") or []) == 5 and
            sum((t.get("wait_reason") or "").startswith(("pthread_cond_wait", "futex wait"))
                for t in r.get("tasks") or []) == 4,
            "the worker and its 4 pool threads, waiting on their condition variable"),
        "postgres": lambda r: (len(r.get("tasks") or []) == 1, "the postmaster"),
        "java": lambda r: (
            sum(n.startswith("pool-1-thread-") for n in _names(r)) == 8 and
            {("JVM", "garbage collector"), ("JVM", "reference handler"), ("JVM", "finalizer"),
             ("JVM", "signal dispatcher")} <= _roles(r) and
            any("::" in f for f in _jvm_frames(r)) and
            not any(f.startswith("_Z") for f in _jvm_frames(r)),
            "the 8 pool threads, and the JVM's own by role (GC, reference handler, "
            "finalizer, signal dispatcher); the JVM's C++ frames demangled"),
        "python": lambda r: (
            any(g.get("count") == 4 and "sem_wait" in g.get("wait_reason", "")
                for g in r.get("groups") or []) and _python_pool_waits_named(r),
            "its 4 pool workers, waiting on the queue, in worker at its line (WAIT: pypool)"),
        "prometheus": lambda r: (
            (r.get("goroutines") or {}).get("live", 0) >= 20 and
            any(rt.get("layout") for rt in (r.get("goroutines") or {}).get("runtimes") or []),
            "its goroutines (20 at least), read from its runtime"),
    }


@timeout(60)  # six servers, a JVM and a postgres initdb among them, then 10 s of tracing
def test_healthy_real_servers_idle_and_under_light_load():
    problems = []
    with Session() as s, scratch() as tmp:
        running = {}
        for name, start in SERVERS.items():
            d = tmp / name
            d.mkdir()
            d.chmod(0o755)
            running[name] = start(s, d)
        results = _trace_all(s, running)
        for name, srv in running.items():
            check(srv.proc.popen.poll() is None, "%s died under tracing" % name,
                  srv.proc.describe())
    seen = _seen(None)
    for name, (rc, st) in results.items():
        rep = _report(st)
        bad = [g for g in rep.get("groups") or [] if g.get("verdict") in BAD]
        bad += [g for g in (rep.get("goroutines") or {}).get("groups") or []
                if g.get("verdict") in BAD]
        # a thread per request (python's handlers) with a handful alive is no runaway
        runaway = [x for x in rep.get("sites") or [] if x.get("runaway")]
        if rc != 0 or bad or runaway:
            problems.append("%s: exit %d, %d stranded or deadlocked groups, %d runaway sites"
                            "\n%s" % (name, rc, len(bad), len(runaway), _describe(rep)))
            continue
        ok, what = seen[name](rep)
        if not ok:
            problems.append("%s: not seen: %s\n%s" % (name, what, _describe(rep)))
    if problems:
        fail("%d of %d healthy servers misjudged or not seen" % (len(problems), len(results)),
             "\n\n".join(problems))


def _leaked_group(name, rc, st):
    """A service leaking a thread per request (20 requests, at the start of the trace): one
    stranded group of the 20, exit 10."""
    rep = _report(st)
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    check(rc == 10 and len(bad) == 1 and bad[0]["count"] == 20,
          "%s: the 20 leaked threads, one stranded group, exit 10 (got %d)" % (name, rc),
          _describe(rep))
    return " ".join(bad[0].get("evidence") or [])


def test_thread_per_request_leaks_in_python_and_java():
    """A Python thread per request blocked on a queue nobody fills, and a Java executor per
    request never shut down, traced at once: each caught, with its evidence."""
    with Session() as s, scratch() as tmp:
        running = {}
        for name, start in (("python", start_python), ("java", start_java)):
            d = tmp / name
            d.mkdir()
            d.chmod(0o755)
            running[name] = (start(s, d, mode="leak", jit_eager=True) if name == "java"
                             else start(s, d, mode="leak"))
        res = _trace_all(s, running)
        jit = running["java"].proc.stderr
    ev = _leaked_group("python", *res["python"])
    check("the thread that spawned" in ev and "has exited" in ev,
          "python: their spawners (the request threads) are gone", ev)
    _python_spawn_site_named(_report(res["python"][1]))
    _names_in_every_format("python", _report(res["python"][1]), "Handler.do_GET (pyserver.py:%d)"
                           % marker_line("python/pyserver.py", "SITE: pyleak"), None,
                           "wait_for_result")
    ev = _leaked_group("java", *res["java"])
    check("each comes from an executor of its own" in ev, "java: one executor per request", ev)
    _java_site_whole_though_compiled(_report(res["java"][1]), jit)
    _java_spawn_site_named(_report(res["java"][1]))
    _java_names_in_every_format(_report(res["java"][1]))


def test_python_pool_started_under_strand():
    """`--` mode: strand starts Debian's python3 on the Python service; the kernel reads
    each Thread.start's Python frames at the clone (the interpreter found at its exec): the
    4 workers are one site, main at its line, below it the module's top level (in the
    report and in the recording rendered later); every thread started after attach has its
    Python frames, and none is stranded."""
    with Session() as s, scratch() as tmp:
        rec = str(tmp / "pool.strand")
        st = s.start_strand(["trace", "--json", "--for", "3s", "--record", rec, "--",
                             "/usr/bin/python3", str(PY_SERVER), "pool", "4"])
        rc, out, err = st.finish(timeout=30)
        expect_eq(rc, 0, "strand exit status", st.describe())
        # the recording renders the frames later as the trace did
        rc, text, rerr = run_strand(["report", rec], timeout=30)
        expect_eq(rc, 0, "strand report of the recording", rerr)
        check(re.search(r"spawned at:\s+main \(pyserver\.py:%d\)"
                        % marker_line("python/pyserver.py", "SITE: pypool"), text),
              "the recording's report names the pool's spawn site in Python", text[-3000:])
    rep = json.loads(out[out.index("{"):])
    seen = [x for x in rep.get("sites") or [] if not x.get("before_attach")]
    expect_eq([(_spawn_frame(x), x.get("spawned")) for x in seen],
              [(("main", "pyserver.py", marker_line("python/pyserver.py", "SITE: pypool")), 4)],
              "the sites of the threads python started", _describe(rep))
    names = [f.get("function") for f in seen[0].get("spawn_stack") or []
             if f.get("module") == "Python"]
    expect_eq(names, ["Thread.start", "main", "<module>"], "the pool's Python frames",
              _describe(rep))
    check(not [g for g in rep.get("groups") or [] if g.get("verdict") in BAD],
          "the pool's idle workers judged stranded", _describe(rep))


def test_node_workers_named_from_the_jits_perf_map():
    """`--` mode: Node.js starting a worker thread per item, each blocked forever; its
    JavaScript is JIT code no binary names: V8's perf map (/tmp/perf-PID.map, written under
    --perf-basic-prof) names it. The 5 workers are one site, spawned at startWorker in the
    program's file (past node's own code and its built-in modules), called from
    handleItems; the map is removed after. Run without the flags, strand says how to have
    the frames named."""
    script = ROOT / "tests" / "targets" / "node" / "workers.js"
    # in a scratch directory: V8 writes its code log (isolate-*-v8.log) beside the map
    with Session() as s, scratch() as tmp:
        st = s.start_strand(["trace", "--json", "--for", "3s", "--", "node", "--perf-basic-prof",
                             "--interpreted-frames-native-stack", str(script), "5"],
                            cwd=str(tmp))
        try:
            rc, out, err = st.finish(timeout=30)
        finally:
            child = re.search(r"starting '[^']*' as pid (\d+)", st.stderr or "")
            if child:
                pathlib.Path("/tmp/perf-%s.map" % child.group(1)).unlink(missing_ok=True)
    expect_eq(rc, 0, "strand exit status", st.describe())
    child_out, rep = split_report(out, st.describe())
    check("spawned 5" in child_out.splitlines(), "node did not start its 5 workers", child_out)
    leak = [x for x in rep.get("sites") or [] if x.get("spawned") == 5]
    check(len(leak) == 1, "the 5 workers on one site", _describe(rep))
    expect_eq(_spawn_frame(leak[0]), ("startWorker", "workers.js", 0),
              "the workers' spawn site: the program's function, in its file", _describe(rep))
    js = [(f.get("function"), os.path.basename(f.get("file") or ""))
          for f in leak[0].get("spawn_stack") or [] if f.get("module") == "JavaScript"]
    check(("handleItems", "workers.js") in js, "startWorker's caller named too", js)
    # without the flags: no map, and strand says how to have one
    with Session() as s, scratch() as tmp:
        st = s.start_strand(["trace", "--json", "--for", "2s", "--", "node", str(script), "3"],
                            cwd=str(tmp))
        rc, out, err = st.finish(timeout=30)
    expect_eq(rc, 0, "strand exit status (node without a perf map)", st.describe())
    check("run node with --perf-basic-prof" in err,
          "strand does not say how to have node's JavaScript named", st.describe())


def _names_in_every_format(lang, rep, spawned_at, names, wait):
    """The program's frames are the document's frames: `strand report` renders them in the
    text (the spawn site at its line, the threads' names), the folded stacks, the SVG and
    the pprof profile."""
    with scratch() as tmp:
        doc = tmp / (lang + ".json")
        doc.write_text(json.dumps(rep))
        rc, text, err = run_strand(["report", str(doc)], timeout=30)
        expect_eq(rc, 0, "strand report of the %s trace" % lang, err)
        check("spawned at: " + spawned_at in text and (not names or names in text),
              "%s: the text report's spawn site and thread names" % lang, text[-3000:])
        # the wait in the program's words, not crowded out by the runtime's C frames
        waiting = text[text.find("waiting at:"):][:1500]
        check(wait in waiting, "%s: the text report's wait names the program's function"
              % lang, waiting)
        rc, _, err = run_strand(["report", "--folded", str(tmp / "f"), "--svg",
                                 str(tmp / "s.svg"), "--pprof", str(tmp / "p.pb.gz"), str(doc)],
                                timeout=30)
        expect_eq(rc, 0, "strand report --folded --svg --pprof of the %s trace" % lang, err)
        spawner = spawned_at.split(" ")[0]
        folded = (tmp / "f").read_text()
        check(wait in folded and spawner in folded,
              "%s: the folded stacks name the program's frames" % lang, folded[:3000])
        check(spawner in (tmp / "s.svg").read_text(),
              "%s: the SVG names the program's frames" % lang)
        pprof = gzip.decompress((tmp / "p.pb.gz").read_bytes())
        check(spawner.encode() in pprof and wait.encode() in pprof,
              "%s: the pprof profile's strings name the program's frames" % lang)


def _java_names_in_every_format(rep):
    _names_in_every_format("java", rep, "HttpPool.lambda$main$1 (HttpPool.java:%d)"
                           % marker_line("java/HttpPool.java", "SITE: javaleak"),
                           "named pool-N-thread-N", "HttpPool.waitForResult")


def _spawn_frame(site):
    stack = (site or {}).get("spawn_stack", [])
    at = (site or {}).get("spawn_frame_index", -1)
    f = stack[at] if 0 <= at < len(stack) else {}
    return (f.get("function"), os.path.basename(f.get("file") or ""), f.get("line"))


def _python_spawn_site_named(rep):
    """The leaked threads' spawn site in Python's words: CPython's evaluation loop replaced
    by the frames it ran (read at the clone through the thread state holding the GIL),
    from Thread.start up to the handler that started the thread, at its line; the spawn
    site the program's first frame past the interpreter's and threading.py's; the wait
    the program's function blocked under queue.get."""
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    site = next((x for x in rep.get("sites") or [] if bad and x.get("id") == bad[0].get("site")),
                None)
    frames = [(f.get("function"), f.get("module")) for f in (site or {}).get("spawn_stack", [])]
    names = [f for f, m in frames if m == "Python"]
    expect_eq(names[:2], ["Thread.start", "Handler.do_GET"],
              "python: the spawn stack's Python frames", "\n".join("%s [%s]" % fm for fm in frames))
    expect_eq(_spawn_frame(site),
              ("Handler.do_GET", "pyserver.py", marker_line("python/pyserver.py", "SITE: pyleak")),
              "python: the spawn site, in the program's words")
    wait = [(f.get("function"), os.path.basename(f.get("file") or ""), f.get("line"))
            for f in bad[0].get("wait_stack", [])]
    check(("wait_for_result", "pyserver.py", marker_line("python/pyserver.py", "WAIT: pyleak"))
          in wait, "python: the wait stack names the program's wait, at its line", wait)
    check(("Queue.get", "queue.py") in [w[:2] for w in wait],
          "python: the wait stack goes through queue.get", wait)


def _python_pool_waits_named(r):
    """The healthy pool's wait in Python's words: each of the 4 workers waits in worker(),
    at its line (they were started before strand attached: their spawn is not seen)."""
    want = ("worker", "pyserver.py", marker_line("python/pyserver.py", "WAIT: pypool"))
    return any(g.get("count") == 4 and want in [
        (f.get("function"), os.path.basename(f.get("file") or ""), f.get("line"))
        for f in g.get("wait_stack") or []] for g in r.get("groups") or [])


def _java_site_whole_though_compiled(rep, jit):
    """The JIT compiled the leak's path while it was traced (its eager thresholds: at the
    fifth request of 20, said on its stderr): the compiled frames (no frame pointer, named
    through the code cache's blobs, inlined methods expanded from their scopes) read as the
    interpreted ones did, so the 20 threads are one site; no frame of the JVM's spawns is
    left unnamed."""
    check(re.search(r"^\s*\d+\s+\d+ .*Executors\$DelegatedExecutorService::submit", jit, re.M),
          "java: the JIT did not compile the leak's path", jit[-3000:])
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    site = next((x for x in rep.get("sites") or [] if bad and x.get("id") == bad[0].get("site")),
                None)
    expect_eq((site or {}).get("spawned"), 20, "java: the leak's 20 spawns on its one site",
              _describe(rep))
    unnamed = ["%s: %s" % (x.get("id"), f.get("address") or f.get("pc"))
               for x in rep.get("sites") or [] for f in x.get("spawn_stack") or []
               if not f.get("function")]
    expect_eq(unnamed, [], "java: spawn frames left unnamed", _describe(rep))


def _java_spawn_site_named(rep):
    """The leaked threads' spawn site in Java's own words: HotSpot's interpreted frames named
    by the Method* each keeps (read through the tables libjvm.so describes itself by), its
    compiled ones by their code blobs' methods and scopes, from Thread.start up to the
    program's own lambda that submitted the task."""
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    site = next((x for x in rep.get("sites") or [] if bad and x.get("id") == bad[0].get("site")),
                None)
    frames = [(f.get("function"), f.get("module")) for f in (site or {}).get("spawn_stack", [])]
    names = [f for f, m in frames if m in ("interpreted Java", "compiled Java")]
    want = ["java.lang.Thread.start0", "java.lang.Thread.start",
            "java.util.concurrent.ThreadPoolExecutor.addWorker",
            "java.util.concurrent.ThreadPoolExecutor.execute",
            "java.util.concurrent.AbstractExecutorService.submit",
            "java.util.concurrent.Executors$DelegatedExecutorService.submit",
            "HttpPool.lambda$main$1"]
    expect_eq(names[:len(want)], want, "java: the spawn stack's Java frames",
              "\n".join("%s [%s]" % fm for fm in frames))
    # the spawn site: the program's first frame past the JVM's and the JDK's, at its line
    stack = (site or {}).get("spawn_stack", [])
    at = (site or {}).get("spawn_frame_index", -1)
    spawn = stack[at] if 0 <= at < len(stack) else {}
    expect_eq((spawn.get("function"), spawn.get("file"), spawn.get("line")),
              ("HttpPool.lambda$main$1", "HttpPool.java",
               marker_line("java/HttpPool.java", "SITE: javaleak")),
              "java: the spawn site, in the program's words")
    expect_eq(bad[0].get("thread_names"), ["pool-N-thread-N"],
              "java: the group's threads by their Java names")
    wait = [(f.get("function"), f.get("file"), f.get("line")) for f in bad[0].get("wait_stack", [])]
    check(("HttpPool.waitForResult", "HttpPool.java",
           marker_line("java/HttpPool.java", "WAIT: javaleak")) in wait,
          "java: the wait stack names the program's wait, at its line", wait)
