"""A Go release newer than anything Debian's toolchain builds: esbuild's stripped binaries as
npm ships them (make test fetches them; Go 1.20 to 1.26), serving a directory on loopback,
and buf's (Go 1.27), its Studio agent serving HTTP.
Nothing in strand's tables knows these layouts: every offset is inferred from the live
process and proved (gobuf lost a field in 1.24, the epoll data became a tagged pointer in
1.21 and changed again in 1.25, parentGoid arrived in 1.21). strand must read their
goroutines, tie their threads to their Ms, find the fd of the accept loop's IO wait, walk
the stacks to esbuild's own code, and call nothing stranded but what is: the goroutine
reading stdin (esbuild serves until stdin closes), whose thread reads a pipe a process of
the test holds the write end of, is not."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

from harness import ROOT, Session, Proc, check, expect_eq, fail
from gotraceback import parse_dump
from servers import free_port, wait_port

NPM = ROOT / "build" / "unit" / "npm"
BIN = "node_modules/@esbuild/linux-x64/bin/esbuild"
BUF = ROOT / "build" / "unit" / "npm-buf" / "1.75.0" / "node_modules/@bufbuild/buf-linux-x64/bin/buf"
LEFTHOOK = (ROOT / "build" / "unit" / "npm-lefthook" / "2.2.4" /
            "node_modules/lefthook-linux-x64/bin/lefthook")


def _serve(version):
    if version == "buf":  # Go 1.27: buf's Studio agent, an HTTP server
        exe = BUF
        port = free_port()
        argv = [str(exe), "beta", "studio-agent", "--port", str(port)]
    else:
        exe = NPM / version / BIN
    check(exe.exists(), "%s missing: make test fetches it (make go-fixtures)" % exe)
    with tempfile.TemporaryDirectory(prefix="strand-esbuild-") as www, Session() as s:
        if version == "buf":
            p = Proc(s, argv, label="buf", env=dict(os.environ, GOTRACEBACK="all"))
            wait_port(p, port)
        else:
            p = Proc(s, [str(exe), "--serve=127.0.0.1:0", "--servedir=%s" % www],
                     stdin=subprocess.PIPE, label="esbuild",
                     env=dict(os.environ, GOTRACEBACK="all"))
            p.err.wait_for(lambda ls: any("127.0.0.1:" in l for l in ls), 10)
        st = s.trace_pid(p, duration="2500ms", extra=["-t", "1s"])
        rep = st.report(expect_rc=0)
        check(p.popen.poll() is None, "esbuild died under tracing", p.describe())
        _quit_and_dump(p, rep)
        # a static Go binary maps no C library: nothing to warn of, and one attach said once
        said = st.stderr.splitlines()
        check(not any("start routines unknown" in l for l in said) and
              sum("attached to pid" in l for l in said) == 1,
              "nothing said of a C library a static Go binary has not; attached once",
              st.stderr[-2000:])
    return rep


def _check(version, go):
    rep = _serve(version)
    g = rep.get("goroutines") or {}
    rts = g.get("runtimes") or []
    check(len(rts) == 1, "one Go runtime", json.dumps(rts))
    rt = rts[0]
    # 0.28.2 has no build info: the version is the runtime's own string
    check((rt.get("go_version") or "").startswith("go%s." % go),
          "the Go version of a stripped binary: go%s.x" % go, json.dumps(rt, indent=1)[:2000])
    expect_eq((rt.get("layout"), rt.get("probes")), ("inferred", True),
              "a stripped binary of Go %s: layout inferred, probes attached" % go,
              json.dumps(rt, indent=1))
    offs = rt["g_offsets"]
    check(all(offs.get(k, -1) >= 0 for k in ("goid", "gopc", "startpc", "atomicstatus",
                                              "waitreason", "sched_pc", "sched_bp")),
          "every g offset the snapshots need proved", json.dumps(rt, indent=1))
    check(offs.get("parent_goid", -1) >= 0, "Go >= 1.21 records a goroutine's creator",
          json.dumps(rt, indent=1))
    expect_eq((rt["threads"].get("layout"), rt["netpoll"].get("layout")), ("inferred", "inferred"),
              "the M layer and the network poller proved", json.dumps(rt, indent=1))
    # (a select's wait link is proved on a select: esbuild's serve has none)
    check((rt.get("sudog_offsets") or {}).get("c", -1) >= 0, "the channels of waits known",
          json.dumps(rt, indent=1)[:3000])
    groups = [x for x in g.get("groups") or [] if not x.get("runtime")]
    acc = [x for x in groups if x.get("state") == "IO wait"]
    check(len(acc) == 1 and "a listener in accept" in " ".join(acc[0].get("evidence") or []),
          "the accept loop in IO wait on its listener", json.dumps(groups, indent=1)[:4000])
    ws = acc[0].get("wait_site") or {}
    own = "bufbuild/buf" if go == "1.27" else "esbuild"
    check(own in (ws.get("file") or "") and ws.get("line", 0) > 0,
          "the wait site in the program's own code, with file:line", json.dumps(acc[0], indent=1))
    bad = [x for x in groups if x.get("verdict") == "stranded"]
    check(not bad, "nothing stranded in a serving esbuild", json.dumps(bad, indent=1)[:3000])
    _same_frames_as_the_runtime(rep)
    roles = {t.get("go_role") for t in rep.get("tasks") or []}
    check("sysmon" in roles, "each thread's M read: sysmon among them", json.dumps(sorted(
        r for r in roles if r)))


def _frame(f):
    return (f.get("function"), (f.get("file") or "").rsplit("/", 1)[-1], f.get("line"))


def _same_frames_as_the_runtime(rep):
    """Every frame of every group's wait stack (inlined calls included), at each goroutine of
    the group the runtime's dump shows in the same state, is the frame the runtime prints:
    function and file:line. The runtime's frames strand hides at the top (gopark, ...) are
    skipped; generic functions (the runtime prints F[...]) are not compared."""
    dump = {g["id"]: g for g in rep["_dump"]}
    check(len(dump) >= 5, "the runtime's dump read", "%d goroutines" % len(dump))
    compared, states, other = 0, 0, []
    for grp in rep["goroutines"].get("groups") or []:
        ours = [_frame(f) for f in grp.get("wait_stack") or []]
        for goid in grp.get("goids") or []:
            g = dump.get(goid)
            if g and grp.get("state") not in ("running", "runnable"):
                states += 1
                if g["state"] != grp.get("state"):
                    other.append((goid, grp.get("state"), g["state"]))
            if not ours or not g or g["state"] != grp.get("state"):
                continue  # woken since, or a state the dump names otherwise
            theirs = g["frames"]
            at = next((k for k, f in enumerate(theirs) if f == ours[0]), None)
            check(at is not None, "goroutine %d: strand's first frame %r is among the runtime's"
                  % (goid, ours[0]), json.dumps(theirs, indent=1))
            for k, f in enumerate(ours):
                if at + k >= len(theirs) or "[" in (f[0] or ""):
                    break
                expect_eq(f, theirs[at + k], "goroutine %d, frame %d: strand vs the runtime"
                          % (goid, k), json.dumps([ours, theirs[at:]], indent=1))
                compared += 1
    check(compared >= 10, "frames compared with the runtime's: %d" % compared)
    # an idle server's goroutines stay as they are: the wait reasons are the runtime's (one
    # may have woken between strand's last scan and the dump)
    check(states >= 5 and len(other) <= 1, "wait reasons as the runtime names them",
          json.dumps(other))
    _same_counts_as_the_runtime(rep)


def _same_counts_as_the_runtime(rep):
    """As many goroutines in each wait as the runtime's dump has in it (the system
    goroutines included: the dump shows them all under GOTRACEBACK=all). Running and
    runnable ones move; one goroutine may have woken between strand's last scan and the
    dump."""
    ours, theirs = {}, {}
    for grp in rep["goroutines"].get("groups") or []:
        ours[grp.get("state")] = ours.get(grp.get("state"), 0) + (grp.get("count") or 0)
    for g in rep["_dump"]:
        if g["id"] == 0:  # the system stack the dump is printed from, not a goroutine
            continue
        theirs[g["state"]] = theirs.get(g["state"], 0) + 1
    moving = ("running", "runnable")
    off = {st: (ours.get(st, 0), theirs.get(st, 0)) for st in set(ours) | set(theirs)
           if st not in moving and ours.get(st, 0) != theirs.get(st, 0)}
    waiting = sum(n for st, n in theirs.items() if st not in moving)
    check(waiting >= 5 and sum(abs(a - b) for a, b in off.values()) <= 1,
          "goroutines in each wait as the runtime counts them (strand, runtime)",
          json.dumps(off), json.dumps(theirs))


def test_go_1_27():
    """buf 1.75.0: Go 1.27 put its types in a section of their own (moduledata's words
    moved) and registers the runtime's wakeup eventfd with no data."""
    _check("buf", "1.27")


