"""A Tomcat whose AJP connectionTimeout (1.5 s here; 20 s and 60 s are common) is shorter than
IdmPoolIdleTimeout (60 s, the default) closes pooled connections while httpd still holds them.
Under POST load with pauses around that timeout, no POST may get a 5xx: a POST cannot be sent
again once it may have reached Tomcat, so the module must not send it on a connection Tomcat
is closing."""
from __future__ import annotations

import random
import threading
import time
import uuid

import pytest

import stack as stk
from conftest import own_httpd
from httpc import request

pytestmark = pytest.mark.idmbalance_only

TOMCAT_TIMEOUT_MS = 1500
CLIENTS = 6
RUN_S = 25.0
MAX_POSTS_PER_CLIENT = 200


@pytest.fixture(scope="module")
def short_timeout_tomcat(stack):
    t = stk.Tomcat(stack.workdir, "tshort", route="tshort",
                   ajp=[stk.AjpConnector(stk.free_port(), 8192, stack.secret,
                                         extra=f'connectionTimeout="{TOMCAT_TIMEOUT_MS}"')],
                   webapps={"/app": stack.apps["app"]})
    t.write_base()
    t.start()
    try:
        yield t
    finally:
        t.stop()


def test_posts_with_pauses_around_tomcats_idle_timeout_get_no_5xx(stack, short_timeout_tomcat):
    t = short_timeout_tomcat
    balancer = stk.Balancer("short", [stk.Member(t.name, t.ajp_port, route=t.route, secret=stack.secret)],
                            pool_idle_timeout="60s", connect_timeout="2s")
    with own_httpd(stack, "short", balancer) as h:
        results = []
        lock = threading.Lock()
        deadline = time.monotonic() + RUN_S

        def client(seed: int):
            rnd = random.Random(seed)
            for _ in range(MAX_POSTS_PER_CLIENT):
                if time.monotonic() >= deadline:
                    return
                rid = uuid.uuid4().hex
                r = request(h.port, "POST", "/app/count", body=b"x" * rnd.choice((100, 3000, 20000)),
                            headers={"X-Request-Id": rid, "Content-Type": "application/octet-stream"},
                            timeout=30)
                with lock:
                    results.append((r.status, rid))
                # Around Tomcat's timeout; its poller closes idle sockets up to ~1 s late.
                time.sleep(rnd.uniform(TOMCAT_TIMEOUT_MS / 1000 - 0.3, TOMCAT_TIMEOUT_MS / 1000 + 1.3))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(RUN_S + 60)
        bad = [(s, rid) for s, rid in results if s != 200]
        print(f"{len(results)} POSTs, {len(bad)} not 200")
        assert len(results) >= 30, "the load did not run"
        assert bad == [], bad[:10]
