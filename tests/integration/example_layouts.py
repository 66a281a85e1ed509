"""The example configurations (conf/examples/) in a real apache2, as they are.

An example names its Tomcats' AJP connectors 127.0.0.1:8009, :8010, :8011, :8012 (node1..node4,
secret change-me, jvmRoute = member name) and, for a virtual host, port 80. `substitute` maps
exactly these to the test's ports and nothing else (`changed_lines` lets a test check that).

Two layouts, each a private directory outside /etc/apache2:
- `private_httpd`: the harness's own httpd.conf (stack.HttpdConfig) including the packaged
  conf/idmbalance.conf (the status pages) and the example;
- `stock_httpd`: Debian's layout: /etc/apache2's apache2.conf, ports.conf, mods-enabled (with
  idmbalance.load/.conf as `a2enmod idmbalance` leaves them, an MPM of the test's choice),
  conf-enabled and sites-enabled/000-default copied, the example in conf-enabled or
  sites-enabled; apache2 runs with -d on that copy and the APACHE_* variables of envvars set
  to private paths. /etc/apache2 is only read.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import stack as stk

EXAMPLES = stk.REPO / "conf" / "examples"
PACKAGED_CONF = stk.REPO / "conf"
EXAMPLE_SECRET = "change-me"
EXAMPLE_AJP_PORTS = {"node1": 8009, "node2": 8010, "node3": 8011, "node4": 8012}
EXAMPLE_HTTP_PORT = 80
SYSTEM_ETC = Path("/etc/apache2")


def example_text(name: str) -> str:
    return (EXAMPLES / name).read_text()


def substitute(text: str, ajp: Dict[str, int], http_port: int) -> str:
    """The example with its AJP addresses and its virtual hosts' port 80 replaced."""
    for member, port in ajp.items():
        text = text.replace(f"127.0.0.1:{EXAMPLE_AJP_PORTS[member]}", f"127.0.0.1:{port}")
    return re.sub(rf"<VirtualHost \*:{EXAMPLE_HTTP_PORT}>", f"<VirtualHost *:{http_port}>", text)


def changed_lines(original: str, substituted: str) -> List[str]:
    """Lines that differ: each must be an AJP address or a <VirtualHost *:80> line."""
    a, b = original.splitlines(), substituted.splitlines()
    assert len(a) == len(b), "the substitution changed the number of lines"
    return [x for x, y in zip(a, b) if x != y]


def example_tomcats(workdir: Path, names: Sequence[str]) -> List[stk.Tomcat]:
    """Tomcats as the examples describe them: jvmRoute = name, AJP with secret change-me; the
    test webapp at /app, /operator and /selfservice."""
    apps = stk.build_webapp(workdir)
    out = []
    for name in names:
        t = stk.Tomcat(workdir, name, route=name,
                       ajp=[stk.AjpConnector(stk.free_port(), 8192, EXAMPLE_SECRET)],
                       webapps={ctx: apps["app"] for ctx in ("/app", "/operator", "/selfservice")})
        t.write_base()
        out.append(t)
    return out


def ajp_ports(tomcats: Sequence[stk.Tomcat]) -> Dict[str, int]:
    return {t.name: t.ajp_port for t in tomcats}


def private_httpd(root: Path, port: int, module: Path, example: str, mpm: str = "event",
                  extra: str = "") -> stk.Httpd:
    """The harness's layout: its httpd.conf, the packaged idmbalance.conf, then the example."""
    conf = root / "conf" / "example.conf"
    cfg = stk.HttpdConfig(root, port, "idmbalance", module, mpm=mpm,
                          extra=f'Include "{PACKAGED_CONF / "idmbalance.conf"}"\n'
                                f'Include "{conf}"\n' + extra)
    h = stk.Httpd(cfg)
    h.write()
    conf.write_text(example)
    return h


