"""Ground truth: the forecast against the synthetic generator run forward, and the backtest
on the demo book (slow)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_book, restrict_to
from analysis.scenarios import Scenario, backtest, fit_models, forecast
from analysis.synthetic.forward import (
    forward_onset_probabilities,
    forward_truth,
    history_params,
    last_data_month,
    simulate_forward,
)
from analysis.synthetic.generate import generate_book
from analysis.synthetic.params import INDUSTRIES, SynthParams

REALISED = Scenario("realised", "signals as realised", method="realised")


def test_forward_run_keeps_the_history(tmp_path):
    """The extended book's months up to the original end are the history book's."""
    p = history_params(6)
    hist = load_book(generate_book(600, 5, tmp_path / "hist", params=p))
    fwd = load_book(simulate_forward(600, 5, tmp_path / "fwd", 6))
    as_of = last_data_month(p)
    cut = restrict_to(fwd, as_of)
    key = ["loan_id", "month"]
    for table in ("performance", "signals"):
        a = getattr(hist, table).sort_values(key).reset_index(drop=True)
        b = getattr(cut, table).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)
    assert fwd.performance["month"].max() > as_of  # and it goes on
    truth = forward_truth(tmp_path / "fwd", as_of)
    assert list(truth.columns) == ["family", "month", "episodes", "ci_low", "ci_high"]
    tot = truth[truth["month"] == ""]
    months = truth[truth["month"] != ""]
    assert tot["episodes"].sum() == months["episodes"].sum()
    assert (truth["ci_low"] <= truth["episodes"]).all() and (truth["episodes"] <= truth["ci_high"]).all()


def test_generators_onset_probabilities_are_the_continuations_expectation(tmp_path):
    """The generator's own onset probabilities over the horizon (its compensator, a truth
    without the Monte Carlo of which loans happen to fall overdue) sum, per family and
    month, to the onsets the same forward run realises, within Poisson noise."""
    p = history_params(6)
    fwd = simulate_forward(12_000, 5, tmp_path / "fwd", 6)
    truth = forward_truth(fwd, last_data_month(p)).set_index(["family", "month"])["episodes"]
    prob = forward_onset_probabilities(12_000, 5, 6)
    assert prob["loan_id"].str.match(r"^L\d{7}$").all()
    assert set(prob["loan_id"]) <= set(load_book(fwd).loans["loan_id"])
    expected = prob.melt(["loan_id", "month"], var_name="family").groupby(
        ["family", "month"])["value"].sum()
    months = sorted(truth.index.get_level_values("month").unique().drop(""))
    assert sorted(prob["month"].unique()) == months  # the same six months as the truth
    for fam in ("economic", "management", "personal"):
        e, n = expected[fam].sum(), truth[(fam, "")]
        assert e > 15 and abs(n - e) < 4 * np.sqrt(e) + 2, (fam, n, e)


def _shock_scenario(p: SynthParams, size: float) -> dict:
    """The generator's scheduled demand shock (stress units) in the demand signal's units,
    industry by industry (signal = demand_signal_scale x sensitivity x stress)."""
    return {"name": "shanghai_shock", "shocks": [
        {"signal": "demand_index_change", "shift": p.demand_signal_scale * p.demand_sensitivity[i] * size,
         "regions": ["shanghai"], "industries": [i], "months": [1, 2, 3]} for i in INDUSTRIES]}


@pytest.mark.slow
@pytest.mark.xfail(reason="known gap (issue #20, see docs/scenarios.md): with the level "
                   "baseline the forecast cannot foresee the generator's own random regional "
                   "shocks and cycle in the horizon, and under large demand stress the "
                   "log-linear economic hazard under-responds; personal onsets run ~30% high "
                   "at the end of the book", strict=False)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forecast_within_the_generators_interval(tmp_path, seed):
    """Expected 6-month onsets by family, baseline and a Shanghai demand shock, within the
    generator's 90 % interval (Poisson interval of its continuation's realised count)."""
    p = history_params(6)
    as_of = last_data_month(p)
    month1 = (pd.Period(as_of, "M") + 1).strftime("%Y-%m")
    base_dir = simulate_forward(20_000, seed, tmp_path / "base", 6)
    shock_dir = simulate_forward(20_000, seed, tmp_path / "shock", 6,
                                 shocks=(("shanghai", month1, 3, 3.0),))
    book = load_book(base_dir)
    models = fit_models(book, as_of)
    misses = []
    for name, scenario, truth_dir in (("baseline", "baseline", base_dir),
                                      ("shock", _shock_scenario(p, 3.0), shock_dir)):
        tot = forecast(book, as_of, scenario, models=models, n_draws=60).totals()
        truth = forward_truth(truth_dir, as_of, level=0.90)
        truth = truth[truth["month"] == ""].set_index("family")
        for r in tot.itertuples():
            lo, hi = truth.loc[r.family, "ci_low"], truth.loc[r.family, "ci_high"]
            if not lo <= r.expected_episodes <= hi:
                misses.append((name, r.family, round(r.expected_episodes, 1), lo, hi))
    assert not misses, misses


@pytest.mark.slow
def test_backtest_on_the_demo_book(tmp_path):
    """The demo book (20,000 loans, seed 1): fit up to 2024-06, forecast 2024-07..12 with
    the realised signals; predicted / actual onsets within +-15 % per family."""
    book = load_book(generate_book(20_000, 1, tmp_path / "demo"))
    bt = backtest(book, 6, n_draws=100)
    s = bt.summary().set_index("family")
    assert tuple(bt.table.columns[:6]) == ("family", "month", "predicted", "ci_low", "ci_high",
                                           "actual")
    assert np.all(np.abs(s["ratio"] - 1) <= 0.15), s
    assert bt.coverage >= 0.8
    assert len(bt.outcomes) == 3 and (bt.outcomes["predicted_cures"] > 0).all()
