"""Invariants of the KPI tables on random small books (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import kpis
from tests.helpers.kpis import make_book

_dpd_path = st.lists(st.integers(0, 420), min_size=1, max_size=8)


@st.composite
def random_books(draw):
    n = draw(st.integers(1, 6))
    spec = {}
    for i in range(n):
        dpd = draw(_dpd_path)
        bal = draw(st.lists(st.sampled_from([0.0, 50.0, 300.0]), min_size=len(dpd),
                            max_size=len(dpd)))
        wo_at = draw(st.one_of(st.none(), st.integers(0, len(dpd) - 1)))
        spec[f"L{i}"] = {
            "first": f"2024-0{draw(st.integers(1, 4))}",
            "dpd": dpd,
            "balance": bal,
            "write_off": {} if wo_at is None else {wo_at: 10.0},
            "borrower_type": draw(st.sampled_from(["micro_enterprise", "individual"])),
        }
    return make_book(spec)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=random_books())
def test_kpi_invariants(book):
    od = kpis.overdue_rates(book)
    for col in ("overdue_rate_count", "overdue_rate_balance", "rate_90plus_count"):
        assert od[col].between(0, 1).all()
    assert (od["rate_90plus_count"] <= od["rate_30plus_count"]).all()
    assert (od["rate_30plus_count"] <= od["overdue_rate_count"]).all()
    for weight in ("count", "balance"):
        rr = kpis.roll_rates(book, weight=weight, by="borrower_type")
        sums = rr.groupby(["segment", "from_bucket"], observed=True)["share"].sum(min_count=1)
        np.testing.assert_allclose(sums.dropna(), 1.0)
        wo = rr[(rr["from_bucket"] == "written_off") & (rr["to_bucket"] != "written_off")]
        assert wo["n"].eq(0).all()  # absorbing
    cat = kpis.loan_month_categories(book)
    assert (cat.loc[cat["written_off"], "category"] == "loss").all()
    assert (cat.loc[cat["days_past_due"] > 360, "category"] == "loss").all()
    assert (cat.loc[(cat["days_past_due"] == 0) & ~cat["written_off"], "category"]
            == "normal").all()  # no relief in these books
    cl = kpis.loan_classification(book)
    if len(cl):
        np.testing.assert_allclose(cl.groupby("month")["share_balance"].sum(), 1.0)
    vc = kpis.vintage_curves(book)
    assert (vc["n_ever"] <= vc["n_observed"]).all() and (vc["n_observed"] <= vc["n_loans"]).all()
    # the count of loans bad by k only grows while every loan is still observed
    full = vc[vc["n_observed"] == vc["n_loans"]]
    for _, g in full.groupby("cohort"):
        assert g["n_ever"].is_monotonic_increasing
