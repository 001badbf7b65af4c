"""OS-thread tracing: spawn sites, counts, pre-existing threads, stacks through shared
libraries, `--` mode, and the CLI's error exits. Each runs against the target built without
frame pointers (as distributions build); those whose stacks cross shared libraries and
bursts (@both_builds) against the build with them (-fp) too.

Expected line numbers come from the /* SITE: ... */ markers in tests/targets/*.c."""

import json
import os
import tempfile
from pathlib import Path

from harness import (Proc, Session, both_builds, caller_frames, check, expect_eq, expect_frame,
                     find_site, find_sites, free_pid, marker_line, run_strand, split_report,
                     summarize_sites, summarize_tasks, target_path)


def _bin(name, fp):
    return name + ("-fp" if fp else "")


def _check_target(rep, pid=None, comm=None, exited=False, exit_code=None):
    targets = rep.get("targets") or []
    check(len(targets) == 1, "expected exactly one target in the report", {"targets": targets})
    t = targets[0]
    if pid is not None:
        expect_eq(t.get("pid"), pid, "targets[0].pid", {"targets": targets})
    if comm is not None:
        expect_eq(t.get("comm"), comm[:15], "targets[0].comm", {"targets": targets})
    expect_eq(t.get("exited"), exited, "targets[0].exited", {"targets": targets})
    if exited:
        expect_eq(t.get("exit_code"), exit_code, "targets[0].exit_code", {"targets": targets})
    return t


def _check_counts(site, rep, spawned, exited, live, peak=None):
    for key, want in (("spawned", spawned), ("exited", exited), ("live", live),
                      ("peak_live", peak)):
        if want is not None:
            expect_eq(site.get(key), want, "site %s: %s" % (site.get("id"), key),
                      summarize_sites(rep))


def _check_no_drops(rep):
    drops = rep.get("drops") or {}
    bad = {k: v for k, v in drops.items() if isinstance(v, (int, float)) and v != 0}
    check(not bad, "events were dropped: %s" % bad, summarize_sites(rep))


def _new_sites(rep, pid):
    return find_sites(rep, lambda s: s.get("pid") == pid and not s.get("before_attach"))


@both_builds
def test_spawn_storm(fp):
    """Two sites at the same pthread_create line, told apart by their callers; exact counts."""
    n_a, n_b = 30, 20
    l_create = marker_line("spawn_storm.c", "SITE: spawn_item")
    callers = {"a": marker_line("spawn_storm.c", "SITE: storm_a"),
               "b": marker_line("spawn_storm.c", "SITE: storm_b")}
    mains = {"a": marker_line("spawn_storm.c", "SITE: main_a"),
             "b": marker_line("spawn_storm.c", "SITE: main_b")}
    counts = {"a": n_a, "b": n_b}
    exe = _bin("spawn_storm", fp)
    with Session() as s:
        t = s.start_target("spawn_storm", [n_a, n_b], fp=fp)
        st = s.trace_pid(t)
        t.go()
        t.wait_line("spawned")
        rep = st.report()
    expect_eq(rep.get("version"), 1, "version")
    _check_target(rep, pid=t.pid, exited=False)
    _check_no_drops(rep)
    storm = _new_sites(rep, t.pid)
    check(len(storm) == 2, "expected 2 new spawn sites, found %d" % len(storm),
          summarize_sites(rep))
    seen = set()
    for site in storm:
        what = "site %s" % site.get("id")
        expect_eq(site.get("kind"), "thread", what + " kind")
        expect_eq(site.get("start_routine"), "handle_item", what + " start_routine",
                  summarize_sites(rep))
        frames = caller_frames(site)
        expect_frame(site, frames, 0, what + " spawn frame", function="spawn_item",
                     file="spawn_storm.c", line=l_create, module=exe)
        check(len(frames) > 1 and frames[1].get("function") in ("process_batch_a",
                                                                  "process_batch_b"),
              what + ": frame after spawn_item is not process_batch_a/b", summarize_sites(rep))
        batch = frames[1]["function"][-1]
        check(batch not in seen, "two sites both called from process_batch_" + batch,
              summarize_sites(rep))
        seen.add(batch)
        expect_frame(site, frames, 1, what + " caller", function="process_batch_" + batch,
                     file="spawn_storm.c", line=callers[batch])
        expect_frame(site, frames, 2, what + " main", function="main", file="spawn_storm.c",
                     line=mains[batch])
        _check_counts(site, rep, spawned=counts[batch], exited=0, live=counts[batch],
                      peak=counts[batch])
        tasks = [x for x in rep.get("tasks") or [] if x.get("site") == site.get("id")]
        check(len(tasks) == counts[batch],
              "%s: %d tasks listed, expected %d" % (what, len(tasks), counts[batch]),
              summarize_tasks(rep))
    totals = rep.get("totals") or {}
    expect_eq(totals.get("spawned"), n_a + n_b, "totals.spawned", summarize_sites(rep))
    expect_eq(totals.get("exited"), 0, "totals.exited", summarize_sites(rep))


