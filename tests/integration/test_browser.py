"""The balancer manager in a real browser (issue 5): headless Chromium, driven by chromedriver
over the W3C WebDriver HTTP protocol (stdlib urllib; no selenium). Opens the manager page,
clicks `disable` in t2's row of balancer `mgr`, waits for the page to show t2 disabled, checks
that in the JSON too, saves a screenshot ($IDMB_BUILD_DIR/artifacts/manager-disabled.png) and
re-activates t2 through the page. And the read-only status page's response times and
sparklines (issue 13): artifacts/status-latency.png.

Needs Debian's `chromium` and `chromium-driver` (CI installs them): without them the test
fails, it does not skip.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import pytest

import balancer_api as bapi
import httpc
import stack as stk

pytestmark = pytest.mark.idmbalance_only

CHROMIUM = Path(os.environ.get("IDMB_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("IDMB_CHROMEDRIVER", "/usr/bin/chromedriver"))
WAIT_S = 20.0
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"  # W3C WebDriver element reference
B = "mgr"


def artifacts_dir(stack) -> Path:
    build = os.environ.get("IDMB_BUILD_DIR")
    d = (Path(build).resolve() if build else stack.workdir) / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


class WebDriverError(RuntimeError):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(f"WebDriver {status} {error}: {message}")
        self.error = error


class WebDriver:
    """The few W3C WebDriver commands this test needs, over plain HTTP to chromedriver."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        # Loopback only: never go through a proxy from the environment.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.session: Optional[str] = None

    def call(self, method: str, path: str, body: Optional[dict] = None, timeout: float = 60.0):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read()).get("value", {})
            except ValueError:
                v = {}
            raise WebDriverError(e.code, v.get("error", "?"), v.get("message", "")[:500]) from None

    def s(self, method: str, path: str, body: Optional[dict] = None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def ready(self) -> bool:
        try:
            return bool(self.call("GET", "/status", timeout=2).get("ready"))
        except (OSError, WebDriverError, ValueError):
            return False

    def start(self, user_data_dir: str) -> None:
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": int(WAIT_S * 1000), "script": int(WAIT_S * 1000)},
            "goog:chromeOptions": {
                "binary": str(CHROMIUM),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-proxy-server",
                         "--disable-dev-shm-usage", "--window-size=1400,1000",
                         f"--user-data-dir={user_data_dir}"],
            },
        }}}
        v = self.call("POST", "/session", caps, timeout=WAIT_S * 3)
        self.session = v["sessionId"]

    def quit(self) -> None:
        if self.session:
            try:
                self.call("DELETE", f"/session/{self.session}", timeout=WAIT_S)
            except (OSError, WebDriverError):
                pass
            self.session = None

    def get(self, url: str) -> None:
        self.s("POST", "/url", {"url": url})

    def url(self) -> str:
        return self.s("GET", "/url")

    def find(self, css: str) -> Optional[str]:
        try:
            v = self.s("POST", "/element", {"using": "css selector", "value": css})
        except WebDriverError as e:
            if e.error in ("no such element", "stale element reference"):
                return None
            raise
        assert isinstance(v, dict) and ELEMENT_KEY in v, f"find element answered {v!r}"
        return v[ELEMENT_KEY]

    def wait_find(self, css: str, what: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while True:
            eid = self.find(css)
            if eid:
                return eid
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {WAIT_S:.0f}s waiting for {what} ({css}); "
                                     f"page text:\n{self.text('body')[:2000]}")
            time.sleep(0.2)

    def click(self, eid: str) -> None:
        self.s("POST", f"/element/{eid}/click", {})

    def element_text(self, eid: str) -> str:
        return self.s("GET", f"/element/{eid}/text")

    def text(self, css: str) -> str:
        eid = self.find(css)
        return self.element_text(eid) if eid else ""

    def title(self) -> str:
        return self.s("GET", "/title")

    def scroll_into_view(self, eid: str) -> None:
        self.s("POST", "/execute/sync", {"script": "arguments[0].scrollIntoView(true);",
                                         "args": [{ELEMENT_KEY: eid}]})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.s("GET", "/screenshot"))


