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

from tests.helpers.reports import AS_OF, published_report

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


def _check_pages(pages: list[Path], tmp_path: Path, lang_expected: str | None = None
                 ) -> tuple[list[str], dict[str, int], dict[str, str]]:
    """Open each page; returns (problems, images per page, visible text per page)."""
    from playwright import sync_api  # a dev dependency: missing it is a failure, not a skip

    problems: list[str] = []
    n_images: dict[str, int] = {}
    texts: dict[str, str] = {}
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
                elif lang_expected and lang != lang_expected:
                    events.append(f"<html lang={lang!r}>, expected {lang_expected!r}")
                shot = tmp_path / (name.replace("/", "_") + ".png")
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 1000
                problems += [f"{name}: {e}" for e in events]
                n_images[name] = len(images)
                texts[name] = page.inner_text("body")
                page.close()
        finally:
            browser.close()
    return problems, n_images, texts


def test_every_page_loads_cleanly_offline(pages, tmp_path):
    problems, n_images, _ = _check_pages(pages, tmp_path)
    assert not problems, "\n".join(problems)
    assert n_images[f"{AS_OF}/01_portfolio_overview.html"] >= 5
    shots = sorted(tmp_path.glob("*.png"))
    assert len(shots) == len(pages)


@pytest.fixture(scope="module")
def zh_pages(tmp_path_factory) -> list[Path]:
    """English and simplified-Chinese pages of 01 and 00 published side by side."""
    from analysis.report.options import ReportOptions
    from analysis.report.params import default_notebooks_dir
    from analysis.report.runner import run_report
    from tests.helpers.reports import small_book

    book = small_book(tmp_path_factory.getbasetemp())
    out = tmp_path_factory.mktemp("zh_reports")
    for lang in ("en", "zh-CN"):
        result = run_report(ReportOptions(
            data_dir=book, as_of=AS_OF, out_dir=out, notebooks_dir=default_notebooks_dir(),
            only=("01", "00"), language=lang, languages=("en", "zh-CN"),
            cell_timeout_s=300, run_timeout_s=900, quiet=True,
        ))
        assert result.exit_code == 0, f"{lang} report run failed: {result.message}"
    month = out / AS_OF
    return [month / "index.zh-CN.html", month / "01_portfolio_overview.zh-CN.html"]


def test_chinese_pages_load_declare_their_language_and_link_their_twins(zh_pages, tmp_path):
    problems, n_images, texts = _check_pages(zh_pages, tmp_path, lang_expected="zh-CN")
    assert not problems, "\n".join(problems)
    assert n_images[f"{AS_OF}/01_portfolio_overview.zh-CN.html"] >= 5
    assert "资产组合概览" in texts[f"{AS_OF}/01_portfolio_overview.zh-CN.html"]
    assert "管理层摘要" in texts[f"{AS_OF}/index.zh-CN.html"]
    month = zh_pages[0].parent
    for zh, en in ((zh_pages[0], month / "index.html"),
                   (zh_pages[1], month / "01_portfolio_overview.html")):
        assert en.exists()
        assert f'href="{en.name}"' in zh.read_text(encoding="utf-8")  # twin, both ways
        assert f'href="{zh.name}"' in en.read_text(encoding="utf-8")
        assert '<html lang="en">' in en.read_text(encoding="utf-8")


def test_chromium_binary_is_debians():
    assert shutil.which(str(CHROMIUM)) is not None
