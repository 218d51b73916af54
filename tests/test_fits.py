"""Model fits on awkward data (issue #16): every entry point returns a result, marked when a
fallback fit was used, or raises one of ``analysis.errors.FIT_ERRORS``, never anything else.

Frames are small simulations (tests.helpers.effects) changed the way real tapes are
awkward: arms of 1, 2 and 5 episodes, a constant covariate and one collinear with another,
a borrower type whose every episode cured, and a fit made numerically impossible by a
monkeypatched solver.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import build_episodes, load_book
from analysis.causes import attribute, fit_onset
from analysis.causes.latent import LatentData, Prior, fit_latent
from analysis.causes.model import at_risk_months
from analysis.effects import (
    analyse_time_to_cure,
    cox_cure_hazards,
    estimate_effects,
    fit_nuisance,
    net_benefit,
    placebo,
)
from analysis.errors import FIT_ERRORS, EstimationError, InputError
from analysis.models import independent_gram_ordered, penalised_newton
from analysis.targeting import compare_policies
from analysis.targeting.pooled import fit_pooled_logit, pooled_design
from tests.helpers.effects import simulate_episodes

COVS = ["severity", "credit_score", "borrower_type"]


def _frame(n: int = 600, seed: int = 5) -> pd.DataFrame:
    """Simulated episodes with the survival columns (cure month 1-6, else default or open)."""
    eps, _ = simulate_episodes(n, seed)
    rng = np.random.default_rng(seed)
    cured = eps["is_cured"].astype(bool).to_numpy()
    eps["exit_type"] = np.where(cured, "cure", np.where(rng.random(n) < 0.7, "default", "open"))
    eps["months_to_exit"] = rng.integers(1, 7, n).astype(float)
    eps["is_censored"] = False
    eps["prev_balance"] = eps["ead"] * rng.uniform(0.9, 1.1, n)
    return eps


def _tiny_arms(eps: pd.DataFrame) -> pd.DataFrame:
    """Arms ``counselling``, ``deferral``, ``rate_reduction`` cut to exactly 1, 2 and 5 episodes."""
    out = eps[eps["measure"] == "none"]
    for arm, k in (("counselling", 1), ("deferral", 2), ("rate_reduction", 5)):
        out = pd.concat([out, eps[eps["measure"] == arm].head(k)])
    return out


def _degenerate(eps: pd.DataFrame) -> pd.DataFrame:
    """A constant covariate, one collinear with another, and every sole proprietor cured."""
    eps = eps.copy()
    eps["constant"] = 1.0
    eps["score_twice"] = 2 * eps["credit_score"] + 3
    sole = (eps["borrower_type"] == "sole_proprietor").to_numpy()
    eps.loc[sole, "is_cured"] = True
    eps.loc[sole, "exit_type"] = "cure"
    eps.loc[sole, "loss_rate"] = 0.0
    return eps


def _raise_singular(*args, **kwargs):
    raise np.linalg.LinAlgError("Singular matrix")


@pytest.fixture(scope="module")
def eps() -> pd.DataFrame:
    return _frame()


# ----------------------------------------------------------------------------- helpers
def test_gram_selection_and_penalised_newton_by_hand() -> None:
    g = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0]])  # column 2 repeats column 0, column 3 is empty
    assert independent_gram_ordered(g).tolist() == [True, True, False, False]
    # quadratic log-likelihood -1/2 (b - 2)^2 with penalty 1: optimum b = 1, variance 1/2
    fit = penalised_newton(lambda b: -0.5 * float((b[0] - 2) ** 2), lambda b: -(b - 2),
                           lambda b: -np.eye(1), np.zeros(1), 1.0)
    np.testing.assert_allclose(fit.params, [1.0])
    np.testing.assert_allclose(fit.cov, [[0.5]])
    assert fit.converged
    with pytest.raises(EstimationError):  # penalised information not positive definite
        penalised_newton(lambda b: 0.0, lambda b: np.zeros(1), lambda b: np.eye(1),
                         np.zeros(1), 0.0)


def test_fit_errors_are_named_and_exclude_programming_errors() -> None:
    assert EstimationError in FIT_ERRORS and np.linalg.LinAlgError in FIT_ERRORS
    assert issubclass(EstimationError, InputError)
    assert not any(issubclass(e, (KeyError, TypeError, AttributeError)) for e in FIT_ERRORS)
    assert Exception not in FIT_ERRORS and ValueError not in FIT_ERRORS


# ----------------------------------------------------------------------------- Cox
def test_cox_tiny_arms_and_degenerate_columns(eps) -> None:
    tiny = _tiny_arms(eps)
    res = analyse_time_to_cure(tiny, covariates=COVS, min_cell=1)
    assert set(res.hazard_ratios["measure"]) == {"counselling", "deferral", "rate_reduction"}
    assert res.cox_fit in ("plain", "penalised")
    assert np.isfinite(res.hazard_ratios["hazard_ratio"]).all()
    deg = _degenerate(eps)
    hr, warns = cox_cure_hazards(deg, covariates=[*COVS, "constant", "score_twice"])
    assert "cox: covariate 'constant' dropped (zero variance)" in warns
    assert any("dropped (collinear)" in w for w in warns)
    plain, _ = cox_cure_hazards(deg, covariates=COVS)
    np.testing.assert_allclose(hr["hazard_ratio"], plain["hazard_ratio"], rtol=1e-6)


def test_cox_arm_without_cures_is_penalised_and_marked(eps) -> None:
    e = eps.copy()
    dead = (e["measure"] == "deferral").to_numpy()
    e.loc[dead, "exit_type"] = "default"
    res = analyse_time_to_cure(e, covariates=COVS)
    assert res.cox_fit == "penalised"
    row = res.hazard_ratios.set_index("measure").loc["deferral"]
    assert row["n_cures"] == 0 and 0 < row["hazard_ratio"] < 0.5
    assert any("ridge-penalised" in w for w in res.warnings)
    assert any("no cure in arm(s) ['deferral']" in w for w in res.warnings)


@pytest.mark.slow
def test_cox_on_the_lendingclub_excerpt_no_longer_singular(tmp_path) -> None:
    """The reproduction of issue #16: PHReg raised ``LinAlgError: Singular matrix`` on a
    LendingClub tape (every cure in one small arm, 80 covariates for 116 episodes)."""
    from analysis.importers.tape import run_import

    root = Path(__file__).resolve().parents[1]
    run_import(root / "data" / "specs" / "lendingclub.yml", tmp_path / "lc",
               key=b"test-key-0123456789abcdef")
    episodes = build_episodes(load_book(tmp_path / "lc"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = analyse_time_to_cure(episodes, weighting=("unweighted",), min_cell=1)
    assert res.cox_fit == "penalised" and len(res.table)
    assert any("LinAlgError" in w for w in res.warnings)
    assert np.isfinite(res.hazard_ratios["hazard_ratio"]).all()


def test_cox_singular_fit_falls_back_to_ridge(eps, monkeypatch) -> None:
    from statsmodels.duration.hazard_regression import PHReg

    plain = analyse_time_to_cure(eps, covariates=COVS, weighting=("unweighted",))
    assert plain.cox_fit == "plain"
    monkeypatch.setattr(PHReg, "fit", _raise_singular)
    res = analyse_time_to_cure(eps, covariates=COVS, weighting=("unweighted",))
    assert res.cox_fit == "penalised" and any("LinAlgError" in w for w in res.warnings)
    # a penalty of 1 on ~300 cures barely moves the estimates
    np.testing.assert_allclose(np.log(res.hazard_ratios["hazard_ratio"]),
                               np.log(plain.hazard_ratios["hazard_ratio"]), atol=0.05)
    pd.testing.assert_frame_equal(res.table, plain.table)


def test_cox_impossible_keeps_the_curves(eps, monkeypatch) -> None:
    from statsmodels.duration.hazard_regression import PHReg

    monkeypatch.setattr(PHReg, "fit", _raise_singular)
    monkeypatch.setattr(PHReg, "hessian", lambda self, params: np.full((len(params),) * 2, np.nan))
    res = analyse_time_to_cure(eps, covariates=COVS, weighting=("unweighted",))
    assert res.cox_fit == "unavailable" and res.hazard_ratios.empty and len(res.table)
    with pytest.raises(FIT_ERRORS):
        cox_cure_hazards(eps, covariates=COVS)
    none_cured = eps.assign(exit_type="default")
    with pytest.raises(EstimationError, match="none of the"):
        cox_cure_hazards(none_cured, covariates=COVS)


# ----------------------------------------------------------------------------- effects GLMs
@pytest.mark.parametrize("kind", ["tiny", "degenerate"])
def test_effects_placebo_net_benefit_on_awkward_frames(eps, kind) -> None:
    frame = _tiny_arms(eps) if kind == "tiny" else _degenerate(eps)
    covs = COVS if kind == "tiny" else [*COVS, "constant", "score_twice"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = estimate_effects(frame, "cure", covariates=covs, min_cell=1, followup=None)
        p = placebo(frame, covariates=covs, min_cell=1)
        nb = net_benefit(frame, covariates=covs, min_cell=1)
    assert set(r.table["measure"]) == {"counselling", "deferral", "rate_reduction"}
    assert r.table["estimate"].notna().any() and len(p) and len(nb.table)
    if kind == "tiny":  # arms of 1, 2, 5 episodes are penalised and say so
        assert any("penalty" in w for w in r.warnings)
    else:
        assert any("'constant' dropped" in w for w in r.warnings)
        assert any("dropped (collinear)" in w for w in r.warnings)


def test_nuisance_singular_glm_and_mnlogit_fall_back(monkeypatch) -> None:
    from analysis.effects import glm

    big = _frame(2500)  # every arm has >= 10 events per parameter: plain fits are tried
    plain = fit_nuisance(big, "cure", COVS, min_cell=1, followup=None)
    assert not any("penalty" in n for n in plain.notes)
    monkeypatch.setattr(glm, "logit_mle", _raise_singular)  # the unpenalised fits fail
    monkeypatch.setattr(glm, "mn_mle", _raise_singular)
    nu = fit_nuisance(big, "cure", COVS, min_cell=1, followup=None)
    assert any("MNLogit failed (LinAlgError)" in n for n in nu.notes)
    assert sum("outcome GLM separated or did not converge" in n for n in nu.notes) == len(nu.arms)
    assert np.isfinite(nu.mu).all() and np.isfinite(nu.e_raw).all()
    np.testing.assert_allclose(nu.mu, plain.mu, atol=0.02)  # a light penalty on 2,500 rows


def test_nuisance_impossible_raises_a_fit_error(eps, monkeypatch) -> None:
    from analysis.effects import glm

    monkeypatch.setattr(glm, "logit_newton", _raise_singular)  # plain and penalised logits
    with pytest.raises(EstimationError, match="outcome GLM could not be fitted"):
        fit_nuisance(eps, "cure", COVS, min_cell=1, followup=None)


# ----------------------------------------------------------------------------- targeting
def test_pooled_logit_survives_a_singular_solve(eps, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(300), rng.normal(size=(300, 2))])
    a = rng.integers(0, 3, 300)
    y = rng.uniform(0, 1, 300) * (rng.random(300) < 0.4)
    z = pooled_design(x, a, 3)
    pen = np.r_[np.zeros(5), np.full(4, 0.01)]
    b0 = fit_pooled_logit(z, y, pen)
    monkeypatch.setattr(np.linalg, "solve", _raise_singular)
    np.testing.assert_allclose(fit_pooled_logit(z, y, pen), b0, atol=1e-7)
    with pytest.raises(EstimationError):
        fit_pooled_logit(z, np.full(300, np.nan), pen)


def test_compare_policies_on_degenerate_frame(eps) -> None:
    frame = _degenerate(eps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = compare_policies(frame, covariates=[*COVS, "constant", "score_twice"],
                               crossfit_folds=2, budget_points=3, min_cell=5)
    assert np.isfinite(res.table["value_net_benefit"]).all()


# ----------------------------------------------------------------------------- causes
@pytest.fixture(scope="module")
def small_book(tmp_path_factory) -> tuple:
    from analysis.synthetic.generate import generate_book

    d = generate_book(400, 3, Path(tmp_path_factory.mktemp("fits")) / "book")
    book = load_book(d)
    return book, build_episodes(book)


def _signals(book) -> dict[str, str]:
    cm = book.cause_map[book.cause_map["source"] == "signal"]
    return dict(zip(cm["name"], cm["family"], strict=True))


def test_onset_logit_with_collinear_and_constant_signals(small_book) -> None:
    book, episodes = small_book
    sig = book.signals.copy()
    sig["input_cost_change"] = 2 * sig["demand_index_change"]  # collinear signals
    sig["late_filing_flag"] = 0  # a constant one
    bad = dataclasses.replace(book, signals=sig)
    signals = _signals(book)
    risk = at_risk_months(book, episodes)
    model, _ = fit_onset(risk, bad, signals)
    assert model.note and "ridge" in model.note
    beta = dict(zip(model.design.signals, model.signal_beta(), strict=True))
    assert beta["late_filing_flag"] == pytest.approx(0.0, abs=1e-9)
    # ridge splits collinear columns' weight in proportion to their scale (both standardised)
    assert beta["input_cost_change"] == pytest.approx(beta["demand_index_change"], rel=1e-6)
    assert np.isfinite(model.cov).all()


@pytest.mark.slow
def test_attribution_survives_collinear_signals_and_says_so(small_book) -> None:
    book, episodes = small_book
    sig = book.signals.assign(input_cost_change=2 * book.signals["demand_index_change"])
    att = attribute(dataclasses.replace(book, signals=sig), episodes, n_boot=10)
    assert len(att.per_episode) == len(episodes)
    assert any("refitted with a ridge penalty" in n for n in att.notes)


def test_onset_logit_singular_solve_falls_back(small_book, monkeypatch) -> None:
    import analysis.causes.model as onset_model

    book, episodes = small_book
    signals = _signals(book)
    risk = at_risk_months(book, episodes)
    plain, _ = fit_onset(risk, book, signals, controls=False)
    assert plain.note == ""
    monkeypatch.setattr(onset_model, "logit_fit", _raise_singular)
    model, _ = fit_onset(risk, book, signals, controls=False)
    assert "LinAlgError" in model.note
    np.testing.assert_allclose(model.signal_beta(), plain.signal_beta(), atol=0.1)


def test_latent_singular_newton_step_takes_least_squares(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    z = np.column_stack([rng.normal(size=200), np.zeros(200), rng.normal(size=200)])
    obs = rng.integers(-1, 3, 200)
    data = LatentData.build(z, obs, [np.array([0]), np.array([1]), np.array([2])], np.arange(200))
    fit = fit_latent(data, prior=Prior(ridge=0.0), max_iter=50, covariance=False)
    assert np.isfinite(fit.pack()).all()  # the constant signal made the Newton system singular
    ref = fit_latent(data, max_iter=50, covariance=False)
    monkeypatch.setattr(np.linalg, "solve", _raise_singular)
    again = fit_latent(data, max_iter=50, covariance=False)
    np.testing.assert_allclose(again.pack(), ref.pack(), atol=1e-6)
