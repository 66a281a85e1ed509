#!/usr/bin/env python3
"""Test stack for mod_idmbalance: the test webapp, Tomcat 10 instances and an httpd front end.

Plain Python 3 (stdlib only). Used by the pytest fixtures (conftest.py), the package and
checkout tests, the benchmark (bench/run_bench.py), and as a CLI (the demo):

    python3 tests/integration/stack.py up [--workdir DIR] [--detach] [--frontend F] [--port P]
    python3 tests/integration/stack.py down --workdir DIR

This file is the Stack (two Tomcats behind one httpd) and the CLI; the parts are modules of
their own, and every name they define is re-exported here (`import stack as stk; stk.Tomcat`):

    workdirs.py     run_dir (the servers' files, outside the checkout), mkdirs, tail, file_size
    procs.py        free ports, bounded waits, /proc readers, stopping our processes, TCP sockets
    tomcat.py       the test webapp (javac, cached_webapp), AjpConnector, Tomcat, start_tomcats
    httpd_conf.py   Balancer, Member, Mount, VHost, HttpdConfig: rendering for each front end
    httpd.py        Httpd (the apache2 process), front end and module from the environment,
                    the sanitizer runtime
    pki.py          make_pki (openssl), write_htpasswd

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
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

# Re-exported: the tests, the package test and the benchmark use these names as stack.X.
from httpd import (APACHE_BIN, FRONTENDS, Httpd, apache_env, frontend_from_env, module_from_env,
                   sanitizer_log_dir, sanitizer_runtime)
from httpd_conf import (APACHE_MODULES, Balancer, HttpdConfig, Member, Mount, VHost,
                        parse_duration_s)
from pki import HTPASSWD_PASSWORD, HTPASSWD_USER, make_pki, write_htpasswd
from procs import (TCP_STATES, all_pids, backend_connection_counts, client_sockets, free_port,
                   free_ports, log, pid_alive, pids_with_arg, port_open, proc_cmdline, proc_ppid,
                   proc_status_kb, signal_pid, tcp_sockets, terminate_pids, wait_for)
from tomcat import (ALLOWED_REQUEST_ATTRIBUTES, CATALINA_HOME, DEFAULT_SECRET, SERVLET_API_JAR,
                    TOMCAT_CONF_DIRS, WEBAPP_SRC,
                    AjpConnector, Tomcat, _find_tomcat_conf, _java_home, build_webapp,
                    cached_webapp, start_tomcats)
from workdirs import HERE, REPO, RUN_ROOT, default_workdir, file_size, mkdirs, run_dir, tail

__all__ = [
    "ALLOWED_REQUEST_ATTRIBUTES", "APACHE_BIN", "APACHE_MODULES", "AjpConnector", "Balancer",
    "CATALINA_HOME", "DEFAULT_SECRET",
    "FRONTENDS", "HERE", "HTPASSWD_PASSWORD", "HTPASSWD_USER", "Httpd", "HttpdConfig", "Member",
    "Mount", "REPO", "RUN_ROOT", "SERVLET_API_JAR", "TCP_STATES", "TOMCAT_CONF_DIRS", "Tomcat",
    "VHost", "WEBAPP_SRC", "_find_tomcat_conf", "_java_home", "all_pids", "apache_env",
    "backend_connection_counts", "build_webapp", "cached_webapp", "client_sockets",
    "default_workdir", "file_size", "free_port", "free_ports", "frontend_from_env", "log",
    "make_pki", "mkdirs", "module_from_env", "parse_duration_s", "pid_alive", "pids_with_arg",
    "port_open", "proc_cmdline", "proc_ppid", "proc_status_kb", "run_dir", "sanitizer_log_dir",
    "sanitizer_runtime", "signal_pid", "start_tomcats", "tail", "tcp_sockets", "terminate_pids",
    "wait_for", "write_htpasswd", "kill_leftovers", "Stack", "DEMO_STATUS_PAGES", "main",
]


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
