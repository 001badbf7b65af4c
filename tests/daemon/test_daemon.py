"""`strand daemon`: its metrics for real leaking and healthy targets, scraped by a real
Prometheus (Debian's) whose alert rule fires; its HTTP answers to good and bad requests;
processes that exit or reuse a pid leave no stale series; process churn leaves its memory
flat."""

import gzip
import json
import os
import re
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import harness
from harness import Session, check, expect_eq, fail, marker_line, run_strand, target_path
from gohelp import marker
from servers import scratch
from daemonhelp import (DEPLOY, PASSWORD, PASSWORD_BCRYPT, Daemon, Prometheus, WebAccess, describe,
                         free_port, make_certs, process_info, promtool, value)

import svgcheck

# a daemon traces every process: another test's targets, beside it, would be in its metrics
ALONE = "the daemon traces the whole machine"


def _goleak_site():
    _, line = marker("goleak", "chan")
    return "main.handleRequest (goleak.go:%d)" % line


def test_metrics_of_leaks_and_a_healthy_pool():
    """A Go leak (goleak chan), a C leak (waits mutex) and a healthy Go pool (goleak pool):
    stranded counts by wait reason, the leak's spawn site, one process_info per process,
    nothing stranded for the pool; promtool accepts the exposition."""
    with Session() as s:
        leak = s.start_target("go/goleak", ["chan", "--now"])
        leak.wait_line("blocked", timeout=8)
        pool = s.start_target("go/goleak-pie", ["pool", "--now"])
        pool.wait_line("blocked", timeout=8)
        cleak = s.start_target("waits", ["mutex", "--now"])
        cleak.wait_line("blocked", timeout=8)
        d = Daemon(s)
        got = d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="goleak",
                                         kind="goroutine") == 5 and
                         value(x, "strand_stranded_tasks", comm="waits") == 3,
                         what="stranded goroutines of goleak and threads of waits")
        expect_eq(value(got, "strand_stranded_tasks", comm="goleak", kind="goroutine",
                        wait_reason="chan receive"), 5, "goleak: 5 in chan receive")
        expect_eq(value(got, "strand_stranded_tasks", comm="waits", kind="thread",
                        wait_reason="mutex"), 3, "waits: 3 on a mutex")
        expect_eq(value(got, "strand_site_tasks", comm="goleak", kind="goroutine",
                        site=_goleak_site()), 5, "the leak's go statement, 5 live")
        exe = target_path("go/goleak-pie")
        expect_eq(value(got, "strand_stranded_tasks", exe=str(exe)), None,
                  "the healthy pool: nothing stranded",
                  "\n".join(describe(got, "goleak")))
        _, line = marker("goleak", "pool")
        expect_eq(value(got, "strand_site_tasks", exe=str(exe), kind="goroutine",
                        site="main.startPool (goleak.go:%d)" % line), 4, "the pool's 4 workers")
        check(value(got, "strand_tasks", exe=str(exe), kind="goroutine", state="blocked") >= 7,
              "the pool's goroutines (4 workers, feeder, main, signal loop) blocked")
        for t in (leak, pool, cleak):
            expect_eq(process_info(got, t.pid).get("exec_path"), t.argv[0],
                      "strand_process_info names the path the process was run by")
        check(not any("pid" in l for n, l, _ in got if n != "strand_process_info"),
              "the pid is on strand_process_info only")
        check(value(got, "strand_process_info", pid=str(d.proc.pid)) is None,
              "strand does not export itself")
        check(value(got, "strand_events_total") is not None and
              value(got, "strand_bpf_program_runs_total", program="switch_btf") > 0,
              "self-metrics: events, BPF program runs")
        rc, out = promtool("check", "metrics", stdin=d.metrics())
        expect_eq(rc, 0, "promtool check metrics accepts it", out)
        d.stop()


