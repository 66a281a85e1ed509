#!/usr/bin/env python3
"""Test stack for mod_idmbalance: the test webapp, Tomcat 10 instances and an httpd front end.

Plain Python 3 (stdlib only). Used by the pytest fixtures (conftest.py) and as a CLI:

    python3 tests/integration/stack.py up [--workdir DIR] [--detach] [--frontend F] [--port P]
    python3 tests/integration/stack.py down --workdir DIR

Environment:
    IDMB_MODULE     path to the built mod_idmbalance.so (required for the idmbalance front end)
    IDMB_FRONTEND   idmbalance (default) | proxy_ajp — proxy_ajp renders an equivalent
                    mod_proxy + mod_proxy_ajp configuration (a known-good AJP proxy, used to
                    check the tests themselves).
    IDMB_BUILD_DIR  cmake build dir; the work dir is run_dir("integration-work"), outside the
                    checkout (see run_dir).

Everything listens on 127.0.0.1 only. Every wait is bounded by a timeout.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WEBAPP_SRC = HERE / "webapp"

CATALINA_HOME = Path("/usr/share/tomcat10")
SERVLET_API_JAR = CATALINA_HOME / "lib" / "servlet-api.jar"
TOMCAT_CONF_DIRS = [Path("/etc/tomcat10"), CATALINA_HOME / "etc"]
APACHE_BIN = Path(os.environ.get("IDMB_APACHE2", "/usr/sbin/apache2"))
APACHE_MODULES = Path("/usr/lib/apache2/modules")

DEFAULT_SECRET = "idmb-test-secret-0123456789"
# Request attributes the tests send with IdmEnvAttribute (test_mod_jk_compat.py): Tomcat's AJP
# connector refuses other names than its own unless this pattern allows them.
ALLOWED_REQUEST_ATTRIBUTES = "IDMBT_.*"
FRONTENDS = ("idmbalance", "proxy_ajp")

# Names kept identical between front ends where possible, so tests can refer to them.
HTPASSWD_USER = "alice"
HTPASSWD_PASSWORD = "wonder land"


# ---------------------------------------------------------------------------------------------
# Small utilities


def log(msg: str) -> None:
    if os.environ.get("IDMB_STACK_QUIET") != "1":
        print(f"[stack] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind to port 0, read it back, close)."""
    return free_ports(1)[0]


