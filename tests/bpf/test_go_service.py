"""strand against the Go runtime's own view of a live service: the goroutines strand lists
by creation site and state must be those /debug/pprof/goroutine reports (`debug=2`: each
goroutine with its "created by" file:line; `debug=1`: counts by stack), but for the
goroutines serving the dump itself. On tests/targets/go/goservice, plain and stripped, and
on a real-world one, Debian's prometheus (Go 1.19, stripped, cgo), traced unmodified."""

import collections
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.request

from gohelp import describe, go_trace, group, marker, sites
from harness import Session, check, expect_eq, fail

PROG = "goservice"


def _get(addr, path, timeout=5):
    with urllib.request.urlopen("http://%s%s" % (addr, path), timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def pprof_counts(text):
    """{(creation file:line or "main", state): count} from a debug=2 dump."""
    counts = collections.Counter()
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        m = re.match(r"goroutine \d+ \[([^,\]]+)", lines[0]) if lines else None
        if not m:
            continue
        created = "main"
        for i, line in enumerate(lines):
            if line.startswith("created by ") and i + 1 < len(lines):
                loc = lines[i + 1].strip().split(" ")[0]
                created = loc.rsplit("/", 1)[-1]
        counts[(created, m.group(1))] += 1
    return counts


def strand_counts(rep):
    """The same from strand's report: its own goroutines, not the runtime's."""
    by_id = {s["id"]: s for s in sites(rep)}
    counts = collections.Counter()
    for g in rep["goroutines"]["groups"]:
        s = by_id.get(g["site"])
        if g.get("runtime") or not s:
            continue
        c = s["created_at"]
        key = "main" if s["start"].get("function") == "runtime.main" else \
            "%s:%s" % ((c.get("file") or "?").rsplit("/", 1)[-1], c.get("line"))
        counts[(key, g["state"])] += g["count"]
    return counts


# The dump's own request: the connection's goroutine (created by net/http.(*Server).Serve,
# running the handler) and its background reader.
SERVING = ("server.go",)


def compare(pp, st, allowed=0, serving=SERVING):
    """Differences between pprof's and strand's counts, apart from the goroutines serving the
    dump; fails if more than `allowed` goroutines differ."""
    diff = []
    for key in sorted(set(pp) | set(st)):
        if pp[key] == st[key] or key[0].startswith(serving):
            continue
        diff.append("%-40s %-22s pprof %3d strand %3d" % (key[0], key[1], pp[key], st[key]))
    off = sum(abs(pp[k] - st[k]) for k in set(pp) | set(st) if not k[0].startswith(serving))
    if off > allowed:
        fail("strand and the runtime's goroutine profile disagree by %d goroutines" % off,
             "\n".join(diff))
    return diff


def _service(variant):
    dumps = {}

    def fetch(t):
        # right after strand's last scan, the service in its steady state all along
        addr = t.wait_line("listening").split()[1]
        dumps["d2"] = _get(addr, "/debug/pprof/goroutine?debug=2")
        dumps["d1"] = _get(addr, "/debug/pprof/goroutine?debug=1")

    rep, line = go_trace(PROG, "serve", variant=variant, duration="3s", expect_rc=10,
                         after_report=fetch)
    pp, st = pprof_counts(dumps["d2"]), strand_counts(rep)
    # its accept loop too serves the dump: woken by the dump's own connection, it may still
    # be runnable when the dump is taken
    compare(pp, st, serving=SERVING + ("%s:%d" % marker(PROG, "svcserve"),))
    total = int(re.search(r"goroutine profile: total (\d+)", dumps["d1"]).group(1))
    # taken one after the other: the first dump's connection may still be closing (its
    # goroutine alive, or gone) when the second is taken
    check(abs(total - sum(pp.values())) <= 1,
          "debug=1's total (%d) is debug=2's goroutines (%d), give or take the first dump's "
          "connection" % (total, sum(pp.values())))
    # and the verdicts of its header
    for name, state, count in (("svctimeout", "chan send", 3), ("svcrange", "chan receive", 2),
                               ("svcbatch", "semacquire", 2)):
        g = group(rep, PROG, name, state, wait=name)
        expect_eq((g.get("count"), g.get("verdict")), (count, "stranded"), name, describe(rep))
    for name, state in (("svcpool", "chan receive"), ("svcsweeper", "select"),
                        ("svcserve", "IO wait")):
        g = group(rep, PROG, name, state, wait=name)
        check(g.get("verdict") != "stranded", "%s is healthy" % name, describe(rep))


def test_service_matches_the_runtime_goroutine_profile():
    _service("")


def test_stripped_service_matches_the_runtime_goroutine_profile():
    _service("-stripped")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_debian_prometheus_matches_its_own_profile():
    """A real Go service nobody wrote for strand: Debian's prometheus (Go 1.19, stripped,
    cgo), on loopback with an empty scrape configuration. Its goroutines by creation site
    and state must be those of its own /debug/pprof/goroutine, and none is called stranded."""
    exe = shutil.which("prometheus") or "/usr/bin/prometheus"
    check(os.path.exists(exe), "prometheus is not installed (scripts/deps.sh installs it)")
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="strand-prom-")
    try:
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n")
        with Session() as s:
            from harness import Proc
            p = Proc(s, [exe, "--config.file=%s/prometheus.yml" % tmp,
                         "--storage.tsdb.path=%s/data" % tmp,
                         "--web.listen-address=127.0.0.1:%d" % port], label="prometheus")
            addr = "127.0.0.1:%d" % port
            deadline = time.monotonic() + 20
            while True:
                try:
                    if "Ready" in _get(addr, "/-/ready", timeout=1):
                        break
                except OSError:
                    pass
                check(time.monotonic() < deadline and p.popen.poll() is None,
                      "prometheus did not become ready", p.describe())
                time.sleep(0.2)
            st = s.trace_pid(p, duration="3s", extra=["-t", "1s"])
            rep = st.report(expect_rc=0)
            # right after strand's last scan: both views of one moment, or nearly
            d2 = _get(addr, "/debug/pprof/goroutine?debug=2")
            check(p.popen.poll() is None, "prometheus died under tracing", p.describe())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rt = rep["goroutines"]["runtimes"][0]
    expect_eq((rt.get("layout"), rt.get("probes")), ("inferred", True),
              "a stripped binary: the layout inferred, the probes attached", str(rt))
    pp, st_counts = pprof_counts(d2), strand_counts(rep)
    check(sum(pp.values()) >= 20, "prometheus has its goroutines", d2[:2000])
    compare(pp, st_counts, allowed=2)  # a few may start or end between the two views
    bad = [g for g in rep["goroutines"]["groups"] if g.get("verdict") == "stranded"]
    check(not bad, "a healthy prometheus has nothing stranded", describe(rep))