class StockHttpd(stk.Httpd):
    """Debian's apache2 layout in a private ServerRoot (see the module docstring)."""

    def __init__(self, root: Path, port: int, module: Path, mpm: str = "event"):
        super().__init__(stk.HttpdConfig(root, port, "idmbalance", module, mpm=mpm))
        self.conf_path = self.root / "apache2.conf"

    def _env(self) -> Optional[Dict[str, str]]:
        env = stk.apache_env(self.config.module) or dict(os.environ)
        env.update(APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
                   APACHE_PID_FILE=str(self.pidfile), APACHE_RUN_DIR=str(self.root / "run"),
                   APACHE_LOCK_DIR=str(self.root / "lock"), APACHE_LOG_DIR=str(self.root / "logs"))
        return env

    def write(self, text: Optional[str] = None) -> Path:  # the layout is made by stock_httpd
        return self.conf_path


def _enable(root: Path, kind: str, name: str) -> None:
    """What a2enmod/a2enconf/a2ensite do: a relative symlink in KIND-enabled/."""
    link = root / f"{kind}-enabled" / name
    link.unlink(missing_ok=True)
    link.symlink_to(f"../{kind}-available/{name}")


def _copy_enabled(root: Path, kind: str, skip) -> None:
    for entry in sorted((SYSTEM_ETC / f"{kind}-enabled").iterdir()):
        if not skip(entry.name) and (root / f"{kind}-available" / entry.name).exists():
            _enable(root, kind, entry.name)


def stock_httpd(root: Path, port: int, module: Path, example: str, kind: str = "conf",
                name: str = "idmbalance-app.conf", mpm: str = "event") -> StockHttpd:
    """Debian's layout with the module enabled as a2enmod does and the example as a conf
    snippet (kind "conf") or a site ("sites"); Listen and 000-default moved to `port`."""
    if root.exists():
        shutil.rmtree(root)
    stk.mkdirs(root, root / "run", root / "lock", root / "logs")
    shutil.copy(SYSTEM_ETC / "apache2.conf", root / "apache2.conf")
    for kind_dir in ("mods", "conf", "sites"):
        shutil.copytree(SYSTEM_ETC / f"{kind_dir}-available", root / f"{kind_dir}-available", symlinks=True)
        stk.mkdirs(root / f"{kind_dir}-enabled")
    ports = (SYSTEM_ETC / "ports.conf").read_text()
    (root / "ports.conf").write_text(re.sub(r"^Listen 80$", f"Listen 127.0.0.1:{port}", ports, flags=re.M))
    site = root / "sites-available" / "000-default.conf"
    site.write_text(site.read_text().replace("<VirtualHost *:80>", f"<VirtualHost *:{port}>"))
    # The system's modules but its MPM (ours instead) and anything of ours or mod_jk's that a
    # package test running elsewhere may have enabled meanwhile.
    _copy_enabled(root, "mods", lambda n: n.startswith(("mpm_", "idmbalance.", "jk.")))
    for f in (f"mpm_{mpm}.load", f"mpm_{mpm}.conf"):
        if (root / "mods-available" / f).exists():
            _enable(root, "mods", f)
    load = (PACKAGED_CONF / "idmbalance.load").read_text()
    (root / "mods-available" / "idmbalance.load").write_text(
        load.replace("/usr/lib/apache2/modules/mod_idmbalance.so", str(module)))
    shutil.copy(PACKAGED_CONF / "idmbalance.conf", root / "mods-available" / "idmbalance.conf")
    _enable(root, "mods", "idmbalance.load")
    _enable(root, "mods", "idmbalance.conf")
    _copy_enabled(root, "conf", lambda n: False)
    _enable(root, "sites", "000-default.conf")
    (root / f"{kind}-available" / name).write_text(example)
    _enable(root, kind, name)
    return StockHttpd(root, port, module, mpm)


def start_checked(h: stk.Httpd) -> stk.Httpd:
    """configtest (any warning about the example shows in the failure), then start."""
    r = h.configtest()
    assert r.returncode == 0 and "Syntax OK" in r.stdout + r.stderr, r.stdout + r.stderr
    h.start()
    return h
