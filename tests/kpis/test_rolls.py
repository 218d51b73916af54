"""Roll rates and roll matrices on a tiny hand-made book whose answers were worked out
by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import kpis
from analysis.definitions import DPD_BUCKETS
from analysis.errors import ParameterError
from tests.helpers.kpis import make_book

ROLL_SPEC = {
    "A": {"first": "2024-01", "dpd": [0, 0, 0], "balance": 100},
    "B": {"first": "2024-01", "dpd": [0, 15, 45], "balance": 200},
    # 90+ -> written off (partial write-off in Feb); stays written off although DPD -> 0
    "C": {"first": "2024-01", "dpd": [95, 125, 0], "balance": 300, "write_off": {1: 100.0}},
    "D": {"first": "2024-01", "dpd": [0, 0], "balance": [400, 0]},  # repaid in Feb
    "E": {"first": "2024-01", "dpd": [0], "balance": 500},  # rows stop with a balance
    # written off in Jan with nothing left; no later rows: still written off in Feb
    "G": {"first": "2024-01", "dpd": [180], "balance": 0, "write_off": {0: 80.0}},
}


def _share(rr: pd.DataFrame, f: str, t: str) -> float:
    row = rr[(rr["from_bucket"] == f) & (rr["to_bucket"] == t)]
    assert len(row) == 1
    return float(row["share"].iloc[0])


def test_roll_rates_count_pooled():
    rr = kpis.roll_rates(make_book(ROLL_SPEC))
    assert len(rr) == len(DPD_BUCKETS) * (len(DPD_BUCKETS) + 1)
    assert rr["period_start"].iloc[0] == pd.Timestamp("2024-02-29")
    assert rr["period_end"].iloc[0] == pd.Timestamp("2024-03-31")
    # from current: A twice -> current, B -> 1-29, D -> closed (E not counted)
    assert _share(rr, "current", "current") == pytest.approx(0.5)
    assert _share(rr, "current", "1-29") == pytest.approx(0.25)
    assert _share(rr, "current", "closed") == pytest.approx(0.25)
    assert rr.loc[rr["from_bucket"] == "current", "n"].sum() == 4
    assert _share(rr, "1-29", "30-59") == 1.0
    assert _share(rr, "90+", "written_off") == 1.0
    # absorbing: C (Feb -> Mar, DPD back to 0) and G (no row in Feb)
    wo = rr[rr["from_bucket"] == "written_off"].set_index("to_bucket")
    assert wo.loc["written_off", "n"] == 2 and wo.loc["written_off", "share"] == 1.0
    assert wo.drop(index="written_off")["share"].eq(0).all()
    assert rr.loc[rr["from_bucket"] == "30-59", "share"].isna().all()  # no transition
    assert rr["weight"].eq("count").all()


def test_roll_rates_balance_weighted_and_matrix():
    rr = kpis.roll_rates(make_book(ROLL_SPEC), weight="balance")
    # from current: A 100 + 100 -> current, B 200 -> 1-29, D 400 -> closed
    assert _share(rr, "current", "current") == pytest.approx(200 / 800)
    assert _share(rr, "current", "1-29") == pytest.approx(200 / 800)
    assert _share(rr, "current", "closed") == pytest.approx(400 / 800)
    mat = kpis.roll_matrix(rr)
    assert list(mat.index) == list(DPD_BUCKETS)
    assert list(mat.columns) == [*DPD_BUCKETS, "closed"]
    assert mat.loc["written_off", "written_off"] == 1.0  # G has balance 0: by definition
    assert mat.loc["90+", "written_off"] == 1.0
    assert mat.loc["current", "closed"] == pytest.approx(0.5)
    assert mat.loc["60-89"].isna().all()
    sums = mat.sum(axis=1, min_count=1).dropna()
    np.testing.assert_allclose(sums, 1.0)
    counts = kpis.roll_matrix(rr, values="n")
    assert counts.loc["current"].sum() == 4


def test_roll_rates_per_month_and_window():
    book = make_book(ROLL_SPEC)
    pm = kpis.roll_rates(book, per_month=True)
    feb = pm[pm["period_end"] == pd.Timestamp("2024-02-29")]
    assert _share(feb, "current", "closed") == pytest.approx(1 / 3)
    mar = pm[pm["period_end"] == pd.Timestamp("2024-03-31")]
    assert _share(mar, "current", "current") == 1.0
    last = kpis.roll_rates(book, months=1)
    assert last["period_start"].iloc[0] == pd.Timestamp("2024-03-31")
    assert last.loc[last["from_bucket"] == "current", "n"].sum() == 1
    with pytest.raises(ParameterError):
        kpis.roll_matrix(pm)
    with pytest.raises(ParameterError, match="weight"):
        kpis.roll_rates(book, weight="loans")