def test_runaway_sites_say_what_the_report_says():
    """spawn_storm under --runaway 20: its first site keeps 30 threads alive from one parent
    (a runaway), its second 5 (none). The metrics count one runaway site of threads, and
    the process's /report names that same site, with 30 live; a healthy pool has none."""
    with Session() as s:
        storm = s.start_target("spawn_storm", [30, 5])
        pool = s.start_target("pool", ["--now"])
        d = Daemon(s, args=["--runaway", "20"])
        d.wait_for(lambda x: any(n == "strand_process_info" and l.get("pid") == str(storm.pid)
                                 for n, l, _ in x), what="spawn_storm traced")
        storm.go()
        storm.wait_line("spawned")
        # both sites' threads counted (one label: they share spawn_item's pthread_create)
        site = "spawn_item (spawn_storm.c:%d)" % marker_line("spawn_storm.c", "SITE: spawn_item")
        got = d.wait_for(lambda x: value(x, "strand_site_tasks", comm="spawn_storm",
                                         site=site) == 35,
                         what="spawn_storm's 35 threads at their site")
        expect_eq(value(got, "strand_runaway_sites", comm="spawn_storm", kind="thread"), 1,
                  "spawn_storm: one runaway site of threads")
        expect_eq(value(got, "strand_runaway_sites", comm="pool"), None,
                  "the pool: no runaway site", "\n".join(describe(got, "pool")))
        status, body, _ = d.get("/report?pid=%d&format=json" % storm.pid)
        expect_eq(status, 200, "/report json")
        sites = json.loads(body).get("sites", [])
        runaway = [(x.get("live"), x.get("runaway")) for x in sites if x.get("runaway")]
        expect_eq(runaway, [(30, True)], "the report's runaway sites: the one of 30 live",
                  json.dumps(sites, indent=1)[:3000])
        check(any(x.get("live") == 5 and x.get("runaway") is False for x in sites),
              "the site of 5 is there, no runaway",
              json.dumps([(x.get("id"), x.get("live"), x.get("spawned"), x.get("runaway"))
                          for x in sites]))
        d.stop()


def test_python_and_java_leaks_at_their_lines():
    """Debian's python3 started after the daemon (found for CPython at its exec) and an
    OpenJDK service, each leaking a thread per request: the top site's label is the
    program's own call, at its line (Python's frames read at the clone, Java's from the
    JVM's own tables), and no site of the Python service is named by the interpreter's C
    frames."""
    from servers import start_java, start_python
    with Session() as s:
        d = Daemon(s)
        py = start_python(s, None, mode="leak")
        java = start_java(s, None, mode="leak")
        py.load()
        java.load()
        site = "Handler.do_GET (pyserver.py:%d)" % marker_line("python/pyserver.py",
                                                              "SITE: pyleak")
        jsite = "HttpPool.lambda$main$1 (HttpPool.java:%d)" % marker_line(
            "java/HttpPool.java", "SITE: javaleak")
        got = d.wait_for(lambda x: value(x, "strand_site_tasks", comm="python3", site=site,
                                         kind="thread") == 20 and
                         value(x, "strand_site_tasks", comm="java", site=jsite,
                               kind="thread") == 20,
                         what="the 20 leaked threads of each at the handler's line")
        # the service's own series: by its identity (another python3, such as the test
        # runner, has threads of its own)
        ident = {k: v for k, v in process_info(got, py.pid).items()
                 if k in ("exe", "cgroup", "process_instance")}
        check(not any(n == "strand_site_tasks" and l.get("comm") == "python3" and
                      all(l.get(k) == v for k, v in ident.items()) and
                      l.get("site", "").startswith(("PyThread", "0x"))
                      for n, l, _ in got),
              "no site of the Python service named by the interpreter's C frames",
              "\n".join(describe(got, "python3")))
        d.stop()


def _web_config(tmp, text):
    """A web configuration in tmp (paths in it relative to it, as the exporters' are)."""
    path = tmp / "web.yml"
    path.write_text(text)
    return str(path)