def test_go_1_26():
    _check("0.28.2", "1.26")


def test_go_1_22():
    _check("0.23.0", "1.22")


def _quit_and_dump(p, rep):
    """The runtime's own traceback of the goroutines strand just read, into rep["_dump"]."""
    p.signal(signal.SIGQUIT)
    p.popen.wait(20)
    p.err.wait_closed(10)
    rep["_dump"] = parse_dump(p.err.text())


def _reads_stdin(pid):
    """Whether a thread of pid is in read(0, ...) (/proc's syscall file: number, then args)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return False
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/syscall" % (pid, tid)) as f:
                words = f.read().split()
        except OSError:
            continue
        if len(words) > 1 and words[0] == "0" and int(words[1], 16) == 0:
            return True
    return False


def _wait_reading_stdin(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _reads_stdin(pid):
            return True
        time.sleep(0.02)
    return False


def test_go_1_27_select_only():
    """lefthook 2.2.4 (Go 1.27.4) running a hook that reads its standard input: its only
    channel wait is os/signal.NotifyContext's select, so the sudog's channel and wait link are
    proved on a select; with its hook installed, an iter.Pull coroutine's g (its gopc returns
    from runtime.newcoro, not newproc) is among its goroutines and must not fail the layout. The main goroutine reads the
    pipe the test holds: nothing stranded."""
    check(LEFTHOOK.exists(), "%s missing: make test fetches it (make go-fixtures)" % LEFTHOOK)
    with tempfile.TemporaryDirectory(prefix="strand-lefthook-") as repo, Session() as s:
        subprocess.run(["git", "init", "-q", repo], check=True)
        with open(os.path.join(repo, "lefthook.yml"), "w") as f:
            f.write("pre-commit:\n  commands:\n    block:\n      run: cat\n"
                    "      use_stdin: true\n")
        # with its hook installed, lefthook's run reads the hooks through an iter.Pull
        subprocess.run([str(LEFTHOOK), "install"], cwd=repo, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p = Proc(s, [LEFTHOOK, "run", "pre-commit", "--force"], stdin=subprocess.PIPE,
                 label="lefthook", cwd=repo,
                 env=dict(os.environ, GOTRACEBACK="all", NO_COLOR="1"))
        check(_wait_reading_stdin(p.pid, 10), "lefthook did not come to read its input",
              p.describe())
        st = s.trace_pid(p, duration="2500ms", extra=["-t", "1s"])
        rep = st.report(expect_rc=0)
        check(p.popen.poll() is None, "lefthook died under tracing", p.describe())
        _quit_and_dump(p, rep)
    check(not any("goroutines strand" in w for w in rep.get("warnings") or []),
          "lefthook's goroutines read", json.dumps(rep.get("warnings")))
    rt = (rep.get("goroutines") or {}).get("runtimes") or [{}]
    check((rt[0].get("go_version") or "").startswith("go1.27."), "Go 1.27",
          json.dumps(rt, indent=1)[:2000])
    so = rt[0].get("sudog_offsets") or {}
    check(so.get("c", -1) >= 0 and so.get("waitlink", -1) >= 0,
          "the channels of waits known from a select alone", json.dumps(rt, indent=1)[:3000])
    groups = [x for x in rep["goroutines"].get("groups") or [] if not x.get("runtime")]
    sel = [x for x in groups if x.get("state") == "select"]
    check(len(sel) == 1 and (sel[0].get("start") or {}).get("function") ==
          "os/signal.NotifyContext.func1" and sel[0].get("objects") == 1 and
          not sel[0].get("unknown_objects"), "NotifyContext's select, its channels known",
          json.dumps(groups, indent=1)[:4000])
    main = [x for x in groups if x.get("created_at") is None and x.get("state") == "syscall"]
    check(len(main) == 1, "the main goroutine in its read of the pipe",
          json.dumps(groups, indent=1)[:4000])
    bad = [x for x in groups if x.get("verdict") in ("stranded", "deadlocked")]
    check(not bad, "nothing stranded in a hook reading its input", json.dumps(bad, indent=1))
    _same_frames_as_the_runtime(rep)
