"""Real servers nobody here wrote, from Debian's packages (scripts/deps.sh installs them), and
the two services written in tests/ in other languages: each started on loopback in a
scratch directory of its own, as a Session's process (killed by pid on every path), with a
light load to put on it and the pid strand traces.

    with Session() as s, scratch() as tmp:
        srv = REDIS.start(s, tmp)     # waits until it serves
        srv.load()                    # a light load, returns once served
        srv.pid                       # what `strand trace -p` traces
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from harness import ROOT, Proc, check, fail

JAVA_CLASSES = ROOT / "build" / "targets" / "java"
PY_SERVER = ROOT / "tests" / "targets" / "python" / "pyserver.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


@contextmanager
def scratch():
    d = tempfile.mkdtemp(prefix="strand-srv-")
    os.chmod(d, 0o755)  # the servers that drop root (nginx, postgres) read it
    try:
        yield Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(proc, port, timeout=20):
    """Until 127.0.0.1:port accepts a connection (or proc died)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        check(proc.popen.poll() is None, "%s exited before serving" % proc.label, proc.describe())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    fail("%s did not listen on %d within %ds" % (proc.label, port, timeout), proc.describe())


def http_gets(port, n, path="/", every=0.0):
    """n GETs one after the other, one every `every` seconds (0: at once), as traffic comes."""
    for i in range(n):
        t0 = time.monotonic()
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            r.read()
        if every and i < n - 1:
            time.sleep(max(0.0, every - (time.monotonic() - t0)))


def children(pid):
    try:
        return [int(c) for c in
                Path("/proc/%d/task/%d/children" % (pid, pid)).read_text().split()]
    except OSError:
        return []


class Running:
    """A started server: its process, the pid to trace, and how to load it."""

    def __init__(self, name, proc, pid, load):
        self.name, self.proc, self.pid, self._load = name, proc, pid, load

    def load(self):
        self._load()


def start_redis(s, tmp):
    port = free_port()
    p = Proc(s, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--io-threads",
                 "2", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir",
                 str(tmp), "--logfile", ""], label="redis-server")
    wait_port(p, port)

    def load():
        r = subprocess.run(["redis-benchmark", "-p", str(port), "-n", "400", "-c", "4", "-q",
                            "-t", "set,get"], capture_output=True, timeout=30)
        check(r.returncode == 0, "redis-benchmark ran", r.stderr.decode()[-2000:])
    return Running("redis", p, p.pid, load)