def test_prometheus_scrapes_it_and_the_alert_fires():
    """A stock Prometheus scraping the daemon over TLS with basic authentication (its
    tls_config and basic_auth, the daemon's --web-config in the exporters' format): the
    leak's stranded count and spawn site series are queryable with their values, and
    deploy/prometheus/strand-alerts.yml (made fast: 'for' of 2 s) fires StrandedTasks for
    the leak and not for the healthy pool."""
    rules = (DEPLOY / "prometheus" / "strand-alerts.yml").read_text()
    rc, out = promtool("check", "rules", str(DEPLOY / "prometheus" / "strand-alerts.yml"))
    expect_eq(rc, 0, "promtool check rules", out)
    fast = re.sub(r"for: \d+m", "for: 2s", rules)
    with Session() as s:
        leak = s.start_target("go/goleak", ["chan", "--now"])
        leak.wait_line("blocked", timeout=8)
        pool = s.start_target("go/goleak", ["pool", "--now"])
        pool.wait_line("blocked", timeout=8)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="strand-web-"))
        make_certs(str(tmp))
        web = _web_config(tmp, "tls_server_config:\n  cert_file: server.crt\n"
                          "  key_file: server.key\nbasic_auth_users:\n  prom: '%s'\n"
                          % PASSWORD_BCRYPT)
        d = Daemon(s, ["--comm", "goleak", "--web-config", web],
                   tls=WebAccess(str(tmp / "ca.crt"), "prom", PASSWORD))
        prom = Prometheus(s, d, fast)
        try:
            stranded = prom.wait_query('strand_stranded_tasks{comm="goleak"}',
                                       lambda r: sum(r.values()) == 5, timeout=40)
            check(all(json.loads(k)["wait_reason"] == "chan receive" for k in stranded),
                  "by wait reason", stranded)
            sites = prom.query('strand_site_tasks{site="%s"}' % _goleak_site())
            expect_eq(list(sites.values()), [5.0], "the leak's site series", sites)
            info = prom.query("strand_process_info")
            expect_eq(sorted(json.loads(k)["pid"] for k in info),
                      sorted([str(leak.pid), str(pool.pid)]),
                      "--comm goleak: both goleak processes, nothing else")
            deadline = time.monotonic() + 40
            while True:
                alerts = [a for a in prom.api("/api/v1/alerts")["alerts"]
                          if a["labels"]["alertname"] == "StrandedTasks"]
                if any(a["state"] == "firing" for a in alerts) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            firing = [a for a in alerts if a["state"] == "firing"]
            expect_eq(len(firing), 1, "StrandedTasks fires once (the leak, not the pool)",
                      json.dumps(alerts, indent=1))
            expect_eq(firing[0]["labels"].get("wait_reason"), "chan receive",
                      "the alert says what they wait on")
        finally:
            prom.close()
            shutil.rmtree(tmp, ignore_errors=True)
        d.stop()


def _curl(url, *args):
    """(HTTP status, curl's exit status) of a GET by curl: status 0 when no answer came."""
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        "10"] + list(args) + [url], capture_output=True, text=True, timeout=30,
                       check=False)
    return int(r.stdout or 0), r.returncode


def test_tls_users_and_client_certificates():
    """The daemon behind a web configuration, as an exporter is: plain HTTP to its TLS port
    gets no answer (and the daemon serves on); no password or a wrong one 401, the right
    one 200; a client certificate of another CA 403. Then the file changed to demand a
    verified client certificate and read again on SIGHUP: none 403, one of the CA 200,
    another CA's 403. /report stays local by default."""
    with Session() as s, scratch() as tmp:
        make_certs(str(tmp))
        ca, crt = str(tmp / "ca.crt"), lambda n: ["--cert", str(tmp / (n + ".crt")),
                                                 "--key", str(tmp / (n + ".key"))]
        web = _web_config(tmp, "tls_server_config:\n  cert_file: server.crt\n"
                          "  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n"
                          "  client_ca_file: ca.crt\nbasic_auth_users:\n  prom: '%s'\n"
                          % PASSWORD_BCRYPT)
        d = Daemon(s, ["--web-config", web], tls=WebAccess(ca, "prom", PASSWORD))
        https = "https://127.0.0.1:%d" % d.port
        status, rc = _curl("http://127.0.0.1:%d/metrics" % d.port)
        check(status == 0 and rc != 0, "plain HTTP to the TLS port is answered", status, rc)
        expect_eq(_curl(https + "/metrics", "--cacert", ca)[0], 401, "no password")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "prom:wrong")[0], 401,
                  "a wrong password")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "nobody:" + PASSWORD)[0], 401,
                  "an unknown user")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "prom:" + PASSWORD)[0], 200,
                  "the right password")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "prom:" + PASSWORD,
                        *crt("other-client"))[0], 403, "a client certificate of another CA")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "prom:" + PASSWORD,
                        *crt("client"))[0], 200, "a client certificate of the CA")
        expect_eq(_curl(https + "/report?pid=%d" % d.pid(), "--cacert", ca, "-u",
                        "prom:" + PASSWORD)[0], 404, "/report from loopback (strand itself "
                  "is not traced)")
        # a client that never speaks, and one that sends 256 KiB of junk for a handshake:
        # closed on it, the others served meanwhile
        idle = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        junk = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            try:
                junk.sendall(b"\x16\x03\x01" + os.urandom(256 * 1024))
            except OSError:
                pass  # closed on it while sending: what it deserves
            expect_eq(_curl(https + "/metrics", "--cacert", ca, "-u", "prom:" + PASSWORD)[0],
                      200, "served beside an idle and a junk client")
            try:
                rest = junk.recv(4096)
            except OSError:
                rest = b""
            check(len(rest) < 4096, "the junk client gets no answer but a close", rest[:100])
        finally:
            idle.close()
            junk.close()
        # the file changed, read again on SIGHUP
        _web_config(tmp, "tls_server_config:\n  cert_file: server.crt\n"
                    "  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n"
                    "  client_ca_file: ca.crt\n")
        d.proc.signal(signal.SIGHUP)
        check(d.proc.err.wait_for(lambda ls: any("read again" in l for l in ls), 10),
              "SIGHUP: the web configuration read again", d.proc.describe())
        expect_eq(_curl(https + "/metrics", "--cacert", ca)[0], 403, "no client certificate")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, *crt("client"))[0], 200,
                  "a client certificate of the CA, no password needed now")
        expect_eq(_curl(https + "/metrics", "--cacert", ca, *crt("other-client"))[0], 403,
                  "a client certificate of another CA")
        d.stop()