def test_pool_preexisting(fp=False):
    """8 workers started before attach are listed as before_attach; nothing new is spawned."""
    with Session() as s:
        t = s.start_target("pool", fp=fp)
        st = s.trace_pid(t, duration="2s")
        t.go()
        t.wait_line("spawned 0")
        rep = st.report()
    _check_target(rep, pid=t.pid, exited=False)
    tasks = rep.get("tasks") or []
    workers = [x for x in tasks if str(x.get("name", "")).startswith("pool-w")]
    names = sorted(x.get("name") for x in workers)
    expect_eq(names, sorted("pool-w%d" % i for i in range(8)), "worker thread names",
              summarize_tasks(rep))
    site_by_id = {x.get("id"): x for x in rep.get("sites") or []}
    for w in workers:
        check(w.get("before_attach") is True and w.get("pid") == t.pid,
              "worker %s not listed as before_attach in pid %d" % (w.get("name"), t.pid),
              summarize_tasks(rep))
        site = site_by_id.get(w.get("site"))
        check(site is not None and site.get("before_attach") is True
              and not site.get("spawn_stack"),
              "worker %s: its site %r is not a before-attach site with an empty spawn_stack"
              % (w.get("name"), w.get("site")), summarize_sites(rep))
    check(any(x.get("tid") == t.pid for x in tasks), "the main thread is not listed",
          summarize_tasks(rep))
    bad = [x for x in _new_sites(rep, t.pid) if (x.get("live") or 0) > 0]
    check(not bad, "the pool spawned nothing after attach, yet sites report live threads",
          summarize_sites(rep))
    expect_eq((rep.get("totals") or {}).get("spawned"), 0, "totals.spawned", summarize_sites(rep))


def _check_churn_site(rep, pid, exe, count=100):
    """churn's one site: COUNT spawned and exited (None: not counted), its two frames."""
    l_create = marker_line("churn.c", "SITE: churn")
    l_main = marker_line("churn.c", "SITE: churn_main")
    site = find_site(rep, lambda x: x.get("start_routine") == "short_task"
                     and not x.get("before_attach") and (pid is None or x.get("pid") == pid),
                     "with start_routine short_task")
    if count is not None:
        _check_counts(site, rep, spawned=count, exited=count, live=0)
    check((site.get("peak_live") or 0) >= 1, "site peak_live < 1", summarize_sites(rep))
    frames = caller_frames(site)
    expect_frame(site, frames, 0, "churn spawn frame", function="run_batch", file="churn.c",
                 line=l_create, module=exe)
    expect_frame(site, frames, 1, "churn caller", function="main", file="churn.c", line=l_main)
    return site


