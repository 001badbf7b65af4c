"""Hostile situations (issue 8): what strand meets on production machines, each with the
outcome docs/safety.md promises. A process that is a zombie, or whose main thread is gone;
a process in another PID namespace; binaries and libraries deleted or replaced on disk
while they run; a binary with no symbols at all; Ctrl-C or SIGTERM at any moment of a
trace; two strands on one process. Every test also checks the target came out unharmed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import gohelp
import harness
from harness import (Session, Target, caller_frames, check, expect_eq, fail, marker_line,
                     run_strand, split_report, target_path)

THRESHOLD = "1s"


def _stranded_mutex(rep, where):
    """The 3 workers of waits' mutex mode, stranded on pthread_mutex_lock at WAIT: mutex."""
    gs = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    check(len(gs) == 1, "%s: expected one stranded group, found %d" % (where, len(gs)),
          json.dumps(rep.get("groups"), indent=1)[:3000])
    g = gs[0]
    expect_eq((g.get("count"), g.get("wait_reason")), (3, "pthread_mutex_lock"),
              "%s: stranded count and wait reason" % where)
    return g


def _wait_line_of(g, function, marker):
    for f in g.get("wait_stack") or []:
        if f.get("function") == function:
            return os.path.basename(f.get("file") or ""), f.get("line")
    return None


def _spawned_at_spawn(rep, g, where):
    """The group's threads were created by waits.c's spawn() at its pthread_create line."""
    site = {x["id"]: x for x in rep.get("sites") or []}.get(g.get("site"))
    frames = caller_frames(site) if site else []
    check(frames and frames[0].get("function") == "spawn" and
          frames[0].get("line") == marker_line("waits.c", "SITE: spawn"),
          "the spawn site in %s" % where, json.dumps(frames[:3]))


def _trace(s, pid, duration="3s", extra=()):
    st = s.start_strand(["trace", "-p", str(pid), "--for", duration, "--json", "-t", THRESHOLD] +
                        list(extra))
    st.wait_attached()
    return st


def _stat_state(pid):
    return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0]


def test_zombie_is_refused_with_a_reason():
    """A process that has exited and not been reaped: nothing to trace, said in one line."""
    z = subprocess.Popen(["true"])
    try:
        for _ in range(100):
            if _stat_state(z.pid) == "Z":
                break
            time.sleep(0.02)
        expect_eq(_stat_state(z.pid), "Z", "the child's state")
        rc, out, err = run_strand(["trace", "-p", str(z.pid), "--for", "1s", "--json"])
        expect_eq(rc, 3, "exit status for a zombie", "stderr:\n" + err)
        lines = [l for l in err.splitlines() if l.strip()]
        check(len(lines) == 1 and "zombie" in lines[0] and str(z.pid) in lines[0],
              "expected one line saying pid %d is a zombie" % z.pid, "stderr:\n" + err)
    finally:
        z.wait()


def test_process_whose_main_thread_exited():
    """The leader left with pthread_exit, its threads live on: they are traced and judged."""
    with Session() as s:
        t = s.start_target("waits", ["mutex", "leader-exits", "--now"])
        t.wait_line("leader gone")
        for _ in range(100):
            if _stat_state(t.pid) == "Z":
                break
            time.sleep(0.02)
        expect_eq(_stat_state(t.pid), "Z", "the leader's state")
        rep = _trace(s, t.pid).report(expect_rc=10)
        g = _stranded_mutex(rep, "zombie leader")
        expect_eq(_wait_line_of(g, "mutex_worker", "WAIT: mutex"),
                  ("waits.c", marker_line("waits.c", "WAIT: mutex")), "wait site")
        check(Path("/proc/%d" % t.pid).exists(), "the target died under tracing", t.describe())


