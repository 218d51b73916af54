"""Episode outcome rates and their intervals: hand-worked answers and coverage on
simulated portfolios."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pandas import NA

from analysis import kpis
from analysis.errors import InputError
from tests.helpers.kpis import outcome_episodes


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_outcome_rates_exclude_censored():
    r = kpis.episode_outcome_rates(outcome_episodes()).set_index("metric")
    assert list(r.index) == ["cure_rate", "default_rate", "redefault_rate", "loss_rate", "lgd"]
    assert r.loc["cure_rate", "value"] == 0.5 and r.loc["cure_rate", "n"] == 4
    assert r.loc["default_rate", "value"] == 0.25 and r.loc["default_rate", "numerator"] == 1
    assert r.loc["redefault_rate", "value"] == 0.5 and r.loc["redefault_rate", "n"] == 2
    lo, hi = _wilson(2, 4)
    assert r.loc["cure_rate", "ci_low"] == pytest.approx(lo)
    assert r.loc["cure_rate", "ci_high"] == pytest.approx(hi)
    # loss rate: (0 + 0 + 150 + 10) / (100 + 200 + 300 + 400), the censored d left out
    assert r.loc["loss_rate", "value"] == pytest.approx(0.16) and r.loc["loss_rate", "n"] == 4
    resid = np.array([0 - 16, 0 - 32, 150 - 48, 10 - 64])
    se = math.sqrt((resid**2).sum() * 4 / 3) / 1000
    assert r.loc["loss_rate", "ci_high"] == pytest.approx(0.16 + 1.959963984540054 * se)
    assert r.loc["lgd", "value"] == 0.5 and r.loc["lgd", "n"] == 1
    assert np.isnan(r.loc["lgd", "ci_low"])  # one defaulted episode: no interval
    assert set(r["method"]) == {"wilson", "ratio_delta"}


def test_sustained_cure_rate_over_all_episodes_with_a_known_window():
    # a cured then re-defaulted, b cured and held, c not cured; d censored, e's longer
    # window not yet observed: 1 of 3, where the re-default rate is 1 of 2 cured.
    ep = outcome_episodes().assign(
        is_sustained_cure=pd.array([False, True, False, NA, NA], dtype="boolean"))
    r = kpis.episode_outcome_rates(ep).set_index("metric")
    assert list(r.index) == ["cure_rate", "default_rate", "redefault_rate",
                             "sustained_cure_rate", "loss_rate", "lgd"]
    row = r.loc["sustained_cure_rate"]
    assert (row["numerator"], row["n"]) == (1, 3) and row["value"] == pytest.approx(1 / 3)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(_wilson(1, 3))


def test_outcome_rates_by_segment():
    r = kpis.episode_outcome_rates(outcome_episodes(), by="borrower_type")
    r = r.set_index(["segment", "metric"])
    assert r.loc[("micro_enterprise", "cure_rate"), "value"] == 1.0
    assert r.loc[("micro_enterprise", "loss_rate"), "value"] == 0.0
    assert r.loc[("individual", "default_rate"), "value"] == 0.5
    assert r.loc[("individual", "redefault_rate"), "n"] == 0
    assert np.isnan(r.loc[("individual", "redefault_rate"), "value"])
    assert r.loc[("individual", "loss_rate"), "value"] == pytest.approx(160 / 700)
    assert r.loc[("micro_enterprise", "lgd"), "n"] == 0
    with pytest.raises(InputError, match="is_cured"):
        kpis.episode_outcome_rates(outcome_episodes().drop(columns="is_cured"))


def test_outcome_rate_intervals_cover_truth():
    """Ground truth: 400 replicate portfolios of 250 episodes; the 95 % intervals of the
    cure rate (Wilson) and of the loss rate (delta method) cover the truth ~95 % of the
    time (binomial sd of the coverage 0.011)."""
    rng = np.random.default_rng(20240601)
    reps, n = 400, 250
    ead = rng.lognormal(mean=8, sigma=0.8, size=reps * n)
    defaulted = rng.random(reps * n) < 0.2
    lgd = rng.beta(2, 3, size=reps * n)  # mean 0.4, independent of ead
    ep = pd.DataFrame(
        {
            "rep": np.repeat(np.arange(reps), n),
            "is_cured": pd.array(rng.random(reps * n) < 0.3, dtype="boolean"),
            "is_defaulted": pd.array(defaulted, dtype="boolean"),
            "loss": np.where(defaulted, lgd * ead, 0.0),
            "ead": ead,
        }
    )
    r = kpis.episode_outcome_rates(ep, by="rep")
    truth = {"cure_rate": 0.3, "loss_rate": 0.2 * 0.4, "lgd": 0.4}
    for metric, true in truth.items():
        sub = r[r["metric"] == metric]
        assert len(sub) == reps
        coverage = ((sub["ci_low"] <= true) & (true <= sub["ci_high"])).mean()
        assert 0.92 <= coverage <= 0.975, (metric, coverage)
        assert abs(sub["value"].mean() - true) < 0.01, metric
