"""Nuisance learners, cross-fitting, bounded intervals, precision, overlap, refutation.

Hand-computed cases: with no covariates the GLM learner's models are the training
folds' arm means and arm shares, so the cross-fitted AIPW estimate and its
influence-function standard error can be recomputed here with plain numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.effects import (
    AUTO_BOOSTING_MIN_EPISODES,
    MAX_RATE_SE,
    choose_learner,
    crump_set,
    estimate_effects,
    fit_nuisance,
    fold_ids,
    redefault_rates,
    refute_effects,
)
from analysis.effects.cells import finish_table
from analysis.effects.design import Followup, outcome_frame
from analysis.effects.learners import MAX_OUTCOME_ROWS
from analysis.effects.survival import proportional_hazards_test
from analysis.errors import ParameterError
from tests.helpers.effects import simulate_episodes

COVS = ["severity", "credit_score", "borrower_type", "reported_family"]


@pytest.fixture(scope="module")
def sim():
    return simulate_episodes(3000, seed=5)


def test_crossfit_aipw_by_hand():
    rng = np.random.default_rng(0)
    n = 400
    eps = pd.DataFrame({"measure": rng.choice(["none", "deferral", "counselling"], n, p=[0.5, 0.3, 0.2]),
                        "is_cured": pd.array(rng.random(n) < 0.5, dtype="boolean")})
    r = estimate_effects(eps, "cure", covariates=[], methods=["aipw"], crossfit_folds=4, seed=7,
                         followup=None, learner="glm")
    arms = ("none", "counselling", "deferral")
    a = pd.Categorical(eps["measure"], categories=arms).codes
    y = eps["is_cured"].astype(float).to_numpy()
    folds = fold_ids(a, 4, 7)
    mu, e = np.empty((n, 3)), np.empty((n, 3))
    for f in range(4):
        tr, te = folds != f, folds == f
        for k in range(3):
            mu[te, k] = y[tr & (a == k)].mean()
            e[te, k] = (a[tr] == k).mean()
    d = np.eye(3)[a]
    phi = mu + d * (y[:, None] - mu) / e
    t = r.table.set_index(["measure", "estimand"])
    for k, m in ((1, "counselling"), (2, "deferral")):
        v = phi[:, k] - phi[:, 0]
        assert t.loc[(m, "ATE"), "estimate"] == pytest.approx(v.mean(), abs=1e-6)
        assert t.loc[(m, "ATE"), "std_error"] == pytest.approx(np.sqrt(((v - v.mean()) ** 2).sum()) / n, rel=1e-5)
        s = d[:, k] * (y - mu[:, 0]) - d[:, 0] * e[:, k] / e[:, 0] * (y - mu[:, 0])
        att = s.sum() / d[:, k].sum()
        infl = n / d[:, k].sum() * (s - d[:, k] * att)
        assert t.loc[(m, "ATT"), "estimate"] == pytest.approx(att, abs=1e-6)
        assert t.loc[(m, "ATT"), "std_error"] == pytest.approx(np.sqrt((infl ** 2).sum()) / n, rel=1e-5)
    assert (r.table["learner"] == "glm").all()


def test_interval_bounds_and_precision_rule():
    t = pd.DataFrame({"estimate": [0.95, -0.9, 0.1, 0.1, np.nan],
                      "std_error": [0.04, 0.1, MAX_RATE_SE + 0.01, 0.05, np.nan],
                      "status": ["ok", "ok", "ok", "ok", "too_few"]})
    out = finish_table(t, "binary", 0.95)
    assert out["ci_high"].iloc[0] == 1.0 and out["ci_low"].iloc[0] == pytest.approx(0.95 - 1.959964 * 0.04)
    assert out["ci_low"].iloc[1] == -1.0
    assert list(out["status"]) == ["ok", "ok", "imprecise", "ok", "too_few"]
    assert out.loc[2, ["estimate", "ci_low", "ci_high"]].isna().all() and out.loc[2, "std_error"] > 0
    cont = finish_table(t, "continuous", 0.95)  # no bounds, no precision rule for amounts
    assert cont["ci_high"].iloc[0] > 1 and cont["status"].iloc[2] == "ok"


def test_small_arm_never_leaves_minus_one_one(sim):
    eps, _ = sim
    small = eps[(eps["measure"] != "counselling") | (eps.index % 40 == 0)]
    r = estimate_effects(small, "cure", covariates=COVS, learner="glm", min_cell=5)
    shown = r.table.dropna(subset=["estimate"])
    assert (shown["ci_low"] >= -1).all() and (shown["ci_high"] <= 1).all()
    vague = r.table[r.table["status"] == "imprecise"]
    assert (vague["std_error"] > MAX_RATE_SE).all() and vague["estimate"].isna().all()
    assert set(r.table["status"]) <= {"ok", "imprecise", "too_few"}


def test_learner_selection():
    assert choose_learner("auto", AUTO_BOOSTING_MIN_EPISODES - 1).name == "glm"
    assert choose_learner("auto", AUTO_BOOSTING_MIN_EPISODES).name == "boosting"
    assert choose_learner("glm", 10**7).name == "glm"
    with pytest.raises(ParameterError, match="learner"):
        choose_learner("forest", 10)


def test_boosting_learner_close_to_truth_with_calibrated_propensity(sim):
    eps, truth = sim
    r = estimate_effects(eps, "cure", covariates=COVS, learner="boosting", methods=["naive", "aipw", "ipw"])
    assert r.learner == "boosting" and set(r.table["method"]) == {"naive", "aipw"}
    assert any("need learner='glm'" in w for w in r.warnings)
    w = truth.pivot(index="row", columns="arm", values="p_cure")
    t = r.table[r.table["method"] == "aipw"].set_index(["measure", "estimand"])
    for m in ("counselling", "deferral", "rate_reduction"):
        tv = (w[m] - w["none"]).mean()
        assert abs(t.loc[(m, "ATE"), "estimate"] - tv) < 3 * t.loc[(m, "ATE"), "std_error"], m
    rel = r.reliability
    assert set(rel["arm"]) == {"none", "counselling", "deferral", "rate_reduction"}
    # calibrated out-of-fold propensities: the size-weighted mean gap per arm is small
    ece = (rel["gap"].abs() * rel["n"]).groupby(rel["arm"]).sum() / rel.groupby("arm")["n"].sum()
    assert (ece < 0.04).all(), ece
    po = r.nuisance.predict_outcomes(eps.iloc[:7])
    assert po.shape == (7, 4) and po.to_numpy().min() >= 0 and po.to_numpy().max() <= 1
    np.testing.assert_allclose(r.nuisance.propensities(eps.iloc[:7]).sum(axis=1), 1.0)


def test_boosting_needs_crossfitting(sim):
    eps, _ = sim
    with pytest.raises(ParameterError, match="cross-fitted"):
        fit_nuisance(eps, "cure", COVS, crossfit_folds=0, learner="boosting")


def _dehejia_wahba_like(n: int = 12000, seed: int = 1) -> tuple[pd.DataFrame, float]:
    """90 % of controls have P(treated) < 0.01: a 'cps' group (85 % of episodes,
    P(treated) = 0.002) and an 'nsw' group (P = 0.5). The effect is +0.2 in nsw and
    -0.3 in cps, so the full-population ATE (-0.225) rests on 20-odd treated cps cases."""
    rng = np.random.default_rng(seed)
    grp = np.where(rng.random(n) < 0.85, "cps", "nsw")
    noise = rng.normal(size=n)
    treated = rng.random(n) < np.where(grp == "cps", 0.002, 0.5)
    p0 = 0.5 + 0.05 * np.tanh(noise)
    p = p0 + np.where(treated, np.where(grp == "nsw", 0.2, -0.3), 0.0)
    eps = pd.DataFrame({"measure": np.where(treated, "deferral", "none"), "grp": grp, "noise": noise,
                        "is_cured": pd.array(rng.random(n) < p, dtype="boolean")})
    return eps, 0.2


def test_overlap_failure_reports_the_overlap_ate():
    eps, truth_overlap = _dehejia_wahba_like()
    ctrl = eps["measure"] == "none"
    assert (ctrl & (eps["grp"] == "cps")).sum() / ctrl.sum() > 0.9
    r = estimate_effects(eps, "cure", covariates=["grp", "noise"], learner="glm", min_cell=5)
    t = r.table[r.table["method"] == "aipw"].set_index("estimand")
    assert "ATE" not in t.index and "ATE_overlap" in t.index
    row = t.loc["ATE_overlap"]
    assert 0.1 < row["population_share"] < 0.2  # the nsw group
    assert abs(row["estimate"] - truth_overlap) < 3 * row["std_error"]
    assert t.loc["ATT", "population_share"] == 1.0
    assert any("overlap population" in w for w in r.warnings)
    # a book with overlap keeps the plain ATE
    eps2 = eps.assign(measure=np.where(np.random.default_rng(2).random(len(eps)) < 0.4, "deferral", "none"))
    r2 = estimate_effects(eps2, "cure", covariates=["grp", "noise"], learner="glm", methods=["aipw"])
    assert set(r2.table["estimand"]) == {"ATE", "ATT"} and (r2.table["population_share"] == 1).all()


def test_crump_set_by_hand():
    e = np.r_[np.full(15, 0.5), np.full(85, 0.002)]
    assert crump_set(e, 1 - e).tolist() == [True] * 15 + [False] * 85
    assert crump_set(np.full(10, 0.3), np.full(10, 0.7)).all()
    # Beta(0.5, 0.5) propensities: the binary rule trims to about [0.1, 0.9] (Crump et al.)
    b = np.random.default_rng(0).beta(0.5, 0.5, 20000)
    kept = b[crump_set(b, 1 - b)]
    assert 0.07 < kept.min() < 0.13 and 0.87 < kept.max() < 0.93


def test_sustained_cure_outcome_and_followup():
    eps, _ = simulate_episodes(400, seed=4)
    eps["start_month"] = pd.Timestamp("2023-01-31")
    eps["end_month"] = pd.Timestamp("2024-12-31")
    late = eps.index[:50]
    eps.loc[late, "start_month"] = pd.Timestamp("2024-06-30")  # 6 months of data after start
    sus = eps["is_cured"] & (np.arange(len(eps)) % 3 != 0)
    eps["is_sustained_cure"] = pd.array(sus, dtype="boolean")
    f = Followup(horizon_months=6, probation_months=3, redefault_months=12)
    rows, y, kind = outcome_frame(eps, "sustained_cure", f)
    # 6 + 3 - 1 + 12 = 20 months needed: Jan 2023 + 20 <= Dec 2024, Jun 2024 + 20 is not
    assert kind == "binary" and len(rows) == 350 and not rows.index.isin(late).any()
    assert y.sum() == sus[~eps.index.isin(late)].sum()
    r = estimate_effects(eps, "sustained_cure", covariates=COVS, followup=f, learner="glm", methods=["aipw"])
    assert set(r.table["outcome"]) == {"sustained_cure"}
    with pytest.raises(ParameterError, match="descriptive"):
        estimate_effects(eps, "redefault")


def test_redefault_rates_are_descriptive():
    eps = pd.DataFrame({"measure": ["none"] * 12 + ["deferral"] * 12 + ["counselling"] * 3,
                        "is_cured": pd.array([True] * 27, dtype="boolean"),
                        "is_redefaulted": pd.array([True] * 3 + [False] * 9 + [True] * 6 + [False] * 6
                                                   + [False] * 3, dtype="boolean")})
    t = redefault_rates(eps, followup=None, min_cell=10).set_index("measure")
    assert (t["estimand"] == "descriptive").all()
    assert t.loc["none", "redefault_rate"] == pytest.approx(0.25)
    assert t.loc["deferral", "redefault_rate"] == pytest.approx(0.5)
    assert t.loc["counselling", "status"] == "too_few" and np.isnan(t.loc["counselling", "n_cured"])


def test_refutation_placebo_near_zero_and_checks_pass(sim):
    eps, _ = sim
    ref = refute_effects(eps, "cure", covariates=COVS, learner="glm", n_subsets=1, cox=False)
    t = ref.table
    assert set(t["check"]) == {"placebo_treatment", "random_common_cause", "data_subset"}
    pl = t[t["check"] == "placebo_treatment"]
    assert (pl["z"].abs() < 2.58).all() and pl["passed"].all()  # true effects are 0.05-0.17
    orig = t[t["check"] == "random_common_cause"]
    assert ((orig["refuted_estimate"] - orig["estimate"]).abs() < 0.5 * orig["std_error"]).all()
    s = ref.summary().set_index("check")
    assert s.loc["placebo_treatment", "n_cells"] == 6 and s["passed"].all()
    assert "<table" in ref._repr_html_()
    from analysis.report.i18n.catalogue import translator
    from analysis.report.text.effects import refutation_text

    md, shown = refutation_text(ref.summary(), translator("zh-CN"))
    assert "反驳检验" in md and "安慰剂处理" in set(shown["check"])


def test_refutation_on_a_large_book_runs_on_a_sample(sim, monkeypatch):
    """Above ``max_episodes`` every re-run (and the Cox test) sees the same random sample
    of that many episodes, and the result and the page say so."""
    import analysis.effects.refute as rf

    eps, _ = sim
    seen = []
    real = rf.estimate_effects

    def spy(episodes, *a, **k):
        seen.append(len(episodes))
        return real(episodes, *a, **k)

    monkeypatch.setattr(rf, "estimate_effects", spy)
    cap = len(eps) // 2
    ref = refute_effects(eps, "cure", covariates=COVS, learner="glm", n_subsets=1, cox=False,
                         max_episodes=cap)
    assert (ref.n_episodes, ref.n_total) == (cap, len(eps))
    assert seen[:3] == [cap, cap, cap] and cap * 0.3 < seen[3] < cap * 0.7  # base, placebo, noise, subset
    assert f"{cap:,} of {len(eps):,}" in ref._repr_html_()
    from analysis.report.i18n.catalogue import translator
    from analysis.report.text.effects import refutation_text

    md, _ = refutation_text(ref.summary(), translator("en"), ref.n_episodes, ref.n_total)
    assert f"random {cap:,} of the {len(eps):,} episodes" in md
    full = refute_effects(eps, "cure", covariates=COVS, learner="glm", n_subsets=1, cox=False,
                          max_episodes=None)
    assert full.n_episodes == full.n_total == len(eps)


def _survival_book(n: int, crossing: bool, seed: int = 0) -> pd.DataFrame:
    """Exponential cure times; with ``crossing`` the treated cure fast early and then
    not at all (hazard ratio falling over time), else a constant hazard ratio 1.5."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    x = rng.normal(size=n)
    rate = 0.15 * np.exp(0.3 * x) * np.where(treated, 1.5, 1.0)
    t = rng.exponential(1 / rate)
    if crossing:
        t = np.where(treated, np.where(rng.random(n) < 0.5, rng.exponential(1.0, n), 40.0), t)
    months = np.minimum(np.ceil(t), 24)
    return pd.DataFrame({"measure": np.where(treated, "deferral", "none"), "x": x,
                         "months_to_exit": months, "exit_type": np.where(t <= 24, "cure", "open")})


