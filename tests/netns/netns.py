"""Network namespaces joined by a bridge, for tests that need several hosts on one machine.

Every namespace a Lab makes is named PREFIX<pid>-<host>, <pid> being the test process's. The
bridge and every veth live inside those namespaces (the bridge in PREFIX<pid>-sw), so the
machine's own namespace gets no interface, address or route; deleting the namespaces deletes
the links with them. cleanup_stale() removes what a killed run left behind (its pid is gone).

A thread can enter a namespace (enter()): sockets it opens from then on, and processes it
starts, belong to that namespace; the other threads are not affected.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

PREFIX = "idmbvr"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class Unsupported(Exception):
    """The kernel or the sandbox cannot make network namespaces here (the test skips)."""


def ip(*args: str, check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: rc={r.returncode}: {r.stderr.strip()}")
    return r


def enter(ns: str) -> None:
    """Moves the calling thread into network namespace `ns` (setns(2))."""
    fd = os.open(NETNS_DIR / ns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns({ns}): {os.strerror(e)}")
    finally:
        os.close(fd)


def run_in(ns: str, fn: Callable, *args, timeout: float = 30):
    """fn(*args) in a thread inside `ns`; its result, or its exception re-raised."""
    out: Dict[str, object] = {}

    def body():
        try:
            enter(ns)
            out["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            out["error"] = e
    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        raise TimeoutError(f"{fn.__name__} in {ns} took over {timeout}s")
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out.get("value")


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def address_is_local(addr: str) -> bool:
    """True when `addr` is an address of the calling thread's namespace (bind() succeeds only
    for local addresses while net.ipv4.ip_nonlocal_bind is 0, the default)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((addr, 0))
        return True
    except OSError as e:
        if e.errno == errno.EADDRNOTAVAIL:
            return False
        raise
    finally:
        s.close()


def namespaces() -> List[str]:
    r = ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def pids_in(ns: str) -> List[int]:
    r = ip("netns", "pids", ns, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def kill_all_in(ns: str, timeout: float = 10.0) -> None:
    """SIGTERM every process in `ns` (all are the test's: nothing else runs in its namespaces),
    then SIGKILL what is left after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        pids = pids_in(ns)
        for p in pids:
            try:
                os.kill(p, signal.SIGCONT)
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = pids_in(ns)
        if not pids:
            return


def _owner_alive(name: str) -> bool:
    """Whether the test process that made namespace `name` still runs (a python process with
    the pid in the name: another process that got the pid since does not count)."""
    digits = name[len(PREFIX):].split("-", 1)[0]
    try:
        return digits.isdigit() and b"python" in Path(f"/proc/{digits}/cmdline").read_bytes()
    except OSError:
        return False


def cleanup_stale() -> List[str]:
    """Deletes every namespace named PREFIX<pid>-… whose test process is gone (with what runs
    in it), and any link of ours in this namespace (none is made here; a safety net)."""
    removed = []
    for ns in namespaces():
        if ns.startswith(PREFIX) and not _owner_alive(ns):
            kill_all_in(ns, 5.0)
            ip("netns", "del", ns, check=False)
            removed.append(ns)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith(PREFIX):
            ip("link", "del", name, check=False)
            removed.append(name)
    return removed


class Lab:
    """Hosts (one namespace each, interface eth0) on one bridge in a switch namespace."""

    def __init__(self, prefix_len: int = 24):
        self.tag = f"{PREFIX}{os.getpid()}"
        self.switch = f"{self.tag}-sw"
        self.prefix_len = prefix_len
        self.hosts: Dict[str, str] = {}  # host name -> namespace
        self._made: List[str] = []

    def ns(self, host: str) -> str:
        return self.hosts[host]

    def _add_ns(self, name: str) -> None:
        r = ip("netns", "add", name, check=False)
        if r.returncode != 0:
            if "Operation not permitted" in r.stderr or "Permission denied" in r.stderr:
                raise Unsupported(f"ip netns add: {r.stderr.strip()} (network namespaces need "
                                  "root and a kernel/sandbox that allows them)")
            raise RuntimeError(f"ip netns add {name}: {r.stderr.strip()}")
        self._made.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        # No IPv6 on the test links: no DAD delay, no router solicitations in the logs.
        subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w",
                        "net.ipv6.conf.all.disable_ipv6=1"], capture_output=True, timeout=10)

    def create_switch(self) -> None:
        self._add_ns(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def add_host(self, host: str, address: str) -> str:
        """A namespace with eth0 = `address`/prefix_len, cabled to the bridge."""
        ns = f"{self.tag}-{host}"
        self._add_ns(ns)
        port = f"p-{host}"[:15]
        ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
           "netns", ns)
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", ns, "addr", "add", f"{address}/{self.prefix_len}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        self.hosts[host] = ns
        return ns

    def exec_cmd(self, host: str, *argv: str) -> List[str]:
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def destroy(self) -> None:
        """Stops every process in the lab's namespaces and deletes them (links go with them)."""
        for ns in reversed(self._made):
            kill_all_in(ns, 10.0)
        for ns in reversed(self._made):
            ip("netns", "del", ns, check=False)
        self._made.clear()

    def leftovers(self) -> List[str]:
        return [n for n in namespaces() if n.startswith(self.tag + "-")]


def wait_until(pred: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def holders_monitor(lab: Lab, hosts: List[str], addr: str, stop: threading.Event,
                    log: List[tuple], interval: float = 0.01,
                    max_seconds: float = 600) -> List[threading.Thread]:
    """Threads, one per host inside its namespace, that append (monotonic time, host, holds)
    to `log` whenever `addr` appears on or leaves that host."""
    def watch(host: str):
        enter(lab.ns(host))
        last: Optional[bool] = None
        end = time.monotonic() + max_seconds
        while not stop.is_set() and time.monotonic() < end:
            now = address_is_local(addr)
            if now != last:
                log.append((time.monotonic(), host, now))
                last = now
            time.sleep(interval)
    threads = [threading.Thread(target=watch, args=(h,), daemon=True) for h in hosts]
    for t in threads:
        t.start()
    return threads