def _own_address():
    """This machine's first non-loopback IPv4 address: a client there is not local."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10,
                         check=False).stdout.split()
    addrs = [a for a in out if "." in a and not a.startswith("127.")]
    check(addrs, "no non-loopback IPv4 address to serve on", out)
    return addrs[0]


def test_report_access_off_loopback():
    """Served on a non-loopback address: without a web config the daemon says loudly what
    anyone reads; with one, /metrics to the user, /report refused to a non-loopback client
    by default (--report-access local), served to the user under --report-access auth, to
    nobody under off (not even loopback)."""
    ip = _own_address()
    with Session() as s, scratch() as tmp:
        make_certs(str(tmp))
        (tmp / "san.ext").write_text("subjectAltName=IP:%s\n" % ip)
        subprocess.run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt",
                        "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days",
                        "2", "-extfile", "san.ext"], cwd=str(tmp), capture_output=True,
                       timeout=60, check=True)
        web = _web_config(tmp, "tls_server_config:\n  cert_file: server.crt\n"
                          "  key_file: server.key\nbasic_auth_users:\n  prom: '%s'\n"
                          % PASSWORD_BCRYPT)
        auth = ["--cacert", str(tmp / "ca.crt"), "-u", "prom:" + PASSWORD]
        for access, want in ((None, 403), ("auth", 404), ("off", 403)):
            port = free_port()
            args = ["daemon", "--listen", "%s:%d" % (ip, port), "--allow-remote", "-t", "1s",
                    "--web-config", web] + (["--report-access", access] if access else [])
            d = s.start_strand(args)
            check(d.err.wait_for(lambda ls: any("serving on" in l for l in ls), 30),
                  "the daemon serves", d.describe())
            base = "https://%s:%d" % (ip, port)
            expect_eq(_curl(base + "/metrics", *auth)[0], 200, "/metrics to the user")
            # 404: strand does not trace itself, the answer of a /report let through
            expect_eq(_curl(base + "/report?pid=%d" % d.pid, *auth)[0], want,
                      "/report to a non-loopback client, --report-access %s" % access,
                      d.describe())
            d.signal(signal.SIGTERM)
            check(d.wait(20) == 0, "the daemon exits 0", d.describe())
        port = free_port()
        d = s.start_strand(["daemon", "--listen", "%s:%d" % (ip, port), "--allow-remote"])
        check(d.err.wait_for(lambda ls: any("serving on" in l for l in ls), 30),
              "the daemon serves", d.describe())
        d.signal(signal.SIGTERM)
        d.wait(20)
        check("WARNING" in d.stderr and "no --web-config" in d.stderr and
              "anyone" in d.stderr, "off loopback with no web config: said loudly at start",
              d.describe())


def test_http_answers():
    """/healthz, /report in every format for a traced pid, and errors that say what is
    wrong: 404 for unknown paths and untraced pids, 400 for bad parameters, 405 for POST."""
    with Session() as s:
        leak = s.start_target("go/goleak", ["chan", "--now"])
        leak.wait_line("blocked", timeout=8)
        d = Daemon(s)
        d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="goleak") == 5)
        expect_eq(d.get("/healthz")[:2], (200, b"ok\n"), "/healthz")
        rep = "/report?pid=%d" % leak.pid
        status, body, _ = d.get(rep + "&format=json")
        expect_eq(status, 200, "/report json")
        doc = json.loads(body)
        expect_eq([t["pid"] for t in doc["targets"]], [leak.pid], "only the pid asked for")
        check(all(t["pid"] == leak.pid for t in doc["tasks"]), "its tasks only")
        expect_eq(doc["goroutines"]["stranded"], 5, "its stranded goroutines")
        status, body, _ = d.get(rep)
        check(status == 200 and b"stranded     5" in body, "/report text", body[:2000])
        status, body, ctype = d.get(rep + "&format=svg")
        check(status == 200 and ctype == "image/svg+xml", "/report svg", status, ctype)
        path = os.path.join("/tmp", "strand-daemon-%d.svg" % os.getpid())
        try:
            with open(path, "wb") as f:
                f.write(body)
            frames = svgcheck.frames(path)
        finally:
            os.unlink(path)
        check(any(n == "main.worker" and w == 5 for n, w, _ in frames), "the SVG's leak frame")
        status, body, _ = d.get(rep + "&format=pprof&view=wait")
        check(status == 200 and gzip.decompress(body), "/report pprof is gzip")
        status, body, _ = d.get(rep + "&format=folded")
        check(status == 200 and b"main.worker (goleak.go:" in body, "/report folded", body)

        for path, code, says in (
                ("/nope", 404, b"not found"),
                ("/report", 400, b"pid=N"),
                ("/report?pid=abc", 400, b"pid=N"),
                ("/report?pid=-3", 400, b"pid=N"),
                ("/report?pid=%d&format=gif" % leak.pid, 400, b"format:"),
                ("/report?pid=%d&view=up" % leak.pid, 400, b"view:"),
                ("/report?pid=4194000", 404, b"not traced"),
                ("/report?pid=%d" % d.proc.pid, 404, b"not traced")):
            status, body, _ = d.get(path)
            check(status == code and says in body, "GET %s: %d saying %r" % (path, code, says),
                  status, body)
        req = urllib.request.Request(d.base + "/metrics", data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            fail("POST /metrics was accepted")
        except urllib.error.HTTPError as e:
            expect_eq(e.code, 405, "POST is refused")
        errors = value(d.series(), "strand_http_errors_total")
        check(errors >= 8, "errors are counted", errors)
        d.stop()


def test_refusals():
    """Not on a non-loopback address without --allow-remote; a config file's bad line
    named with its file and line; bad values refused."""
    rc, _, err = run_strand(["daemon", "--listen", "0.0.0.0:9464"])
    check(rc == 2 and "--allow-remote" in err, "0.0.0.0 needs --allow-remote", rc, err)
    rc, _, err = run_strand(["daemon", "--listen", "nohost"])
    check(rc == 2 and "HOST:PORT" in err, "a bad --listen", rc, err)
    rc, _, err = run_strand(["daemon", "--top-sites", "-1"])
    check(rc == 2 and "--top-sites" in err, "a bad --top-sites", rc, err)
    path = "/tmp/strand-daemon-%d.conf" % os.getpid()
    try:
        with open(path, "w") as f:
            f.write("# strand\ncomm goleak\nlisten 127.0.0.1:1\nbogus 3\n")
        rc, _, err = run_strand(["daemon", "--config", path])
        check(rc == 2 and "%s:4: unknown option 'bogus'" % path in err, "the config's bad line",
              rc, err)
        with open(path, "w") as f:
            f.write("go-only yes\n")
        rc, _, err = run_strand(["daemon", "-c", path])
        check(rc == 2 and "takes no value" in err, "a flag with a value", rc, err)
    finally:
        os.unlink(path)
    rc, out, _ = run_strand(["daemon", "--help"])
    check(rc == 0 and "/metrics" in out and "--allow-remote" in out and "--web-config" in out,
          "--help teaches", out)
    rc, _, err = run_strand(["daemon", "--report-access", "everyone"])
    check(rc == 2 and "local, auth or off" in err, "a bad --report-access", rc, err)
    rc, _, err = run_strand(["daemon", "--report-access", "auth"])
    check(rc == 2 and "needs --web-config" in err, "--report-access auth, no web config", rc, err)
    with scratch() as tmp:
        make_certs(str(tmp))
        bad = {
            "missing.yml": (None, "No such file"),
            "syntax.yml": ("tls_server_config: [\n", "line"),
            "unknown.yml": ("tls_server_confg:\n  cert_file: server.crt\n", "unknown"),
            "nokey.yml": ("tls_server_config:\n  cert_file: server.crt\n", "key"),
            "badhash.yml": ("basic_auth_users:\n  prom: plaintext\n", "bcrypt"),
            "noca.yml": ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                         "  client_auth_type: RequireAndVerifyClientCert\n", "client_ca_file"),
            "nofile.yml": ("tls_server_config:\n  cert_file: nothere.crt\n"
                           "  key_file: server.key\n", "nothere.crt"),
        }
        for name, (text, said) in bad.items():
            if text is not None:
                (tmp / name).write_text(text)
            rc, _, err = run_strand(["daemon", "--web-config", str(tmp / name)])
            check(rc == 2 and said in err and "--web-config" in err,
                  "a web config refused at start with why (%s)" % name, rc, err)
        # a key that is not the certificate's: GnuTLS's refusal, said
        (tmp / "mismatch.yml").write_text("tls_server_config:\n  cert_file: server.crt\n"
                                           "  key_file: client.key\n")
        rc, _, err = run_strand(["daemon", "--web-config", str(tmp / "mismatch.yml"),
                                 "--listen", "127.0.0.1:%d" % free_port()], timeout=60)
        check(rc != 0 and "key" in err, "a key not the certificate's refused", rc, err)


def test_exited_processes_leave_and_churn_stays_flat():
    """A leak that exits leaves the metrics after the next scrape; then rounds of 150 short
    processes (each spawning and joining threads) leave no series behind and the daemon's
    memory and fds as they were after the first round."""
    with Session() as s:
        leak = s.start_target("waits", ["mutex", "--now"])
        leak.wait_line("blocked", timeout=8)
        # only this test's programs: every other process on the machine (a shell, a build,
        # another suite) comes and goes with threads of its own
        d = Daemon(s, ["--comm", "waits", "--comm", "churn"])
        d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="waits") == 3)
        leak.kill()
        d.wait_for(lambda x: value(x, "strand_process_info", pid=str(leak.pid)) is None,
                   timeout=15, what="the exited process's series gone")
        got = d.series()
        expect_eq(value(got, "strand_stranded_tasks", comm="waits"), None,
                  "no stranded series of the exited leak")

        churn = str(target_path("churn"))
        script = "for i in $(seq 150); do %s --now 8 4 >/dev/null || exit 1; done" % churn
        # the daemon traces the whole machine (--comm filters what it exports): what else
        # runs on it comes and goes in these numbers too, as much as before the churn
        before = max(value(d.series(), "strand_tracked", what="processes") for _ in range(3))
        marks = []
        for _ in range(3):
            p = subprocess.run(["sh", "-c", script], timeout=120, check=False)
            expect_eq(p.returncode, 0, "the churn round ran")
            # forgotten once a scrape has seen them exited
            got = d.wait_for(lambda x: value(x, "strand_tracked", what="processes") <
                             before + 50, timeout=20, what="the churned processes forgotten")
            check(value(got, "strand_process_info", comm="churn") is None, "no churn series")
            marks.append((d.rss_kib(), d.fds(), value(got, "strand_tracked", what="processes"),
                          value(got, "strand_tracked", what="thread_sites")))
        (rss1, fds1, procs1, sites1), _, (rss3, fds3, procs3, sites3) = marks
        # What is kept per churned process would be 150 of it a round, 300 between the first
        # round and the third.
        check(rss3 <= rss1 + 8192, "RSS flat after the first round (KiB)", marks)
        # caches of the churned binary's files may close in between: a leak would be
        # a few per process, hundreds per round
        check(fds3 <= fds1 + 4, "fds flat", marks)
        check(procs3 <= procs1 + 30 and sites3 <= sites1 + 30,
              "tracked processes and sites flat (within what else runs on the machine)", marks)
        check(procs3 < before + 50, "the churned processes are not kept (%d before)" % before,
              marks)
        d.stop()


def test_instances_of_one_identity_are_told_apart():
    """Two processes of one binary in one cgroup, a leak and a healthy pool: one identity,
    two process_instance values (the older 0), the stranded series on the leak's alone;
    the leak restarted takes its number again."""
    with Session() as s:
        leak = s.start_target("waits", ["mutex", "--now"])
        leak.wait_line("blocked", timeout=8)
        pool = s.start_target("waits", ["pool", "--now"])
        pool.wait_line("blocked", timeout=8)
        d = Daemon(s, ["--comm", "waits"])
        got = d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="waits") == 3,
                         what="the leak's 3 stranded threads")

        def instance_of(series, pid):
            return process_info(series, pid).get("process_instance")

        expect_eq(instance_of(got, leak.pid), "0", "the older process is instance 0")
        expect_eq(instance_of(got, pool.pid), "1", "the newer one, of the same identity, 1")
        expect_eq(value(got, "strand_stranded_tasks", comm="waits", process_instance="0"), 3,
                  "the leak's stranded threads on its own series",
                  "\n".join(describe(got, "waits")))
        expect_eq(value(got, "strand_stranded_tasks", comm="waits", process_instance="1"),
                  None, "nothing stranded on the pool's")
        check(value(got, "strand_tasks", comm="waits", process_instance="1",
                    kind="thread") >= 5, "the pool's threads (main and 4 workers) seen",
              "\n".join(describe(got, "waits")))
        leak.kill()
        d.wait_for(lambda x: value(x, "strand_process_info", pid=str(leak.pid)) is None,
                   timeout=15, what="the leak's series gone")
        again = s.start_target("waits", ["mutex", "--now"])
        again.wait_line("blocked", timeout=8)
        got = d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="waits") == 3,
                         what="the restarted leak's 3 stranded threads")
        expect_eq(instance_of(got, again.pid), "0", "the restarted leak takes 0 again")
        expect_eq(instance_of(got, pool.pid), "1", "the pool keeps 1")
        d.stop()


def _start_with_pid(session, name, args, pid, tries=20):
    """Starts target name with the given pid (the kernel's next pid set just before, through
    /proc/sys/kernel/ns_last_pid); None when another process took it first every time."""
    for _ in range(tries):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        t = session.start_target(name, args, wait_ready=False)
        if t.pid == pid:
            t.wait_ready()
            return t
        t.kill()
    return None


def test_pid_reuse_does_not_mix_two_processes():
    """A leaking process exits and a healthy one takes its pid at once (before any scrape):
    the pid's series and report are the new process's only, none of the leak's remain."""
    with Session() as s:
        d = Daemon(s, ["--comm", "waits", "--comm", "pool"])
        leak = s.start_target("waits", ["mutex", "--now"])
        leak.wait_line("blocked", timeout=8)
        d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="waits") == 3)
        pid = leak.pid
        leak.kill()
        healthy = _start_with_pid(s, "pool", ["4"], pid)
        check(healthy is not None, "the pid was taken again (ns_last_pid)")
        got = d.wait_for(lambda x: value(x, "strand_process_info", pid=str(pid), comm="pool")
                         and value(x, "strand_tasks", comm="waits") is None and
                         value(x, "strand_tasks", comm="pool", kind="thread") == 5, timeout=20,
                         what="pid %d as pool with its 5 threads, the leak gone" % pid)
        expect_eq(value(got, "strand_stranded_tasks"), None, "nothing stranded left")
        expect_eq(value(got, "strand_tasks", comm="pool", kind="thread"), 5,
                  "the pool's 5 threads (main and 4 workers), none of the leak's")
        status, body, _ = d.get("/report?pid=%d&format=json" % pid)
        doc = json.loads(body)
        expect_eq(status, 200, "its report")
        expect_eq([t["comm"] for t in doc["targets"]], ["pool"], "the report is pool's")
        expect_eq(doc["verdicts"]["stranded"], 0, "with nothing stranded")
        d.stop()


