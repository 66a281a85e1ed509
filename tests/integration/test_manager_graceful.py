"""Manager edits survive `apachectl graceful` (apache2 -k graceful on the session httpd): the
balancer's method and sticky_force, and a member's factor and activation, are read back from
the new generation's status JSON and still steer routing.

Balancer `mgr` (t1+t2) on stack.mgr_port, as in test_manager.py; everything is put back.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

import balancer_api as bapi
from balancer_api import Restore

pytestmark = pytest.mark.idmbalance_only

B = "mgr"


def settings(port: int) -> dict:
    """What this test edits, as the status JSON shows it."""
    snap = bapi.snapshot(port)
    b = bapi.balancer_of(snap, B)
    ms = bapi.members_of(snap, B)
    return {"generation": snap["generation"], "method": b["method"], "sticky_force": b["sticky"]["force"],
            "members": {n: (m["factor"], m["activation"]) for n, m in ms.items()}}


def graceful(httpd) -> None:
    """apache2 -k graceful, then wait (bounded) until the old children are gone, so the next
    page comes from the new generation."""
    old_kids = set(httpd.children())
    httpd.graceful()
    deadline = time.monotonic() + 20
    while old_kids & set(httpd.children()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not old_kids & set(httpd.children()), "old children still there 20 s after graceful"


def new_route(port: int, tag: str) -> str:
    return bapi.echo_route(port, f"/app/echo?tid={tag}")["route"]


def test_manager_edits_survive_graceful(stack):
    port = stack.mgr_port
    start = settings(port)
    assert start["method"] != "p2c" and start["sticky_force"] is False, start
    assert start["members"]["t1"] == (1, "active") and start["members"]["t2"] == (1, "active"), start
    tag = bapi.new_tag()
    try:
        with Restore(port, B, ["t1", "t2"]):
            bapi.command(port, B, method="p2c", sticky_force="on")
            bapi.command(port, B, "t1", factor=7)
            bapi.set_activation(port, B, "t2", "stopped")
            before = settings(port)
            assert before["method"] == "p2c" and before["sticky_force"] is True, before
            assert before["members"] == {"t1": (7, "active"), "t2": (1, "stopped")}, before

            graceful(stack.httpd)
            after = settings(port)
            assert after["generation"] > before["generation"], (before, after)
            assert after["method"] == "p2c", "the balancer's method was lost in the graceful restart"
            assert after["sticky_force"] is True, "sticky_force was lost in the graceful restart"
            assert after["members"]["t1"][0] == 7, "a member's factor was lost in the graceful restart"
            assert after["members"]["t2"][1] == "stopped", "a member's activation was lost"
            assert after["members"] == before["members"], (before, after)

            # The carried-over settings are the live ones: t2 is stopped, so t1 takes everything.
            routes = Counter(bapi.parallel(lambda i: new_route(port, f"{tag}-{i}"), range(12), workers=4))
            assert routes == {"t1": 12}, routes
    finally:
        if settings(port)["method"] != start["method"] or settings(port)["sticky_force"] != start["sticky_force"]:
            bapi.command(port, B, method=start["method"], sticky_force="on" if start["sticky_force"] else "off")
    end = settings(port)
    assert (end["method"], end["sticky_force"], end["members"]) == (
        start["method"], start["sticky_force"], start["members"]), (start, end)
