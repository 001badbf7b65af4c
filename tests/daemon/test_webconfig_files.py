"""The example web configuration (deploy/web-config.yml) as the exporters' own checker
reads it: `promtool check web-config` (Debian's prometheus) accepts it as shipped and with
its client-certificate lines uncommented. promtool opens the cert, key and CA files, which
the example names relative to itself (in the pod: the Secret's files beside it): the
example is copied unchanged into a directory with a throwaway self-signed certificate and
key (openssl). No daemon, no root."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import ROOT, check, expect_eq

EXAMPLE = ROOT / "deploy" / "web-config.yml"


def _promtool(path):
    r = subprocess.run(["promtool", "check", "web-config", str(path)], capture_output=True,
                       text=True, timeout=30, check=False)
    return r.returncode, r.stdout + r.stderr


def _secret_files(d):
    """tls.crt and tls.key as the Secret puts them beside the config, the certificate also
    as the clients' CA (ca.crt)."""
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=strand",
                        "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")],
                       capture_output=True, text=True, timeout=30, check=False)
    expect_eq(r.returncode, 0, "openssl makes a certificate", r.stderr)
    shutil.copy(d / "tls.crt", d / "ca.crt")


def test_example_passes_promtool():
    text = EXAMPLE.read_text()
    with tempfile.TemporaryDirectory(prefix="strand-webconfig-") as tmp:
        d = Path(tmp)
        # promtool opens the files: without them it refuses, so its yes below is worth
        # something
        shutil.copy(EXAMPLE, d / "web-config.yml")
        rc, out = _promtool(d / "web-config.yml")
        check(rc != 0 and "no such file" in out, "promtool refuses the example without its "
              "certificate and key", out)

        _secret_files(d)
        rc, out = _promtool(d / "web-config.yml")
        expect_eq(rc, 0, "promtool check web-config accepts the example", out)

        # the guidance's two lines uncommented: client certificates verified against the CA
        lines = text.splitlines(keepends=True)
        mtls = [l.replace("# ", "", 1) if l.lstrip().startswith(
            ("# client_auth_type:", "# client_ca_file:")) else l for l in lines]
        check(sum(a != b for a, b in zip(lines, mtls)) == 2,
              "the example has client_auth_type and client_ca_file lines to uncomment", text)
        check("  client_auth_type: RequireAndVerifyClientCert\n" in mtls, "uncommented",
              "".join(mtls))
        (d / "web-config-mtls.yml").write_text("".join(mtls))
        rc, out = _promtool(d / "web-config-mtls.yml")
        expect_eq(rc, 0, "promtool accepts it with client certificates verified", out)