def _host_child(pid, timeout=5.0):
    """The only child of pid (unshare's), as the host sees it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()
        if kids:
            return int(kids[0])
        time.sleep(0.02)
    fail("unshare started no child")


def test_c_process_in_another_pid_namespace():
    """A process in its own PID namespace (as in a container), traced by its host pid; its
    threads are created after the attach, so their spawn site is known."""
    with Session() as s:
        u = Target(s, ["unshare", "--pid", "--fork", "--mount-proc", str(target_path("waits")),
                       "mutex"], label="unshare")
        u.wait_ready()
        pid = _host_child(u.pid)
        check(Path("/proc/%d/status" % pid).read_text().count("NSpid:") == 1 and
              "\t1\n" in [l for l in Path("/proc/%d/status" % pid).read_text().splitlines(True)
                          if l.startswith("NSpid:")][0],
              "the target is not pid 1 of a namespace of its own")
        st = _trace(s, pid)
        os.kill(pid, signal.SIGUSR1)
        u.wait_line("blocked 3")
        rep = st.report(expect_rc=10)
        g = _stranded_mutex(rep, "pid namespace")
        expect_eq(_wait_line_of(g, "mutex_worker", "WAIT: mutex"),
                  ("waits.c", marker_line("waits.c", "WAIT: mutex")), "wait site")
        _spawned_at_spawn(rep, g, "the namespaced process")


def test_go_process_in_another_pid_namespace():
    """goleak chan in its own PID namespace: goroutine probes attach by host pid."""
    with Session() as s:
        u = Target(s, ["unshare", "--pid", "--fork", "--mount-proc",
                       str(target_path("go/goleak")), "chan", "--now"], label="unshare")
        u.wait_line("blocked", timeout=8)
        pid = _host_child(u.pid)
        rep = _trace(s, pid).report(expect_rc=10)
    g = gohelp.group(rep, "goleak", "chan", "chan receive", wait="chan")
    expect_eq((g.get("count"), g.get("verdict")), (5, "stranded"), "goroutine leak",
              gohelp.describe(rep))
    check(1.0 <= g.get("blocked_oldest_seconds", 0) < 5.0,
          "exact blocked time (the probes saw them park)", json.dumps(g)[:2000])


def _probes_attached(rep, where):
    rts = rep.get("goroutines", {}).get("runtimes") or []
    check(len(rts) == 1 and rts[0].get("probes") is True,
          "%s: the goroutine probes did not attach" % where, json.dumps(rts)[:2000])


def _copy_to(tmp, src, name):
    dst = Path(tmp) / name
    shutil.copy2(src, dst)
    return dst


def test_binary_deleted_after_start():
    """The C binary is deleted while it runs: symbols and lines come from the mapping."""
    with tempfile.TemporaryDirectory(prefix="strand-test-") as tmp, Session() as s:
        exe = _copy_to(tmp, target_path("waits"), "waits")
        t = Target(s, [exe, "mutex", "--now"], label="waits-deleted")
        t.wait_line("blocked 3")
        exe.unlink()
        rep = _trace(s, t.pid).report(expect_rc=10)
        g = _stranded_mutex(rep, "deleted binary")
        expect_eq(_wait_line_of(g, "mutex_worker", "WAIT: mutex"),
                  ("waits.c", marker_line("waits.c", "WAIT: mutex")), "wait site")


def test_go_binary_replaced_after_start():
    """The Go binary's path now holds another program: the probes and the symbols are the
    running image's (through /proc/PID/exe), and the new file's users are untouched."""
    with tempfile.TemporaryDirectory(prefix="strand-test-") as tmp, Session() as s:
        exe = _copy_to(tmp, target_path("go/goleak"), "goleak")
        t = Target(s, [exe, "chan", "--now"], label="goleak-replaced")
        t.wait_line("blocked", timeout=8)
        other = _copy_to(tmp, target_path("go/gohealthy"), "other")
        os.rename(other, exe)
        rep = _trace(s, t.pid).report(expect_rc=10)
        # the new program at the old path runs as ever
        p = subprocess.run([str(exe), "nosuchmode"], capture_output=True, timeout=10)
        expect_eq(p.returncode, 2, "the replacing program's exit status (unknown mode)",
                  p.stderr.decode(errors="replace"))
    g = gohelp.group(rep, "goleak", "chan", "chan receive", wait="chan")
    expect_eq((g.get("count"), g.get("verdict")), (5, "stranded"), "goroutine leak",
              gohelp.describe(rep))
    _probes_attached(rep, "replaced binary")


def test_libc_replaced_after_start():
    """The C library the process mapped is replaced on disk (an upgrade): where its threads
    keep their start routine is read from the mapped library, not the file now at its path,
    so threads created after the attach still name their start routine and spawn site."""
    libc = next(p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6")
                if os.path.exists(p))
    with tempfile.TemporaryDirectory(prefix="strand-test-") as tmp, Session() as s:
        _copy_to(tmp, libc, "libc.so.6")
        env = dict(os.environ, LD_LIBRARY_PATH=tmp)
        t = Target(s, [target_path("waits"), "mutex"], env=env, label="waits-libc")
        t.wait_ready()
        maps = Path("/proc/%d/maps" % t.pid).read_text()
        check(tmp in maps, "the target did not map the copied libc", maps[:2000])
        os.rename(_copy_to(tmp, "/bin/true", "junk"), Path(tmp) / "libc.so.6")
        st = _trace(s, t.pid)
        t.go()
        t.wait_line("blocked 3")
        rep = st.report(expect_rc=10)
    g = _stranded_mutex(rep, "replaced libc")
    site = {x["id"]: x for x in rep.get("sites") or []}.get(g.get("site")) or {}
    expect_eq(site.get("start_routine"), "mutex_worker",
              "start routine (read where the mapped libc keeps it)", json.dumps(site)[:2000])


def test_binary_without_any_symbols():
    """strip --strip-all: no symbol table, no DWARF. The leak is still found and judged; the
    binary's own frames are module+offset, libc's named."""
    with tempfile.TemporaryDirectory(prefix="strand-test-") as tmp, Session() as s:
        exe = _copy_to(tmp, target_path("waits"), "waits-stripped")
        subprocess.run(["strip", "--strip-all", str(exe)], check=True)
        t = Target(s, [exe, "mutex", "--now"], label="waits-stripped")
        t.wait_line("blocked 3")
        rep = _trace(s, t.pid).report(expect_rc=10)
    g = _stranded_mutex(rep, "stripped binary")
    own = [f for f in g.get("wait_stack") or [] if "waits-stripped" in (f.get("module") or "")]
    check(own, "no frame of the stripped binary in the wait stack",
          json.dumps(g.get("wait_stack"), indent=1))
    check(all(not f.get("file") for f in own), "a stripped frame with a source line",
          json.dumps(own, indent=1))


def _wait_exec(pid, exe, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if os.path.realpath(os.readlink("/proc/%d/exe" % pid)) == os.path.realpath(exe):
                return
        except OSError:
            return  # gone already: the exit status will say
        time.sleep(0.001)
    fail("pid %d did not exec %s" % (pid, exe))


def test_interrupted_at_any_moment_leaves_nothing():
    """SIGINT or SIGTERM while strand loads, attaches, first scans or traces a Go process:
    it exits promptly, leaves none of its programs loaded (its uprobes are perf-event links:
    they go with its programs), and the target runs on unharmed."""
    with Session() as s:
        t = s.start_target("go/goleak", ["chan", "--now"])
        t.wait_line("blocked", timeout=8)
        for i, delay in enumerate((0.0, 0.1, 0.4, 1.0, 2.0)):
            sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
            st = s.start_strand(["trace", "-p", str(t.pid), "--for", "30s", "--json", "-q"])
            # from strand's exec on (a signal before it lands on the forked Python child,
            # whose handler swallows it): then the moment of the interruption
            _wait_exec(st.pid, harness.STRAND)
            time.sleep(delay)
            st.signal(sig)
            rc = st.wait(15)
            check(rc is not None, "strand did not exit %.2fs in, on %s" % (delay, sig.name),
                  st.describe())
            check(rc in (0, 10, 128 + sig, -sig),
                  "strand's exit status %s on %s %.2fs in" % (rc, sig.name, delay), st.describe())
            left = []
            for _ in range(20):  # programs are freed asynchronously after their last fd
                left = harness.leftover_programs([st.pid])
                if not left:
                    break
                time.sleep(0.25)
            check(not left, "programs left after %s %.2fs in (id, name, holders)"
                  % (sig.name, delay), left)
            check(t.popen.poll() is None, "the target died", t.describe())
        t.signal(signal.SIGTERM)
        expect_eq(t.wait(5), 0, "the target's exit status after 5 interrupted traces",
                  t.describe())


def test_two_strands_on_one_process():
    """Two traces of one process at once (a daemon and a person, say): each sees it all."""
    with Session() as s:
        t = s.start_target("go/goleak", ["chan", "--now"])
        t.wait_line("blocked", timeout=8)
        a = _trace(s, t.pid, duration="3s")
        b = _trace(s, t.pid, duration="3s")
        reps = [a.report(expect_rc=10), b.report(expect_rc=10)]
        check(t.popen.poll() is None, "the target died under two strands", t.describe())
    for name, rep in zip("ab", reps):
        # the second finds the first's uprobes (int3) in the code it verifies
        _probes_attached(rep, "strand " + name)
        g = gohelp.group(rep, "goleak", "chan", "chan receive", wait="chan")
        expect_eq((g.get("count"), g.get("verdict")), (5, "stranded"),
                  "strand %s: the goroutine leak" % name, gohelp.describe(rep))


def test_command_that_execs_another_binary():
    """`strand trace -- sh -c 'exec waits mutex'`: the shell becomes another program; its
    threads are attributed and judged in the new image, with its symbols."""
    waits = str(target_path("waits"))
    with Session() as s:
        st = s.start_strand(["trace", "--json", "-t", THRESHOLD, "--for", "4s", "--", "sh", "-c",
                             "exec %s mutex --now" % waits])
        rep = st.report(expect_rc=10, timeout=20)
    g = _stranded_mutex(rep, "exec'd image")
    expect_eq(_wait_line_of(g, "mutex_worker", "WAIT: mutex"),
              ("waits.c", marker_line("waits.c", "WAIT: mutex")), "wait site")
    _spawned_at_spawn(rep, g, "the exec'd image")


def test_task_limit_says_so_and_keeps_counts():
    """--max-tasks 5 under batches of 20 threads: the rest are not tracked, the report says
    how many in a line of its own, and the site's counts stay exact (200 spawned, 200
    exited, none live)."""
    churn = str(target_path("churn"))
    rc, out, err = run_strand(["trace", "--max-tasks", "5", "--", churn, "--now", "200", "20"],
                              timeout=30)
    expect_eq(rc, 0, "strand's exit status", err[-2000:])
    line = next((l for l in out.splitlines() if "not tracked (limit reached)" in l), None)
    check(line is not None and int(re.findall(r"\d+", line)[0]) > 0,
          "no 'N threads not tracked (limit reached)' line", out[-3000:])
    rc, out, err = run_strand(["trace", "--json", "--max-tasks", "5", "--", churn, "--now",
                               "200", "20"], timeout=30)
    _, rep = split_report(out, err[-2000:])
    check(rep["drops"]["task_limit"] > 0, "no task_limit drop", json.dumps(rep["drops"]))
    sites = [x for x in rep.get("sites") or [] if x.get("spawned")]
    expect_eq([(x["spawned"], x["exited"], x["live"]) for x in sites], [(200, 200, 0)],
              "the churn site's counts", json.dumps(sites)[:2000])
    expect_eq(rep["drops"]["unknown_exits"], 0, "exits of untracked threads lost")


def test_huge_binary():
    """A 100+ MB binary (waits with a 100 MiB section added): symbols and DWARF are read
    lazily, the leak is found and placed at its line as in the small binary."""
    with tempfile.TemporaryDirectory(prefix="strand-test-") as tmp, Session() as s:
        pad = Path(tmp) / "pad"
        with open(pad, "wb") as f:
            f.truncate(100 << 20)
        exe = Path(tmp) / "waits-huge"
        subprocess.run(["objcopy", "--add-section", ".strand_pad=%s" % pad,
                        "--set-section-flags", ".strand_pad=readonly", str(target_path("waits")),
                        str(exe)], check=True, timeout=60)
        pad.unlink()
        check(exe.stat().st_size > 100 << 20, "the binary is not huge", exe.stat().st_size)
        t = Target(s, [exe, "mutex", "--now"], label="waits-huge")
        t.wait_line("blocked 3")
        rep = _trace(s, t.pid).report(expect_rc=10)
    g = _stranded_mutex(rep, "huge binary")
    expect_eq(_wait_line_of(g, "mutex_worker", "WAIT: mutex"),
              ("waits.c", marker_line("waits.c", "WAIT: mutex")), "wait site")


def test_goroutine_limit_says_so_and_keeps_counts():
    """--max-goroutines 500 on a process with 3000 goroutines at one site: 500 kept in full,
    the others counted at their spawn site, which still says 3000 live, and a line says how
    many were not tracked."""
    with Session() as s:
        t = s.start_target("go/gorunaway", ["sem", "-n", "3000", "-k", "1", "-sleep", "30s",
                                            "--now"])
        t.wait_line("spawned 3000", timeout=8)
        rep = _trace(s, t.pid, duration="2s", extra=["--max-goroutines", "500"]).report(
            expect_rc=None)
        st = s.start_strand(["trace", "-p", str(t.pid), "--for", "1s", "--max-goroutines",
                             "500"])
        rc, text, err = st.finish(timeout=20)
    g = rep["goroutines"]
    check(g["untracked"] >= 2500 and g["live"] >= 3000,
          "untracked %s, live %s" % (g["untracked"], g["live"]))
    expect_eq(sum(x["count"] for x in g["groups"]), 500, "goroutines kept in the groups")
    site = max(g["sites"], key=lambda x: x.get("live", 0))
    expect_eq((site.get("live"), (site.get("created_at") or {}).get("function")),
              (3000, "main.spawnSemWorkers"), "the site's live count")
    check(re.search(r"^  \d+ goroutines not tracked \(limit reached", text, re.M),
          "no 'goroutines not tracked (limit reached' line", text[:3000])


def test_goroutine_state_table_full_is_counted_not_misjudged():
    """--go-states 4 (one bucket): most goroutines created after the attach find no room
    for their exact state. The report counts them, the leak is still judged stranded (its
    waits timed by the scans), the healthy pool is not."""
    with Session() as s:
        leak = s.start_target("go/goleak", ["chan"])
        pool = s.start_target("go/gohealthy", ["pool", "-every", "500ms"])
        extra = ["--go-states", "4"]
        a = _trace(s, leak.pid, duration="3s", extra=extra)
        b = _trace(s, pool.pid, duration="3s", extra=extra)
        leak.go()
        pool.go()
        reps = [a.report(expect_rc=None), b.report(expect_rc=None)]
    for rep in reps:
        check(rep["drops"].get("goroutine_states_full", 0) > 0,
              "no goroutine_states_full drop with a table of 4", json.dumps(rep["drops"]))
    g = gohelp.group(reps[0], "goleak", "chan", "chan receive", wait="chan")
    expect_eq((g.get("count"), g.get("verdict")), (5, "stranded"), "the leak, table full",
              gohelp.describe(reps[0]))
    gohelp.no_stranded(reps[1], "the healthy pool, table full")
    # and seen: its 8 workers (fed every 500 ms: some may be at work at the last scan)
    gohelp.seen(reps[1], "gohealthy", "hpool", "chan receive", "hpool", live=8, at_least=1)


def _memory_cgroup(limit):
    """A memory cgroup (v2, else v1) capped at limit bytes: the kernel charges BPF map
    memory to the cgroup of the process that creates the map."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists() and "memory" in v2.read_text().split():
        base, limit_file = "/sys/fs/cgroup", "memory.max"
    elif Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
        base, limit_file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
    else:
        fail("no memory cgroup to cap BPF map memory with")
    d = tempfile.mkdtemp(prefix="strand-test-", dir=base)
    Path(d, limit_file).write_text(str(limit))
    return d


