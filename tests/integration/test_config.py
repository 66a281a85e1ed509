"""Configuration checking: `apache2 -t` accepts ours and names the directive in a bad one."""
from __future__ import annotations

import copy

import pytest



def _configtest(stack, extra: str):
    cfg = copy.copy(stack.httpd.config)
    cfg.extra = (cfg.extra or "") + "\n" + extra + "\n"
    return stack.httpd.configtest(cfg.render())


def test_generated_config_is_valid(stack):
    r = stack.httpd.configtest()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Syntax OK" in r.stdout + r.stderr


BAD = [
    ("IdmMember", "<IdmBalancer broken>\n    IdmMember bad ajp://127.0.0.1:8009 factor=abc\n</IdmBalancer>"),
    ("IdmMember", "<IdmBalancer broken>\n    IdmMember bad ajp://127.0.0.1\n</IdmBalancer>"),
    ("IdmMember", "<IdmBalancer broken>\n    IdmMember bad http://127.0.0.1:8009\n</IdmBalancer>"),
    ("IdmMember", "<IdmBalancer broken>\n    IdmMember bad ajp://127.0.0.1:99999\n</IdmBalancer>"),
    ("IdmMember", "<IdmBalancer broken>\n    IdmMember bad ajp://127.0.0.1:8009 bogus=1\n</IdmBalancer>"),
    ("IdmReplyTimeout", "<IdmBalancer broken>\n    IdmMember m ajp://127.0.0.1:8009\n    IdmReplyTimeout soon\n</IdmBalancer>"),
    ("IdmPacketSize", "<IdmBalancer broken>\n    IdmMember m ajp://127.0.0.1:8009\n    IdmPacketSize 1000\n</IdmBalancer>"),
    ("IdmMount", "IdmMount /nowhere/* no-such-balancer"),
]


@pytest.mark.idmbalance_only
@pytest.mark.parametrize("directive,snippet", BAD, ids=[f"{d}-{i}" for i, (d, _) in enumerate(BAD)])
def test_bad_config_names_the_directive(stack, directive, snippet):
    r = _configtest(stack, snippet)
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"apache2 -t accepted:\n{snippet}\n{out}"
    assert directive in out, out


@pytest.mark.idmbalance_only
def test_balancer_without_members_is_an_error(stack):
    r = _configtest(stack, "<IdmBalancer empty>\n</IdmBalancer>\nIdmMount /empty/* empty")
    assert r.returncode != 0, r.stdout + r.stderr
    assert "empty" in r.stdout + r.stderr


@pytest.mark.idmbalance_only
def test_member_without_secret_is_warned_about(stack):
    # Valid, but Ghostcat-prone: the check says so (and still passes).
    before = stack.httpd.error_log.stat().st_size if stack.httpd.error_log.exists() else 0
    r = _configtest(stack, "<IdmBalancer nosecret>\n    IdmMember bare ajp://127.0.0.1:9\n</IdmBalancer>\n"
                           "IdmMount /nosecret/* nosecret")
    assert r.returncode == 0, r.stdout + r.stderr
    with open(stack.httpd.error_log, "rb") as f:
        f.seek(before)
        logged = f.read().decode(errors="replace")
    out = r.stdout + r.stderr + logged
    assert "member bare (127.0.0.1:9) has no AJP secret" in out, out
    assert "CVE-2020-1938" in out
    assert "member t1" not in out  # members with a secret are not named
