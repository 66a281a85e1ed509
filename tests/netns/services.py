"""The servers of the floating-address test, each inside a namespace of a netns.Lab: Tomcat
(the integration harness's, bound to the namespace's address), httpd with the
active/passive example included as it is, and keepalived with the example's keepalived.conf.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import netns as nn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import stack as stk  # noqa: E402

EXAMPLE = REPO / "conf" / "examples" / "active-passive"
MODULE_CONF = REPO / "conf" / "idmbalance.conf"  # what a2enmod idmbalance enables


def comm_pids(ns: str, name: str) -> List[int]:
    return [p for p in nn.pids_in(ns) if nn.comm(p) == name]


def crash(ns: str, name: str) -> float:
    """Every process called `name` in namespace `ns` dies at once, as in a crash: all are
    stopped first, so none acts on another's death (keepalived's VRRP child would send its
    goodbye advertisement when the parent goes, httpd's parent would start new children).
    Returns the time (monotonic) at which they stopped."""
    pids = comm_pids(ns, name)
    if not pids:
        raise RuntimeError(f"no {name} runs in {ns}")
    when = time.monotonic()
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in pids:
            stk.signal_pid(p, sig)
    nn.wait_until(lambda: not any(stk.pid_alive(p) for p in pids), 10, f"{name} in {ns} to die")
    return when


class NsTomcat(stk.Tomcat):
    """stack.Tomcat with its AJP and HTTP connectors on `address`, run by `ip netns exec`."""

    def __init__(self, workdir: Path, name: str, ns: str, address: str, secret: str,
                 webapps: Dict[str, Path]):
        super().__init__(workdir, name, ajp=[stk.AjpConnector(8009, secret=secret)],
                         http_port=8080, webapps=webapps)
        self.ns = ns
        self.address = address

    def server_xml(self) -> str:
        xml = super().server_xml()
        if xml.count('address="127.0.0.1"') != 2:  # one AJP and one HTTP connector
            raise RuntimeError("stack.Tomcat.server_xml changed: cannot set the address")
        return xml.replace('address="127.0.0.1"', f'address="{self.address}"')

    def start(self, timeout: float = 90.0, detach: bool = False) -> "NsTomcat":
        self.write_base()
        offset = stk.file_size(self.stdout_log)
        self._out = open(self.stdout_log, "ab")
        # `ip netns exec` and `catalina.sh run` both exec: the pid is the JVM's.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, str(stk.CATALINA_HOME / "bin" / "catalina.sh"), "run"],
            env=self.env(), cwd=str(self.base), stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        self.pidfile.write_text(str(self.pid))
        self.wait_started(timeout, offset)
        return self

    def wait_started(self, timeout: float, out_offset: int = 0) -> None:
        def ready():
            if not self.is_running():
                raise RuntimeError(f"Tomcat {self.name} exited:\n" + stk.tail(self.stdout_log, 40, out_offset))
            return ("Server startup in" in stk.tail(self.stdout_log, 400, out_offset)
                    and nn.run_in(self.ns, nn.tcp_open, self.address, 8009))
        nn.wait_until(ready, timeout, f"Tomcat {self.name} on {self.address}:8009", 0.2)


def substituted(text: str, subst: Dict[str, str]) -> str:
    """`text` with each key replaced by its value; a key missing from `text` is an error, so a
    changed example cannot silently escape the substitution."""
    for old, new in subst.items():
        if old not in text:
            raise RuntimeError(f"{old!r} is not in the example any more")
        text = text.replace(old, new)
    return text


class FrontEnd:
    """One front end host: httpd with the example config, and keepalived."""

    def __init__(self, lab: nn.Lab, host: str, config_id: str, workdir: Path, module: Path):
        self.lab = lab
        self.host = host
        self.ns = lab.ns(host)
        self.config_id = config_id
        self.root = workdir / host
        self.module = module
        self.conf = self.root / "conf" / "httpd.conf"
        self.ka_dir = self.root / "keepalived"
        self.ka_log = self.root / "logs" / "keepalived.log"
        self.keepalived: Optional[subprocess.Popen] = None
        self._ka_out = None

    # -- httpd
    def write_httpd(self) -> None:
        """A main config in the role of Debian's apache2.conf and ports.conf, which includes
        the module's idmbalance.conf and the example as they are."""
        for d in ("conf", "logs", "run", "htdocs"):
            stk.mkdirs(self.root / d)
        (self.root / "conf" / "idmbalance-app.conf").write_text(
            (EXAMPLE / "idmbalance-app.conf").read_text())
        mods = "".join(f'LoadModule {m}_module "{stk.APACHE_MODULES}/mod_{m}.so"\n'
                       for m in ("mpm_event", "authz_core", "authz_host", "headers", "mime"))
        r = self.root
        self.conf.write_text(f"""# Generated by tests/netns/services.py for front end {self.host}
ServerRoot "{r}"
DefaultRuntimeDir "{r}/run"
PidFile "{r}/run/httpd.pid"
Mutex file:{r}/run default
ServerName {self.host}
Listen 80
{mods}LoadModule idmbalance_module "{self.module}"
User www-data
Group www-data
ErrorLog "{r}/logs/error.log"
LogLevel info
LogFormat "%h %t \\"%r\\" %>s %b %D %{{X-Route}}o" netns
CustomLog "{r}/logs/access.log" netns
TypesConfig /etc/mime.types
DocumentRoot "{r}/htdocs"
# The test's only addition: which front end answered.
Header always set X-Front-End {self.host}
Include "{MODULE_CONF}"
Include "{r}/conf/idmbalance-app.conf"
""")

    def _apache(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.lab.exec_cmd(self.host, str(stk.APACHE_BIN), "-d", str(self.root),
                                                "-f", str(self.conf), *args),
                              capture_output=True, text=True, timeout=60,
                              env=stk.apache_env(self.module))

    def start_httpd(self, timeout: float = 30.0) -> None:
        if comm_pids(self.ns, "apache2"):
            raise RuntimeError(f"{self.host}: httpd already runs")
        # A crashed parent may not be reaped yet: apache2 would take its pid file for a
        # running server and do nothing.
        (self.root / "run" / "httpd.pid").unlink(missing_ok=True)
        r = self._apache("-k", "start")
        if r.returncode != 0:
            raise RuntimeError(f"{self.host}: apache2 -k start: {r.stdout}{r.stderr}")
        nn.wait_until(self.httpd_answers, timeout, f"{self.host}'s httpd", 0.1)

    def httpd_answers(self) -> bool:
        return bool(nn.run_in(self.ns, nn.tcp_open, "127.0.0.1", 80))

    def kill_httpd(self) -> float:
        """kill -9 of the parent and every child together: the host's httpd crashes."""
        return crash(self.ns, "apache2")

    def stop_httpd(self) -> None:
        if comm_pids(self.ns, "apache2"):
            self._apache("-k", "stop")
        nn.wait_until(lambda: not comm_pids(self.ns, "apache2"), 15, f"{self.host}'s httpd to stop")

    # -- keepalived
    def write_keepalived(self) -> Path:
        """The example's keepalived.conf and check script; only the script's path differs."""
        stk.mkdirs(self.ka_dir)
        check = self.ka_dir / "check-httpd.sh"
        check.write_text((EXAMPLE / "check-httpd.sh").read_text())
        os.chmod(check, 0o755)
        conf = self.ka_dir / "keepalived.conf"
        conf.write_text(substituted((EXAMPLE / "keepalived.conf").read_text(),
                                    {'"/etc/keepalived/check-httpd.sh"': f'"{check}"'}))
        return conf

    def start_keepalived(self) -> None:
        if comm_pids(self.ns, "keepalived"):
            raise RuntimeError(f"{self.host}: keepalived already runs")
        conf = self.write_keepalived()
        for pidfile in ("keepalived.pid", "vrrp.pid"):  # a crashed one's, maybe not reaped yet
            (self.ka_dir / pidfile).unlink(missing_ok=True)
        self._ka_out = open(self.ka_log, "ab")
        # -n: stay in the foreground (our child), -P: VRRP only, -G -l: log here, not syslog.
        self.keepalived = subprocess.Popen(
            self.lab.exec_cmd(self.host, "keepalived", "-n", "-P", "-l", "-D", "-G",
                              "-f", str(conf), "-i", self.config_id,
                              "-p", str(self.ka_dir / "keepalived.pid"),
                              "-r", str(self.ka_dir / "vrrp.pid")),
            stdin=subprocess.DEVNULL, stdout=self._ka_out, stderr=subprocess.STDOUT,
            start_new_session=True)
        nn.wait_until(lambda: "Startup complete" in stk.tail(self.ka_log, 200) or self._ka_died(),
                      20, f"{self.host}'s keepalived")
        if self._ka_died():
            raise RuntimeError(f"{self.host}: keepalived exited:\n" + stk.tail(self.ka_log, 40))

    def _ka_died(self) -> bool:
        return self.keepalived is not None and self.keepalived.poll() is not None

    def kill_keepalived(self) -> float:
        """kill -9 of keepalived's parent and VRRP child together: keepalived crashes."""
        when = crash(self.ns, "keepalived")
        if self.keepalived is not None:
            self.keepalived.wait(10)
        if self._ka_out:
            self._ka_out.close()
            self._ka_out = None
        return when

    def holds(self, addr: str) -> bool:
        return bool(nn.run_in(self.ns, nn.address_is_local, addr))

    def logs(self) -> List[Path]:
        return [self.root / "logs" / "error.log", self.ka_log]
