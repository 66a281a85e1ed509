"""Certificates (a CA, a server and a client certificate, made with openssl) and htpasswd files.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Dict

from workdirs import mkdirs

# Names kept identical between front ends where possible, so tests can refer to them.
HTPASSWD_USER = "alice"
HTPASSWD_PASSWORD = "wonder land"


def make_pki(d: Path) -> Dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    mkdirs(d)
    p = {k: d / v for k, v in {
        "ca_key": "ca.key", "ca": "ca.crt", "server_key": "server.key", "server": "server.crt",
        "client_key": "client.key", "client": "client.crt", "ext": "ext.cnf"}.items()}
    if all(p[k].exists() for k in ("ca", "server", "client", "server_key", "client_key")):
        return p

    def run(*args):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")
    p["ext"].write_text(
        "[server]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=CA:FALSE\n"
        "[client]\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-sha256",
        "-keyout", str(p["ca_key"]), "-out", str(p["ca"]),
        "-subj", "/O=IDMB Test/CN=IDMB Test CA")
    for kind, subj in (("server", "/O=IDMB Test/CN=127.0.0.1"),
                       ("client", "/O=IDMB Test/OU=Smart Cards/CN=Test User 42")):
        csr = d / f"{kind}.csr"
        run("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-keyout", str(p[f"{kind}_key"]),
            "-out", str(csr), "-subj", subj)
        run("x509", "-req", "-in", str(csr), "-CA", str(p["ca"]), "-CAkey", str(p["ca_key"]),
            "-CAcreateserial", "-days", "30", "-sha256", "-extfile", str(p["ext"]),
            "-extensions", kind, "-out", str(p[kind]))
    for k in ("ca_key", "server_key", "client_key"):
        os.chmod(p[k], 0o600)  # read by httpd as root before it drops privileges
    return p


def write_htpasswd(path: Path, users: Dict[str, str]) -> Path:
    """An htpasswd file with {SHA} hashes (readable by www-data)."""
    lines = []
    for user, pw in users.items():
        h = base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()
        lines.append(f"{user}:{{SHA}}{h}\n")
    path.write_text("".join(lines))
    os.chmod(path, 0o644)
    return path