def free_ports(n: int) -> List[int]:
    """n distinct free ports; all sockets stay open until every port is chosen."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def proc_cmdline(pid: int) -> List[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_ppid(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def proc_status_kb(pid: int, field: str) -> Optional[int]:
    """A 'kB' field of /proc/PID/status (VmRSS, VmHWM, ...)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def all_pids() -> List[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def pids_with_arg(arg_substring: str) -> List[int]:
    """Pids whose command line has an argument containing arg_substring (a private path)."""
    out = []
    for pid in all_pids():
        if pid == os.getpid():
            continue
        if any(arg_substring in a for a in proc_cmdline(pid)):
            out.append(pid)
    return out


def signal_pid(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def terminate_pids(pids: Iterable[int], timeout: float = 10.0) -> None:
    """SIGTERM the given pids, wait, then SIGKILL whatever is left."""
    pids = [p for p in pids if pid_alive(p)]
    for p in pids:
        signal_pid(p, signal.SIGCONT)  # a SIGSTOPped process cannot act on SIGTERM
        signal_pid(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for p in pids:
        if pid_alive(p):
            signal_pid(p, signal.SIGKILL)


TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN"}


def tcp_sockets(port: int) -> List[dict]:
    """IPv4 TCP sockets (from /proc/net/tcp) with `port` as local or remote port."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lport = int(parts[1].rsplit(":", 1)[1], 16)
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    if port in (lport, rport):
                        out.append({"local": lport, "remote": rport,
                                    "state": TCP_STATES.get(parts[3], parts[3])})
        except OSError:
            pass
    return out


def backend_connection_counts(port: int) -> Dict[str, int]:
    """Connections to a backend port seen from the client side (remote port == port)."""
    counts: Dict[str, int] = {}
    for s in tcp_sockets(port):
        if s["remote"] == port:
            counts[s["state"]] = counts.get(s["state"], 0) + 1
    return counts


def tail(path: Path, lines: int = 60, since: int = 0) -> str:
    """The last `lines` lines of a file, starting no earlier than byte offset `since`."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            data = f.read()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def parse_duration_s(text: str) -> float:
    """'2s', '250ms', '1m', '5' (seconds) -> seconds."""
    t = str(text).strip().lower()
    if t.endswith("ms"):
        return float(t[:-2]) / 1000.0
    if t.endswith("s"):
        return float(t[:-1])
    if t.endswith("m"):
        return float(t[:-1]) * 60
    return float(t)


def mkdirs(*paths: Path, mode: int = 0o755) -> None:
    for p in paths:
        p.mkdir(parents=True, exist_ok=True)
        os.chmod(p, mode)


RUN_ROOT = Path("/tmp/idmbalance-run")  # not $TMPDIR: it may be private too


def run_dir(name: str) -> Path:
    """A directory for the servers' files (configs, htdocs, htpasswd, logs, CATALINA_BASE).

    apache2's children run as www-data, and a checkout may sit where www-data cannot go (a clone
    in /root is mode 0700), so these files never live in the checkout: they go to
    /tmp/idmbalance-run/<build dir digest>/<name>, one per build tree, each level mode 0755 and
    owned by us (a directory someone else made there is refused, not used).
    """
    build = os.environ.get("IDMB_BUILD_DIR")
    tree = str(Path(build).resolve()) if build else str(REPO)
    digest = hashlib.sha256(tree.encode()).hexdigest()[:12]
    path = RUN_ROOT / digest / name
    for p in (RUN_ROOT, RUN_ROOT / digest, path):
        p.mkdir(exist_ok=True)
        st = os.lstat(p)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise RuntimeError(f"{p} is not a directory of ours: remove it")
        os.chmod(p, 0o755)
    return path


def default_workdir() -> Path:
    return run_dir("integration-work")


def frontend_from_env() -> str:
    fe = os.environ.get("IDMB_FRONTEND", "idmbalance").strip() or "idmbalance"
    if fe not in FRONTENDS:
        raise SystemExit(f"IDMB_FRONTEND={fe!r}: must be one of {', '.join(FRONTENDS)}")
    return fe


def module_from_env(frontend: str, required: bool = True) -> Optional[Path]:
    """The mod_idmbalance.so to load; error out clearly when it is needed and missing."""
    if frontend != "idmbalance":
        return None
    m = os.environ.get("IDMB_MODULE")
    if not m:
        guess = REPO / "build" / "mod_idmbalance" / "mod_idmbalance.so"
        if not required and guess.exists():
            return guess
        raise RuntimeError(
            "IDMB_MODULE is not set: point it at the built mod_idmbalance.so "
            "(or set IDMB_FRONTEND=proxy_ajp to run the suite against mod_proxy_ajp)")
    p = Path(m).resolve()
    if not p.is_file():
        raise RuntimeError(f"IDMB_MODULE={m}: no such file")
    return p


# ---------------------------------------------------------------------------------------------
# Test webapp


def build_webapp(workdir: Path) -> Dict[str, Path]:
    """Compile the servlets and lay out exploded webapps.

    Returns {"app": .../webapps/app, "escaped": .../webapps/escaped}. `app` is deployed at
    /app; `escaped` (same echo servlet) at /escaped, so path-escape tests can tell whether a
    request left the /app context.
    """
    out = workdir / "webapp"
    classes = out / "classes"
    if out.exists():
        shutil.rmtree(out)
    mkdirs(out, classes)
    sources = sorted(str(p) for p in (WEBAPP_SRC / "src").rglob("*.java"))
    if not sources:
        raise RuntimeError(f"no Java sources under {WEBAPP_SRC / 'src'}")
    cmd = ["javac", "--release", "17", "-encoding", "UTF-8", "-cp", str(SERVLET_API_JAR),
           "-d", str(classes)] + sources
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"javac failed:\n{r.stdout}\n{r.stderr}")
    apps = {}
    for name, webxml in (("app", "web.xml"), ("escaped", "web-escaped.xml")):
        root = out / "webapps" / name
        mkdirs(root / "WEB-INF")
        shutil.copytree(classes, root / "WEB-INF" / "classes")
        shutil.copy(WEBAPP_SRC / webxml, root / "WEB-INF" / "web.xml")
        apps[name] = root
    return apps


# ---------------------------------------------------------------------------------------------
# Tomcat


def _find_tomcat_conf(name: str) -> Path:
    for d in TOMCAT_CONF_DIRS:
        if (d / name).is_file():
            return d / name
    raise RuntimeError(f"cannot find Tomcat's {name} in {TOMCAT_CONF_DIRS}")


def _java_home() -> Optional[str]:
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java:
        return str(Path(java).resolve().parent.parent)
    return None


@dataclasses.dataclass
class AjpConnector:
    port: int
    packet_size: int = 8192
    secret: str = DEFAULT_SECRET
    extra: str = ""        # extra XML attributes


class Tomcat:
    """One Tomcat 10 instance with a private CATALINA_BASE, started with `catalina.sh run`."""

    def __init__(self, workdir: Path, name: str, route: Optional[str] = None,
                 ajp: Optional[Sequence[AjpConnector]] = None, http_port: Optional[int] = None,
                 webapps: Optional[Dict[str, Path]] = None, heap_mb: int = 256):
        self.name = name
        self.route = route or name
        self.base = (workdir / f"tomcat-{name}").resolve()
        self.ajp = list(ajp) if ajp else [AjpConnector(free_port())]
        self.http_port = http_port
        self.webapps = dict(webapps or {})
        self.heap_mb = heap_mb
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self._out = None

    # -- layout
    @property
    def ajp_port(self) -> int:
        return self.ajp[0].port

    @property
    def secret(self) -> str:
        return self.ajp[0].secret

    @property
    def pidfile(self) -> Path:
        return self.base / "tomcat.pid"

    @property
    def stdout_log(self) -> Path:
        return self.base / "logs" / "catalina.out"

    def log_files(self) -> List[Path]:
        return [self.stdout_log] + sorted((self.base / "logs").glob("access*.log"))

    def server_xml(self) -> str:
        conns = []
        for c in self.ajp:
            conns.append(
                f'    <Connector protocol="AJP/1.3" address="127.0.0.1" port="{c.port}"\n'
                f'               secretRequired="true" secret="{c.secret}"\n'
                f'               tomcatAuthentication="false" packetSize="{c.packet_size}"\n'
                f'               allowedRequestAttributesPattern="{ALLOWED_REQUEST_ATTRIBUTES}"\n'
                f'               bindOnInit="false" maxThreads="200" {c.extra}/>')
        if self.http_port:
            conns.append(
                f'    <Connector protocol="HTTP/1.1" address="127.0.0.1" port="{self.http_port}"\n'
                f'               bindOnInit="false" connectionTimeout="20000" maxThreads="200"/>')
        conns_xml = "\n".join(conns)
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by tests/integration/stack.py for Tomcat instance {self.name}. -->
<Server port="-1" shutdown="SHUTDOWN">
  <Listener className="org.apache.catalina.startup.VersionLoggerListener" />
  <Service name="Catalina">
{conns_xml}
    <Engine name="Catalina" defaultHost="localhost" jvmRoute="{self.route}">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"
            deployOnStartup="true">
        <Valve className="org.apache.catalina.valves.AccessLogValve" directory="logs"
               prefix="access" suffix=".log" buffered="false"
               pattern="%h %t &quot;%r&quot; %s %b %Dms route={self.route}" />
      </Host>
    </Engine>
  </Service>
</Server>
"""

    def write_base(self) -> None:
        for sub in ("conf", "logs", "temp", "work", "webapps", "conf/Catalina/localhost"):
            mkdirs(self.base / sub)
        for f in ("web.xml", "catalina.properties", "context.xml"):
            shutil.copy(_find_tomcat_conf(f), self.base / "conf" / f)
        # Debian's logging.properties uses a systemd formatter (no timestamps): use one-line.
        logging = _find_tomcat_conf("logging.properties").read_text()
        logging = logging.replace("org.apache.juli.SystemdFormatter",
                                  "org.apache.juli.OneLineFormatter")
        (self.base / "conf" / "logging.properties").write_text(logging)
        (self.base / "conf" / "server.xml").write_text(self.server_xml())
        ctxdir = self.base / "conf" / "Catalina" / "localhost"
        for old in ctxdir.glob("*.xml"):
            old.unlink()
        for ctx, docbase in self.webapps.items():
            fname = "ROOT" if ctx in ("", "/") else ctx.strip("/").replace("/", "#")
            (ctxdir / f"{fname}.xml").write_text(
                f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<Context docBase="{Path(docbase).resolve()}" reloadable="false">\n'
                f'  <JarScanner scanClassPath="false" scanManifest="false"/>\n'
                f'</Context>\n')

    # -- lifecycle
    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update({
            "CATALINA_HOME": str(CATALINA_HOME),
            "CATALINA_BASE": str(self.base),
            "CATALINA_TMPDIR": str(self.base / "temp"),
            "CATALINA_PID": str(self.pidfile),
            "JAVA_OPTS": (f"-Xms64m -Xmx{self.heap_mb}m -XX:+UseSerialGC "
                          f"-Djava.security.egd=file:/dev/./urandom "
                          f"-Djava.awt.headless=true -Djvm.route={self.route} "
                          f"-Didmb.instance={self.name}"),
        })
        env.pop("CATALINA_OPTS", None)
        jh = _java_home()
        if jh:
            env["JAVA_HOME"] = jh
        return env

    def is_running(self) -> bool:
        return pid_alive(self.pid)

    def start(self, timeout: float = 60.0, detach: bool = False) -> "Tomcat":
        if self.is_running():
            return self
        if not (self.base / "conf" / "server.xml").exists():
            self.write_base()
        mkdirs(self.base / "logs")
        out_offset = file_size(self.stdout_log)
        self._out = open(self.stdout_log, "ab")
        self._out.write(f"\n===== [stack.py] starting {self.name} at {time.ctime()} =====\n".encode())
        self._out.flush()
        # `catalina.sh run` execs java, so the Popen pid is the JVM's pid.
        self.proc = subprocess.Popen(
            [str(CATALINA_HOME / "bin" / "catalina.sh"), "run"], env=self.env(),
            cwd=str(self.base), stdin=subprocess.DEVNULL, stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        self.pidfile.write_text(str(self.pid))
        if detach:
            self._out.close()
            self._out = None
        self.wait_started(timeout, out_offset)
        return self

    def wait_started(self, timeout: float, out_offset: int = 0) -> None:
        def ready():
            if not self.is_running():
                raise RuntimeError(f"Tomcat {self.name} exited during start-up:\n"
                                   + tail(self.stdout_log, 40, out_offset))
            text = tail(self.stdout_log, 400, out_offset)
            return "Server startup in" in text and all(port_open(c.port) for c in self.ajp)
        try:
            wait_for(ready, timeout, 0.2, f"Tomcat {self.name} to start")
        except TimeoutError:
            raise TimeoutError(f"Tomcat {self.name} did not start within {timeout}s:\n"
                               + tail(self.stdout_log, 40, out_offset))

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (Tomcat's shutdown hook stops it cleanly), then SIGKILL after timeout."""
        if self.pid:
            terminate_pids([self.pid], timeout)
            self._reap()

    def kill(self) -> None:
        """kill -9: the JVM disappears at once; its sockets are reset by the kernel."""
        if self.pid:
            signal_pid(self.pid, signal.SIGKILL)
            wait_for(lambda: not pid_alive(self.pid), 10, 0.05, f"Tomcat {self.name} to die")
            self._reap()

    def pause(self) -> None:
        """SIGSTOP: the JVM freezes; its listening sockets still accept (kernel backlog)."""
        if self.pid:
            signal_pid(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.pid:
            signal_pid(self.pid, signal.SIGCONT)

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def _reap(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self._out:
            self._out.close()
            self._out = None

    def describe(self) -> dict:
        return {"name": self.name, "route": self.route, "pid": self.pid, "base": str(self.base),
                "ajp_ports": [c.port for c in self.ajp], "http_port": self.http_port}


def start_tomcats(tomcats: Sequence[Tomcat], timeout: float = 90.0, detach: bool = False) -> None:
    """Start several Tomcats in parallel (each JVM start takes a few seconds)."""
    errors: List[BaseException] = []

    def run(t: Tomcat):
        try:
            t.start(timeout, detach=detach)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,)) for t in tomcats]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout + 10)
    if errors:
        raise errors[0]