def test_churn_pid(fp=False):
    """-p mode: 100 short-lived threads, all seen to exit."""
    with Session() as s:
        t = s.start_target("churn", fp=fp)
        st = s.trace_pid(t)
        t.go()
        t.wait_line("sum")
        rep = st.report()
    _check_target(rep, pid=t.pid, exited=False)
    _check_churn_site(rep, t.pid, _bin("churn", fp))
    totals = rep.get("totals") or {}
    expect_eq(totals.get("spawned"), 100, "totals.spawned", summarize_sites(rep))
    expect_eq(totals.get("exited"), 100, "totals.exited", summarize_sites(rep))


def _churn_site(count, batch):
    """churn's site, COUNT threads from one parent, BATCH alive at once, under --runaway 50."""
    with Session() as s:
        t = s.start_target("churn", [str(count), str(batch)])
        st = s.trace_pid(t, extra=["--runaway", "50"])
        t.go()
        t.wait_line("sum")
        rep = st.report()
    return find_site(rep, lambda x: x.get("start_routine") == "short_task", "of short_task"), rep


def test_thread_per_request_is_no_runaway():
    """300 threads from one parent, 10 at a time (each batch joined before the next): with
    --runaway 50 the site is no runaway (a fan-out is children alive at once, not made one
    after the other); 300 and only 10 alive at once, said on the site. 60 at once is one."""
    site, rep = _churn_site(300, 10)
    expect_eq((site.get("spawned"), site.get("max_children_per_parent"),
               site.get("max_live_children_per_parent"), site.get("runaway")),
              (300, 300, 10, False), "spawned, made by one parent, alive at once, runaway",
              summarize_sites(rep))
    site, rep = _churn_site(120, 60)
    check(site.get("runaway") and "60 threads here alive at once" in
          " ".join(site.get("runaway_evidence") or []), "60 alive at once is a runaway",
          summarize_sites(rep))


def test_target_exits_mid_trace(fp=False):
    """-p target exits during a 20 s trace: strand stops at once, says so, reports it all."""
    import time
    with Session() as s:
        t = s.start_target("churn", ["--exit"], fp=fp)
        st = s.trace_pid(t, duration="20s")
        t0 = time.monotonic()
        t.go()
        rep = st.report(timeout=10.0)
        took = time.monotonic() - t0
        check(t.wait(5.0) == 0, "target did not exit 0 on its own", t.describe())
    check(took < 5.0, "strand took %.1fs to notice the target exited" % took)
    _check_target(rep, pid=t.pid, exited=True, exit_code=0)
    _check_churn_site(rep, t.pid, _bin("churn", fp))
    warnings = rep.get("warnings") or []
    check(any("exited" in w for w in warnings), "no warning says the target exited",
          {"warnings": warnings})
    check(any("exited during the trace" in l for l in st.stderr.splitlines()),
          "stderr does not say the pid exited", st.describe())


def test_churn_command(fp=False):
    """`--` mode: strand starts the command after attaching, reports, exits with its status."""
    exe = _bin("churn", fp)
    with Session() as s:
        st = s.start_strand(["trace", "--json", "--", "build/targets/" + exe, "--now"])
        rc, out, err = st.finish(timeout=12)
    expect_eq(rc, 0, "strand exit status", st.describe())
    child_out, rep = split_report(out, st.describe())
    check("spawned 100" in child_out.splitlines(),
          "the command's own output did not come through", st.describe())
    _check_target(rep, comm=exe, exited=True, exit_code=0)
    _check_churn_site(rep, None, exe)


def _burst_of_a_second_site(*extra):
    n_a, n_c = 1, 1500
    with Session() as s:
        st = s.start_strand(["trace", "--json", "--", target_path("spawn_storm"), "--now",
                             "--exit", str(n_a), "0", str(n_c)] + list(extra))
        rc, out, err = st.finish(timeout=30)
    check(rc in (0, 10), "strand exit status %d" % rc, st.describe())
    child_out, rep = split_report(out, st.describe())
    check("spawned %d" % (n_a + n_c) in child_out.splitlines(),
          "the command did not spawn them all", st.describe())
    _check_no_drops(rep)
    sites = find_sites(rep, lambda x: x.get("kind") == "thread" and not x.get("before_attach")
                       and x.get("start_routine") == "handle_item")
    got = sorted(x.get("spawned") for x in sites)
    expect_eq(got, [n_a, n_c], "spawns of the two sites", summarize_sites(rep))
    return max(sites, key=lambda x: x.get("spawned"))


