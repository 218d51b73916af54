"""Overdue rates on a tiny hand-made book whose answers were worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import kpis
from analysis.errors import ParameterError
from tests.helpers.kpis import OVERDUE_SPEC, make_book


def test_overdue_rates_count_and_balance_weighted():
    od = kpis.overdue_rates(make_book(OVERDUE_SPEC))
    jan = od[od["month"] == pd.Timestamp("2024-01-31")].iloc[0]
    assert (jan["segment_type"], jan["segment"]) == ("all", "all")
    assert jan["n_loans"] == 4 and jan["n_overdue"] == 3
    assert jan["overdue_rate_count"] == pytest.approx(0.75)
    assert jan["balance"] == 1000 and jan["overdue_balance"] == 900
    assert jan["overdue_rate_balance"] == pytest.approx(0.9)
    assert jan["rate_30plus_count"] == pytest.approx(0.5)
    assert jan["rate_30plus_balance"] == pytest.approx(0.6)
    assert jan["rate_90plus_count"] == pytest.approx(0.25)
    assert jan["rate_90plus_balance"] == pytest.approx(0.4)
    feb = od[od["month"] == pd.Timestamp("2024-02-29")].iloc[0]
    assert feb["n_overdue"] == 2 and feb["overdue_rate_balance"] == pytest.approx(0.6)


def test_overdue_rates_threshold_and_segments():
    book = make_book(OVERDUE_SPEC)
    od30 = kpis.overdue_rates(book, overdue_dpd=30)
    assert od30["n_overdue"].iloc[0] == 2
    seg = kpis.overdue_rates(book, by="borrower_type").set_index(["month", "segment"])
    micro = seg.loc[(pd.Timestamp("2024-01-31"), "micro_enterprise")]
    assert micro["n_loans"] == 2 and micro["overdue_rate_count"] == pytest.approx(0.5)
    assert micro["overdue_rate_balance"] == pytest.approx(0.75)
    ind = seg.loc[(pd.Timestamp("2024-01-31"), "individual")]
    assert ind["overdue_rate_count"] == 1.0
    assert ind["rate_90plus_balance"] == pytest.approx(400 / 600)
    assert set(seg["segment_type"]) == {"borrower_type"}
    with pytest.raises(ParameterError, match="by='colour'"):
        kpis.overdue_rates(book, by="colour")