# ---------------------------------------------------------------------------------------------
# httpd configuration model


@dataclasses.dataclass
class Member:
    name: str
    port: int
    host: str = "127.0.0.1"
    route: Optional[str] = None
    secret: Optional[str] = None
    extra: str = ""  # extra key=value words, front-end specific (idmbalance syntax)

    @property
    def url(self) -> str:
        return f"ajp://{self.host}:{self.port}"


@dataclasses.dataclass
class Balancer:
    name: str
    members: List[Member]
    secret: Optional[str] = None
    connect_timeout: Optional[str] = None    # durations as in the module: "2s", "250ms"
    ping_timeout: Optional[str] = None
    reply_timeout: Optional[str] = None
    ping_after_idle: Optional[str] = None
    pool_idle_timeout: Optional[str] = None
    pool_size: Optional[int] = None
    packet_size: Optional[int] = None
    extra: str = ""  # extra lines inside <IdmBalancer> (idmbalance front end only)


@dataclasses.dataclass
class Mount:
    pattern: str
    balancer: str
    unmount: bool = False


@dataclasses.dataclass
class VHost:
    port: int
    ssl: Optional[dict] = None      # {"cert":..., "key":..., "ca":..., "verify": "optional"}
    mounts: List[Mount] = dataclasses.field(default_factory=list)
    extra: str = ""


