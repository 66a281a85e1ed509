"""Helpers for the balancer tests: the status/manager pages, manager POSTs, the routing log.

The session stack (conftest.py) and the prefork httpd both have
    /balancer-status   SetHandler idmbalance-status   (Require ip 127.0.0.1)
    /balancer-manager  SetHandler idmbalance-manager  (Require ip 127.0.0.1)
and a second access log, logs/balance.log, in ROUTE_LOG_FORMAT: one line per request with
the child pid and the IDMB_* variables the module exports for mod_log_config.
"""
from __future__ import annotations

import dataclasses
import re
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import stack as stk
from httpc import Response, get, request

STATUS_PATH = "/balancer-status"
MANAGER_PATH = "/balancer-manager"

# Fields: pid balancer member route session_route sticky route_changed status vhost-port "request"
ROUTE_LOG_FORMAT = ('%P %{IDMB_BALANCER}e %{IDMB_MEMBER}e %{IDMB_ROUTE}e %{IDMB_SESSION_ROUTE}e '
                    '%{IDMB_STICKY}e %{IDMB_ROUTE_CHANGED}e %>s %{local}p \\"%r\\"')
ROUTE_LOG_NAME = "balance.log"


DRAIN_QUIET_S = 2.0  # IdmDrainQuietTime of the test configs


def status_conf(require: str = "Require ip 127.0.0.1") -> str:
    """The handler Locations (localhost only, as the Debian conf has them)."""
    return (f"IdmDrainQuietTime {int(DRAIN_QUIET_S * 1000)}ms\n"
            f'<Location "{STATUS_PATH}">\n    SetHandler idmbalance-status\n    {require}\n</Location>\n'
            f'<Location "{MANAGER_PATH}">\n    SetHandler idmbalance-manager\n    {require}\n</Location>\n')


def route_log_conf() -> str:
    return (f'LogFormat "{ROUTE_LOG_FORMAT}" idmbroute\n'
            f'CustomLog "{{root}}/logs/{ROUTE_LOG_NAME}" idmbroute\n')


# ---------------------------------------------------------------------------------------------
# Reading the pages


def page(port: int, manager: bool = True, fmt: Optional[str] = None, **kw) -> Response:
    path = MANAGER_PATH if manager else STATUS_PATH
    if fmt:
        path += f"?format={fmt}"
    return get(port, path, **kw)


def snapshot(port: int, manager: bool = True) -> dict:
    r = page(port, manager, "json")
    assert r.status == 200, r
    return r.json()


def balancer_of(snap: dict, balancer: str) -> dict:
    for b in snap["balancers"]:
        if b["name"] == balancer:
            return b
    raise AssertionError(f"balancer {balancer!r} not in the status JSON: "
                         f"{[b['name'] for b in snap['balancers']]}")


def members_of(snap: dict, balancer: str) -> Dict[str, dict]:
    return {m["name"]: m for m in balancer_of(snap, balancer)["members"]}


def member_state(port: int, balancer: str, member: str) -> dict:
    return members_of(snapshot(port), balancer)[member]


def requests_by_member(port: int, balancer: str) -> Dict[str, int]:
    return {n: m["requests"] for n, m in members_of(snapshot(port), balancer).items()}


def nonce(port: int) -> str:
    snap = snapshot(port, manager=True)
    n = snap.get("nonce")
    assert isinstance(n, str) and len(n) >= 16, f"manager JSON has no usable nonce: {n!r}"
    return n


# Everything in a member record that a refused request must not change. Counters are left out
# on purpose where a test sends traffic; here nothing is sent between the two snapshots.
MUTABLE_MEMBER_KEYS = ("activation", "factor", "requests", "errors", "errors_total", "bytes_in",
                       "bytes_out", "sticky_hits", "state")


def table_state(snap: dict) -> dict:
    """What a manager command can change: balancer settings and member records."""
    out = {}
    for b in snap["balancers"]:
        out[b["name"]] = {
            "method": b["method"], "sticky": b["sticky"],
            "members": {m["name"]: {k: m[k] for k in MUTABLE_MEMBER_KEYS} for m in b["members"]},
        }
    return out


# ---------------------------------------------------------------------------------------------
# Manager commands


def post_form(port: int, fields: Sequence[Tuple[str, str]], headers: Optional[Dict[str, str]] = None,
              path: str = MANAGER_PATH, accept_json: bool = False) -> Response:
    body = urllib.parse.urlencode(list(fields)).encode()
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if accept_json:
        h["Accept"] = "application/json"
    h.update(headers or {})
    return request(port, "POST", path, body=body, headers=h)


