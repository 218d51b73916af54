"""The forecast's starting population and its hand-computed amortisation, and onset
probabilities under competing hazards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.scenarios.hazards import instalments_left, poisson_fit
from analysis.scenarios.paths import population
from analysis.scenarios.simulate import HAZARD_CAP, onset_probabilities
from tests.helpers.books import tiny_book

R = 0.10 / 12


def annuity_balance(k: int, term: int, principal: float = 1000.0) -> float:
    g = (1 + R) ** term
    return principal * (g - (1 + R) ** k) / (g - 1)


def _book():
    def loan(dpd, term=24):
        return {"first": "2023-01", "dpd": dpd, "term_months": term,
                "balance": [annuity_balance(i, term) for i in range(len(dpd))]}

    book = tiny_book({
        "A": loan([0] * 12),                       # performing, 13 instalments left
        "B": loan([0] * 9 + [15, 0, 0]),           # in probation: at risk from month 2
        "C": loan([0] * 11 + [20]),                # overdue at as_of: not forecast
        "D": loan([0] * 12, term=12),              # repays its last instalment in month 1
    })
    return book


def test_instalments_left_inverts_the_annuity():
    k = np.arange(24)
    bal = np.array([annuity_balance(i, 24) for i in k])
    left = instalments_left(bal, np.full(24, 1000.0), np.full(24, 0.10), np.full(24, 24))
    np.testing.assert_array_equal(left, 24 - k)


def test_population_amortises_and_waits_out_probation():
    pop = population(_book(), pd.Timestamp("2023-12-31"), 6)
    assert list(pop.loans["loan_id"]) == ["A", "B", "D"]
    a = pop.loans.index[pop.loans["loan_id"] == "A"][0]
    np.testing.assert_allclose(pop.balance[a], [annuity_balance(11 + k, 24) for k in range(6)])
    np.testing.assert_array_equal(pop.months_left[a], [13, 12, 11, 10, 9, 8])
    assert pop.at_risk[a].all() and np.isnan(pop.months_since_overdue[a]).all()
    b = pop.loans.index[pop.loans["loan_id"] == "B"][0]
    # overdue in 2023-10, clean 2023-11 and 12: the third clean month is 2024-01, so the
    # first month that can start an episode is 2024-02 (month 2)
    np.testing.assert_array_equal(pop.at_risk[b], [False, True, True, True, True, True])
    np.testing.assert_array_equal(pop.months_since_overdue[b], [3, 4, 5, 6, 7, 8])
    d = pop.loans.index[pop.loans["loan_id"] == "D"][0]
    np.testing.assert_allclose(pop.balance[d], [annuity_balance(11, 12), 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(pop.at_risk[d], [True, False, False, False, False, False])


def test_onset_probabilities_by_hand():
    h = np.array([[[0.10, 0.20, 0.00], [0.05, 0.05, 0.10]],
                  [[5.00, 0.00, 0.00], [0.10, 0.10, 0.10]],
                  [[0.10, 0.10, 0.10], [0.10, 0.00, 0.00]]])
    at_risk = np.array([[True, True], [True, True], [False, True]])
    q = onset_probabilities(h, at_risk)
    np.testing.assert_allclose(q[0], [[0.10, 0.20, 0.0], [0.7 * 0.05, 0.7 * 0.05, 0.7 * 0.10]])
    np.testing.assert_allclose(q[1, 0], [HAZARD_CAP, 0, 0])
    np.testing.assert_allclose(q[1, 1], (1 - HAZARD_CAP) * np.array([0.1, 0.1, 0.1]))
    np.testing.assert_allclose(q[2], [[0, 0, 0], [0.1, 0, 0]])  # not at risk: no onset, survives


def test_poisson_fit_recovers_known_rates():
    rng = np.random.default_rng(3)
    n = 200_000
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.random(n) < 0.02])
    beta = np.array([-5.0, 0.4, 3.0])  # a rare flag with a large effect, as personal events
    y = rng.poisson(np.exp(x @ beta)).astype(float)
    coef, cov = poisson_fit(x, y, np.ones(n), ridge=0.0)
    se = np.sqrt(np.diag(cov))
    assert np.all(np.abs(coef - beta) < 4 * se), (coef, se)
    assert np.all(se < [0.05, 0.03, 0.06])
    # fitted rates add up to the events (Poisson score of the intercept)
    assert np.exp(x @ coef).sum() == pytest.approx(y.sum(), rel=1e-6)
