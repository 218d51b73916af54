"""Competing-risks cumulative incidence and Cox hazards of cure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from analysis.effects.survival import aalen_johansen, analyse_time_to_cure, cox_cure_hazards
from analysis.errors import InputError


def test_hand_computed_small_case():
    # times 1,2,2,3,4 ; events cure(1) at 1, default(2) at 2, cure at 2, censored at 3, cure at 4
    t = np.array([1, 2, 2, 3, 4])
    ev = np.array([1, 2, 1, 0, 1])
    aj = aalen_johansen(t, ev)
    # S: after 1: 4/5; after 2: 4/5 * (1 - 2/4) = 2/5; after 3: 2/5; after 4: 0
    np.testing.assert_allclose(aj["surv"], [0.8, 0.4, 0.4, 0.0])
    # CIF cure: 1/5, + 0.8 * 1/4 = 0.4, 0.4, + 0.4 * 1/1 = 0.8 ; default: 0, 0.2, 0.2, 0.2
    np.testing.assert_allclose(aj["cif_1"], [0.2, 0.4, 0.4, 0.8])
    np.testing.assert_allclose(aj["cif_2"], [0.0, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(aj["cif_1"] + aj["cif_2"] + aj["surv"], 1.0)


def _competing(n, seed, hr_cure=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    treat = rng.random(n) < 1 / (1 + np.exp(-x))
    tc = rng.exponential(1 / (0.15 * np.exp(0.5 * x) * np.where(treat, hr_cure, 1.0)))
    td = rng.exponential(1 / (0.05 * np.exp(-0.3 * x)))
    tcens = rng.uniform(2, 30, n)
    t = np.minimum.reduce([tc, td, tcens])
    ev = np.select([t == tc, t == td], [1, 2], 0)
    return x, treat, t, ev


def test_matches_lifelines_on_continuous_times():
    from lifelines import AalenJohansenFitter

    _, _, t, ev = _competing(500, 1)
    aj = aalen_johansen(t, ev)
    for k in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ll = AalenJohansenFitter(calculate_variance=True).fit(t, ev, event_of_interest=k)
        ref = ll.cumulative_density_.iloc[:, 0]
        ours = pd.Series(aj[f"cif_{k}"].to_numpy(), index=aj["time"].to_numpy())
        np.testing.assert_allclose(ours.reindex(ref.index[1:]).to_numpy(), ref.iloc[1:].to_numpy(), atol=1e-12)
        var = pd.Series(aj[f"var_{k}"].to_numpy(), index=aj["time"].to_numpy())
        np.testing.assert_allclose(var.reindex(ll.variance_.index[1:]).to_numpy(),
                                   ll.variance_.iloc[1:].to_numpy(), rtol=1e-6, atol=1e-12)


def test_integer_weights_equal_replication():
    _, _, t, ev = _competing(200, 2)
    t = np.ceil(t)
    w = np.random.default_rng(0).integers(1, 4, len(t))
    a = aalen_johansen(t, ev, w.astype(float))
    b = aalen_johansen(np.repeat(t, w), np.repeat(ev, w))
    np.testing.assert_allclose(a[["cif_1", "cif_2", "surv"]], b[["cif_1", "cif_2", "surv"]])


def _episodes(n, seed, hr):
    x, treat, t, ev = _competing(n, seed, hr)
    return pd.DataFrame({"measure": np.where(treat, "deferral", "none"), "x": x,
                         "months_to_exit": np.ceil(t),
                         "exit_type": np.array(["open", "cure", "default"])[ev]})


def test_cox_recovers_hazard_ratio_and_ipw_curves():
    eps = _episodes(4000, 3, hr=1.5)
    hr, _ = cox_cure_hazards(eps, covariates=["x"])
    row = hr.iloc[0]
    assert row["ci_low"] < 1.5 < row["ci_high"] and abs(np.log(row["hazard_ratio"] / 1.5)) < 0.1
    res = analyse_time_to_cure(eps, covariates=["x"])
    t = res.table
    assert set(t["weighting"]) == {"unweighted", "ipw"} and set(t["event"]) == {"cure", "default"}
    assert ((t["ci_low"] <= t["cif"] + 1e-12) & (t["cif"] <= t["ci_high"] + 1e-12)).all()
    s = res.summary()
    assert {"cure_by_6m", "cure_hazard_ratio"} <= set(s.columns)
    # treated have high x (faster cure): unweighted curve exaggerates the gap, IPW one
    # is closer to the truth at 10 months, computed from the known hazards by simulation
    big = _episodes(200_000, 9, hr=1.5)
    truth = {}
    for arm, h in (("none", 1.0), ("deferral", 1.5)):
        x = big["x"].to_numpy()
        lc, ld = 0.15 * np.exp(0.5 * x) * h, 0.05 * np.exp(-0.3 * x)
        truth[arm] = np.mean(lc / (lc + ld) * (1 - np.exp(-(lc + ld) * 10)))
    def at10(arm, wt):
        g = t[(t["measure"] == arm) & (t["weighting"] == wt) & (t["event"] == "cure") & (t["month"] <= 10)]
        return g["cif"].iloc[-1]
    gap_true = truth["deferral"] - truth["none"]
    gap_ipw = at10("deferral", "ipw") - at10("none", "ipw")
    gap_raw = at10("deferral", "unweighted") - at10("none", "unweighted")
    assert abs(gap_ipw - gap_true) < abs(gap_raw - gap_true)
    assert abs(gap_ipw - gap_true) < 0.04


def test_bad_input():
    eps = _episodes(100, 1, 1.0)
    with pytest.raises(InputError, match="exit_type"):
        analyse_time_to_cure(eps.assign(exit_type="gone"))
    with pytest.raises(InputError, match="needs column"):
        analyse_time_to_cure(eps.drop(columns="months_to_exit"))


def test_cox_on_a_capped_subset_keeps_the_curves_whole():
    """Above ``cox_max_rows`` the hazard ratios come from a seeded subset (said in the
    warnings, counted in the table) while the curves use every episode."""
    eps = _episodes(6000, 4, hr=1.5)
    whole = analyse_time_to_cure(eps, covariates=["x"], cox_max_rows=None)
    capped = analyse_time_to_cure(eps, covariates=["x"], cox_max_rows=2000)
    pd.testing.assert_frame_equal(whole.table, capped.table)
    assert whole.hazard_ratios["n_episodes"].sum() == 6000 - (eps["measure"] == "none").sum()
    assert capped.hazard_ratios["n_episodes"].sum() < whole.hazard_ratios["n_episodes"].sum()
    assert any("random 2,000 of the 6,000 episodes" in w for w in capped.warnings)
    assert not any("random" in w for w in whole.warnings)
    row = capped.hazard_ratios.iloc[0]
    assert row["ci_low"] < 1.5 < row["ci_high"]
    assert row["hazard_ratio"] != whole.hazard_ratios.iloc[0]["hazard_ratio"]
    # the subset's interval is wider, by about sqrt(6000 / 2000)
    width = lambda r: np.log(r["ci_high"] / r["ci_low"])  # noqa: E731
    assert 1.4 < width(row) / width(whole.hazard_ratios.iloc[0]) < 2.1
