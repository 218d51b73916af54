"""The five loan categories (DPD backstops, concessions) on tiny hand-made books whose
answers were worked out by hand."""

from __future__ import annotations

import numpy as np

from analysis import kpis
from analysis.data.book import Book
from analysis.definitions import LOAN_CATEGORIES
from tests.helpers.kpis import make_book

BOUNDARY_DPD = {"n0": 0, "s1": 1, "s90": 90, "b91": 91, "b270": 270, "d271": 271,
                "d360": 360, "l361": 361}
EXPECTED = {"n0": "normal", "s1": "special_mention", "s90": "special_mention",
            "b91": "substandard", "b270": "substandard", "d271": "doubtful",
            "d360": "doubtful", "l361": "loss", "W": "loss"}


def _boundary_book() -> Book:
    spec = {k: {"first": "2024-06", "dpd": [d], "balance": 500 if k == "n0" else 100}
            for k, d in BOUNDARY_DPD.items()}
    spec["W"] = {"first": "2024-06", "dpd": [10], "balance": 100, "write_off": {0: 20.0}}
    spec["Z"] = {"first": "2024-06", "dpd": [400], "balance": 0, "write_off": {0: 90.0}}
    return make_book(spec)


def test_classification_backstops_at_boundaries():
    cat = kpis.loan_month_categories(_boundary_book()).set_index("loan_id")["category"]
    for lid, expected in EXPECTED.items():
        assert cat[lid] == expected, lid
    assert cat["Z"] == "loss"
    assert list(cat.cat.categories) == list(LOAN_CATEGORIES)
    grace = kpis.loan_month_categories(_boundary_book(), technical_grace_days=7)
    assert grace.set_index("loan_id").loc["s1", "category"] == "normal"


def test_classification_shares():
    cl = kpis.loan_classification(_boundary_book()).set_index("category")
    assert len(cl) == 5 and cl.loc["normal", "category_zh"] == "正常"
    # Z has no balance left (off the balance sheet); W keeps 100 in loss
    assert cl["n_loans"].tolist() == [1, 2, 2, 2, 2]
    np.testing.assert_allclose(cl["share_count"], [1 / 9, 2 / 9, 2 / 9, 2 / 9, 2 / 9])
    np.testing.assert_allclose(cl["share_balance"], [500 / 1300] + [200 / 1300] * 4)
    assert cl.loc["loss", "category_zh"] == "损失"


RELIEF_SPEC = {
    "R1": {"first": "2024-01", "dpd": [30, 0, 0, 0, 0]},  # deferral
    "R2": {"first": "2024-01", "dpd": [0, 0, 0, 0, 0]},  # counselling: no concession
    "R3": {"first": "2024-01", "dpd": [120, 0, 0, 0, 0]},  # instalment from substandard
}
RELIEF = [("R1", "2024-02-10", "deferral"), ("R2", "2024-02-10", "counselling"),
          ("R3", "2024-02-05", "instalment")]


def _cats(book: Book, **rules) -> dict[str, list[str]]:
    c = kpis.loan_month_categories(book, **rules)
    return {lid: list(g["category"].astype(str)) for lid, g in c.groupby("loan_id")}


def test_classification_concession_observation_period():
    book = make_book(RELIEF_SPEC, RELIEF)
    sm, n, sub = "special_mention", "normal", "substandard"
    c = _cats(book, observation_months=3)
    assert c["R1"] == [sm, sm, sm, sm, n]
    assert c["R2"] == [n] * 5
    assert c["R3"] == [sub, sub, sub, sub, n]  # cannot be better than before the grant
    c = _cats(book, observation_months=3, restructured_floor=False)
    assert c["R3"] == [sub, sm, sm, sm, n]
    c = _cats(book, observation_months=3, exempt_deferrals=True)
    assert c["R1"] == [sm, n, n, n, n] and c["R3"][1] == sub
    assert _cats(book)["R1"] == [sm] * 5  # default: 12 months
    assert _cats(book, observation_months=0)["R3"] == [sub, n, n, n, n]
