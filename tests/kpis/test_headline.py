"""Headline KPIs and the ``kpis`` command on a tiny hand-made book."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from analysis import kpis
from analysis.errors import ParameterError
from tests.helpers.kpis import OVERDUE_SPEC, make_book, outcome_episodes


def test_headline_kpis():
    book = make_book(OVERDUE_SPEC)
    eps = outcome_episodes()
    h = kpis.headline_kpis(book, eps, as_of="2024-01")
    assert list(h.columns) == ["metric", "segment_type", "segment", "value", "n"]
    allseg = h[h["segment_type"] == "all"].set_index("metric")
    assert allseg.loc["n_loans_active", "value"] == 4
    assert allseg.loc["balance_active", "value"] == 1000
    assert allseg.loc["overdue_rate_count", "value"] == 0.75
    assert allseg.loc["overdue_rate_count", "n"] == 4
    assert allseg.loc["rate_90plus_balance", "value"] == pytest.approx(0.4)
    # npl: D (120 days, 400) and E (written off, 50 left): 450 / 1050
    assert allseg.loc["npl_ratio_balance", "value"] == pytest.approx(450 / 1050)
    assert allseg.loc["n_episodes", "value"] == 1  # only episode a started by January
    assert allseg.loc["cure_rate", "value"] == 1.0
    latest = kpis.headline_kpis(book, eps).set_index(["segment", "metric"])
    assert latest.loc[("all", "cure_rate"), "n"] == 3  # a, b, c started by February
    assert latest.loc[("individual", "n_loans_active"), "value"] == 2
    assert set(h["segment_type"]) == {"all", "borrower_type"}
    recent = kpis.headline_kpis(book, eps, episode_window_months=1).set_index(["segment", "metric"])
    assert recent.loc[("all", "n_episodes"), "value"] == 2  # b and c started in February
    no_eps = kpis.headline_kpis(book, None)
    assert "cure_rate" not in set(no_eps["metric"])
    with pytest.raises(ParameterError, match="2023-12"):
        kpis.headline_kpis(book, eps, as_of="2023-12")
    assert kpis.resolve_as_of(book, "") == pd.Timestamp("2024-02-29")


def test_kpis_cli_table_and_parser():
    from analysis.cli.kpis import register
    from analysis.report.text.kpis import format_kpis

    text = format_kpis(kpis.headline_kpis(make_book(OVERDUE_SPEC), outcome_episodes(), as_of="2024-01"),
                       pd.Timestamp("2024-01-31"))
    assert text.startswith("Headline KPIs as of 2024-01")
    assert "75.0% (n=4)" in text and "1,000" in text
    assert "individual" in text.splitlines()[1]
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kpis", "--data", "x", "--as-of", "2024-01"])
    assert args.as_of == "2024-01" and callable(args.func)


def test_kpis_cli_end_to_end(tmp_path, capsys):
    pytest.importorskip("analysis.data.validate", reason="analysis.data.validate (load_book) not written yet")
    pytest.importorskip("analysis.episodes", reason="analysis.episodes not written yet")
    pytest.importorskip("analysis.cli.data", reason="analysis.cli.data not written yet")
    from analysis.cli.main import main

    book = make_book(OVERDUE_SPEC)
    book.loans.to_csv(tmp_path / "loans.csv", index=False)
    book.performance.to_csv(tmp_path / "performance.csv", index=False)
    book.relief.to_csv(tmp_path / "relief.csv", index=False)
    out = tmp_path / "out" / "kpis.csv"
    assert main(["kpis", "--data", str(tmp_path), "--as-of", "2024-01", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Headline KPIs as of 2024-01" in text and "75.0% (n=4)" in text
    table = pd.read_csv(out)
    assert {"metric", "segment_type", "segment", "value", "n", "as_of"} <= set(table.columns)
    assert main(["kpis", "--data", str(tmp_path), "--as-of", "2023-01"]) == 2
    assert "as_of" in capsys.readouterr().err
