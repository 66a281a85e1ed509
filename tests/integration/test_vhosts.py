"""Virtual hosts without Idm* directives (issue 8).

httpd hands a <VirtualHost> with no directive of a module the main server's configuration of that
module itself. Debian's stock 000-default site is such a vhost, so the main server's balancers
must then count once, and the vhost must serve the main server's mounts. One httpd of its own:
balancer `app` (t1+t2) defined and mounted (/app/*) in the main server; two name-based vhosts and
one IP-based vhost with no Idm* directive; one vhost that mounts the main server's balancer at a
path the main server does not mount (/escaped/*).
"""
from __future__ import annotations

from collections import Counter

import pytest

import balancer_api as bapi
import stack as stk
from conftest import _members
from httpc import get

pytestmark = pytest.mark.idmbalance_only

N = 16


@pytest.fixture(scope="module")
def vhosts(stack):
    main_port, ip_port, mount_port = stk.free_ports(3)
    extra = bapi.status_conf() + f"""
Listen 127.0.0.1:{ip_port}
Listen 127.0.0.1:{mount_port}
<VirtualHost *:{main_port}>
    ServerName a.example
</VirtualHost>
<VirtualHost *:{main_port}>
    ServerName b.example
    ServerAlias *.b.example
</VirtualHost>
<VirtualHost 127.0.0.1:{ip_port}>
    ServerName ip.example
</VirtualHost>
<VirtualHost 127.0.0.1:{mount_port}>
    ServerName mount.example
    IdmMount /escaped/* app
</VirtualHost>
"""
    cfg = stk.HttpdConfig(stack.workdir / "httpd-vhosts", main_port, stack.frontend, stack.module,
                          balancers=[stk.Balancer("app", _members(stack))],
                          mounts=[stk.Mount("/app/*", "app")], extra=extra)
    h = stk.Httpd(cfg)
    h.write()
    check = h.configtest()
    assert check.returncode == 0, check.stdout + check.stderr
    h.start()
    try:
        yield {"main": main_port, "ip": ip_port, "mount": mount_port}
    finally:
        h.stop()


@pytest.mark.parametrize("host", ["a.example", "b.example", "x.b.example", "unknown.example"])
def test_name_based_vhost_without_directives_serves_main_mounts(vhosts, host):
    routes = Counter(get(vhosts["main"], "/app/echo", headers={"Host": host}).json()["route"]
                     for _ in range(N))
    assert set(routes) == {"t1", "t2"}, routes


def test_ip_based_vhost_without_directives_serves_main_mounts(vhosts):
    routes = Counter(get(vhosts["ip"], "/app/echo").json()["route"] for _ in range(N))
    assert set(routes) == {"t1", "t2"}, routes


def test_vhost_mounts_a_main_server_balancer(vhosts):
    r = get(vhosts["mount"], "/escaped/echo")
    assert r.status == 200, r
    assert r.json()["route"] in ("t1", "t2")
    # The main server does not mount /escaped: its vhosts answer from httpd, not Tomcat.
    assert get(vhosts["ip"], "/escaped/echo").status == 404


def test_main_server_balancer_counted_once(vhosts):
    snap = bapi.snapshot(vhosts["ip"])
    assert [b["name"] for b in snap["balancers"]] == ["app"], snap["balancers"]
    members = bapi.members_of(snap, "app")
    assert sorted(members) == ["t1", "t2"]
    before = sum(m["requests"] for m in members.values())
    for port in (vhosts["main"], vhosts["ip"], vhosts["mount"]):
        assert get(port, "/app/echo").status == 200
    after = sum(bapi.requests_by_member(vhosts["main"], "app").values())
    assert after - before == 3
