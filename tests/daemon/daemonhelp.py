"""Helpers for the daemon's tests: start `strand daemon` on a free loopback port, read its
HTTP endpoints, parse the Prometheus text format, and run a real Prometheus against it."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import harness
from harness import ROOT, Proc, check, expect_eq, fail

DEPLOY = ROOT / "deploy"
SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10, tls=None):
    """(status, body bytes, content type) of a GET, errors included; tls: a WebAccess for
    an https daemon (its CA, its user)."""
    req = urllib.request.Request(url)
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=tls.ca)
        if tls.user:
            req.add_header("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % (tls.user, tls.password)).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return r.status, r.read(), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type")
    except (urllib.error.URLError, ConnectionError, ssl.SSLError) as e:
        return 0, str(e).encode(), None


# A bcrypt hash (cost 4: fast tests) of PASSWORD, made with Debian's crypt(3)
PASSWORD = "s3cret"
PASSWORD_BCRYPT = "$2b$04$urn1Mt0O1Pu81eYhy7pL0O901BacWhJeNmfcVi8WQZYGQlon9BN96"


class WebAccess:
    """What a client of a TLS daemon needs: the CA that signed its certificate, and the
    user to authenticate as (None: none)."""

    def __init__(self, ca, user=None, password=None):
        self.ca, self.user, self.password = ca, user, password


def make_certs(d):
    """In d: a CA (ca.crt), the daemon's certificate for 127.0.0.1 signed by it
    (server.crt/key), a client's signed by it (client.crt/key), and a client's signed by
    another CA (other-client.crt/key). openssl, in seconds."""
    def run(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=d, capture_output=True, text=True,
                           timeout=60, check=False)
        check(r.returncode == 0, "openssl %s" % " ".join(args[:2]), r.stderr)

    for ca in ("ca", "other-ca"):
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2", "-subj", "/CN=" + ca)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca, ext in (("server", "ca", ["-extfile", "san.ext"]), ("client", "ca", []),
                          ("other-client", "other-ca", [])):
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name)
        run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", *ext)


class Daemon:
    """`strand daemon` in a session, listening on a free loopback port."""

    def __init__(self, session, args=(), threshold="1s", wrap=(), tls=None):
        self.port = free_port()
        self.tls = tls  # a WebAccess when args give a --web-config with TLS
        self.base = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        argv = ["daemon", "--listen", "127.0.0.1:%d" % self.port, "-t", threshold] + list(args)
        # ASan keeps 256 MB of freed memory from reuse: a small quarantine lets RSS say
        # whether memory is really kept
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "quarantine_size_mb=8"]))
        # wrap: a command strand runs under (setpriv), strand its last argument
        self.proc = Proc(session, list(wrap) + [harness.STRAND] + argv, env=env, label="strand")
        ok = self.proc.err.wait_for(lambda ls: any("serving on" in l for l in ls), 30)
        if not ok:
            fail("the daemon did not start serving", self.proc.describe())

    def stop(self):
        """SIGTERM: a clean exit (status 0), and nothing leaked (LeakSanitizer, in the
        ASan build) nor any sanitizer error."""
        self.proc.signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        check(rc == 0, "the daemon exits 0 on SIGTERM", self.proc.describe())
        check("Sanitizer" not in self.proc.stderr, "no sanitizer report", self.proc.describe())

    def pid(self):
        """strand's pid (setpriv execs it, so the same)."""
        return self.proc.pid

    def get(self, path, timeout=20):
        return get(self.base + path, timeout, self.tls)

    def metrics(self):
        status, body, ctype = self.get("/metrics")
        check(status == 200, "GET /metrics answers 200", status, body[:500])
        check(ctype.startswith("text/plain; version=0.0.4"), "the exposition format's type",
              ctype)
        return body.decode()

    def series(self, name=None):
        """[(name, {labels}, value)] of a scrape."""
        return parse(self.metrics(), name)

    def wait_for(self, pred, timeout=20, what="the metrics"):
        """Scrapes until pred(series) is true; returns the last series."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.series()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                fail("%s did not come within %ds" % (what, timeout),
                     "\n".join(describe(s, "goleak|waits|churn|gohealthy")))
            time.sleep(0.5)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        """Open fds but sockets (HTTP connections come and go with the scrapes)."""
        d = "/proc/%d/fd" % self.proc.pid
        out = 0
        for fd in os.listdir(d):
            try:
                out += not os.readlink(os.path.join(d, fd)).startswith("socket:")
            except OSError:
                pass
        return out


def parse(text, name=None):
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        check(m, "a series line", repr(line))
        if name and m.group(1) != name:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\")
                  for k, v in LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def value(series, name, **labels):
    """The sum of the series of name whose labels include these, None if there is none."""
    hits = [v for n, l, v in series if n == name and all(l.get(k) == w for k, w in labels.items())]
    return sum(hits) if hits else None


def process_info(series, pid):
    """The labels of pid's strand_process_info, which must be there exactly once."""
    infos = [l for n, l, _ in series if n == "strand_process_info" and l.get("pid") == str(pid)]
    expect_eq(len(infos), 1, "one strand_process_info for pid %d" % pid)
    return infos[0] if infos else {}


def describe(series, comm_pattern):
    return ["%s%s %g" % (n, json.dumps(l, sort_keys=True), v) for n, l, v in series
            if re.search(comm_pattern, l.get("comm", "")) or n.startswith("strand_tracked")]


def promtool(*args, stdin=None):
    r = subprocess.run(["promtool"] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=60, check=False)
    return r.returncode, r.stdout + r.stderr


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping the daemon every second, with
    rules from a file; its data in a temporary directory."""

    def __init__(self, session, daemon, rules_text=None):
        self.dir = tempfile.mkdtemp(prefix="strand-prometheus-")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        rules = ""
        if rules_text:
            with open(os.path.join(self.dir, "rules.yml"), "w") as f:
                f.write(rules_text)
            rules = "rule_files: [rules.yml]\n"
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n%s"
                    "scrape_configs:\n  - job_name: strand\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % (rules, daemon.port))
            if daemon.tls:  # as Prometheus scrapes an exporter behind its web config
                f.write("    scheme: https\n    tls_config: {ca_file: %s}\n"
                        % json.dumps(daemon.tls.ca))
                if daemon.tls.user:
                    f.write("    basic_auth: {username: %s, password: %s}\n"
                            % (json.dumps(daemon.tls.user), json.dumps(daemon.tls.password)))
        self.proc = Proc(session, ["prometheus", "--config.file=" +
                                   os.path.join(self.dir, "prometheus.yml"),
                                   "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                                   "--web.listen-address=127.0.0.1:%d" % self.port],
                         label="prometheus")
        deadline = time.monotonic() + 30
        while get(self.base + "/-/ready")[0] != 200:
            if time.monotonic() > deadline:
                fail("prometheus did not get ready", self.proc.describe())
            time.sleep(0.3)

    def close(self):
        self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, path, **params):
        status, body, _ = get(self.base + path + "?" + urllib.parse.urlencode(params))
        check(status == 200, "prometheus %s answers" % path, status, body[:500])
        return json.loads(body)["data"]

    def query(self, q):
        """{labels-json: value} of an instant query."""
        data = self.api("/api/v1/query", query=q)
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
                for r in data["result"]}

    def wait_query(self, q, pred, timeout=30, what=None):
        deadline = time.monotonic() + timeout
        while True:
            res = self.query(q)
            if pred(res):
                return res
            if time.monotonic() > deadline:
                fail("%s: not within %ds" % (what or q, timeout), json.dumps(res, indent=1))
            time.sleep(0.5)