def _capabilities(pid):
    status = open("/proc/%d/status" % pid).read()
    return int(re.search(r"^CapEff:\s*(\w+)", status, re.M).group(1), 16)


def test_runs_with_only_its_capabilities():
    """The systemd unit's capability set is enough for a C and a Go leak to be reported
    stranded. Without CAP_SYS_ADMIN a perf event's uprobe is refused: both still are (the
    goroutines' waits are read from the runtime's state, their spawn probes are uprobe_multi
    links, which CAP_BPF and CAP_PERFMON allow), and glibc's threads lose nothing: their
    start routines are read at the clone, with no pthread_create probe to be refused."""
    unit = (DEPLOY / "systemd" / "strand.service").read_text()
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
    check("CAP_SYS_ADMIN" in caps and "CAP_NET_ADMIN" not in caps, "the unit's set", caps)
    for keep in (caps, [c for c in caps if c != "CAP_SYS_ADMIN"]):
        bounding = ",".join("+" + c[len("CAP_"):].lower() for c in keep)
        with Session() as s:
            cleak = s.start_target("waits", ["mutex", "--now"])
            cleak.wait_line("blocked", timeout=8)
            leak = s.start_target("go/goleak", ["chan", "--now"])
            leak.wait_line("blocked", timeout=8)
            d = Daemon(s, ["--comm", "waits", "--comm", "goleak"],
                       wrap=["setpriv", "--bounding-set=-all," + bounding, "--inh-caps=-all"])
            eff = _capabilities(d.pid())
            expect_eq(bool(eff & (1 << 21)), "CAP_SYS_ADMIN" in keep,
                      "the daemon has CAP_SYS_ADMIN only when given it")
            expect_eq(eff & (1 << 12), 0, "and no CAP_NET_ADMIN")
            d.wait_for(lambda x: value(x, "strand_stranded_tasks", comm="waits") == 3 and
                       value(x, "strand_stranded_tasks", comm="goleak") == 5,
                       what="both leaks, with %s" % ",".join(keep))
            d.stop()
            check(not any("start routines unknown" in l for l in d.proc.err.lines()),
                  "glibc's start routines need no probe", d.proc.describe())


