"""The standalone pages are Jinja2 templates with autoescape (issue #18).

Hostile text (a loan ID inside a ``<script>``, an ``&``, quotes) reaches the month list,
a month's link page and the tables page through the four ways text gets there: the
message catalogue, a page title or table name, a table cell, a failed run's message.
Each must arrive escaped. Under the former ``str.format`` pages the catalogue's intro and
note went in raw, so the catalogue cases fail there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.report import html as rh
from analysis.report.history import record_run
from analysis.report.i18n import catalogue as i18n
from analysis.report.index import render_months_index

HOSTILE = '<script>alert("L000123")</script> & co'
#: How HOSTILE reads in the HTML source once escaped: markupsafe writes " as &#34;, pandas
#: leaves it (harmless in element text); both read as HOSTILE in a browser.
ESCAPED = ("&lt;script&gt;alert(&#34;L000123&#34;)&lt;/script&gt; &amp; co",
           '&lt;script&gt;alert("L000123")&lt;/script&gt; &amp; co')


def _escaped_once(page: str) -> bool:
    return "<script" not in page and any(e in page for e in ESCAPED)


@pytest.fixture
def hostile_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """English catalogue whose page chrome carries HOSTILE (and markup in the intro)."""
    real = i18n.catalogue("en")
    keys = ("page.pages", "nav.tables", "nav.all_months", "page.file", "page.index_title",
            "page.published_months", "page.failed_note", "page.month", "page.message")
    fake = {**real, **{k: f"{real[k]} {HOSTILE}" for k in keys},
            "page.tables_intro": f"Under `min_cell` or <code>is_suppressed</code>: <b>{HOSTILE}</b>",
            "page.index_note": f"From <code>history.sqlite</code> {HOSTILE}"}
    monkeypatch.setattr(i18n, "catalogue", lambda language: fake)


def test_every_shipped_template_is_listed():
    """TEMPLATES (what the wheel test checks) is exactly the templates folder."""
    on_disk = {p.name for p in rh.TEMPLATE_DIR.iterdir() if p.is_file()}
    assert on_disk == set(rh.TEMPLATES)


def test_catalogue_text_is_escaped_on_the_tables_and_month_pages(hostile_catalogue):
    tables = rh.tables_page("2024-06", [("kpis.csv", 12, ["metric"])])
    assert _escaped_once(tables)
    assert "<th>file " + ESCAPED[0] + "</th>" in tables
    # backticked words, and <code> of older catalogue entries, are the only markup kept
    assert "Under <code>min_cell</code> or <code>is_suppressed</code>: &lt;b&gt;" in tables
    month = rh.month_link_page("2024-06", [("Portfolio", "01.html")], ["kpis.csv"])
    assert _escaped_once(month)
    assert f"<h2>Pages {ESCAPED[0]}</h2>" in month
    assert f'href="../index.html">All months {ESCAPED[0]}</a>' in month


def test_titles_file_names_and_cells_are_escaped():
    month = rh.month_link_page("2024-06", [(HOSTILE, "01 & 02.html")], ["a&b.csv"],
                               nav=rh.nav_html([(HOSTILE, "x.html?a=1&b=2")], "x.html?a=1&b=2",
                                               meta=HOSTILE))
    assert "<script" not in month
    assert f'<li><a href="01 &amp; 02.html">{ESCAPED[0]}</a></li>' in month
    assert '<a href="tables/a&amp;b.csv">a&amp;b.csv</a>' in month
    assert f'<a href="x.html?a=1&amp;b=2" class="current">{ESCAPED[0]}</a>' in month
    tables = rh.tables_page("2024-06", [("t.csv", 1234, ["loan_count", HOSTILE])])
    assert _escaped_once(tables) and f"<td>1,234</td><td>loan_count, {ESCAPED[0]}</td>" in tables
    foot = rh.footer_html("r1", "2024-06", {"segment": HOSTILE}, "1.0")
    assert _escaped_once(foot) and foot.startswith('<footer class="report-footer">')


def test_a_plain_string_body_is_text_and_markup_is_html():
    """plain_page: only Markup (tag, table_html, nav_html) goes in as HTML."""
    assert _escaped_once(rh.plain_page("t", HOSTILE))
    page = rh.plain_page("t", rh.tag("h2", HOSTILE))
    assert f"<h2>{ESCAPED[0]}</h2>" in page


def _publish_month(out: Path, segment: str) -> None:
    folder = out / "2024-06"
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "run_id": "ok1", "as_of": "2024-06", "ended_at": "2024-07-01T10:00:00",
        "parameters": {"segment": segment}}))
    (folder / "index.html").write_text("x")
    record_run(out, run_id="bad1", as_of="2024-07", status="failed",
               started_at="2024-08-01T03:00:00", ended_at="2024-08-01T03:01:00",
               duration_s=60.0, fingerprint=None, parameters={}, version="0",
               message=f"cell 3 of 01: {HOSTILE}")


def test_months_index_escapes_segments_messages_and_catalogue(tmp_path, hostile_catalogue):
    _publish_month(tmp_path, segment=f"region={HOSTILE}")
    page = render_months_index(tmp_path, "en", ["en"])
    assert "<script" not in page
    assert f"<td>region={ESCAPED[0]}</td>" in page  # the segment: a table cell
    assert f"cell 3 of 01: {ESCAPED[1]}" in page  # the failed run's message (pandas table)
    assert f"<h1>Overdue and relief reports {ESCAPED[0]}</h1>" in page
    assert f'<p class="muted">The published months above were not changed by these. {ESCAPED[0]}' \
        in page
    assert f"From <code>history.sqlite</code> {ESCAPED[0]}</p>" in page
    assert '<a href="2024-06/index.html">2024-06</a>' in page


def test_months_index_keeps_its_content(tmp_path):
    """Twin links, the KPI table, the trend figure and the failed-run list survive the move
    to templates."""
    _publish_month(tmp_path, segment="")
    metrics = pd.DataFrame({"metric": ["overdue_rate_balance", "n_loans_active"],
                            "segment_type": "all", "segment": "", "value": [0.0425, 1234.0],
                            "n": [1234, 1234]})
    record_run(tmp_path, run_id="ok1", as_of="2024-06", status="ok",
               started_at="2024-07-01T09:00:00", ended_at="2024-07-01T10:00:00",
               duration_s=60.0, fingerprint=None, parameters={}, version="0", metrics=metrics)
    page = render_months_index(tmp_path, "en", ["en", "zh-CN"])
    assert '<nav class="report-nav"><a href="index.zh-CN.html">简体中文</a></nav>' in page
    # KPI columns in HEADLINE order, whatever order the history holds them in
    assert ("<th>month</th><th>segment</th><th>Active loans</th>"
            "<th>Overdue rate, DPD 1+ (share of balance)</th><th>published</th>") in page
    assert ('<td><a href="2024-06/index.html">2024-06</a></td><td>whole book</td>'
            "<td>1,234</td><td>4.2 %</td><td>2024-07-01 10:00</td>") in page
    assert '<img alt="Headline KPIs by reporting month" src="data:image/png;base64,' in page
    assert "<h2>Recent failed runs</h2>" in page and "<td>_failed/bad1</td>" in page


def test_a_missing_template_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(rh, "TEMPLATE_DIR", tmp_path)  # an install without the templates
    with pytest.raises(InputError, match=r"'report_tables.html.j2' is missing from .*reinstall"):
        rh.tables_page("2024-06", [])
    with pytest.raises(InputError, match="'report_notebook.html.j2' is missing"):
        rh.template_path("report_notebook.html.j2")
    # the page's own template is there, but not the one it extends
    shipped = Path(rh.__file__).with_name("templates")
    shutil.copy(shipped / "report_tables.html.j2", tmp_path)
    with pytest.raises(InputError, match="'report_page.html.j2' is missing"):
        rh.tables_page("2024-06", [])
