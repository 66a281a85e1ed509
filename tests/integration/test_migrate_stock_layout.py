"""idmbalance-migrate's output in Debian's stock apache2 layout (issue 11: "starts in a stock
apache2 with the module enabled"): the golden mod_jk tree (tests/data/migrate/golden/) converted
by the built tool in one run (jk.conf names the workers file, idm.conf mounts its balancers), the
result enabled as a conf snippet (conf-available + a2enconf) next to 000-default; httpd starts and
its status page lists the converted balancers and members."""
import subprocess

import pytest

import example_layouts as ex
import migrate_setup as ms
import stack as stk
from httpc import get

TOOL = ms.migrate_tool()
GOLDEN = stk.REPO / "tests" / "data" / "migrate" / "golden" / "etc-apache2"
pytestmark = [pytest.mark.idmbalance_only,
              pytest.mark.skipif(not TOOL.exists(), reason=f"{TOOL} is not built")]


def convert(*paths: str) -> str:
    done = subprocess.run([str(TOOL), "--server-root", str(GOLDEN), *(str(GOLDEN / p) for p in paths)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\nJk" not in done.stdout and not done.stdout.startswith("Jk"), done.stdout
    return done.stdout


def test_converted_config_starts_in_the_stock_layout():
    work = stk.run_dir("migrate-stock")
    stk.mkdirs(work)
    stk.kill_leftovers(work)
    port = stk.free_port()
    module = stk.module_from_env("idmbalance")
    converted = convert("mods-available/jk.conf", "sites-available/idm.conf")
    h = ex.stock_httpd(work / "httpd", port, module, converted, kind="conf", name="idmbalance-migrated.conf")
    ex.start_checked(h)
    try:
        r = get(port, "/balancer-status?format=json")
        assert r.status == 200, r
        members = {b["name"]: sorted(m["name"] for m in b["members"]) for b in r.json()["balancers"]}
        assert members == {"operator": ["node1", "node2", "node3"], "selfservice": ["self1", "self2"]}, members
    finally:
        h.stop()