def png_size(data: bytes):
    """(width, height) of a PNG, or an AssertionError if it is not one."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    assert data[12:16] == b"IHDR", "PNG without IHDR first"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def browser(stack):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"browser test needs {' and '.join(missing)}: install the Debian packages "
                    "`chromium` and `chromium-driver` (scripts/install-deps.sh)", pytrace=False)
    port = stk.free_port()
    profile = tempfile.mkdtemp(prefix="idmb-chromium-")
    log_path = stack.workdir / "chromedriver.log"
    proc = subprocess.Popen([str(CHROMEDRIVER), f"--port={port}", f"--log-path={log_path}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    wd = WebDriver(port)
    try:
        stk.wait_for(lambda: proc.poll() is not None or wd.ready(), WAIT_S, 0.1, "chromedriver")
        assert proc.poll() is None, f"chromedriver exited ({proc.returncode}); see {log_path}"
        wd.start(profile)
        yield wd
    finally:
        wd.quit()
        # Whatever is left of this test's browser: chromedriver (our child) and the Chromium
        # processes started with our private profile directory.
        stk.terminate_pids([proc.pid] + stk.pids_with_arg(profile), 10)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(profile, ignore_errors=True)


def test_disable_member_in_the_browser(stack, browser):
    port = stack.mgr_port
    url = f"http://127.0.0.1:{port}{bapi.MANAGER_PATH}"
    row = f"#m-{B}-t2"
    assert bapi.member_state(port, B, "t2")["activation"] == "active"
    shot = artifacts_dir(stack) / "manager-disabled.png"
    if shot.exists():
        shot.unlink()
    try:
        browser.get(url)
        assert "balancer manager" in browser.title().lower(), browser.title()
        browser.wait_find(f"{row}.row-act-active", "t2's row, active")
        button = browser.wait_find(f"{row} button[name='action'][value='disable']", "t2's disable button")
        browser.click(button)
        # The form posts, the manager answers 303, the browser loads the page again.
        browser.wait_find(f"{row}.row-act-disabled", "t2's row to show 'disabled'")
        assert browser.url().rstrip("/").endswith(bapi.MANAGER_PATH), browser.url()
        row_text = browser.text(row)
        assert "disabled" in row_text.split(), row_text
        assert "t2" in row_text
        # t1's row is untouched; the JSON agrees with the page.
        assert browser.find(f"#m-{B}-t1.row-act-active"), browser.text(f"#m-{B}-t1")
        members = bapi.members_of(bapi.snapshot(port), B)
        assert members["t2"]["activation"] == "disabled", members["t2"]
        assert members["t1"]["activation"] == "active", members["t1"]
        # The disable button of t2 is now shown as the current state (disabled control).
        btn = browser.find(f"{row} button[name='action'][value='disable']:disabled")
        assert btn, "t2's disable button is not greyed out after disabling"

        # The screenshot shows balancer mgr's section (t2 disabled) at the top of the window.
        browser.scroll_into_view(browser.wait_find(f"#b-{B}", "balancer mgr's section"))
        png = browser.screenshot()
        shot.write_bytes(png)
        w, h = png_size(shot.read_bytes())
        assert w >= 800 and h >= 600, (w, h)
        assert shot.stat().st_size > 10_000, f"screenshot suspiciously small: {shot.stat().st_size} bytes"
        print(f"[artifact] {shot} ({w}x{h}, {shot.stat().st_size} bytes)")

        # And back through the page.
        browser.click(browser.wait_find(f"{row} button[name='action'][value='activate']",
                                        "t2's activate button"))
        browser.wait_find(f"{row}.row-act-active", "t2's row to show 'active' again")
        assert bapi.member_state(port, B, "t2")["activation"] == "active"
    finally:
        if bapi.member_state(port, B, "t2")["activation"] != "active":
            bapi.set_activation(port, B, "t2", "active")


def test_status_page_latency_in_the_browser(stack, browser):
    """Issue 13: the read-only page with ?refresh= shows per member req/s, p50 / p99 and three
    SVG sparklines, a summary line per balancer and the column legend, without any script;
    screenshot in $IDMB_BUILD_DIR/artifacts/status-latency.png."""
    port = stack.mgr_port
    for i in range(12):  # some slow and some fast answers for balancer mgr's two members
        path = "/app/slow?ms=40" if i % 3 == 0 else "/app/echo"
        assert httpc.get(port, path, timeout=10).status == 200
    shot = artifacts_dir(stack) / "status-latency.png"
    if shot.exists():
        shot.unlink()
    browser.get(f"http://127.0.0.1:{port}{bapi.STATUS_PATH}?refresh=30")
    assert "status" in browser.title().lower(), browser.title()
    assert browser.find("meta[http-equiv='refresh'][content='30']"), "no refresh meta"
    assert browser.find("script") is None, "the status page must work without JavaScript"
    for member in ("t1", "t2"):
        row = f"#m-{B}-{member}"
        for kind in ("req", "err", "p99"):
            browser.wait_find(f"{row} svg.spark-{kind}", f"{member}'s {kind} sparkline")
        # Its requests of this minute make the last point of the request line.
        assert browser.find(f"{row} svg.spark-req polyline"), f"{member}: empty request sparkline"
        assert browser.find(f"{row} svg.spark-p99 polyline"), f"{member}: empty p99 sparkline"
        text = browser.text(row)
        assert re.search(r"\d+(\.\d+)? ms / \d+(\.\d+)? ms", text), f"{member}: no p50 / p99 in {text!r}"
    summary = browser.text(f"#b-{B} p.summary")
    assert re.search(r"2 members, \d up .* req/s .* errors/s .* p50 .* p99 ", summary), summary
    legend = browser.text("section.legend")
    assert "body bytes" in legend and "p50 / p99" in legend, legend

    browser.scroll_into_view(browser.wait_find(f"#b-{B}", "balancer mgr's section"))
    png = browser.screenshot()
    shot.write_bytes(png)
    w, h = png_size(shot.read_bytes())
    assert w >= 800 and h >= 600, (w, h)
    assert shot.stat().st_size > 10_000, f"screenshot suspiciously small: {shot.stat().st_size} bytes"
    print(f"[artifact] {shot} ({w}x{h}, {shot.stat().st_size} bytes)")