def _connect_from(src, port):
    """A TCP connection to the daemon from loopback address src (the per-address limit
    counts by source address)."""
    import socket
    c = socket.socket()
    c.settimeout(5)
    c.bind((src, 0))
    c.connect(("127.0.0.1", port))
    return c


def _timed_metrics(d):
    t0 = time.monotonic()
    status, body, _ = d.get("/metrics", timeout=5)
    return status, time.monotonic() - t0


def _abuse(d):
    """One round: 40 slow clients from 127.0.0.2, a 256 KiB header from 127.0.0.3, and a
    flood of 4 x 150 requests from 127.0.0.4-7, /metrics asked from 127.0.0.1 throughout.
    /metrics must answer within a second or two: on a machine saturated by other work
    (more runnable tasks than CPUs, stress-ng say) within that times how saturated it is, as
    every process there waits its turn that much longer."""
    import threading
    port = d.port
    saturation = os.getloadavg()[0] / (os.cpu_count() or 1)
    limit = 2.0 * max(1.0, saturation)
    slow = []
    for _ in range(40):
        try:
            c = _connect_from("127.0.0.2", port)
            c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(c)
        except OSError:
            pass
    for c in slow:
        try:
            c.sendall(b"a")
        except OSError:
            pass
    status, took = _timed_metrics(d)
    check(status == 200 and took < limit,
          "/metrics under 40 slow clients: %s in %.2fs (limit %.1fs)" % (status, took, limit))
    big = _connect_from("127.0.0.3", port)
    try:
        big.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * (256 << 10) +
                    b"\r\n\r\n")
    except OSError:
        pass  # the daemon may close it before all of it is sent
    try:
        answer = big.recv(4096)
    except OSError:
        answer = b""
    big.close()
    check(not answer.startswith(b"HTTP/1.1 200"), "a 256 KiB header was answered 200",
          answer[:200])
    results = []

    def flood(src):
        ok = refused = 0
        for i in range(150):
            try:
                c = _connect_from(src, port)
                path = "/metrics" if i % 2 else "/report?pid=%d&format=json" % d.proc.pid
                c.sendall(("GET %s HTTP/1.0\r\n\r\n" % path).encode())
                got = c.recv(64)
                c.close()
                ok += got.startswith(b"HTTP/1.")
            except OSError:
                refused += 1
        results.append((ok, refused))

    floods = [threading.Thread(target=flood, args=("127.0.0.%d" % i,)) for i in range(4, 8)]
    for t in floods:
        t.start()
    worst = 0.0
    while any(t.is_alive() for t in floods):
        status, took = _timed_metrics(d)
        check(status == 200, "/metrics during the flood: %s" % status)
        worst = max(worst, took)
    for t in floods:
        t.join()
    check(worst < limit, "/metrics took %.2fs during the flood (limit %.1fs)" % (worst, limit))
    check(sum(r[0] for r in results) >= 300, "the flood's requests mostly answered", results)
    for c in slow:
        c.close()
    # the daemon sees the closed connections in its own time: ask until it answers promptly
    deadline = time.monotonic() + 10
    while True:
        status, took = _timed_metrics(d)
        if (status == 200 and took < 1.0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(status == 200 and took < 1.0, "/metrics after: %s in %.2fs" % (status, took))


@harness.timeout(120)  # two rounds of floods: longer on a machine busy with other work
def test_http_survives_slow_clients_huge_headers_and_floods():
    """Slow clients that never finish their request, a 256 KiB header and a flood of
    requests from other addresses: the daemon bounds each (connections per address, memory
    per connection), keeps answering /metrics to its scraper within a second or two, and a
    second round of it all leaves its memory where the first did."""
    with Session() as s:
        d = Daemon(s)
        expect_eq(d.get("/healthz")[0], 200, "/healthz before")
        _abuse(d)
        rss1 = d.rss_kib()
        _abuse(d)
        rss2 = d.rss_kib()
        # within what the rest of the machine makes the whole-machine tracing hold (a
        # few MiB on a busy machine); a leak per request would be 600 of it a round
        check(rss2 <= rss1 + 8192, "RSS %d -> %d KiB from the first round to the second" %
              (rss1, rss2))
        d.stop()