def test_burst_from_a_second_site_while_the_first_is_read():
    """`--` mode: one thread from site a, then a burst of 1500 from site c (a pthread_create
    call of its own) right after, while strand is still reading the symbols of a's first
    sample (tens of ms with the C library's debug data): every one of c's spawns is keyed
    exactly (full samples, then slot windows until c is learned), none by a coarse key."""
    _burst_of_a_second_site()


def test_burst_near_the_top_of_its_stack():
    """The same burst from a stack whose top borders unmapped memory a few hundred bytes
    above the spawns (a fiber's; a main thread's is as close when the kernel's random offset
    falls so): the slot windows are read up to the top, not lost for the bytes past it, and
    every spawn is still keyed exactly, at its line, called from the fiber."""
    site = _burst_of_a_second_site("top")
    frames = caller_frames(site)
    expect_frame(site, frames, 0, "spawn frame", function="process_batch_c",
                 file="spawn_storm.c", line=marker_line("spawn_storm.c", "SITE: storm_c"))
    expect_frame(site, frames, 1, "the fiber's frame", function="fiber_main",
                 file="spawn_storm.c", line=marker_line("spawn_storm.c", "SITE: fiber_c"))


def test_spawning_while_strand_attaches_is_one_site():
    """-p on a process already spawning from one call path (the demo's shape): the spawns
    strand sees while it is still attaching (before its pthread_create probe is in) and after
    are one site with the start routine, not a second site of the same path without it."""
    with Session() as s:
        t = s.start_target("churn", ["100000", "2"])
        t.go()
        st = s.trace_pid(t, duration="1s")
        rep = st.report()
    _check_no_drops(rep)
    on_path = find_sites(rep, lambda x: x.get("pid") == t.pid and not x.get("before_attach"))
    check(on_path, "no spawn seen after attach", summarize_sites(rep))
    expect_eq([(x.get("start_routine"), x.get("stack_known")) for x in on_path],
              [("short_task", True)], "the sites of spawns after attach", summarize_sites(rep))
    site = _check_churn_site(rep, t.pid, "churn", count=None)
    expect_eq(site.get("spawned"), (rep.get("totals") or {}).get("spawned"),
              "spawns on the one site of all spawns seen", summarize_sites(rep))


@both_builds
def test_libspawn(fp):
    """The spawn frame is in a shared library; its caller in the executable."""
    n = 4
    lib = "libspawnlib-fp.so" if fp else "libspawnlib.so"
    exe = _bin("libspawn", fp)
    with Session() as s:
        t = s.start_target("libspawn", [n], fp=fp)
        st = s.trace_pid(t)
        t.go()
        t.wait_line("spawned")
        rep = st.report()
    site = find_site(rep, lambda x: not x.get("before_attach") and x.get("pid") == t.pid,
                     "spawned after attach")
    expect_eq(site.get("start_routine"), "spawnlib_worker", "start_routine", summarize_sites(rep))
    _check_counts(site, rep, spawned=n, exited=0, live=n)
    frames = caller_frames(site)
    expect_frame(site, frames, 0, "library spawn frame", function="spawnlib_start_workers",
                 file="spawnlib.c", line=marker_line("spawnlib.c", "SITE: spawnlib"), module=lib)
    expect_frame(site, frames, 1, "caller in the executable", function="main", file="libspawn.c",
                 line=marker_line("libspawn.c", "SITE: libspawn_main"), module=exe)


