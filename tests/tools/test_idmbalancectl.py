"""idmbalancectl without a network: arguments, front-end lists, targets, the status table and
the drain loop (fake front ends, injected clock). The real thing against two httpds:
tests/integration/test_idmbalancectl.py."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "idmbalancectl" / "idmbalancectl"


def load_tool():
    loader = importlib.machinery.SourceFileLoader("idmbalancectl", str(TOOL))
    spec = importlib.util.spec_from_loader("idmbalancectl", loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["idmbalancectl"] = mod  # dataclasses look their module up there
    loader.exec_module(mod)
    return mod


ctl = load_tool()
A = "http://10.0.0.1/balancer-manager"
B = "http://10.0.0.2/balancer-manager"


def parse(*argv):
    return ctl.build_parser().parse_args(list(argv))


def urls(args, env=None, files=None):
    files = files or {}

    def read(p):
        if p not in files:
            raise FileNotFoundError(2, "No such file or directory")
        return files[p]
    return ctl.frontend_urls(args, env or {}, read)


# -- arguments and front ends

def test_frontend_repeatable_in_order():
    args = parse("--frontend", A, "-f", B, "status")
    assert args.command == "status"
    assert urls(args) == [A, B]


def test_config_file_comments_and_separators():
    text = f"# front ends\n{A}   # the first\n\n  {B},http://10.0.0.3/balancer-manager\n"
    args = parse("--config", "/etc/fe", "status")
    assert urls(args, files={"/etc/fe": text}) == [A, B, "http://10.0.0.3/balancer-manager"]


def test_environment_variable_space_or_comma():
    env = {"IDMBALANCECTL_FRONTENDS": f" {A}, {B} ,"}
    assert urls(parse("status"), env) == [A, B]


def test_command_line_wins_over_environment():
    env = {"IDMBALANCECTL_FRONTENDS": B}
    assert urls(parse("-f", A, "status"), env) == [A]


def test_config_adds_to_frontend_and_duplicates_count_once():
    args = parse("-f", A, "-c", "f", "status")
    assert urls(args, files={"f": f"{B}\n{A}\n"}) == [A, B]


def test_no_frontend_is_a_usage_error():
    with pytest.raises(ctl.UsageError, match="no front end"):
        urls(parse("status"), {"IDMBALANCECTL_FRONTENDS": " , "})


def test_missing_config_file_is_named():
    with pytest.raises(ctl.UsageError, match="--config /nope"):
        urls(parse("-c", "/nope", "status"))


@pytest.mark.parametrize("bad", ["10.0.0.1/balancer-manager", "ftp://h/x", "http:///x"])
def test_bad_urls_refused(bad):
    with pytest.raises(ctl.UsageError, match="not an http"):
        urls(parse("-f", bad, "status"))


def test_json_before_or_after_the_command():
    assert parse("--json", "status").json is True
    assert parse("status", "--json").json is True
    assert parse("status").json is False


@pytest.mark.parametrize("action", ["disable", "stop", "activate", "standby", "recover", "reset"])
def test_member_actions(action):
    args = parse("-f", A, action, "app/node1")
    assert args.command == action and args.target == "app/node1"


def test_factor_and_drain_arguments():
    args = parse("factor", "node2", "7")
    assert (args.target, args.factor) == ("node2", 7)
    args = parse("drain", "node1", "--wait", "--timeout", "30")
    assert (args.wait, args.timeout, args.interval) == (True, 30.0, 2.0)
    assert parse("drain", "node1").wait is False


@pytest.mark.parametrize("argv", [["factor", "node1"], ["disable"], ["frobnicate", "x"], []])
def test_wrong_usage_exits_2(argv):
    with pytest.raises(SystemExit) as e:
        parse(*argv)
    assert e.value.code == 2


def test_factor_out_of_range_exits_2(capsys):
    assert ctl.main(["-f", A, "factor", "node1", "101"], env={}) == 2
    assert "1 to 100" in capsys.readouterr().err


@pytest.mark.parametrize("target,want", [("node1", (None, "node1")), ("app/node1", ("app", "node1"))])
def test_split_target(target, want):
    assert ctl.split_target(target) == want


@pytest.mark.parametrize("bad", ["/node1", "app/", "a/b/c", ""])
def test_split_target_refuses(bad):
    with pytest.raises(ctl.UsageError):
        ctl.split_target(bad)


def test_user_password_sources():
    asked = []
    ask = lambda prompt: asked.append(prompt) or "typed"  # noqa: E731
    assert ctl.parse_user("ops:s3:cret", {}, ask) == ("ops", "s3:cret")
    assert ctl.parse_user("ops", {"IDMBALANCECTL_PASSWORD": "env"}, ask) == ("ops", "env")
    assert asked == []
    assert ctl.parse_user("ops", {}, ask) == ("ops", "typed") and asked == ["password for ops: "]
    assert ctl.parse_user(None, {}, ask) is None


def test_url_userinfo_becomes_basic_auth_and_is_never_shown():
    fe = ctl.Frontend("https://ops:p%40ss@fe1.example:8443/balancer-manager", None, None, 5)
    assert fe.auth == ("ops", "p@ss")
    assert fe.url == "https://fe1.example:8443/balancer-manager"
    assert "p%40ss" not in fe.shown and "p@ss" not in fe.shown
    plain = ctl.Frontend(A, ("u", "p"), None, 5)
    assert plain.auth == ("u", "p") and plain.url == A


# -- member lookup

SNAP = {"balancers": [
    {"name": "operator", "members": [{"name": "node1"}, {"name": "node2"}]},
    {"name": "selfservice", "members": [{"name": "node2"}, {"name": "node3"}]}]}


def test_resolve_balancer():
    assert ctl.resolve_balancer(SNAP, (None, "node1")) == "operator"
    assert ctl.resolve_balancer(SNAP, ("selfservice", "node2")) == "selfservice"
    with pytest.raises(ctl.FrontendError, match="in balancers operator, selfservice"):
        ctl.resolve_balancer(SNAP, (None, "node2"))
    with pytest.raises(ctl.FrontendError, match="no member 'node9'"):
        ctl.resolve_balancer(SNAP, (None, "node9"))
    with pytest.raises(ctl.FrontendError, match="no balancer 'x'"):
        ctl.resolve_balancer(SNAP, ("x", "node1"))
    with pytest.raises(ctl.FrontendError, match="has no member 'node3'"):
        ctl.resolve_balancer(SNAP, ("operator", "node3"))


# -- the status table

def member(name, activation="active", state="ok", factor=1, **kw):
    rec = {"name": name, "route": name, "activation": activation, "state": state, "factor": factor,
           "busy": 0, "requests": 10, "errors_total": 0, "drained": False}
    rec.update(kw)
    return rec


def snap(*members, balancer="app"):
    return {"balancers": [{"name": balancer, "members": list(members)}]}


def table_lines(text):
    return [l for l in text.splitlines() if l.strip()]


def test_status_all_agree():
    results = [ctl.Result(A, snap(member("node1"), member("node2"))),
               ctl.Result(B, snap(member("node1", requests=99), member("node2")))]
    text = ctl.render_status(results)
    assert f"front end #1: {A}" in text and f"front end #2: {B}" in text
    assert "all front ends agree" in text
    assert "!" not in text  # counters differ, settings do not
    rows = [l.split() for l in table_lines(text) if " #" in l and "front end" not in l]
    assert len(rows) == 4  # two members x two front ends
    assert rows[0][:4] == ["app", "node1", "#1", "node1"]
    assert rows[1][0] == "#2"  # the member's second row names only the front end


def test_status_marks_differences():
    results = [ctl.Result(A, snap(member("node1", activation="disabled"), member("node2"))),
               ctl.Result(B, snap(member("node1"), member("node2", factor=5)))]
    text = ctl.render_status(results)
    assert "2 member(s) differ between front ends (marked !)" in text
    lines = table_lines(text)
    node1 = [l for l in lines if "disabled" in l][0]
    assert node1.startswith("!") and "disabled !" in node1
    assert any("5 !" in l for l in lines), text
    rows = ctl.member_rows(results)
    assert [r["differs"] for r in rows] == [["activation"], ["factor"]]


def test_status_member_missing_on_one_front_end():
    results = [ctl.Result(A, snap(member("node1"), member("node2"))),
               ctl.Result(B, snap(member("node1")))]
    text = ctl.render_status(results)
    assert "(not there)" in text and "1 member(s) differ" in text
    assert ctl.member_rows(results)[1]["differs"] == ["presence"]


def test_status_unreachable_front_end():
    results = [ctl.Result(A, snap(member("node1"))), ctl.Result(B, error="unreachable: refused")]
    text = ctl.render_status(results)
    assert f"front end #2: {B}  ERROR unreachable: refused" in text
    js = ctl.status_json(results)
    assert js["ok"] is False and js["frontends"][1] == {"url": B, "error": "unreachable: refused"}
    assert list(js["members"][0]["frontends"]) == [A]


# -- commands with fake front ends

class FakeFrontend:
    def __init__(self, url, snaps, refuse=None):
        self.shown = url
        self.snaps = list(snaps)  # one per snapshot() call, the last one repeats
        self.refuse = refuse
        self.changes = []

    def snapshot(self):
        if self.refuse:
            raise ctl.FrontendError(self.refuse)
        return self.snaps.pop(0) if len(self.snaps) > 1 else self.snaps[0]

    def change(self, target, fields):
        if self.refuse:
            raise ctl.FrontendError(self.refuse)
        self.changes.append((target, list(fields)))
        return f"app/{target[1]}: done"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def context(frontends, json_out=False):
    out, err, clock = [], [], Clock()
    ctx = ctl.Context(frontends, json_out, out=out.append, err=err.append, sleep=clock.sleep,
                      clock=clock)
    return ctx, out, err, clock


def test_change_goes_to_every_front_end_and_failures_are_named():
    a = FakeFrontend(A, [snap(member("node1"))])
    b = FakeFrontend(B, [], refuse="HTTP 403: forbidden")
    ctx, out, err, _ = context([a, b])
    assert ctl.cmd_change(ctx, (None, "node1"), [("action", "stop")]) == 1
    assert a.changes == [((None, "node1"), [("action", "stop")])]
    assert out == [f"{A}: app/node1: done\n"]
    assert err == [f"idmbalancectl: {B}: HTTP 403: forbidden"]


def test_drain_waits_until_drained_everywhere():
    busy = snap(member("node1", activation="disabled", busy=2))
    done = snap(member("node1", activation="disabled", drained=True))
    a = FakeFrontend(A, [done])
    b = FakeFrontend(B, [busy, busy, done])
    ctx, out, err, clock = context([a, b])
    assert ctl.cmd_drain(ctx, (None, "node1"), wait=True, timeout=60, interval=2) == 0
    assert a.changes[0][1] == b.changes[0][1] == [("action", "disable")]
    assert clock.t == 4.0  # two looks found B still busy
    assert any("2 in flight" in e for e in err)
    assert out[-1] == "node1 drained on every front end\n"


def test_drain_timeout_names_the_front_end():
    a = FakeFrontend(A, [snap(member("node1", activation="disabled", busy=1))])
    ctx, out, err, clock = context([a], json_out=True)
    assert ctl.cmd_drain(ctx, (None, "node1"), wait=True, timeout=5, interval=2) == 3
    assert clock.t == 5.0
    assert err[-1] == f"idmbalancectl: {A}: not drained after 5s (disabled, 1 in flight)"
    assert '"ok": false' in out[-1]


def test_drain_does_not_wait_when_a_front_end_refused():
    a = FakeFrontend(A, [snap(member("node1", activation="disabled", drained=True))])
    b = FakeFrontend(B, [], refuse="unreachable: timed out")
    ctx, out, err, clock = context([a, b])
    assert ctl.cmd_drain(ctx, (None, "node1"), wait=True, timeout=60, interval=2) == 1
    assert clock.t == 0.0 and err == [f"idmbalancectl: {B}: unreachable: timed out"]