def test_bpf_maps_that_cannot_be_allocated():
    """strand in a cgroup capped at 256 MiB: a 1 GiB ring buffer cannot be had, said in one
    line with the kernel's reason; a goroutine state table too large costs the goroutine
    probes only (said), and the trace goes on."""
    strand = harness.STRAND
    cg = _memory_cgroup(256 << 20)
    join = "echo $$ > %s/cgroup.procs && exec " % cg
    try:
        p = subprocess.run(["sh", "-c", join + "%s trace --ringbuf 1G --for 1s -- true" %
                            strand], capture_output=True, text=True, timeout=30)
        expect_eq(p.returncode, 1, "exit status without memory for the ring buffer", p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        check(len(lines) == 1 and "cannot load the BPF programs" in lines[0] and
              "Cannot allocate memory" in lines[0], "one line with the reason", p.stderr)
        p = subprocess.run(["sh", "-c", join + "%s trace --go-states 67108864 --for 1s -- %s "
                            "chan --now" % (strand, target_path("go/goleak"))],
                           capture_output=True, text=True, timeout=30)
        check("goroutine probes unavailable (Cannot allocate memory)" in p.stderr,
              "the goroutine probes' failure is not said", p.stderr)
        check("Goroutines:" in p.stdout, "the trace did not go on without the probes",
              p.stdout[-2000:], p.stderr[-2000:])
    finally:
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
