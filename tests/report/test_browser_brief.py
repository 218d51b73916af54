"""The management summary's first screen in a real browser (headless Chromium, 1280 x 800):
it holds the headline KPIs and the trend chart, in English, zh-CN and zh-TW. Full-page
screenshots of every page of the month go to the test's temporary folder (CI artefacts).

Skipped, saying why, only when Debian's Chromium is absent (as ``test_browser.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.report.i18n.catalogue import LANGUAGES, translator
from analysis.report.pages import SUMMARY_PREFIX, page_name
from tests.report.conftest import TWO_MONTHS
from tests.report.test_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed at /usr/bin/chromium "
                              "(apt-get install -y chromium; .ci/run does this)"),
]
SCREEN = {"width": 1280, "height": 800}


def test_first_screen_holds_kpis_and_trend(two_months: Path, tmp_path: Path) -> None:
    from playwright import sync_api  # a dev dependency: missing it is a failure, not a skip

    month = two_months / TWO_MONTHS[-1]
    pages = sorted(month.glob("*.html"))
    assert len(pages) >= 7  # five English pages and the Chinese summaries at least
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport=SCREEN)
            for language in LANGUAGES:
                t = translator(language)
                page.goto((month / page_name(SUMMARY_PREFIX, language)).resolve().as_uri())
                page.wait_for_load_state("networkidle")
                caption = t("brief.caption_kpis", month=t.month(TWO_MONTHS[-1] + "-01"),
                            previous=t.month(TWO_MONTHS[0] + "-01"))
                box = page.evaluate(
                    """caption => {
                        const c = [...document.querySelectorAll('caption')]
                            .find(e => e.textContent.trim() === caption);
                        if (!c) return null;
                        const table = c.closest('table');
                        const img = table.parentElement.parentElement.querySelector('img');
                        const r = e => e.getBoundingClientRect();
                        return {table: r(table).bottom, img: img ? r(img).bottom : null,
                                imgWidth: img ? img.naturalWidth : 0};
                    }""", caption)
                assert box is not None, f"{language}: no KPI table captioned {caption!r}"
                assert box["img"] is not None and box["imgWidth"] > 0, f"{language}: no trend chart"
                assert box["table"] <= SCREEN["height"] and box["img"] <= SCREEN["height"], (
                    language, box)
                page.screenshot(path=str(tmp_path / f"first_screen.{language}.png"))
            for path in pages:
                page.goto(path.resolve().as_uri())
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(tmp_path / f"{path.stem}.png"), full_page=True)
        finally:
            browser.close()
    shots = sorted(tmp_path.glob("*.png"))
    assert len(shots) == len(pages) + len(LANGUAGES)
    assert all(s.stat().st_size > 5000 for s in shots)
