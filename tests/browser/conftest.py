"""A live OpenZone server on a free port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import serve

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "assets" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live_server(database):
    """Run the app with Uvicorn against the test database, once per module so later tests find the database free."""
    yield from serve("openzone.app:create_app")


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's Chromium once per run."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(params=["desktop", "phone"])
def page(request, browser, live_server):
    """Open a fresh browser context at desktop and at phone size; fail on any console error or CSP violation."""
    size = DESKTOP if request.param == "desktop" else PHONE
    context = browser.new_context(viewport=size, base_url=live_server, locale="zh-CN")
    pg = context.new_page()
    problems: list[str] = []
    # A form page answering 401 or 422 is intended; a failing script, style or image is not. Chromium logs
    # both as "Failed to load resource", so sub-resources are checked by their responses instead.
    pg.on("console", lambda msg: problems.append(msg.text)
          if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.on("response", lambda r: problems.append(f"{r.status} {r.url}")
          if r.status >= 400 and r.request.resource_type != "document" else None)
    pg.size_name = request.param
    yield pg
    context.close()
    assert problems == [], f"browser errors: {problems}"


def check_accessibility(pg) -> None:
    """Run axe-core on the page and fail on serious or critical violations."""
    pg.evaluate(AXE.read_text())
    result = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert bad == [], f"axe violations on {pg.url}: {bad}"


def check_fits(pg) -> None:
    """Fail when the page scrolls sideways (it must work at a phone's width)."""
    overflow = pg.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{pg.url} is {overflow}px wider than the viewport"
