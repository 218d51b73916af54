"""Segment cuts stack: the parts of every cut add up to the whole book."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import kpis
from analysis.data.book import Book
from tests.helpers.kpis import make_book


def _segment_book() -> Book:
    rng = np.random.default_rng(3)
    spec = {}
    for i in range(30):
        dpd = np.minimum(np.cumsum(rng.integers(0, 40, size=6) * (rng.random(6) < 0.4)), 400)
        spec[f"L{i}"] = {
            "first": "2024-01",
            "dpd": list(dpd),
            "balance": list(rng.integers(1, 10, size=6) * 100),
            "borrower_type": ["micro_enterprise", "sole_proprietor", "individual"][i % 3],
            "industry": ["retail", "catering"][i % 2],
            "region": ["zhejiang", "hubei", "sichuan", "guangdong"][i % 4],
            "write_off": {5: 10.0} if i % 7 == 0 else {},
        }
    return make_book(spec, [("L1", "2024-02-15", "deferral"), ("L2", "2024-03-01", "instalment")])


@pytest.mark.parametrize(
    "func, sum_cols, keys",
    [
        (kpis.overdue_rates, ["n_loans", "n_overdue", "balance", "overdue_balance"], ["month"]),
        (kpis.loan_classification, ["n_loans", "balance"], ["month", "category"]),
        (kpis.roll_rates, ["n", "balance"], ["from_bucket", "to_bucket"]),
    ],
)
def test_segments_stack(func, sum_cols, keys):
    stacked = kpis.by_segments(func, _segment_book())
    assert set(stacked["segment_type"]) == {"all", "borrower_type", "industry", "region"}
    assert stacked.loc[stacked["segment_type"] == "all", "segment"].eq("all").all()
    total = stacked[stacked["segment_type"] == "all"].groupby(keys, observed=True)[sum_cols].sum()
    for seg_type in ("borrower_type", "industry", "region"):
        parts = stacked[stacked["segment_type"] == seg_type]
        assert parts["segment"].nunique() > 1
        summed = parts.groupby(keys, observed=True)[sum_cols].sum()
        pd.testing.assert_frame_equal(summed, total, check_dtype=False)
