"""The one formatting home of the pages: number kinds by column, intervals in their
estimate's format, catalogue titles in every language, technical notes at the end."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.report.i18n.catalogue import LANGUAGES, translator
from analysis.report.text.display import (
    column_kinds,
    format_number,
    interval_base,
    readable_frame,
    technical_notes,
)


def test_interval_columns_find_their_estimate() -> None:
    cols = ["family", "share", "ci_low", "ci_high", "n_episodes"]
    assert interval_base("ci_low", cols) == "share" and interval_base("ci_high", cols) == "share"
    cols = ["report_rate", "report_rate_ci_low", "report_rate_ci_high", "x"]
    assert interval_base("report_rate_ci_high", cols) == "report_rate"
    cols = ["family", "share_balance", "ci_low_balance", "ci_high_balance"]
    assert interval_base("ci_low_balance", cols) == "share_balance"
    cols = ["policy", "difference_cny", "ci_low", "ci_high", "unpaired_ci_low", "unpaired_ci_high"]
    assert interval_base("unpaired_ci_high", cols) == "difference_cny"
    assert interval_base("n_episodes", cols) is None


def test_kinds_by_name_and_intervals_inherit() -> None:
    df = pd.DataFrame({"family": ["a"], "share": [0.41], "ci_low": [0.338], "ci_high": [0.483],
                       "n_episodes": [413.0], "value_net_benefit": [1194.2], "cost": [193.0],
                       "estimate": [0.1234], "is_suppressed": [False]})
    kinds = column_kinds(df)
    assert kinds["share"] == kinds["ci_low"] == kinds["ci_high"] == "pct"
    assert kinds["n_episodes"] == "count"
    assert kinds["value_net_benefit"] == kinds["cost"] == "money"
    assert kinds["estimate"] == "number" and "is_suppressed" not in kinds and "family" not in kinds
    # a policy table: the interval of a net benefit is money, even under 1,000
    pol = pd.DataFrame({"value_net_benefit": [120.0], "ci_low": [-50.5], "ci_high": [290.4]})
    assert set(column_kinds(pol).values()) == {"money"}
    # the caller can say what an ambiguous column is; its interval follows
    eff = pd.DataFrame({"estimate": [0.05], "ci_low": [0.01], "ci_high": [0.09]})
    assert set(column_kinds(eff, {"estimate": "pct"}).values()) == {"pct"}


def test_numbers_read_as_their_kind() -> None:
    t = translator("en")
    assert format_number(0.41, "pct", t) == "41.0 %"
    assert format_number(193.0, "money", t) == "193"
    assert format_number(2783.4, "money", t) == "2,783"
    assert format_number(12345.0, "count", t) == "12,345"
    assert format_number(0.12345, "number", t, precision=2) == "0.12"
    assert format_number("suppressed", "pct", t) == "suppressed"
    assert pd.isna(format_number(float("nan"), "pct", t))
    assert translator("zh-CN").pct(0.41) == format_number(0.41, "pct", translator("zh-CN"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_readable_frame_titles_every_column_and_formats_alike(language) -> None:
    t = translator(language)
    df = pd.DataFrame({"family": ["economic"], "share": [0.41], "ci_low": [0.338],
                       "ci_high": [0.483], "n_episodes": [413.0]})
    out = readable_frame(df, t)
    assert "_" not in "".join(map(str, out.columns)), list(out.columns)
    row = out.iloc[0].tolist()
    assert row[1:4] == [t.pct(0.41), t.pct(0.338), t.pct(0.483)]
    assert row[4] == "413"
    assert row[0] == t.category("family", "economic")


def test_technical_notes_are_a_collapsed_block_at_the_end() -> None:
    t = translator("en")
    assert technical_notes([], t) == ""
    html = technical_notes(["penalty 0.1 on deferral", "penalty 0.1 on deferral", "a <b> note"], t)
    assert html.startswith("<h2>" + t("technical.heading") + "</h2>")
    assert "<details>" in html and "(2)</summary>" in html  # duplicates once
    assert "a &lt;b&gt; note" in html  # escaped