def test_output_unchanged(fp=False):
    """Tracing does not change what the target does: same stdout, same exit status."""
    exe = _bin("spawn_storm", fp)
    with Session() as s:
        t = s.start_target("spawn_storm", ["--now", "--exit"], fp=fp, wait_ready=False)
        rc = t.wait(10)
        check(rc == 0, "untraced spawn_storm failed", t.describe())
        plain = t.stdout
    with Session() as s:
        st = s.start_strand(["trace", "--json", "--", "build/targets/" + exe, "--now", "--exit"])
        rc, out, err = st.finish(timeout=12)
    # Its threads are still parked on a condition variable nobody signals when it exits: in
    # CI mode that is a leak (10), and the command's own status (0) is in the report.
    expect_eq(rc, 10, "strand exit status (the command's 0, but threads left blocked)",
              st.describe())
    traced, rep = split_report(out, st.describe())
    codes = [t.get("exit_code") for t in rep.get("targets") or []]
    expect_eq(codes, [0], "the command's exit status in the report", st.describe())
    check(traced == plain, "traced output differs from untraced output",
          "--- untraced:\n" + plain, "--- traced:\n" + traced)
    expect_eq((rep.get("totals") or {}).get("spawned"), 50, "totals.spawned",
              summarize_sites(rep))


def test_command_gets_the_environment_strand_was_given():
    """strand starts itself again, its malloc on huge pages (GLIBC_TUNABLES): it runs so, and
    the command it runs gets the environment strand was given, GLIBC_TUNABLES of the user's
    own or none."""
    for given in (None, "glibc.malloc.check=0"):
        if given is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = given
        expected = sorted("%s=%s" % kv for kv in os.environ.items() if kv[0] != "DEBUGINFOD_URLS")
        with Session() as s:
            # the command lives 2 s: strand is there to be looked at once attached
            st = s.start_strand(["trace", "--json", "--", "/bin/sh", "-c", "env; exec sleep 2"])
            st.wait_attached()
            started = Path("/proc/%d/environ" % st.pid).read_bytes().split(b"\0")
            rc, out, err = st.finish(timeout=10)
        # (the C library cuts its copy of GLIBC_TUNABLES at each value it reads: where the
        # user gave one, what follows it is not seen here)
        again = any(e.startswith(b"STRAND_MALLOC_ON_HUGE_PAGES=") for e in started) and (
            given or b"GLIBC_TUNABLES=glibc.malloc.hugetlb=1" in started)
        check(again, "strand not started again with malloc on huge pages",
              [e.decode("utf-8", "replace") for e in started if b"GLIBC" in e or b"STRAND" in e])
        printed, _ = split_report(out, st.describe())
        expect_eq(sorted(printed.splitlines()), expected,
                  "the command's environment (GLIBC_TUNABLES given: %s)" % given, st.describe())


def test_error_no_such_pid():
    pid = free_pid()
    rc, out, err = run_strand(["trace", "-p", str(pid), "--for", "1s", "--json"])
    expect_eq(rc, 3, "exit status for -p %d (no such process)" % pid, "stderr:\n" + err)
    lines = [l for l in err.splitlines() if l.strip()]
    check(len(lines) == 1 and str(pid) in lines[0],
          "expected one line on stderr mentioning pid %d" % pid, "stderr:\n" + err)


def test_error_bad_duration():
    for bad in ("bogus", "10x", "-3s"):
        rc, out, err = run_strand(["trace", "--for", bad, "--", "/bin/true"])
        expect_eq(rc, 2, "exit status for --for %r" % bad, "stderr:\n" + err)
        check(err.strip(), "no message on stderr for --for %r" % bad)
        check("strand: attached" not in err, "attached despite --for %r" % bad, err)


def test_error_no_such_command():
    rc, out, err = run_strand(["trace", "--", "/nonexistent"])
    expect_eq(rc, 3, "exit status for `-- /nonexistent`", "stderr:\n" + err)
    check("/nonexistent" in err, "the message does not name /nonexistent", "stderr:\n" + err)