def command(port: int, balancer: str, member: Optional[str] = None, action: Optional[str] = None,
            factor: Optional[int] = None, expect: int = 303, accept_json: bool = False,
            **extra: str) -> Response:
    """A manager POST with a fresh nonce; asserts the expected status."""
    fields = [("nonce", nonce(port)), ("balancer", balancer)]
    if member is not None:
        fields.append(("member", member))
    if action is not None:
        fields.append(("action", action))
    if factor is not None:
        fields.append(("factor", str(factor)))
    fields += list(extra.items())
    r = post_form(port, fields, accept_json=accept_json)
    assert r.status == expect, (fields, r)
    if expect == 303:
        loc = r.header("Location") or ""
        assert loc.endswith(MANAGER_PATH), f"303 Location {loc!r}"
    return r


def set_activation(port: int, balancer: str, member: str, activation: str) -> None:
    action = {"active": "activate", "disabled": "disable", "stopped": "stop",
              "standby": "standby"}[activation]
    command(port, balancer, member, action)
    got = member_state(port, balancer, member)["activation"]
    assert got == activation, f"{balancer}/{member}: activation {got!r} after action={action}"


class Restore:
    """Context manager: puts members' activation and factor back as they were, whatever happens."""

    def __init__(self, port: int, balancer: str, members: Iterable[str] = ()):
        self.port = port
        self.balancer = balancer
        self.members = list(members)
        self.saved: Dict[str, dict] = {}

    def __enter__(self):
        ms = members_of(snapshot(self.port), self.balancer)
        for name in self.members or ms.keys():
            self.saved[name] = {"activation": ms[name]["activation"], "factor": ms[name]["factor"]}
        return self

    def __exit__(self, *exc):
        ms = members_of(snapshot(self.port), self.balancer)
        for name, want in self.saved.items():
            if ms[name]["factor"] != want["factor"]:
                command(self.port, self.balancer, name, factor=want["factor"])
            if ms[name]["activation"] != want["activation"]:
                set_activation(self.port, self.balancer, name, want["activation"])
        return False


# ---------------------------------------------------------------------------------------------
# Prometheus text


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> List[Tuple[str, Dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = PROM_LINE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(PROM_LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


# ---------------------------------------------------------------------------------------------
# Traffic and the route log


def new_tag() -> str:
    return uuid.uuid4().hex[:12]


@dataclasses.dataclass
class RouteLine:
    pid: int
    balancer: str
    member: str
    route: str
    session_route: str
    sticky: str
    route_changed: str
    status: int
    port: int
    request: str


class RouteLog:
    """Lines of logs/balance.log written since construction."""

    def __init__(self, httpd_root: Path):
        self.path = Path(httpd_root) / "logs" / ROUTE_LOG_NAME
        self.offset = stk.file_size(self.path)

    def lines(self, tag: Optional[str] = None) -> List[RouteLine]:
        out = []
        for raw in stk.tail(self.path, 10 ** 7, self.offset).splitlines():
            parts = raw.split(" ", 9)
            if len(parts) != 10:
                continue
            if tag and tag not in parts[9]:
                continue
            out.append(RouteLine(int(parts[0]), parts[1], parts[2], parts[3], parts[4], parts[5],
                                 parts[6], int(parts[7]), int(parts[8]), parts[9].strip('"')))
        return out

    def wait(self, tag: str, n: int, timeout: float = 10.0) -> List[RouteLine]:
        """mod_log_config writes after the response went out: poll for n tagged lines."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.lines(tag)
            if len(got) >= n or time.monotonic() >= deadline:
                assert len(got) == n, f"{len(got)} route-log lines tagged {tag}, expected {n}"
                return got
            time.sleep(0.05)


def echo_route(port: int, path: str, headers: Optional[Dict[str, str]] = None) -> dict:
    """GET on a new connection; returns the echo JSON with the response's Set-Cookie added."""
    r = get(port, path, headers=headers or {})
    assert r.status == 200, (path, r)
    js = r.json()
    js["_set_cookie"] = r.header_all("Set-Cookie")
    return js


def parallel(fn, args: Sequence, workers: int = 8, timeout: float = 120.0) -> list:
    """fn(arg) for every arg on `workers` threads (each call opens its own connection)."""
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futs = [ex.submit(fn, a) for a in args]
        deadline = time.monotonic() + timeout
        return [f.result(timeout=max(0.1, deadline - time.monotonic())) for f in futs]


def new_session(port: int, prefix: str = "/app", tag: str = "") -> Tuple[str, str]:
    """Creates a session; returns (session id incl. '.route', route that served it)."""
    js = echo_route(port, f"{prefix}/echo?session=1&tid={tag}-new")
    sid = js["sessionId"]
    assert sid and "." in sid, f"no session id with a route: {js}"
    cookies = [c for c in js["_set_cookie"] if c.startswith("JSESSIONID=")]
    assert cookies and cookies[0].split(";")[0] == f"JSESSIONID={sid}", js["_set_cookie"]
    assert sid.split(".", 1)[1] == js["route"], (sid, js["route"])
    return sid, js["route"]