def test_proportional_hazards_test():
    ok, _ = proportional_hazards_test(_survival_book(3000, crossing=False), covariates=["x"])
    bad, _ = proportional_hazards_test(_survival_book(3000, crossing=True), covariates=["x"])
    assert ok["passed"].all() and ok["p_value"].iloc[0] > 0.01
    assert not bad["passed"].any() and bad["p_value"].iloc[0] < 1e-6


def test_estimate_notes_in_three_languages():
    from analysis.report.i18n.catalogue import translator
    from analysis.report.text.effects import estimate_notes

    eps, _ = _dehejia_wahba_like()
    r = estimate_effects(eps, "cure", covariates=["grp", "noise"], learner="glm", min_cell=5)
    tab = r.table.copy()
    tab.loc[tab.index[-1], "status"] = "imprecise"
    for lang in ("en", "zh-CN", "zh-TW"):
        notes = estimate_notes(tab, translator(lang))
        assert len(notes) == 3, notes  # learner, one hidden estimate, the overlap ATE
    en = estimate_notes(tab, translator("en"))
    assert f"{len(eps):,}" in en[0] and "1 estimate(s)" in en[1] and "overlap population" in en[2]
    # a boosted fit whose largest arm's training rows exceed the cap says so, in each language
    big = tab.assign(learner="boosting", n_control=MAX_OUTCOME_ROWS * 5 // 4 + 5)
    for lang in ("en", "zh-CN", "zh-TW"):
        assert len(estimate_notes(big, translator(lang))) == 4
    assert "200,000 random episodes" in estimate_notes(big, translator("en"))[1]
    assert len(estimate_notes(big.assign(n_control=MAX_OUTCOME_ROWS * 5 // 4), translator("en"))) == 3
    from analysis.report.plots.effects import forest_plot

    fig = forest_plot(tab, "cure", "ATE", truth=tab.assign(method="truth"))
    labels = [x.get_text() for x in fig.axes[0].get_yticklabels()]
    assert len(labels) == 1 and "overlap population" in labels[0]


def test_auto_without_crossfitting_falls_back_to_glm(sim, monkeypatch):
    eps, _ = sim
    monkeypatch.setattr("analysis.effects.learners.AUTO_BOOSTING_MIN_EPISODES", 100)
    assert choose_learner("auto", len(eps)).name == "boosting"
    nu = fit_nuisance(eps, "cure", COVS, crossfit_folds=0, learner="auto")
    assert nu.learner == "glm" and any("crossfit_folds=0" in n for n in nu.notes)


def test_pooled_boosting_predicts_each_arm_from_one_model(sim):
    eps, truth = sim
    r = estimate_effects(eps, "cure", covariates=COVS, learner="boosting_pooled", methods=["aipw"])
    nu = r.nuisance
    assert r.learner == "boosting_pooled" and nu.folds is not None
    fold0 = nu.models[0].members[0]
    assert all(m.members[0].model is fold0.model for m in nu.models)  # one model per fold
    w = truth.pivot(index="row", columns="arm", values="p_cure")
    t = r.table.set_index(["measure", "estimand"])
    tv = (w["deferral"] - w["none"]).mean()
    assert abs(t.loc[("deferral", "ATE"), "estimate"] - tv) < 3 * t.loc[("deferral", "ATE"), "std_error"]


def test_large_boosted_fits_take_larger_steps():
    from analysis.effects.learners import BOOSTING_PARAMS, LARGE_FIT_ROWS, boosting_params

    small, big = boosting_params(LARGE_FIT_ROWS - 1, 3), boosting_params(LARGE_FIT_ROWS, 3)
    assert small == {**BOOSTING_PARAMS, "random_state": 3}
    assert (big["learning_rate"], big["max_iter"]) == (0.2, 100) and big["random_state"] == 3
    assert {k: v for k, v in big.items() if k not in ("learning_rate", "max_iter")} == \
        {k: v for k, v in small.items() if k not in ("learning_rate", "max_iter")}


def test_capped_outcome_fits_keep_every_episode_in_the_scores(sim, monkeypatch):
    """Above the cap each arm's outcome model sees a seeded subset of its training rows,
    the page is told, and the AIPW scores and counts still cover every episode."""
    from analysis.effects import learners

    eps, truth = sim
    full = estimate_effects(eps, "cure", covariates=COVS, learner="boosting", methods=["aipw"])
    monkeypatch.setattr(learners, "MAX_OUTCOME_ROWS", 400)
    r = estimate_effects(eps, "cure", covariates=COVS, learner="boosting", methods=["aipw"])
    nu = r.nuisance
    assert len(nu.y) == len(full.nuisance.y) and len(nu.aipw_scores()) == len(nu.y)
    big = [arm for k, arm in enumerate(nu.arms) if (nu.a[nu.folds != 0] == k).sum() > 400]
    assert big and "none" in big
    for arm in big:  # one note per capped arm, the same in every fold
        assert sum(f"arm {arm!r}: outcome model boosted on a random 400" in w for w in r.warnings) == 1
    small = [arm for arm in nu.arms if arm not in big]
    assert not any(f"arm {arm!r}: outcome model" in w for w in r.warnings for arm in small)
    # the capped models differ, the estimates stay near the truth and the full fit
    assert not np.allclose(nu.mu_cf, full.nuisance.mu_cf)
    w = truth.pivot(index="row", columns="arm", values="p_cure")
    t = r.table.set_index(["measure", "estimand"])
    for m in ("counselling", "deferral"):
        tv = (w[m] - w["none"]).mean()
        assert abs(t.loc[(m, "ATE"), "estimate"] - tv) < 3 * t.loc[(m, "ATE"), "std_error"], m


def test_capped_rows_by_hand():
    from analysis.effects.learners import capped_rows

    assert capped_rows(10, 10, 0) == (None, "")
    keep, note = capped_rows(10, 4, 1)
    assert len(keep) == 4 and len(set(keep)) == 4 and (np.diff(keep) > 0).all() and keep.max() < 10
    assert (capped_rows(10, 4, 1)[0] == keep).all() and "4 of each fold" in note
