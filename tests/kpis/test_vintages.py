"""Vintage curves on a tiny hand-made book whose answers were worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import kpis
from tests.helpers.kpis import make_book

VINTAGE_SPEC = {
    "L1": {"first": "2024-01", "dpd": [0, 35, 0, 0, 0, 0], "origination": "2024-01-15"},
    # never 30+ DPD, but written off in June: bad from then on
    "L2": {"first": "2024-01", "dpd": [0] * 6, "origination": "2024-01-20",
           "write_off": {5: 50.0}},
    "L3": {"first": "2024-03", "dpd": [0, 0, 95, 0], "origination": "2024-03-02"},
    "L4": {"first": "2024-04", "dpd": [0, 40, 100], "origination": "2024-04-10"},
    "L5": {"first": "2024-04", "dpd": [0, 0], "balance": [100, 0], "origination": "2024-04-30"},
}


def _curve(vc: pd.DataFrame, cohort: str) -> pd.DataFrame:
    return vc[vc["cohort"] == cohort].set_index("months_on_book")


def test_vintage_curves_two_cohorts_30plus():
    vc = kpis.vintage_curves(make_book(VINTAGE_SPEC), dpd_threshold=30)
    q1, q2 = _curve(vc, "2024Q1"), _curve(vc, "2024Q2")
    assert q1["n_loans"].eq(3).all() and q2["n_loans"].eq(2).all()
    assert list(q1["n_observed"]) == [3, 3, 3, 3, 2, 2]  # L3 is observed to month 3 only
    assert list(q1["n_ever"]) == [0, 1, 2, 2, 1, 2]
    np.testing.assert_allclose(q1["share_ever"], [0, 1 / 3, 2 / 3, 2 / 3, 0.5, 1.0])
    assert list(q2.index) == [0, 1, 2]
    np.testing.assert_allclose(q2["share_ever"], [0, 0.5, 0.5])  # L5 repaid: stays in
    assert vc["dpd_threshold"].eq(30).all()


def test_vintage_curves_90plus_and_segments():
    book = make_book(VINTAGE_SPEC)
    vc = kpis.vintage_curves(book, dpd_threshold=90)
    np.testing.assert_allclose(_curve(vc, "2024Q1")["share_ever"], [0, 0, 1 / 3, 1 / 3, 0, 0.5])
    np.testing.assert_allclose(_curve(vc, "2024Q2")["share_ever"], [0, 0, 0.5])
    monthly = kpis.vintage_curves(book, cohort_freq="M")
    assert set(monthly["cohort"]) == {"2024-01", "2024-03", "2024-04"}
    seg = kpis.vintage_curves(book, by="region")
    assert set(seg["segment_type"]) == {"region"} and set(seg["segment"]) == {"zhejiang"}
    pd.testing.assert_series_equal(
        seg["share_ever"].reset_index(drop=True),
        kpis.vintage_curves(book)["share_ever"].reset_index(drop=True),
    )
