"""The published management pages, read as a manager would: titled columns, numbers
formatted alike, and (on two published months) the trend, the change since last month and
the effects figure, in English, zh-CN and zh-TW.

The pages are scanned as HTML (the standard library's parser: a table's caption, header
cells and body cells), so what is checked is what a browser shows.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analysis.report.i18n.catalogue import LANGUAGES, translator
from analysis.report.pages import SUMMARY_PREFIX, page_name
from tests.helpers.reports import AS_OF, published_report
from tests.report.conftest import TWO_MONTHS

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
# Column titles that are interval bounds, in every language (catalogue titles).
_BOUND = re.compile(r"CI (low|high)|置信区间[上下]限|信賴區間[上下]限|interval", re.IGNORECASE)


class _Tables(HTMLParser):
    """Every <table> of a page: caption, header cells, body rows (cell texts); and the
    sequence of headings (h1-h3), tables and images in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.order: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._where: str = ""
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "header": [], "rows": []})
            self.order.append(("table", str(len(self.tables) - 1)))
        elif tag in ("thead", "tbody", "caption"):
            self._where = tag
            if tag == "caption":
                self._cell = []
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "img":
            self.order.append(("img", dict(attrs).get("src", "")[:30]))

    def handle_endtag(self, tag):
        if tag == "caption" and self._cell is not None:
            self.tables[-1]["caption"] = "".join(self._cell).strip()
            self._cell = None
        elif tag in ("th", "td") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            key = "header" if self._where == "thead" else "rows"
            if key == "header":
                self.tables[-1]["header"] = self._row
            else:
                self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self.order.append((tag, "".join(self._heading).strip()))
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def parse(path: Path) -> _Tables:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def cell_format(text: str) -> str:
    """What a number looks like: ``pct`` (ends in %), ``whole`` (digits and separators),
    ``decimal``, or ``text``."""
    s = text.replace("\u2212", "-").strip()
    if re.fullmatch(r"[+-]?[\d,]+(\.\d+)?\s?%", s):
        return "pct"
    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})*", s):
        return "whole"
    if re.fullmatch(r"[+-]?[\d,]*\.\d+", s):
        return "decimal"
    return "text"


def table_problems(page: Path) -> list[str]:
    """Raw snake_case headers, and interval bounds not formatted like their estimate (the
    nearest non-bound column to their left), in every table of ``page``."""
    out = []
    for tab in parse(page).tables:
        head, name = tab["header"], f"{page.name}: table {tab['caption'][:50]!r}"
        out += [f"{name}: raw header {h!r}" for h in head if SNAKE.match(h)]
        for j, h in enumerate(head):
            if not _BOUND.search(h):
                continue
            base = next((k for k in range(j - 1, -1, -1) if not _BOUND.search(head[k])), None)
            if base is None:
                continue
            for row in tab["rows"]:
                if len(row) != len(head):
                    continue
                est, bound = cell_format(row[base]), cell_format(row[j])
                if "text" not in (est, bound) and est != bound:
                    out.append(f"{name}: {head[base]!r} reads {row[base]!r} but {h!r} reads {row[j]!r}")
    return out


def test_cell_format_by_hand() -> None:
    assert cell_format("41.0 %") == cell_format("41.0%") == "pct"
    assert cell_format("1,194") == cell_format("-193") == "whole"
    assert cell_format("0.338") == cell_format("193.000") == "decimal"
    assert cell_format("suppressed") == "text"


def test_the_scan_finds_what_the_issue_saw(tmp_path) -> None:
    """The two defects of issue #19, planted in a page, are found."""
    page = tmp_path / "p.html"
    page.write_text(
        "<table><caption>c</caption><thead><tr><th>family</th><th>share</th>"
        "<th>95 % CI low</th><th>n_episodes</th></tr></thead>"
        "<tbody><tr><td>a</td><td>41.0 %</td><td>0.338</td><td>12</td></tr></tbody></table>",
        encoding="utf-8")
    problems = table_problems(page)
    assert any("raw header 'n_episodes'" in p for p in problems)
    assert any("'41.0 %'" in p and "'0.338'" in p for p in problems)


@pytest.mark.slow
def test_management_pages_have_titled_columns_and_alike_intervals(tmp_path_factory) -> None:
    _, out, info = published_report(tmp_path_factory.getbasetemp())
    assert info["exit_code"] == 0, info["message"]
    pages = [out / AS_OF / page_name(SUMMARY_PREFIX, "en"), out / AS_OF / "04_targeting.html"]
    problems = [p for page in pages for p in table_problems(page)]
    assert not problems, "\n".join(problems)
    assert sum(len(parse(p).tables) for p in pages) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("language", LANGUAGES)
def test_summary_over_two_months(two_months, language) -> None:
    """The summary of the second month shows the KPIs with their change since the first,
    the trend chart right after them, and the effects figure; no raw headers."""
    t = translator(language)
    month, previous = (pd.Timestamp(m + "-01") for m in (TWO_MONTHS[-1], TWO_MONTHS[0]))
    page = two_months / TWO_MONTHS[-1] / page_name(SUMMARY_PREFIX, language)
    doc = parse(page)
    caption = t("brief.caption_kpis", month=t.month(month), previous=t.month(previous))
    kpi = next((tab for tab in doc.tables if tab["caption"] == caption), None)
    assert kpi is not None, [tab["caption"] for tab in doc.tables]
    assert kpi["header"] == [t("column.indicator"), t("column.value"), t("column.change")]
    change = {row[0]: row[2] for row in kpi["rows"]}
    points = t.points(0.0).split("0.0")[-1].strip()  # "points", "个百分点"
    for metric in ("overdue_rate_balance", "cure_rate", "loss_rate"):  # never small cells here
        assert change[t(f"kpi.{metric}")].endswith(points), change
    assert re.fullmatch(r"[+-][\d,]+", change[t("kpi.n_loans_active")]), change
    text = page.read_text(encoding="utf-8")
    assert t("brief.one_month", month=t.month(month)) not in text
    # the trend chart follows the KPI table; the effects heading is followed by a figure
    order = doc.order
    at = order.index(("table", str(doc.tables.index(kpi))))
    assert order[at + 1][0] == "img", order[at:at + 3]
    effects = order.index(("h2", t("heading.which_relief")))
    assert order[effects + 1][0] == "img", order[effects:effects + 3]
    assert not table_problems(page)


@pytest.mark.slow
def test_every_page_of_a_month_weighs_under_1_5_mb(two_months) -> None:
    """Palette PNG figures keep each page light (docs/reports.md, "Page weight")."""
    pages = sorted((two_months / TWO_MONTHS[-1]).glob("*.html"))
    assert len(pages) >= 5
    heavy = {p.name: p.stat().st_size for p in pages if p.stat().st_size >= 1.5e6}
    assert not heavy, heavy
