"""Page sentences never print a count of loans or episodes below ``min_cell`` (issue #16).

The tables are suppressed by :mod:`analysis.report.privacy`; the sentences around them
format their counts with :meth:`Translator.count`, which reads "fewer than min_cell" for
1..min_cell-1. The unit tests drive the sentence builders with small counts; the stress
test reads every published English page for a count next to a count word.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pandas as pd
import pytest

from analysis.report.i18n.catalogue import LANGUAGES, translator
from analysis.report.text.causes import status_text
from analysis.report.text.effects import analysed_text
from analysis.report.text.kpis import headline_sentences
from tests.helpers.reports import published_report

MIN_CELL = 10
# A count next to a word that says what it counts, in the English pages.
COUNT_PATTERNS = (
    re.compile(r"\b(\d[\d,]*)\s+(?:treated|episodes?|loans?|borrowers?|controls?)\b"),
    re.compile(r"\bn\s*=\s*(\d[\d,]*)"),
)


def small_counts(text: str, min_cell: int) -> list[str]:
    """Counts between 1 and ``min_cell - 1`` that ``text`` prints next to a count word."""
    found = []
    for pattern in COUNT_PATTERNS:
        for m in pattern.finditer(text):
            n = int(m.group(1).replace(",", ""))
            if 1 <= n < min_cell:
                found.append(m.group(0))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_count_withholds_small_cells_in_every_language(language):
    t = translator(language).with_min_cell(MIN_CELL)
    fewer = t("format.fewer_than", min_cell="10")
    assert [t.count(n) for n in (0, 1, 9, 10, 12345)] == ["0", fewer, fewer, "10", "12,345"]
    assert t.count(float("nan")) == t("format.suppressed")
    assert t.for_figures().count(3) in (fewer, translator("en").with_min_cell(10).count(3))
    assert translator(language).count(3) == "3"  # no min_cell: nothing to withhold


def test_small_counts_finds_what_it_should():
    assert small_counts("no estimate (7 treated); 12 episodes; n = 3", MIN_CELL) == [
        "7 treated", "n = 3"]
    assert small_counts("2024-06: 4.5 % of 1,234 loans", MIN_CELL) == []


def test_sentences_with_small_counts_read_fewer_than():
    t = translator("en").with_min_cell(MIN_CELL)
    text = analysed_text({"cure": 7, "loss_rate": 250}, [], attributed=True, t=t)
    assert "fewer than 10" in text and "**7**" not in text and "250" in text
    att = SimpleNamespace(info={"n_episodes": 8, "n_labelled": 3}, method="reported", notes=[])
    status = status_text(att, t)
    assert status.count("fewer than 10") == 2 and small_counts(status, MIN_CELL) == []
    k = pd.DataFrame({"segment_type": "all", "metric": ["cure_rate", "default_rate"],
                      "value": [0.5, 0.2], "n": [6.0, 6.0]})
    sentences = " ".join(headline_sentences(k, t, "2024-06"))
    assert "n = fewer than 10" in sentences and small_counts(sentences, MIN_CELL) == []


@pytest.mark.stress
def test_published_pages_print_no_small_count(tmp_path_factory):
    _, out, info = published_report(tmp_path_factory.getbasetemp())
    assert info["exit_code"] == 0, info["message"]
    pages = [p for p in sorted(out.rglob("*.html")) if p.name.count(".") == 1]
    assert pages
    for page in pages:
        text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
        assert small_counts(text, MIN_CELL) == [], page.name


def test_analysis_notes_withhold_small_counts():
    """The analyses' English notes (shown under "technical notes") use the same rule."""
    from analysis.checks import shown_count

    assert [shown_count(n, MIN_CELL) for n in (0, 7, 10, 1234)] == [
        "0", "fewer than 10", "10", "1,234"]
    assert small_counts(f"{shown_count(7, MIN_CELL)} treated / 88 control episodes", MIN_CELL) == []