def start_memcached(s, tmp):
    port = free_port()
    p = Proc(s, ["memcached", "-t", "4", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-u",
                 "root"], label="memcached")
    wait_port(p, port)

    def load():
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            f = c.makefile("rwb")
            for i in range(50):
                f.write(b"set k%d 0 0 1\r\nx\r\nget k%d\r\n" % (i, i))
                f.flush()
                for want in (b"STORED", b"VALUE", b"x", b"END"):
                    line = f.readline()
                    check(line.startswith(want), "memcached answered %r" % want, line)
    return Running("memcached", p, p.pid, load)


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log stderr warn;
thread_pool default threads=4 max_queue=65536;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location / {{ sendfile off; aio threads; }}
    }}
}}
"""


def start_nginx(s, tmp):
    """The thread pool lives in the worker process: that is the one traced."""
    port = free_port()
    (tmp / "www").mkdir()
    (tmp / "www" / "big").write_bytes(os.urandom(256 << 10))
    (tmp / "www").chmod(0o755)
    (tmp / "www" / "big").chmod(0o644)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    p = Proc(s, ["nginx", "-c", str(conf), "-p", str(tmp)], label="nginx")
    wait_port(p, port)
    end = time.monotonic() + 10
    while not children(p.pid) and time.monotonic() < end:
        time.sleep(0.05)
    kids = children(p.pid)
    check(len(kids) == 1, "nginx has one worker", kids, p.describe())
    return Running("nginx", p, kids[0], lambda: http_gets(port, 20, "/big"))


def start_postgres(s, tmp):
    port = free_port()
    data = tmp / "pg"
    data.mkdir()
    shutil.chown(data, "postgres", "postgres")
    shutil.chown(tmp, "postgres", "postgres")  # its socket and lock file go there
    as_pg = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    r = subprocess.run(as_pg + [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                                "postgres", "--no-sync"], capture_output=True, timeout=60,
                       cwd=str(tmp))
    check(r.returncode == 0, "initdb", r.stdout.decode()[-2000:], r.stderr.decode()[-2000:])
    p = Proc(s, as_pg + [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port), "-k",
                         str(tmp), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
             label="postgres")
    wait_port(p, port)

    def load():
        for _ in range(5):
            r = subprocess.run(as_pg + ["psql", "-h", str(tmp), "-p", str(port), "-U",
                                        "postgres", "-Atc", "select count(*) from pg_class"],
                               capture_output=True, timeout=30, cwd=str(tmp))
            check(r.returncode == 0, "psql", r.stderr.decode()[-2000:])
    return Running("postgres", p, p.pid, load)


def _listening_port(p, what):
    line = p.out.wait_for(lambda ls: next((l for l in ls if l.startswith("listening")), None),
                          30)
    check(line is not None, "%s did not say where it listens" % what, p.describe())
    return int(line.split()[1])


# The load on the services written here: 20 requests, at once, or in leak mode one every
# 100 ms, as traffic comes (a leak grows with it)
# The JIT made eager on the path a Java thread is started by: those methods compiled at
# their fifth call (not after thousands), the others never (eager on every method, the
# compiler's queue took seconds on a loaded machine), so that the leak's path is compiled
# while traced (Executors$DelegatedExecutorService.submit is called by it alone); what was
# compiled is said on stderr.
JIT_EAGER = ["-XX:Tier0InvokeNotifyFreqLog=0", "-XX:Tier3InvocationThreshold=5",
             "-XX:Tier3MinInvocationThreshold=5", "-XX:Tier3CompileThreshold=5",
             "-XX:CompileOnly=java.lang.Thread::start,"
             "java.util.concurrent.ThreadPoolExecutor::execute,"
             "java.util.concurrent.ThreadPoolExecutor::addWorker,"
             "java.util.concurrent.AbstractExecutorService::submit,"
             "java.util.concurrent.Executors$DelegatedExecutorService::submit",
             "-XX:+PrintCompilation", "-XX:+DisplayVMOutputToStderr"]


def start_java(s, tmp, mode="pool", jit_eager=False):
    p = Proc(s, ["java", "-Xmx64m"] + (JIT_EAGER if jit_eager else []) +
             ["-cp", str(JAVA_CLASSES), "HttpPool", mode, "8"], label="java")
    port = _listening_port(p, "the Java service")
    every = 0.1 if mode == "leak" else 0.0
    return Running("java", p, p.pid, lambda: http_gets(port, 20, every=every))


def start_python(s, tmp, mode="pool"):
    # Debian's CPython (python3 in PATH may be another build)
    p = Proc(s, ["/usr/bin/python3", str(PY_SERVER), mode, "4"], label="python3")
    port = _listening_port(p, "the Python service")
    every = 0.1 if mode == "leak" else 0.0
    return Running("python", p, p.pid, lambda: http_gets(port, 20, every=every))


def start_prometheus(s, tmp):
    """Debian's prometheus (Go), scraping itself every second: its scrape loop, TSDB head,
    rule manager, notifier and web handlers are goroutines that wait long by design."""
    port = free_port()
    with open(tmp / "prometheus.yml", "w") as f:
        f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n  - job_name: self\n    static_configs:\n"
                "      - targets: ['127.0.0.1:%d']\n" % port)
    p = Proc(s, ["prometheus", "--config.file=" + str(tmp / "prometheus.yml"),
                 "--storage.tsdb.path=" + str(tmp / "data"),
                 "--web.listen-address=127.0.0.1:%d" % port], label="prometheus")
    wait_port(p, port, timeout=30)
    return Running("prometheus", p, p.pid,
                   lambda: http_gets(port, 20, path="/api/v1/query?query=up"))


SERVERS = {
    "redis": start_redis,
    "memcached": start_memcached,
    "nginx": start_nginx,
    "postgres": start_postgres,
    "java": start_java,
    "python": start_python,
    "prometheus": start_prometheus,
}
