"""A report that cannot be written is a failure, never a silent exit 0: every output of
`strand trace` and `strand report` (the report on stdout or -o, --json, the flame-style
files, the recording) sent to a full device, a directory or a read-only file system exits 1
with one message naming the file and the error. `strand report` reads a committed report, so
most of these need no kernel; `strand trace` traces /bin/true for real."""

import os
import shutil
import subprocess
import tempfile

import harness
from harness import check, expect_eq

SEED = harness.ROOT / "tests" / "fuzz" / "corpus" / "fuzz_recording" / "waits-mutex.json"
FULL = ("/dev/full", "No space left on device")


class InputReport:
    """A real JSON report of a C leak (a fuzz seed, whose first byte is the fuzzer's) in a
    file strand reads back, checked to render: a failure below is the output's."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="strand-in-")
        self.path = os.path.join(self.dir, "report.json")
        with open(self.path, "wb") as f:
            f.write(SEED.read_bytes()[1:])
        rc, err = _run([harness.STRAND, "report", self.path, "-o", "/dev/null"])
        expect_eq(rc, 0, "strand report of the input report", err)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class ReadOnlyDir:
    """A directory on a read-only tmpfs, mounted in a mount namespace of the command's own
    (`unshare -m`): nothing outside it sees the mount, nothing is left behind."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="strand-ro-")
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def argv(self, argv):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs -o ro strand-ro "$0" && exec "$@"', self.dir] + argv


def _run(argv, stdout=None, timeout=30):
    """(exit status, stderr) of argv; stdout to the given path (None: a pipe)."""
    out = open(stdout, "wb") if stdout else subprocess.PIPE
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                           timeout=timeout)
    finally:
        if stdout:
            out.close()
    return p.returncode, p.stderr.decode("utf-8", "replace")


def _expect_failure(argv, names, error, stdout=None, what=None):
    rc, err = _run(argv, stdout)
    what = what or " ".join(argv[-6:])
    expect_eq(rc, 1, "exit status of %s" % what, err)
    lines = [l for l in err.splitlines() if l.startswith("strand: cannot write")]
    check(len(lines) == 1 and names in lines[0] and error in lines[0],
          "%s: one line naming %r and %r" % (what, names, error), err)


def _report(*args):
    return [harness.STRAND, "report"] + list(args)


def test_report_to_a_full_device():
    with InputReport() as rep:
        _report_to_a_full_device(rep)


def _report_to_a_full_device(rep):
    dev, error = FULL
    stdout = "the standard output"
    _expect_failure(_report(rep), stdout, error, stdout=dev, what="report > /dev/full")
    _expect_failure(_report("--json", rep), stdout, error, stdout=dev,
                    what="report --json > /dev/full")
    _expect_failure(_report("--base", rep, rep), stdout, error, stdout=dev,
                    what="report --base > /dev/full")
    _expect_failure(_report(rep, "-o", dev), dev, error)
    _expect_failure(_report("--json", rep, "-o", dev), dev, error)
    for fmt in ("svg", "pprof", "folded", "speedscope"):
        _expect_failure(_report(rep, "--" + fmt, dev), dev, error)
        _expect_failure(_report(rep, "--" + fmt, "-"), stdout, error, stdout=dev,
                        what="report --%s - > /dev/full" % fmt)


def test_report_to_a_directory_or_a_read_only_file_system():
    with InputReport() as rep, tempfile.TemporaryDirectory(prefix="strand-out-") as d, \
            ReadOnlyDir() as ro:
        for args in (["-o", d], ["--json", "-o", d], ["--svg", d], ["--pprof", d]):
            _expect_failure(_report(rep, *args), "'%s'" % d, "Is a directory")
        target = os.path.join(ro.dir, "r.txt")
        for args in (["-o", target], ["--json", "-o", target], ["--folded", target]):
            _expect_failure(ro.argv(_report(rep, *args)), target, "Read-only file system")
        # nothing was written anywhere
        expect_eq(os.listdir(d), [], "files left in the directory")


def _trace(*args):
    return [harness.STRAND, "trace", "-q"] + list(args) + ["--", "/bin/true"]


def test_trace_to_a_full_device_a_directory_or_a_read_only_file_system():
    dev, error = FULL
    _expect_failure(_trace(), "the standard output", error, stdout=dev,
                    what="trace -- true > /dev/full")
    _expect_failure(_trace("--json"), "the standard output", error, stdout=dev,
                    what="trace --json -- true > /dev/full")
    _expect_failure(_trace("--json", "-o", dev), dev, error)
    _expect_failure(_trace("--svg", dev), dev, error)
    _expect_failure(_trace("--record", dev), dev, error)
    with tempfile.TemporaryDirectory(prefix="strand-out-") as d, ReadOnlyDir() as ro:
        # refused before tracing: the path cannot be written
        for args in (["-o", d], ["--record", d], ["--pprof", d]):
            _expect_failure(_trace(*args), "'%s'" % d, "Is a directory")
        target = os.path.join(ro.dir, "r.json")
        _expect_failure(ro.argv(_trace("--json", "-o", target)), target,
                        "Read-only file system")
