"""Processes, ports and /proc readers for the integration harness: free ports, bounded waits,
finding, signalling and stopping our own processes, and TCP sockets from /proc/net/tcp.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import os
import signal
import socket
import sys
import time
from typing import Dict, Iterable, List, Optional

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


def client_sockets(ports: set) -> Dict[tuple, str]:
    """{(local port, remote port): state code} of the client side of IPv4/IPv6 TCP connections
    to any of `ports` (from /proc/net/tcp*; state "01" is ESTABLISHED, see TCP_STATES)."""
    out = {}
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    if rport in ports:
                        out[(int(parts[1].rsplit(":", 1)[1], 16), rport)] = parts[3]
        except OSError:
            pass
    return out
