"""The generator's non-linear terms: hand-computed values, exact truth, and a main-effects
GLM that cannot represent them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.definitions import BORROWER_TYPES, FAMILIES
from analysis.synthetic.models import (
    EpisodeCovariates,
    assignment_nonlinear,
    assignment_utilities,
    cure_nonlinear_base,
    cure_nonlinear_effect,
    potential_outcomes,
)
from analysis.synthetic.params import ARMS, REGIONS, SIGNALS, SynthParams

OFF = {"cure_score_step": (700.0, 0.0), "cure_region_ead": ((), 0.0, 0.0), "cure_dpd_step": (20, 0.0), "effect_cure_ead_step": {},
       "effect_cure_family_type": {}, "effect_cure_signal_type": {},
       "effect_cure_region_ead": {}, "assign_region_ead": {}, "assign_score_step": {},
       "assign_ead_step": {}, "assign_dpd_step": {}}


def _covariates(score, dpd0, ead, btype, family, region, medical, late) -> EpisodeCovariates:
    p = SynthParams()
    e = len(score)
    signals = {k: np.zeros(e) for k in SIGNALS}
    signals["medical_claim_flag"] = np.asarray(medical, dtype=bool)
    signals["late_filing_flag"] = np.asarray(late, dtype=bool)
    return EpisodeCovariates(
        btype=np.array([BORROWER_TYPES.index(b) for b in btype]),
        family=np.array([FAMILIES.index(f) for f in family]),
        z_score=(np.asarray(score, float) - p.score_mean) / p.score_sd,
        quality=np.zeros(e), dpd0=np.asarray(dpd0), ead=np.asarray(ead, float),
        firm_age=np.full(e, 5.0), reported=np.full(e, -1), signals=signals,
        start=np.zeros(e, dtype=np.int64), redefault_avail=np.full(e, 10),
        recovery_mean=np.full(e, 0.3), region=np.array([REGIONS.index(r) for r in region]))


@pytest.fixture
def four():
    """Four episodes chosen to sit on either side of each threshold."""
    return _covariates(
        score=[700, 699, 580, 579], dpd0=[20, 19, 26, 1],
        ead=[100_000, 99_999, 250_000, 5_000],
        btype=["micro_enterprise", "micro_enterprise", "individual", "individual"],
        family=["economic", "economic", "personal", "economic"],
        region=["zhejiang", "zhejiang", "henan", "shanghai"],
        medical=[True, False, True, True], late=[True, True, False, False])


def test_terms_by_hand(four):
    p = SynthParams()
    # score >= 700: +0.35; DPD >= 20: -0.30; coastal (zhejiang) with EAD >= 100,000: +0.60
    assert cure_nonlinear_base(p, four) == pytest.approx([0.65, 0.0, -0.30, 0.0])
    # deferral: EAD step +0.50 (>= 100,000), economic x micro enterprise +0.35, and the
    # coastal large-balance pocket +0.50 (zhejiang yes; henan is inland)
    assert cure_nonlinear_effect(p, four, "deferral") == pytest.approx([1.35, 0.35, 0.50, 0.0])
    # instalment: EAD step +0.30, personal x individual +0.40, medical x individual +0.50
    assert cure_nonlinear_effect(p, four, "instalment") == pytest.approx([0.30, 0.0, 1.20, 0.50])
    # counselling: late filing x micro enterprise +0.40 (management x sole proprietor: none)
    assert cure_nonlinear_effect(p, four, "counselling") == pytest.approx([0.40, 0.40, 0.0, 0.0])
    # rate reduction: economic x individual -0.30
    assert cure_nonlinear_effect(p, four, "rate_reduction") == pytest.approx([0, 0, 0, -0.30])
    # deferral relief: coastal pocket +1.20, score >= 700 +0.60, EAD >= 100,000 +0.50,
    # DPD >= 20 -0.50 (episode 3: inland, so only the EAD and DPD steps, which cancel)
    assert assignment_nonlinear(p, four, "deferral") == pytest.approx([1.80, 0.0, 0.0, 0.0])
    # rate reduction +0.70 from score 700; counselling -0.60 from score 580; DPD -0.50
    assert assignment_nonlinear(p, four, "rate_reduction") == pytest.approx([0.2, 0, -0.5, 0])
    assert assignment_nonlinear(p, four, "counselling") == pytest.approx([-1.1, -0.6, -1.1, 0])
    off = dataclasses.replace(p, **OFF)
    assert not cure_nonlinear_effect(off, four, "instalment").any()
    assert not assignment_nonlinear(off, four, "deferral").any()


def test_terms_enter_the_potential_outcomes_exactly(four):
    """The cure log-odds (vs neither) move by exactly the terms, arm by arm, so the truth
    computed from these probabilities stays exact; the relief utilities likewise."""
    p = SynthParams()
    off = dataclasses.replace(p, **OFF)
    on, base = potential_outcomes(p, four, 48), potential_outcomes(off, four, 48)

    def logodds(po):
        neither = 1 - po["p_cure"] - po["p_default"]
        return np.log(po["p_cure"] / neither)

    shift = logodds(on) - logodds(base)
    common = cure_nonlinear_base(p, four)
    assert shift[:, 0] == pytest.approx(common)
    for a, m in enumerate(ARMS[1:], start=1):
        assert shift[:, a] == pytest.approx(common + cure_nonlinear_effect(p, four, m))
    du = assignment_utilities(p, four) - assignment_utilities(off, four)
    assert du[:, 0] == pytest.approx(0.0)
    assert du[:, 1] == pytest.approx(assignment_nonlinear(p, four, "deferral"))


@pytest.fixture(scope="module")
def deferral_truth(synth_dir, synth_episodes) -> pd.DataFrame:
    """The shared 4,000-loan book's episodes with each one's true deferral cure probability."""
    po = pd.read_parquet(synth_dir / "truth" / "potential_outcomes.parquet")
    po = po.loc[po["arm"] == "deferral", ["loan_id", "start_month", "p_cure"]]
    return synth_episodes.merge(po.rename(columns={"p_cure": "p_cure_deferral"}),
                                on=["loan_id", "start_month"], validate="one_to_one")


def test_a_main_effects_glm_misses_the_ead_threshold(deferral_truth):
    """The true deferral cure probability (no sampling noise) against a main-effects
    fractional logit on the observed covariates: at 100,000 CNY (the deferral EAD step and
    the coastal pocket) the fitted curve is smooth, so its residual jumps there, by 0.147
    on this book; with those three terms set to zero the jump is 0.023."""
    g = deferral_truth
    X = pd.get_dummies(g[["borrower_type", "region", "industry"]], drop_first=True, dtype=float)
    for c in ("credit_score", "dpd_at_start", "ead", "principal", "annual_rate", *SIGNALS):
        X[c] = g[c].astype(float)
    fit = sm.GLM(g["p_cure_deferral"], sm.add_constant(X),
                 family=sm.families.Binomial()).fit()
    resid = g["p_cure_deferral"] - fit.fittedvalues
    below = resid[g["ead"].between(70_000, 99_999)].mean()
    above = resid[g["ead"].between(100_000, 130_000)].mean()
    assert above - below > 0.08, (below, above)
