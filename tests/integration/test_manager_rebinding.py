"""The manager answers only to names of this server (issue 9, item 3: DNS rebinding).

A page on an attacker's name that the attacker rebinds to this server's address is same-origin
with itself: its Origin and Referer match its Host, and it can read the nonce with a GET. So a
manager request whose Host is not the ServerName, a ServerAlias or the address the connection
came in on is refused (421) before anything is read or changed. Balancer `mgr` on
stack.mgr_port (ServerName 127.0.0.1).
"""
from __future__ import annotations

import pytest

import balancer_api as bapi
from balancer_api import MANAGER_PATH
from httpc import get

pytestmark = pytest.mark.idmbalance_only

B = "mgr"


def rebound(port: int) -> dict:
    name = f"attacker.example:{port}"
    return {"Host": name, "Origin": f"http://{name}", "Referer": f"http://{name}/page.html"}


@pytest.mark.parametrize("query", ["", "?format=json", "?format=prometheus"])
def test_get_on_a_rebound_name_is_refused(stack, query):
    r = get(stack.mgr_port, MANAGER_PATH + query, headers=rebound(stack.mgr_port))
    assert r.status == 421, r
    assert bapi.nonce(stack.mgr_port).encode() not in r.body


def test_post_on_a_rebound_name_changes_nothing(stack):
    port = stack.mgr_port
    before = bapi.table_state(bapi.snapshot(port))
    fields = [("nonce", bapi.nonce(port)), ("balancer", B), ("member", "t2"), ("action", "disable")]
    r = bapi.post_form(port, fields, headers=rebound(port))
    assert r.status == 421, r
    assert bapi.table_state(bapi.snapshot(port)) == before


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_servers_own_names_still_work(stack, host):
    r = get(stack.mgr_port, MANAGER_PATH + "?format=json", headers={"Host": f"{host}:{stack.mgr_port}"})
    assert r.status == 200, r
    assert r.json()["nonce"]
