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