def test_killed_strand_never_leaves_command_stopped():
    """strand SIGKILLed while its command is stopped: the kernel resumes the command
    (strand may SIGSTOP a new process for a moment, to read its memory map)."""
    import os
    import signal
    import tempfile
    import time
    out = tempfile.mktemp(prefix="strand-test-")
    try:
        with Session() as s:
            st = s.start_strand(["trace", "-q", "--no-live", "--", "sh", "-c",
                                 "kill -STOP $$; echo resumed > %s" % out])
            child, state = None, None
            for _ in range(50):
                # strand's children: the command, and its guardian (user/engine/guardian.c)
                kids = [int(k) for k in
                        open("/proc/%d/task/%d/children" % (st.pid, st.pid)).read().split()
                        if open("/proc/%s/comm" % k).read().strip() == "sh"]
                if kids:
                    child = kids[0]
                    state = open("/proc/%d/stat" % child).read().rsplit(")", 1)[1].split()[0]
                    if state == "T":
                        break
                time.sleep(0.1)
            check(state == "T", "the command never stopped itself (state %r)" % state)
            os.kill(st.pid, signal.SIGKILL)
            for _ in range(50):
                if os.path.exists(out) and open(out).read().strip() == "resumed":
                    break
                time.sleep(0.1)
            check(os.path.exists(out), "the command stayed stopped after strand was killed")
    finally:
        if os.path.exists(out):
            os.unlink(out)


def _follow_run(follow):
    """A shell with a child running the cond leak when strand attaches and a second it forks
    once strand is attached (a fifo says when): (report, shell pid, [child pids])."""
    with tempfile.TemporaryDirectory(prefix="strand-follow-") as d, Session() as s:
        fifo = os.path.join(d, "fork")
        os.mkfifo(fifo)
        script = '"$1" cond --now & read x < "$2"; "$1" cond --now & wait'
        sh = Proc(s, ["sh", "-c", script, "sh", str(target_path("waits")), fifo], label="sh")
        sh.out.wait_for(lambda ls: any(l.startswith("blocked") for l in ls), 8)
        st = s.trace_pid(sh, duration="3s" if follow else "1500ms",
                         extra=["-t", "1s"] + (["-f"] if follow else []))
        with open(fifo, "w") as f:
            f.write("fork\n")
        check(sh.out.wait_for(lambda ls: sum(l.startswith("blocked") for l in ls) >= 2, 8),
              "the second child got its threads blocked", sh.describe())
        rep = st.report(expect_rc=10 if follow else 0)
        said = st.stderr
        kids = [int(x) for x in open("/proc/%d/task/%d/children" % (sh.pid, sh.pid)).read().split()]
    return rep, sh.pid, kids, said


def test_follow_the_children_of_a_pid():
    """-p PID -f traces PID's children too: the one running at attach (its threads from before
    attach) and the one it forks later (its spawns and its stranded threads); -p PID alone
    traces PID only."""
    rep, sh, kids, said = _follow_run(True)
    check(len(kids) == 2, "the shell's two children", repr(kids))
    pids = {t["pid"] for t in rep.get("targets") or []}
    expect_eq(pids, {sh} | set(kids), "the shell and both children traced", said)
    by_pid = {}
    for t in rep.get("tasks") or []:
        by_pid.setdefault(t["pid"], []).append(t)
    first, second = kids
    check(len(by_pid.get(first, [])) == 9 and
          all(t.get("before_attach") for t in by_pid[first]),
          "the child running at attach: its 9 threads, from before attach",
          json.dumps(by_pid.get(first), indent=1)[:2000])
    spawned = sum(s.get("spawned") or 0 for s in rep.get("sites") or [] if s.get("pid") == second)
    expect_eq(spawned, 8, "the child forked while traced: its 8 request threads spawned", said)
    bad = [g for g in rep.get("groups") or [] if g.get("verdict") == "stranded"]
    check(bad and all(g.get("pid") == second for g in bad),
          "the later child's leak judged stranded (it grew while traced)",
          json.dumps(bad, indent=1)[:2000])
    check("and its 1 descendant process" in said, "the attach says what it followed", said)
    rep, sh, kids, said = _follow_run(False)
    expect_eq({t["pid"] for t in rep.get("targets") or []}, {sh}, "-p alone: the shell only",
              said)