class HttpdConfig:
    """Parameters of one httpd; render() produces the config text for a front end."""

    def __init__(self, root: Path, port: int, frontend: str, module: Optional[Path] = None,
                 mpm: str = "event", balancers: Sequence[Balancer] = (),
                 mounts: Sequence[Mount] = (), vhosts: Sequence[VHost] = (), extra: str = "",
                 threads_per_child: int = 16, start_servers: int = 2,
                 log_level: Optional[str] = None):
        self.root = root
        self.port = port
        self.frontend = frontend
        self.module = module
        self.mpm = mpm
        self.balancers = list(balancers)
        self.mounts = list(mounts)
        self.vhosts = list(vhosts)
        self.extra = extra
        self.threads_per_child = threads_per_child
        self.start_servers = start_servers
        self.log_level = log_level

    # -- pieces common to both front ends
    def _modules(self) -> List[str]:
        mods = [f"mpm_{self.mpm}", "authz_core", "authn_core", "authn_file", "auth_basic",
                "authz_user", "authz_host", "mime", "alias", "dir", "headers", "env"]
        if any(v.ssl for v in self.vhosts):
            mods += ["socache_shmcb", "ssl"]
        if self.frontend == "proxy_ajp":
            mods += ["proxy", "proxy_ajp", "proxy_balancer", "slotmem_shm",
                     "lbmethod_byrequests"]
        return mods

    def _mpm_block(self) -> str:
        if self.mpm == "prefork":
            n = max(2, self.start_servers)
            return (f"StartServers {n}\nMinSpareServers {n}\nMaxSpareServers {n * 4}\n"
                    f"ServerLimit 32\nMaxRequestWorkers 32\nMaxConnectionsPerChild 0\n")
        tpc = self.threads_per_child
        n = max(1, self.start_servers)
        return (f"StartServers {n}\nServerLimit {n * 2}\nThreadsPerChild {tpc}\n"
                f"ThreadLimit {tpc}\nMaxRequestWorkers {tpc * n * 2}\n"
                f"MinSpareThreads {tpc}\nMaxSpareThreads {tpc * n * 2}\n"
                f"MaxConnectionsPerChild 0\n")

    def _log_level(self) -> str:
        if self.log_level:
            return self.log_level
        if self.frontend == "idmbalance":
            return "info idmbalance:debug"
        return "info proxy_ajp:debug"

    # -- front-end specific rendering
    def _render_balancers_idmb(self) -> str:
        out = []
        for b in self.balancers:
            out.append(f"<IdmBalancer {b.name}>")
            for m in b.members:
                words = [f"IdmMember {m.name} {m.url}"]
                if m.route:
                    words.append(f"route={m.route}")
                if m.secret:
                    words.append(f"secret={m.secret}")
                if m.extra:
                    words.append(m.extra)
                out.append("    " + " ".join(words))
            for directive, value in (("IdmSecret", b.secret),
                                     ("IdmConnectTimeout", b.connect_timeout),
                                     ("IdmPingTimeout", b.ping_timeout),
                                     ("IdmReplyTimeout", b.reply_timeout),
                                     ("IdmPingAfterIdle", b.ping_after_idle),
                                     ("IdmPoolIdleTimeout", b.pool_idle_timeout),
                                     ("IdmPoolSize", b.pool_size),
                                     ("IdmPacketSize", b.packet_size)):
                if value is not None:
                    out.append(f"    {directive} {value}")
            if b.extra:
                out.append(b.extra)
            out.append("</IdmBalancer>")
        return "\n".join(out) + "\n"

    def _render_mounts_idmb(self, mounts: Sequence[Mount]) -> str:
        lines = []
        for m in mounts:
            lines.append(f"IdmUnmount {m.pattern} {m.balancer}" if m.unmount
                         else f"IdmMount {m.pattern} {m.balancer}")
        return "\n".join(lines) + "\n"

    def _render_balancers_proxy(self) -> str:
        out = []
        for b in self.balancers:
            out.append(f"<Proxy balancer://{b.name}>")
            for m in b.members:
                params = [f"route={m.route or m.name}", "retry=0"]
                secret = m.secret or b.secret
                if secret:
                    params.append(f"secret={secret}")
                if b.connect_timeout:
                    params.append(f"connectiontimeout={int(parse_duration_s(b.connect_timeout) * 1000)}ms")
                if b.reply_timeout:
                    params.append(f"timeout={max(1, round(parse_duration_s(b.reply_timeout)))}")
                if b.ping_timeout:
                    params.append(f"ping={int(parse_duration_s(b.ping_timeout) * 1000)}ms")
                if b.pool_idle_timeout:
                    params.append(f"ttl={max(1, round(parse_duration_s(b.pool_idle_timeout)))}")
                if b.pool_size:
                    params.append(f"max={b.pool_size}")
                if b.packet_size:
                    params.append(f"iobuffersize={b.packet_size}")
                out.append(f"    BalancerMember {m.url} " + " ".join(params))
            out.append("    ProxySet lbmethod=byrequests")
            out.append("</Proxy>")
        return "\n".join(out) + "\n"

    @staticmethod
    def _render_mounts_proxy(mounts: Sequence[Mount]) -> str:
        """IdmMount '/p/*' b -> ProxyPass /p/ balancer://b/p/; IdmUnmount -> ProxyPass ... !"""
        def prefix(pattern: str) -> str:
            if pattern.endswith("/*"):
                return pattern[:-1]
            if "*" in pattern:
                raise ValueError(f"proxy_ajp rendering supports '/exact' and '/prefix/*' only: {pattern}")
            return pattern
        # mapping=servlet everywhere: it makes mod_proxy match in pre_translate_name, where an
        # exclusion without it would be skipped.
        lines = []
        for m in mounts:  # exclusions first: ProxyPass is first-match
            if m.unmount:
                lines.append(f'ProxyPass "{prefix(m.pattern)}" "!" mapping=servlet')
        for m in mounts:
            if not m.unmount:
                p = prefix(m.pattern)
                # mapping=servlet: normalise the path the way Tomcat will (";" params, "..").
                lines.append(f'ProxyPass "{p}" "balancer://{m.balancer}{p}" mapping=servlet')
        return "\n".join(lines) + "\n"

    def render_mounts(self, mounts: Sequence[Mount]) -> str:
        if self.frontend == "idmbalance":
            return self._render_mounts_idmb(mounts)
        return self._render_mounts_proxy(mounts)

    def _ssl_block(self, ssl: dict) -> str:
        lines = ["SSLEngine on",
                 f'SSLCertificateFile "{ssl["cert"]}"',
                 f'SSLCertificateKeyFile "{ssl["key"]}"']
        if ssl.get("ca"):
            lines.append(f'SSLCACertificateFile "{ssl["ca"]}"')
            lines.append(f'SSLVerifyClient {ssl.get("verify", "optional")}')
            lines.append("SSLVerifyDepth 3")
        lines.append("SSLOptions +ExportCertData +StdEnvVars")
        return "\n".join("    " + l for l in lines) + "\n"

    def render(self) -> str:
        r = self.root
        parts = [f"""# Generated by tests/integration/stack.py (front end: {self.frontend})
ServerRoot "{r}"
DefaultRuntimeDir "{r}/run"
PidFile "{r}/run/httpd.pid"
Mutex file:{r}/run default
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
"""]
        for v in self.vhosts:
            parts.append(f"Listen 127.0.0.1:{v.port}" + (" https\n" if v.ssl else "\n"))
        for mod in self._modules():
            parts.append(f'LoadModule {mod}_module "{APACHE_MODULES}/mod_{mod}.so"\n')
        if self.frontend == "idmbalance":
            parts.append(f'LoadModule idmbalance_module "{self.module}"\n')
        parts.append(f"""
User www-data
Group www-data
ErrorLog "{r}/logs/error.log"
LogLevel {self._log_level()}
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D \\"%{{X-Route}}o\\" pid=%P" idmb
CustomLog "{r}/logs/access.log" idmb
TypesConfig /etc/mime.types
DocumentRoot "{r}/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{r}/htdocs">
    Require all granted
</Directory>
Timeout 30
KeepAlive On
KeepAliveTimeout 15
MaxKeepAliveRequests 1000
{self._mpm_block()}""")
        if any(v.ssl for v in self.vhosts):
            parts.append(f"SSLSessionCache shmcb:{r}/run/ssl_scache(512000)\n"
                         "SSLProtocol all -SSLv3\nSSLRandomSeed startup builtin\n")
        parts.append("\n# --- balancers\n")
        if self.frontend == "idmbalance":
            parts.append(self._render_balancers_idmb())
        else:
            parts.append(self._render_balancers_proxy())
        if self.frontend == "proxy_ajp":
            # mod_proxy merges the main server's ProxyPass list in *before* a vhost's own
            # (ProxyPassInherit does not change that in 2.4.71), so a vhost could not override
            # /app/. Give the main port a vhost of its own instead.
            parts.append(f"\n# --- main port mounts\n<VirtualHost 127.0.0.1:{self.port}>\n"
                         f"    ServerName 127.0.0.1\n"
                         + "".join("    " + l + "\n" for l in self.render_mounts(self.mounts).splitlines())
                         + "</VirtualHost>\n")
        else:
            parts.append("\n# --- main server mounts\n" + self.render_mounts(self.mounts))
        for v in self.vhosts:
            parts.append(f"\n<VirtualHost 127.0.0.1:{v.port}>\n    ServerName 127.0.0.1\n")
            if v.ssl:
                parts.append(self._ssl_block(v.ssl))
            parts.append("".join("    " + l + "\n" for l in self.render_mounts(v.mounts).splitlines()))
            if self.frontend == "proxy_ajp":
                # mod_proxy_ajp takes the AJP packet size from the (virtual) server's
                # ProxyIOBufferSize, not from the worker's iobuffersize.
                sizes = [b.packet_size for b in self.balancers
                         if b.packet_size and any(m.balancer == b.name for m in v.mounts)]
                if sizes:
                    parts.append(f"    ProxyIOBufferSize {max(sizes)}\n")
            if v.extra:
                parts.append(v.extra.replace("{root}", str(r)) + "\n")
            parts.append("</VirtualHost>\n")
        if self.extra:
            parts.append("\n# --- extra\n" + self.extra.replace("{root}", str(r)) + "\n")
        return "".join(parts)


