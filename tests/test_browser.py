"""Real-browser check of a published report: headless Chromium via Playwright.

Every HTML page of the published month, its tables page and ``reports/index.html`` are
opened from disk (``file://``) with background networking off. A page passes when it
logs no console error, raises no page error, makes no request that fails or leaves the
machine (only ``file:`` and ``data:`` URLs), and every image has loaded (complete,
natural width > 0). A full-page screenshot of each goes to the test's temporary folder.

Chromium comes from Debian's package (``/usr/bin/chromium``; ``.ci/run`` installs it).
The test skips, saying why, only when that browser is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _report_helpers import AS_OF, published_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
               "(apt-get install -y chromium; .ci/run does this)",
    ),
]


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Path]:
    _, out, info = published_report(tmp_path_factory.getbasetemp())
    assert info["exit_code"] == 0, f"report run failed: {info['message']}"
    month = out / AS_OF
    found = sorted(month.glob("*.html")) + [month / "tables" / "index.html", out / "index.html"]
    assert len(found) >= 4
    return found


def test_every_page_loads_cleanly_offline(pages, tmp_path):
    from playwright import sync_api  # a dev dependency: missing it is a failure, not a skip

    problems: list[str] = []
    n_images: dict[str, int] = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            for page_path in pages:
                page = context.new_page()
                name = page_path.relative_to(page_path.parents[1]).as_posix()
                events: list[str] = []
                page.on("console", lambda m, ev=events: ev.append(f"console {m.type}: {m.text}")
                        if m.type == "error" else None)
                page.on("pageerror", lambda e, ev=events: ev.append(f"page error: {e}"))
                page.on("requestfailed", lambda r, ev=events: ev.append(
                    f"failed request: {r.url[:120]} ({r.failure})"))
                page.on("request", lambda r, ev=events: ev.append(
                    f"off-machine request: {r.url[:120]}")
                    if not r.url.startswith(("file:", "data:", "about:")) else None)
                page.goto(page_path.resolve().as_uri(), wait_until="load")
                page.wait_for_load_state("networkidle")
                images = page.eval_on_selector_all(
                    "img", "els => els.map(e => [e.complete, e.naturalWidth, e.src.slice(0, 40)])")
                bad = [src for complete, width, src in images if not complete or width <= 0]
                if bad:
                    events.append(f"{len(bad)} image(s) not loaded: {bad[:3]}")
                lang = page.eval_on_selector("html", "e => e.getAttribute('lang')")
                if not lang:
                    events.append("no lang attribute on <html>")
                shot = tmp_path / (name.replace("/", "_") + ".png")
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 1000
                problems += [f"{name}: {e}" for e in events]
                n_images[name] = len(images)
                page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert n_images[f"{AS_OF}/01_portfolio_overview.html"] >= 5
    shots = sorted(tmp_path.glob("*.png"))
    assert len(shots) == len(pages)


def test_chromium_binary_is_debians():
    assert shutil.which(str(CHROMIUM)) is not None
