"""The test webapp (compiled with javac) and Tomcat 10 instances with a private CATALINA_BASE.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from procs import free_port, log, pid_alive, port_open, signal_pid, terminate_pids, wait_for
from workdirs import HERE, file_size, mkdirs, tail

WEBAPP_SRC = HERE / "webapp"

CATALINA_HOME = Path("/usr/share/tomcat10")
SERVLET_API_JAR = CATALINA_HOME / "lib" / "servlet-api.jar"
TOMCAT_CONF_DIRS = [Path("/etc/tomcat10"), CATALINA_HOME / "etc"]

DEFAULT_SECRET = "idmb-test-secret-0123456789"
# Request attributes the tests send with IdmEnvAttribute (test_mod_jk_compat.py): Tomcat's AJP
# connector refuses other names than its own unless this pattern allows them.
ALLOWED_REQUEST_ATTRIBUTES = "IDMBT_.*"


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


def cached_webapp(cache: Path) -> Dict[str, Path]:
    """build_webapp(cache), unless cache already holds a build of the current sources (javac
    takes several seconds; the benchmark's --quick run is short). Same result as build_webapp."""
    h = hashlib.sha256()
    for f in sorted(WEBAPP_SRC.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(WEBAPP_SRC)).encode() + b"\0" + f.read_bytes())
    stamp = cache / "sources.sha256"
    apps = {name: cache / "webapp" / "webapps" / name for name in ("app", "escaped")}
    if stamp.is_file() and stamp.read_text() == h.hexdigest() and all(p.is_dir() for p in apps.values()):
        return apps
    log("building the test webapp")
    mkdirs(cache)
    apps = build_webapp(cache)
    stamp.write_text(h.hexdigest())
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
               pattern="%h %t &quot;%r&quot; %s %b %Dms route={self.route} id=%{{X-Request-Id}}i" />
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

