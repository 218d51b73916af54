"""Measure costs (hand-computed) and net benefit against known potential outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.effects.losses import (
    NET_BENEFIT_COLUMNS,
    CostParameters,
    cost_matrix,
    episode_costs,
    net_benefit,
)
from analysis.errors import ParameterError
from tests.helpers.effects import ARMS, simulate_episodes


def _one(**kw):
    base = {"measure": "none", "ead": 12_000.0, "annual_rate": 0.0, "term_months": 24,
            "months_on_book": 12, "dpd_at_start": 30, "rate_cut_bp": np.nan,
            "deferral_months": np.nan, "instalments": np.nan, "counselling_sessions": np.nan}
    base.update(kw)
    return pd.DataFrame([base])


def test_hand_computed_costs():
    c = CostParameters(funding_cost=0.06, rate_cut_months=6, cost_per_session_cny=250)
    # rate cut 300 bp on 12,000 for min(6, 12 remaining) months: 12,000 * 0.03 * 6/12 = 180
    assert episode_costs(_one(measure="rate_reduction", rate_cut_bp=300), "rate_reduction", c).iloc[0] == pytest.approx(180)
    # zero rate: instalment = 12,000 / 12 remaining = 1,000; deferral 2 months:
    # 2 * 1,000 * 0.06 * 2/12 = 20
    assert episode_costs(_one(measure="deferral", deferral_months=2), "deferral", c).iloc[0] == pytest.approx(20)
    # arrears 1,000 (30 DPD), 5 instalments: 1,000 * 0.06 * 6/24 = 15
    assert episode_costs(_one(measure="instalment", instalments=5), "instalment", c).iloc[0] == pytest.approx(15)
    assert episode_costs(_one(measure="counselling", counselling_sessions=3), "counselling", c).iloc[0] == pytest.approx(750)
    # an episode without the measure gets the typical (parameter) term: 2 sessions
    assert episode_costs(_one(), "counselling", c).iloc[0] == pytest.approx(500)
    m = cost_matrix(_one(), ["none", "counselling"], c)
    assert list(m.columns) == ["none", "counselling"] and m.iloc[0, 0] == 0


def test_annuity_instalment_with_interest():
    # 12 months at 12 % a year on 12,000: annuity 1,066.19; deferral of 1 month at 12 %
    c = CostParameters(funding_cost=0.12)
    got = episode_costs(_one(measure="deferral", annual_rate=0.12, deferral_months=1), "deferral", c).iloc[0]
    assert got == pytest.approx(1066.185 * 0.12 / 12, rel=1e-4)


def test_bad_cost_parameter():
    with pytest.raises(ParameterError, match="funding_cost"):
        CostParameters(funding_cost=-0.1)


def test_net_benefit_recovers_truth():
    eps, truth = simulate_episodes(6000, seed=11)
    eps["counselling_sessions"] = np.where(eps["measure"] == "counselling", 2, np.nan)
    costs = CostParameters(cost_per_session_cny=400, extra_cost_cny={})
    r = net_benefit(eps, costs, covariates=["severity", "credit_score", "borrower_type", "reported_family"],
                    by="borrower_type")
    assert tuple(r.table.columns) == NET_BENEFIT_COLUMNS
    w = truth.pivot(index="row", columns="arm", values="exp_loss_rate")
    ead = eps["ead"].to_numpy()
    cm = cost_matrix(eps, ARMS, costs)
    t = r.table.query("segment_type == 'all'").set_index(["measure", "estimand"])
    for m in ARMS[1:]:
        nb = ead * (w["none"] - w[m]).to_numpy() - cm[m].to_numpy()
        treated = (eps["measure"] == m).to_numpy()
        for est, tv in (("ATE", nb.mean()), ("ATT", nb[treated].mean())):
            row = t.loc[(m, est)]
            assert abs(row["net_benefit_cny"] - tv) < 2.5 * row["std_error"], (m, est, row["net_benefit_cny"], tv)
            assert row["ci_low"] < row["net_benefit_cny"] < row["ci_high"]
    # counselling cost = 2 sessions x 400 for everybody
    assert t.loc[("counselling", "ATE"), "cost_cny"] == pytest.approx(800)
    el = r.expected_loss.query("segment_type == 'all'").set_index("arm")
    assert el.loc["none", "expected_loss_rate"] == pytest.approx(w["none"].mean(), abs=0.02)
    assert "<table" in r._repr_html_()