# A module built with -DIDMB_SANITIZE=ON (build-asan/, tests/sanitize/run.sh) needs libasan
# loaded first: apache2 is not instrumented, so the runtime is preloaded into it. conftest.py
# (SanitizerWatch) fails the session on any report in sanitizer_log_dir() or the error logs.

def sanitizer_runtime(module: Optional[Path]) -> Optional[str]:
    """The libasan.so.N that `module` links (GCC's -fsanitize=address), as ldd resolves it;
    None for an uninstrumented module or none (mod_proxy_ajp)."""
    if module is None:
        return None
    r = subprocess.run(["ldd", str(module)], capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        name, _, where = line.strip().partition(" => ")
        if name.startswith("libasan.so"):
            path = where.split(" (")[0].strip()
            if not path.startswith("/"):
                raise RuntimeError(f"{module} needs {name}, not found: {line.strip()}")
            return path
    return None


def sanitizer_log_dir() -> Path:
    """Where the sanitizers in our apache2 processes write reports (asan.PID, ubsan.PID). Owned
    by www-data: the children run as www-data, and ASan opens the file when it reports."""
    d = run_dir("sanitizer") / "reports"
    d.mkdir(exist_ok=True)
    shutil.chown(d, "www-data", "www-data")
    os.chmod(d, 0o770)
    return d


def apache_env(module: Optional[Path]) -> Optional[Dict[str, str]]:
    """apache2's environment: ours, plus the sanitizer runtime and options for a sanitized
    module (None, i.e. inherit ours, otherwise). The caller's ASAN_OPTIONS/UBSAN_OPTIONS come
    last, so they override these."""
    runtime = sanitizer_runtime(module)
    if not runtime:
        return None
    logs = sanitizer_log_dir()
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [runtime, env.get("LD_PRELOAD")]))
    # detect_leaks=0: httpd's processes exit holding memory on purpose (the process and config
    # pools, APR's allocator free lists, OpenSSL's globals), which LeakSanitizer would report as
    # leaks that are not ours. The unit tests (build-asan ctest -L unit) keep leak checks.
    # log_path: one file per process (asan.PID), kept apart from the error log. UBSan (GCC 12)
    # writes to stderr, i.e. the error log, all the same: libubsan's __sanitizer_set_report_path
    # call binds to the preloaded libasan's. Its reports there have no stack trace either: a
    # child is not dumpable after setuid(), so libubsan cannot read /proc/self/maps.
    # halt_on_error/abort_on_error: a report ends the process (SIGABRT).
    env["ASAN_OPTIONS"] = ":".join(filter(None, [
        "detect_leaks=0", "halt_on_error=1", "abort_on_error=1", f"log_path={logs}/asan",
        env.get("ASAN_OPTIONS")]))
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [
        "print_stacktrace=1", "halt_on_error=1", "abort_on_error=1", f"log_path={logs}/ubsan",
        env.get("UBSAN_OPTIONS")]))
    return env


