"""The Debian package in the system's own apache2 (issue 8).

Builds libapache2-mod-idmbalance with packaging/build-deb.sh, checks the .deb (version equals
CMake's, lintian has no errors, same files as `cmake --install`), installs it with apt, and
balances two real Tomcat 10 instances through the stock apache2 (/etc/apache2, apache2ctl,
000-default left enabled): sticky sessions, new sessions on both members, /balancer-status from
the packaged idmbalance.conf. Then it stops apache2, disables and purges everything and checks
that nothing of the package is left and `apache2ctl configtest` still passes.

Needs root. While it runs it changes the system: /etc/apache2/ports.conf and
sites-available/000-default.conf (moved to free loopback ports), a conf-available snippet, the
package. Every change is undone at the end, pass or fail, and the test checks that /etc/apache2
and /var/lib/apache2 are as it found them. It refuses to start (touching nothing) when the
package is already installed or the system apache2 is running.

Run: ctest -L package (sets IDMB_BUILD_DIR: the .deb goes to IDMB_BUILD_DIR/deb; IDMB_VERSION).
IDMB_DEB=path/to/libapache2-mod-idmbalance_*.deb tests that .deb instead of building one.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import stack as stk  # noqa: E402

PKG = "libapache2-mod-idmbalance"
DOCDIR = f"/usr/share/doc/{PKG}"
ETC = Path("/etc/apache2")
STATE = Path("/var/lib/apache2")          # a2enmod's record of who enabled what
MODDIR = Path("/usr/lib/apache2/modules")
SNIPPET = "idmbalance-test"
BUILD_DIR = Path(os.environ.get("IDMB_BUILD_DIR") or (REPO / "build")).resolve()
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=300"]


# ---------------------------------------------------------------------------------------------
# Helpers


def cmake_version() -> str:
    if os.environ.get("IDMB_VERSION"):
        return os.environ["IDMB_VERSION"]
    m = re.search(r"^project\([^)]*VERSION\s+([0-9][0-9.]*)", (REPO / "CMakeLists.txt").read_text(), re.M)
    assert m, "no project(... VERSION x.y.z) in CMakeLists.txt"
    return m.group(1)


def system_env() -> Dict[str, str]:
    """The environment for apt and apache2ctl: no leftovers that would redirect them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
    env.update(DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
    return env


def run(cmd: List[str], check: bool = True, timeout: float = 600,
        env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=env or system_env())
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def envvar(name: str) -> str:
    """A variable of /etc/apache2/envvars (APACHE_PID_FILE, APACHE_LOG_DIR, ...)."""
    r = run(["sh", "-c", f'. {ETC}/envvars && printf %s "${name}"'])
    return r.stdout


def package_installed() -> Optional[str]:
    r = run(["dpkg-query", "-W", "-f=${Status} ${Version}", PKG], check=False)
    return r.stdout if r.returncode == 0 and "not-installed" not in r.stdout else None


def system_apache_pid() -> Optional[int]:
    try:
        pid = int(Path(envvar("APACHE_PID_FILE")).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if stk.pid_alive(pid) else None


def tree_state(root: Path) -> Dict[str, Tuple]:
    """Every entry under root: type, mode, and content hash or link target."""
    out: Dict[str, Tuple] = {}
    if not root.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[str(p)] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[str(p)] = ("file", stat.S_IMODE(st.st_mode),
                               hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def diff_states(before: Dict[str, Tuple], after: Dict[str, Tuple]) -> List[str]:
    out = [f"gone: {p}" for p in sorted(set(before) - set(after))]
    out += [f"new: {p}" for p in sorted(set(after) - set(before))]
    out += [f"changed: {p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return out


def deb_files(deb: Path) -> List[str]:
    """Regular files in the .deb, as absolute paths."""
    r = run(["dpkg-deb", "-c", str(deb)])
    files = []
    for line in r.stdout.splitlines():
        parts = line.split(None, 5)
        if parts and parts[0].startswith("-"):
            files.append(parts[5].lstrip("."))
    return files


def http_get(port: int, path: str, headers: Optional[Dict[str, str]] = None,
             timeout: float = 30) -> Tuple[int, Dict[str, List[str]], bytes]:
    """One GET on a new connection: (status, headers by lower-case name, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        hdrs: Dict[str, List[str]] = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return r.status, hdrs, body
    finally:
        c.close()


def echo(port: int, path: str, headers: Optional[Dict[str, str]] = None) -> Tuple[dict, Dict[str, List[str]]]:
    status, hdrs, body = http_get(port, path, headers)
    assert status == 200, f"GET {path}: {status} {body[:300]!r}"
    return json.loads(body), hdrs


class Timer(contextlib.ContextDecorator):
    def __init__(self, record, phase: str):
        self.record, self.phase = record, phase

    def __enter__(self):
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.record(self.phase, time.monotonic() - self.t0)
        return False


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def clean_system():
    """Refuse, before building anything, to run where the test would destroy something."""
    if os.geteuid() != 0:
        pytest.fail("the package test installs into the system apache2: run it as root")
    for tool in ("apt-get", "dpkg-deb", "apache2ctl", "a2enmod", "a2enconf"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} not found: run scripts/install-deps.sh")
    installed = package_installed()
    if installed:
        pytest.fail(f"{PKG} is already installed ({installed}); this test would purge it. "
                    f"Remove it first (apt-get purge {PKG}) or run the test elsewhere.")
    pid = system_apache_pid()
    if pid:
        pytest.fail(f"the system apache2 is running (pid {pid}, {envvar('APACHE_PID_FILE')}); "
                    f"this test starts and stops it: stop it first (apache2ctl stop)")


@pytest.fixture(scope="session")
def deb(clean_system, record_time) -> Path:
    """The .deb, built by packaging/build-deb.sh into IDMB_BUILD_DIR/deb (IDMB_DEB=FILE: that)."""
    if os.environ.get("IDMB_DEB"):
        given = Path(os.environ["IDMB_DEB"]).resolve()
        assert given.is_file(), f"IDMB_DEB={given}: no such file"
        return given
    outdir = BUILD_DIR / "deb"
    outdir.mkdir(parents=True, exist_ok=True)
    logfile = outdir / "build-deb.log"
    t0 = time.monotonic()
    with open(logfile, "w") as log:
        r = subprocess.run([str(REPO / "packaging" / "build-deb.sh"), str(outdir)], stdout=log,
                           stderr=subprocess.STDOUT, env=system_env(), timeout=3000)
    record_time("packaging/build-deb.sh", time.monotonic() - t0)
    if r.returncode != 0:
        pytest.fail(f"packaging/build-deb.sh failed ({r.returncode}); {logfile}:\n"
                    + stk.tail(logfile, 60))
    debs = sorted(outdir.glob(f"{PKG}_*.deb"))
    assert len(debs) == 1, f"expected one {PKG}_*.deb in {outdir}, got {debs}"
    return debs[0]


# ---------------------------------------------------------------------------------------------
# The .deb itself


def test_deb_metadata(deb):
    version = cmake_version()
    field = lambda name: run(["dpkg-deb", "-f", str(deb), name]).stdout.strip()  # noqa: E731
    assert field("Package") == PKG
    assert field("Version") == version, f"the .deb's version is not CMake's project(VERSION) {version}"
    assert deb.name.startswith(f"{PKG}_{version}_")
    depends = field("Depends")
    assert re.search(r"\bapache2-api-\d{8}\b", depends), f"no httpd module ABI dependency: {depends}"
    files = deb_files(deb)
    for f in (f"{MODDIR}/mod_idmbalance.so", f"{ETC}/mods-available/idmbalance.load",
              f"{ETC}/mods-available/idmbalance.conf", f"{DOCDIR}/copyright",
              f"{DOCDIR}/changelog.gz", f"{DOCDIR}/examples/two-tomcats.conf",
              f"{DOCDIR}/examples/operator-selfservice.conf", f"{DOCDIR}/examples/active-active.conf",
              "/usr/bin/idmbalancectl", "/usr/share/man/man1/idmbalancectl.1.gz",
              "/usr/bin/idmbalance-migrate", "/usr/share/man/man1/idmbalance-migrate.1.gz"):
        assert f in files, f"{f} not in the package: {files}"
    assert f"{DOCDIR}/README.md.gz" in files or f"{DOCDIR}/README.md" in files, files
    # Every documentation path the packaged idmbalance.conf names is in the package.
    with tempfile.TemporaryDirectory() as d:
        run(["dpkg-deb", "-x", str(deb), d])
        conf = (Path(d) / "etc/apache2/mods-available/idmbalance.conf").read_text()
        load = (Path(d) / "etc/apache2/mods-available/idmbalance.load").read_text()
    assert f"LoadModule idmbalance_module {MODDIR}/mod_idmbalance.so" in load
    named = re.findall(r"(/usr/share/doc/\S+)", conf)
    assert named, "idmbalance.conf names no documentation"
    for p in named:
        p = p.rstrip("/.,)")
        assert p in files or any(f.startswith(p + "/") for f in files), \
            f"idmbalance.conf names {p}, which is not in the package"
    # The maintainer scripts are dh_apache2's (apache2-maintscript-helper), not a2enmod calls.
    with tempfile.TemporaryDirectory() as d:
        run(["dpkg-deb", "-e", str(deb), d])
        postinst = (Path(d) / "postinst").read_text()
        assert "apache2-maintscript-helper" in postinst and "apache2_invoke enmod" in postinst
        assert "apache2_invoke dismod" in (Path(d) / "prerm").read_text()


def test_lintian(deb, record_time):
    if not shutil.which("lintian"):
        pytest.fail("lintian not installed: run scripts/install-deps.sh")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="idmb-lintian-") as tmp:
        # lintian leaves its mldbm-* caches in TMPDIR: give it one that goes away.
        r = run(["lintian", "--info", "--display-info", str(deb)], check=False, timeout=900,
                env=dict(system_env(), TMPDIR=tmp))
    record_time("lintian", time.monotonic() - t0)
    print(r.stdout + r.stderr)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "lintian errors:\n" + "\n".join(errors)


@pytest.fixture
def tmpdir_private():
    """A temporary directory that is gone afterwards (pytest's tmp_path stays in /tmp)."""
    with tempfile.TemporaryDirectory(prefix="idmb-package-") as d:
        yield Path(d)


def test_cmake_install_matches_package(deb, tmpdir_private):
    """`cmake --install` (from source) puts the same files where the package does."""
    if not (BUILD_DIR / "cmake_install.cmake").exists():
        pytest.skip(f"{BUILD_DIR} is not a configured build tree")
    dest = tmpdir_private / "root"
    run(["cmake", "--install", str(BUILD_DIR), "--prefix", "/usr"], timeout=300,
        env=dict(system_env(), DESTDIR=str(dest)))
    installed = sorted("/" + str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    packaged = sorted(re.sub(r"\.gz$", "", f) for f in deb_files(deb)
                      if f not in (f"{DOCDIR}/copyright", f"{DOCDIR}/changelog.gz"))
    assert installed == packaged
    conf = (dest / "etc/apache2/mods-available/idmbalance.conf").read_text()
    assert f"{DOCDIR}/README.md\n" in conf and "README.md.gz" not in conf, conf
    load = (dest / "etc/apache2/mods-available/idmbalance.load").read_text()
    assert f"{MODDIR}/mod_idmbalance.so" in load, load


# ---------------------------------------------------------------------------------------------
# Installed into the system apache2


class System:
    """Changes to the system, each undone (in reverse order) when the ExitStack closes."""

    def __init__(self, stack: contextlib.ExitStack, backup_dir: Path):
        self.stack = stack
        self.backup_dir = backup_dir
        self.apache_pid: Optional[int] = None

    def edit(self, path: Path, edit) -> str:
        """Back up path, register its restore, write edit(text); returns the new text."""
        backup = self.backup_dir / path.name
        shutil.copy2(path, backup)
        st = path.stat()

        def restore():
            shutil.copy2(backup, path)
            os.chown(path, st.st_uid, st.st_gid)
        self.stack.callback(restore)
        new = edit(path.read_text())
        path.write_text(new)
        return new

    def apachectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["apache2ctl", *args], check=check, timeout=120)

    def start_apache(self, port: int) -> None:
        self.stack.callback(self.stop_apache)
        r = self.apachectl("start", check=False)
        pidfile = Path(envvar("APACHE_PID_FILE"))
        try:
            stk.wait_for(lambda: system_apache_pid() and stk.port_open(port), 30, 0.1,
                         f"the system apache2 to listen on 127.0.0.1:{port}")
        except TimeoutError:
            raise AssertionError(f"apache2ctl start: {r.returncode} {r.stdout}{r.stderr}\n"
                                 + stk.tail(Path(envvar("APACHE_LOG_DIR")) / "error.log", 30))
        self.apache_pid = int(pidfile.read_text().strip())

    def stop_apache(self) -> None:
        pid = self.apache_pid or system_apache_pid()
        if not pid:
            return
        self.apachectl("stop", check=False)
        try:
            stk.wait_for(lambda: not stk.pid_alive(pid), 30, 0.1, "the system apache2 to stop")
        except TimeoutError:
            stk.terminate_pids([pid], 10)
        self.apache_pid = None


def rewrite_listen(text: str, ports: Dict[str, int]) -> str:
    """Every `Listen X` to 127.0.0.1:<a free port> (one per distinct X); fills `ports`."""
    def sub(m):
        addr = m.group(2)
        if addr not in ports:
            ports[addr] = stk.free_port()
        return f"{m.group(1)}Listen 127.0.0.1:{ports[addr]}{m.group(3)}"
    return re.sub(r"^(\s*)Listen\s+(\S+)(.*)$", sub, text, flags=re.M | re.I)


def test_installed_package(deb, record_time, tmpdir_private):
    version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    work = (BUILD_DIR / "package-work").resolve()
    stk.mkdirs(work)
    stk.kill_leftovers(work)
    state_before = {**tree_state(ETC), **tree_state(STATE)}
    t_all = time.monotonic()
    ports: Dict[str, int] = {}
    assert not package_installed() and not system_apache_pid(), "the system changed meanwhile"

    def tidy_state():
        """a2enconf/a2disconf (as admin) leave a marker per name, and its directory, in
        /var/lib/apache2: remove the snippet's markers and directories that were not there."""
        after = tree_state(STATE)
        for p in sorted(set(after) - set(state_before), reverse=True):
            path = Path(p)
            if after[p][0] == "dir":
                if not any(path.iterdir()):
                    path.rmdir()
            elif path.name == SNIPPET:
                path.unlink()

    tomcats: List[stk.Tomcat] = []
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(tidy_state)
            scenario(stack, deb, version, work, ports, record_time, tmpdir_private,
                     tomcats, tidy_state)
    finally:
        leftover = diff_states(state_before, {**tree_state(ETC), **tree_state(STATE)})
        if leftover:
            print("NOT RESTORED:\n" + "\n".join(leftover))
    # Everything is undone by now (apache2, Tomcats, files), pass or fail.
    record_time("installed-package scenario", time.monotonic() - t_all)
    for t in tomcats:
        assert not t.is_running(), f"Tomcat {t.name} still running"
    assert not system_apache_pid(), "the system apache2 is still running"
    assert not leftover, "the system apache2's configuration is not as it was:\n" + "\n".join(leftover)


def scenario(stack: contextlib.ExitStack, deb: Path, version: str, work: Path,
             ports: Dict[str, int], record_time, backup_dir: Path, tomcats: List[stk.Tomcat],
             tidy_state) -> None:
    """Install, balance, purge: every change registered on `stack` to be undone."""
    sysm = System(stack, backup_dir)

    # -- Install. Fresh installs enable the module (dh_apache2, apache2-maintscript-helper)
    # and must not start apache2.
    with Timer(record_time, "apt-get install ./…deb"):
        def purge_if_installed():
            if package_installed():
                run(APT + ["purge", PKG], check=False)
        stack.callback(purge_if_installed)
        run(APT + ["install", str(deb)])
    assert package_installed(), f"{PKG} not installed after apt-get install"
    assert not system_apache_pid(), "installing the package started apache2"
    assert (ETC / "mods-enabled" / "idmbalance.load").is_symlink(), \
        "the package did not enable the module on install"
    owned = [p for p in run(["dpkg-query", "-L", PKG]).stdout.splitlines()
             if p.startswith((str(ETC) + "/", str(MODDIR) + "/")) and not os.path.isdir(p)]
    assert f"{MODDIR}/mod_idmbalance.so" in owned, owned
    run(["a2enmod", "idmbalance"])

    # -- Two Tomcats, AJP with a secret, on free loopback ports.
    with Timer(record_time, "two Tomcats up"):
        secret = secrets.token_hex(16)
        apps = stk.build_webapp(work)
        for name in ("t1", "t2"):
            t = stk.Tomcat(work, name, route=name, webapps={"/app": apps["app"]},
                           ajp=[stk.AjpConnector(stk.free_port(), 8192, secret)])
            stack.callback(t.stop)
            t.write_base()
            tomcats.append(t)
        stk.start_tomcats(tomcats)

    # -- The balancer in a conf-available snippet; the system apache2 moved to loopback.
    snippet = ETC / "conf-available" / f"{SNIPPET}.conf"

    def remove_snippet():
        if (ETC / "conf-enabled" / f"{SNIPPET}.conf").is_symlink():
            run(["a2disconf", "-q", SNIPPET], check=False)
        snippet.unlink(missing_ok=True)
        tidy_state()
    stack.callback(remove_snippet)
    members = "\n".join(f"    IdmMember {t.name} ajp://127.0.0.1:{t.ajp_port}" for t in tomcats)
    snippet.write_text(
        "# Written by mod_idmbalance's tests/package/test_package.py; removed when it ends.\n"
        "<IdmBalancer pkgtest>\n"
        f"    IdmSecret {secret}\n{members}\n"
        "    IdmConnectTimeout 2s\n"
        "</IdmBalancer>\n"
        "IdmMount /app/* pkgtest\n")
    run(["a2enconf", SNIPPET])
    sysm.edit(ETC / "ports.conf", lambda text: rewrite_listen(text, ports))
    assert ports, f"no Listen directive in {ETC / 'ports.conf'}"
    port = ports.get("80") or next(iter(ports.values()))
    default_site = ETC / "sites-available" / "000-default.conf"
    if (ETC / "sites-enabled" / "000-default.conf").exists():
        sysm.edit(default_site, lambda text: re.sub(r"<VirtualHost \*:80>",
                                                    f"<VirtualHost *:{port}>", text))
    r = sysm.apachectl("configtest", check=False)
    assert r.returncode == 0 and "Syntax OK" in r.stderr + r.stdout, r.stdout + r.stderr
    r = sysm.apachectl("-S")
    vhosts = r.stdout + r.stderr
    if default_site.exists():
        assert f"*:{port}" in vhosts and "000-default.conf" in vhosts, vhosts

    # -- Start it; forward; sticky sessions; new sessions on both members.
    with Timer(record_time, "apache2ctl start"):
        sysm.start_apache(port)
    with Timer(record_time, "requests through the system apache2"):
        sessions = []
        for i in range(12):
            js, hdrs = echo(port, f"/app/echo?session=1&n={i}")
            sid, route = js["sessionId"], js["route"]
            assert sid and sid.endswith("." + route), js
            cookies = [c.split(";")[0] for c in hdrs.get("set-cookie", [])]
            assert f"JSESSIONID={sid}" in cookies, hdrs
            sessions.append((sid, route))
        routes = [r for _, r in sessions]
        assert {routes.count("t1"), routes.count("t2")} <= set(range(3, 10)), \
            f"new sessions not spread over both members: {routes}"
        for _ in range(5):
            for sid, route in sessions:
                js, _ = echo(port, "/app/echo", {"Cookie": f"JSESSIONID={sid}"})
                assert js["route"] == route, f"session {sid} went to {js['route']}"
                assert js["requestedSessionId"] == sid, js
        status, _, body = http_get(port, "/balancer-status")
        assert status == 200, body[:300]
        text = body.decode()
        assert f"mod_idmbalance/{version}" in text, text[:2000]
        status, _, body = http_get(port, "/balancer-status?format=json")
        assert status == 200, body[:300]
        snap = json.loads(body)
        assert snap["version"] == f"mod_idmbalance/{version}", snap["version"]
        bal = [b for b in snap["balancers"] if b["name"] == "pkgtest"]
        assert bal, snap["balancers"]
        reqs = {m["name"]: m["requests"] for m in bal[0]["members"]}
        assert set(reqs) == {"t1", "t2"} and sum(reqs.values()) >= 72, reqs
        assert all(m["state"] == "ok" for m in bal[0]["members"]), bal[0]["members"]
        status, _, _ = http_get(port, "/balancer-manager")
        assert status == 200

    # -- Take it all away again, in the order an administrator would.
    with Timer(record_time, "stop, disable, purge"):
        sysm.stop_apache()
        run(["a2disconf", SNIPPET])
        remove_snippet()
        run(["a2dismod", "idmbalance"])
        run(APT + ["purge", PKG])
    assert not package_installed(), run(["dpkg-query", "-W", PKG], check=False).stdout
    left = [p for p in owned if os.path.lexists(p)]
    left += [str(p) for root in (ETC, MODDIR) for p in root.rglob("*idmbalance*")]
    left += [str(p) for p in STATE.rglob("*idmbalance*")]
    assert not left, f"left behind by the purge: {sorted(set(left))}"
    r = sysm.apachectl("configtest", check=False)
    assert r.returncode == 0, f"configtest without the package: {r.stdout}{r.stderr}"