class Httpd:
    """Debian's apache2 binary with a private ServerRoot and our generated config."""

    def __init__(self, config: HttpdConfig):
        self.config = config
        self.root = config.root.resolve()
        self.conf_path = self.root / "conf" / "httpd.conf"

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "httpd.pid"

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_files(self) -> List[Path]:
        return [self.error_log, self.access_log]

    def write(self, text: Optional[str] = None) -> Path:
        mkdirs(self.root, self.root / "conf", self.root / "logs", self.root / "run",
               self.root / "htdocs")
        self.conf_path.write_text(text if text is not None else self.config.render())
        return self.conf_path

    def _cmd(self, *args: str, conf: Optional[Path] = None) -> List[str]:
        return [str(APACHE_BIN), "-d", str(self.root), "-f", str(conf or self.conf_path), *args]

    def _env(self) -> Optional[Dict[str, str]]:
        return apache_env(self.config.module)

    def write_checked(self) -> "Httpd":
        """Writes the config and fails (RuntimeError) unless `apache2 -t` accepts it."""
        self.write()
        r = self.configtest()
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -t failed:\n{r.stdout}{r.stderr}")
        return self

    def configtest(self, text: Optional[str] = None) -> subprocess.CompletedProcess:
        """`apache2 -t` on our config (or on `text`, written to a separate file)."""
        conf = self.conf_path
        if text is not None:
            mkdirs(self.root / "conf", self.root / "logs", self.root / "run")
            conf = self.root / "conf" / "configtest.conf"
            conf.write_text(text)
        return subprocess.run(self._cmd("-t", conf=conf), capture_output=True, text=True,
                              timeout=60, env=self._env())

    def main_pid(self) -> Optional[int]:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def children(self) -> List[int]:
        main = self.main_pid()
        if not main:
            return []
        return [p for p in all_pids() if proc_ppid(p) == main]

    def is_running(self) -> bool:
        return self.main_pid() is not None

    def start(self, timeout: float = 30.0) -> "Httpd":
        if not self.conf_path.exists():
            self.write()
        if self.is_running():
            raise RuntimeError(f"httpd already running in {self.root}")
        try:
            self.pidfile.unlink()
        except FileNotFoundError:
            pass
        offset = file_size(self.error_log)
        r = subprocess.run(self._cmd("-k", "start"), capture_output=True, text=True, timeout=60,
                           env=self._env())
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -k start failed (rc={r.returncode}):\n{r.stdout}{r.stderr}\n"
                               + tail(self.error_log, 30, offset))

        def ready():
            if self.main_pid() and port_open(self.port):
                return True
            if self.pidfile.exists() and not self.main_pid():
                raise RuntimeError("httpd exited during start-up:\n" + tail(self.error_log, 30, offset))
            return False
        try:
            wait_for(ready, timeout, 0.1, "httpd to start")
        except TimeoutError:
            raise TimeoutError("httpd did not start:\n" + tail(self.error_log, 30, offset))
        for v in self.config.vhosts:
            wait_for(lambda: port_open(v.port), timeout, 0.1, f"httpd port {v.port}")
        return self

    def graceful(self, timeout: float = 30.0) -> None:
        """apache2 -k graceful; waits until the new generation logs 'resuming normal operations'."""
        marker = "resuming normal operations"
        before = tail(self.error_log, 100000).count(marker)
        r = subprocess.run(self._cmd("-k", "graceful"), capture_output=True, text=True, timeout=60,
                           env=self._env())
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -k graceful failed:\n{r.stdout}{r.stderr}")
        wait_for(lambda: tail(self.error_log, 100000).count(marker) > before, timeout, 0.1,
                 "httpd graceful restart")
        wait_for(lambda: port_open(self.port), timeout, 0.1, "httpd port after graceful")

    def stop(self, timeout: float = 15.0) -> None:
        main = self.main_pid()
        kids = self.children()
        if main:
            subprocess.run(self._cmd("-k", "stop"), capture_output=True, text=True, timeout=60,
                           env=self._env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and pid_alive(main):
                time.sleep(0.1)
        # Whatever is left (main and children, found by our private ServerRoot path).
        left = set(kids) | set(pids_with_arg(str(self.root)))
        left = {p for p in left if pid_alive(p) and str(self.root) in " ".join(proc_cmdline(p))}
        if left:
            terminate_pids(left, 5)

    def describe(self) -> dict:
        return {"pid": self.main_pid(), "port": self.port, "root": str(self.root),
                "conf": str(self.conf_path), "vhost_ports": [v.port for v in self.config.vhosts]}


# ---------------------------------------------------------------------------------------------
# Certificates and passwords


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


# ---------------------------------------------------------------------------------------------
# A whole stack: two Tomcats (t1, t2) behind one httpd


def kill_leftovers(workdir: Path) -> None:
    """Stop processes a previous run left behind in this work dir (matched by private paths)."""
    workdir = workdir.resolve()
    pids = set()
    for pf in list(workdir.glob("tomcat-*/tomcat.pid")) + list(workdir.glob("*/run/httpd.pid")):
        try:
            pid = int(pf.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid_alive(pid) and str(workdir) in " ".join(proc_cmdline(pid)):
            pids.add(pid)
    pids |= set(pids_with_arg(str(workdir) + "/"))
    pids.discard(os.getpid())
    if pids:
        log(f"stopping leftover processes from {workdir}: {sorted(pids)}")
        terminate_pids(pids, 10)


class Stack:
    """Two Tomcats (t1, t2) + httpd mounting /app/* on balancer `app`.

    Optional: extra AJP connectors with packet size 65536 on each Tomcat plus an HTTP vhost
    (`big_port`) that mounts /app/* on balancer `big`; an HTTPS vhost; a fake AJP backend
    balancer `fault` mounted at /fault/*; a Basic-auth location /app/secure/; `extra_ajp`
    more plain AJP connectors per Tomcat (the last ones in Tomcat.ajp), so other balancers'
    connection pools do not mix with `app`'s.
    """

    @property
    def t1(self) -> "Tomcat":
        return self.tomcats[0]

    @property
    def t2(self) -> "Tomcat":
        return self.tomcats[1]

    def __init__(self, workdir: Path, frontend: str, module: Optional[Path],
                 secret: str = DEFAULT_SECRET, port: Optional[int] = None,
                 https: bool = False, big_packets: bool = False, fake_port: Optional[int] = None,
                 basic_auth: bool = False, mpm: str = "event", tomcat_http: bool = True,
                 extra_conf: str = "", extra_ajp: int = 0):
        self.workdir = workdir.resolve()
        self.frontend = frontend
        self.module = module
        self.secret = secret
        self.https = https
        self.big_packets = big_packets
        self.fake_port = fake_port
        self.basic_auth = basic_auth
        self.mpm = mpm
        self.tomcat_http = tomcat_http
        self.extra_conf = extra_conf
        self.extra_ajp = extra_ajp  # more 8192-byte AJP connectors per Tomcat (after the others)
        self.port = port or free_port()
        self.https_port = free_port() if https else None
        self.big_port = free_port() if big_packets else None
        self.apps: Dict[str, Path] = {}
        self.pki: Dict[str, Path] = {}
        self.tomcats: List[Tomcat] = []
        self.httpd: Optional[Httpd] = None

    # -- pieces
    def make_tomcats(self) -> List[Tomcat]:
        out = []
        for name in ("t1", "t2"):
            ajp = [AjpConnector(free_port(), 8192, self.secret)]
            if self.big_packets:
                ajp.append(AjpConnector(free_port(), 65536, self.secret))
            ajp += [AjpConnector(free_port(), 8192, self.secret) for _ in range(self.extra_ajp)]
            t = Tomcat(self.workdir, name, route=name, ajp=ajp,
                       http_port=free_port() if self.tomcat_http else None,
                       webapps={"/app": self.apps["app"], "/escaped": self.apps["escaped"]})
            t.write_base()
            out.append(t)
        return out

    def httpd_config(self, extra: str = "") -> HttpdConfig:
        balancers = [Balancer("app", [Member(t.name, t.ajp_port, route=t.route, secret=self.secret)
                                      for t in self.tomcats],
                              connect_timeout="2s", reply_timeout="60s")]
        if self.big_packets:
            balancers.append(Balancer("big", [Member(f"{t.name}big", t.ajp[1].port, route=t.route,
                                                     secret=self.secret) for t in self.tomcats],
                                      packet_size=65536, connect_timeout="2s"))
        if self.fake_port:
            balancers.append(Balancer("fault", [Member("fake", self.fake_port, route="fake",
                                                       secret=self.secret)],
                                      connect_timeout="2s", reply_timeout="2s"))
        mounts = [Mount("/app/*", "app"), Mount("/app/static/*", "app", unmount=True)]
        if self.fake_port:
            mounts.append(Mount("/fault/*", "fault"))
        auth = ""
        if self.basic_auth:
            auth = (f'<Location "/app/secure/">\n    AuthType Basic\n    AuthName "idmb test"\n'
                    f'    AuthBasicProvider file\n    AuthUserFile "{self.workdir}/htpasswd"\n'
                    f'    Require valid-user\n</Location>\n')
        vhosts = []
        if self.https:
            vhosts.append(VHost(self.https_port, ssl={"cert": self.pki["server"],
                                                      "key": self.pki["server_key"],
                                                      "ca": self.pki["ca"], "verify": "optional"},
                                mounts=list(mounts)))
        if self.big_packets:
            vhosts.append(VHost(self.big_port, mounts=[Mount("/app/*", "big")]))
        return HttpdConfig(self.workdir / "httpd", self.port, self.frontend, self.module,
                           mpm=self.mpm, balancers=balancers, mounts=mounts, vhosts=vhosts,
                           extra=auth + self.extra_conf + extra)

    def prepare(self) -> None:
        """Everything up to (not including) starting processes."""
        mkdirs(self.workdir)
        kill_leftovers(self.workdir)
        log(f"work dir {self.workdir}; front end {self.frontend}"
            + (f" ({self.module})" if self.module else ""))
        self.apps = build_webapp(self.workdir)
        if self.https:
            self.pki = make_pki(self.workdir / "pki")
        if self.basic_auth:
            write_htpasswd(self.workdir / "htpasswd", {HTPASSWD_USER: HTPASSWD_PASSWORD})
        self.tomcats = self.make_tomcats()
        self.httpd = Httpd(self.httpd_config())
        self.httpd.write_checked()
        htdocs = self.httpd.root / "htdocs"
        mkdirs(htdocs / "app" / "static")
        (htdocs / "index.html").write_text("<html><body>idmb test httpd</body></html>\n")
        (htdocs / "app" / "static" / "hello.txt").write_text("static-from-httpd\n")

    def up(self, detach: bool = False) -> "Stack":
        self.prepare()
        t0 = time.monotonic()
        start_tomcats(self.tomcats, detach=detach)
        log(f"Tomcats up in {time.monotonic() - t0:.1f}s: "
            + ", ".join(f"{t.name} ajp={t.ajp_port}" for t in self.tomcats))
        self.httpd.start()
        log(f"httpd up: {self.httpd.url('/app/')}")
        return self

    def down(self) -> None:
        if self.httpd:
            try:
                self.httpd.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                log(f"httpd stop: {e}")
        threads = [threading.Thread(target=t.stop) for t in self.tomcats]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)

    def describe(self) -> dict:
        return {"workdir": str(self.workdir), "frontend": self.frontend,
                "module": str(self.module) if self.module else None,
                "url": self.httpd.url("/app/") if self.httpd else None,
                "https_url": f"https://127.0.0.1:{self.https_port}/app/" if self.https_port else None,
                "httpd": self.httpd.describe() if self.httpd else None,
                "tomcats": [t.describe() for t in self.tomcats]}


# ---------------------------------------------------------------------------------------------
# CLI


DEMO_STATUS_PAGES = """
<Location /balancer-status>
    SetHandler idmbalance-status
    Require local
</Location>
<Location /balancer-manager>
    SetHandler idmbalance-manager
    Require local
</Location>
"""


def _cli_up(args) -> int:
    frontend = args.frontend or frontend_from_env()
    module = None
    if frontend == "idmbalance":
        if args.module:
            os.environ["IDMB_MODULE"] = args.module
        module = module_from_env(frontend, required=False)
    workdir = Path(args.workdir) if args.workdir else run_dir("demo-stack")
    stack = Stack(workdir, frontend, module, port=args.port, https=args.https,
                  basic_auth=args.https)
    if frontend == "idmbalance":
        # The demo shows the live table too: status and manager pages, local access only.
        base_config = stack.httpd_config

        def with_status_pages(extra: str = "") -> HttpdConfig:
            cfg = base_config(extra)
            cfg.extra = (cfg.extra or "") + DEMO_STATUS_PAGES
            return cfg
        stack.httpd_config = with_status_pages
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except AttributeError:
        pass

    def interrupt(*_):
        raise KeyboardInterrupt
    # SIGTERM behaves like Ctrl-C: whatever was started gets stopped, also during start-up.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        stack.up(detach=args.detach)
    except BaseException:
        log("start-up failed or interrupted: stopping what was started")
        stack.down()
        raise
    info = stack.describe()
    (stack.workdir / "stack.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"\n  mod_idmbalance demo stack ({frontend}) is up:\n")
    print(f"    open  {info['url']}echo   (JSON echo; reload to see the route alternate t1/t2)")
    print(f"          {info['url']}stream?mb=1, {info['url']}cookies, {info['url']}flush")
    if frontend == "idmbalance":
        root = info["url"].rsplit("/app/", 1)[0]
        print(f"          {root}/balancer-manager   (the live table; disable a member and watch)")
    if info["https_url"]:
        print(f"    https {info['https_url']}echo")
    for t in stack.tomcats:
        extra = f", direct http://127.0.0.1:{t.http_port}/app/" if t.http_port else ""
        print(f"    Tomcat {t.name}: AJP 127.0.0.1:{t.ajp_port}{extra}, logs {t.base}/logs")
    print(f"    httpd logs: {stack.httpd.root}/logs\n")
    if args.detach:
        print(f"  detached; stop with: python3 {Path(__file__).resolve()} down --workdir {stack.workdir}")
        return 0
    print("  Ctrl-C to stop.", flush=True)
    reported = set()
    try:
        while True:
            time.sleep(1.0)
            for t in stack.tomcats:
                if not t.is_running() and t.name not in reported:
                    reported.add(t.name)
                    log(f"Tomcat {t.name} exited (see {t.stdout_log})")
    except KeyboardInterrupt:
        pass
    finally:
        log("stopping")
        stack.down()
    return 0


def _cli_down(args) -> int:
    workdir = Path(args.workdir).resolve()
    info_path = workdir / "stack.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("httpd"):
            h = info["httpd"]
            conf = HttpdConfig(Path(h["root"]), h["port"], info["frontend"])
            Httpd(conf).stop()
        pids = [t["pid"] for t in info.get("tomcats", [])
                if t.get("pid") and t["base"] in " ".join(proc_cmdline(t["pid"]))]
        terminate_pids(pids, 20)
        info_path.unlink()
    kill_leftovers(workdir)
    print(f"stack in {workdir} stopped")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="build the webapp, start two Tomcats and httpd")
    up.add_argument("--workdir", help="work dir (default: run_dir('demo-stack') under /tmp/idmbalance-run)")
    up.add_argument("--detach", action="store_true", help="leave running; write stack.json")
    up.add_argument("--frontend", choices=FRONTENDS, help="default: $IDMB_FRONTEND or idmbalance")
    up.add_argument("--module", help="mod_idmbalance.so (default: $IDMB_MODULE or build/...)")
    up.add_argument("--port", type=int, help="httpd port (default: a free port)")
    up.add_argument("--https", action="store_true", help="also an HTTPS vhost and Basic auth")
    down = sub.add_parser("down", help="stop a detached stack")
    down.add_argument("--workdir", required=True)
    args = ap.parse_args(argv)
    try:
        return _cli_up(args) if args.cmd == "up" else _cli_down(args)
    except (RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
