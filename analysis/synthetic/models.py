"""Structural equations of the synthetic book: hazards, relief assignment, potential outcomes.

Used by :mod:`analysis.synthetic.chunk` (the model is documented in
:mod:`analysis.synthetic.generate`). Every function is
vectorised over episodes (arrays of length ``e``); arms are ordered as
:data:`analysis.synthetic.params.ARMS` (none first), families as
:data:`analysis.definitions.FAMILIES`, borrower types as ``BORROWER_TYPES``.

The non-linear terms (issue #15: thresholds and interactions a main-effects GLM cannot
represent) are separate functions, :func:`cure_nonlinear_base`,
:func:`cure_nonlinear_effect` and :func:`assignment_nonlinear`, added to the linear
predictors; they read only what the structural equations already read (plus the region,
optional in :class:`EpisodeCovariates`: without it the region term is off), so the truth
computed from :func:`potential_outcomes` stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES
from analysis.synthetic.params import REGIONS, SIGNALS, SynthParams


def _vec(d: dict, keys: tuple[str, ...]) -> np.ndarray:
    return np.array([d[k] for k in keys], dtype=float)


@dataclass
class EpisodeCovariates:
    """What the structural equations read at an episode's start (arrays of length e)."""

    btype: np.ndarray  # borrower type index
    family: np.ndarray  # true family index
    z_score: np.ndarray  # (credit score - mean) / sd
    quality: np.ndarray  # latent management quality (sd units)
    dpd0: np.ndarray  # DPD at start (days)
    ead: np.ndarray  # balance at start (CNY)
    firm_age: np.ndarray  # years
    reported: np.ndarray  # reported family index, -1 when nothing reported
    signals: dict  # signal name -> values at the start month
    start: np.ndarray  # calendar month index of the start
    redefault_avail: np.ndarray  # months of the re-default window the loan can use (0..10)
    recovery_mean: np.ndarray  # expected recovery rate after write-off
    region: np.ndarray | None = None  # region index (None: the region terms are off)


def _score(p: SynthParams, c: EpisodeCovariates) -> np.ndarray:
    """Credit scores (integer points) back from the standardised score."""
    return np.round(p.score_mean + p.score_sd * c.z_score)


def _nested_shift(terms: dict, btype: np.ndarray, by: np.ndarray | dict) -> np.ndarray:
    """Sum of ``terms[borrower type][key]`` over the episodes of that type whose ``key``
    holds: ``by`` is an index array into ``FAMILIES`` (key = family name) or a dict of
    boolean signal arrays (key = signal name)."""
    out = np.zeros(len(btype))
    for t_name, shifts in terms.items():
        of_type = btype == BORROWER_TYPES.index(t_name)
        for key, shift in shifts.items():
            hit = by == FAMILIES.index(key) if isinstance(by, np.ndarray) else by[key] > 0
            out += shift * (of_type & hit)
    return out


def _region_ead(c: EpisodeCovariates, spec: tuple) -> np.ndarray:
    """``shift`` where the episode is in one of ``regions`` with EAD >= ``threshold`` CNY
    (``spec`` = (regions, threshold, shift)); zeros when ``c.region`` is None."""
    regions, thr, shift = spec
    if c.region is None:
        return np.zeros(len(c.btype))
    in_region = np.isin(c.region, [REGIONS.index(r) for r in regions])
    return shift * (in_region & (c.ead >= thr))


def cure_nonlinear_base(p: SynthParams, c: EpisodeCovariates) -> np.ndarray:
    """Cure log-odds terms shared by every arm (length e): ``cure_score_step`` at a credit
    score threshold (points), ``cure_dpd_step`` at a DPD-at-start threshold (days) and the
    ``cure_region_ead`` pocket (some regions, EAD at or above a threshold in CNY)."""
    (s_thr, s_shift), (d_thr, d_shift) = p.cure_score_step, p.cure_dpd_step
    out = s_shift * (_score(p, c) >= s_thr) + d_shift * (c.dpd0 >= d_thr)
    return out + _region_ead(c, p.cure_region_ead)


def cure_nonlinear_effect(p: SynthParams, c: EpisodeCovariates, measure: str) -> np.ndarray:
    """Extra cure log-odds of ``measure`` (length e): a step above an EAD threshold (CNY),
    a true family x borrower type term, an observed signal x borrower type term and a
    region x EAD-threshold pocket (needs ``c.region``)."""
    out = np.zeros(len(c.btype))
    if measure in p.effect_cure_ead_step:
        thr, shift = p.effect_cure_ead_step[measure]
        out += shift * (c.ead >= thr)
    out += _nested_shift(p.effect_cure_family_type.get(measure, {}), c.btype, c.family)
    out += _nested_shift(p.effect_cure_signal_type.get(measure, {}), c.btype, c.signals)
    if measure in p.effect_cure_region_ead:
        out += _region_ead(c, p.effect_cure_region_ead[measure])
    return out


def assignment_nonlinear(p: SynthParams, c: EpisodeCovariates, measure: str) -> np.ndarray:
    """Extra relief utility of ``measure`` (length e): ``assign_region_ead`` (large balances
    in some regions only; needs ``c.region``) and steps at a score (points), EAD (CNY) and
    DPD-at-start (days) threshold (``assign_score_step``, ``assign_ead_step``,
    ``assign_dpd_step``)."""
    out = np.zeros(len(c.btype))
    if measure in p.assign_region_ead:
        out += _region_ead(c, p.assign_region_ead[measure])
    steps = ((p.assign_score_step, _score(p, c)), (p.assign_ead_step, c.ead),
             (p.assign_dpd_step, c.dpd0))
    for table, value in steps:
        if measure in table:
            thr, shift = table[measure]
            out += shift * (value >= thr)
    return out


def softmax_rows(u: np.ndarray) -> np.ndarray:
    u = u - u.max(axis=1, keepdims=True)
    ex = np.exp(u)
    return ex / ex.sum(axis=1, keepdims=True)


def assignment_utilities(p: SynthParams, c: EpisodeCovariates) -> np.ndarray:
    """(e, 5) utilities of the relief multinomial logit (none = 0): observed covariates only."""
    e = len(c.btype)
    u = np.zeros((e, 1 + len(MEASURES)))
    for a, m in enumerate(MEASURES, start=1):
        v = np.full(e, p.assign_intercept[m])
        v += p.assign_score[m] * c.z_score
        v += _vec(p.assign_type[m], BORROWER_TYPES)[c.btype]
        v += p.assign_ead[m] * c.ead / 1e5
        v += p.assign_dpd[m] * c.dpd0 / 30.0
        rep = np.r_[_vec(p.assign_reported[m], FAMILIES), 0.0]  # index -1 -> 0
        v += rep[c.reported]
        for name, coef in p.assign_signal[m].items():
            v += coef * c.signals[name]
        v += assignment_nonlinear(p, c, m)
        u[:, a] = v
    return u


def potential_outcomes(p: SynthParams, c: EpisodeCovariates, n_months: int) -> dict:
    """Per-episode, per-arm probabilities (each an (e, 5) array).

    ``p_cure`` / ``p_default``: cure / default within the horizon (3-category logit with
    'neither' as reference). ``p_redefault``: a new episode within 12 months of the
    return month, given a cure (scaled by the share of the window the loan stays open).
    ``exp_loss_rate``: expected realised loss rate (write-offs minus recoveries up to the
    data end, over EAD); ``exp_loss_rate_ultimate``: the same with all recoveries.
    """
    e = len(c.btype)
    age = np.minimum(c.firm_age, 25.0) - 5.0
    base_c = (
        _vec(p.cure_intercept, BORROWER_TYPES)[c.btype]
        + _vec(p.cure_family, FAMILIES)[c.family]
        + p.cure_score * c.z_score
        + p.cure_quality * c.quality
        + p.cure_dpd * c.dpd0 / 30.0
        + p.cure_firm_age * age
        + cure_nonlinear_base(p, c)
    )
    base_d = (
        _vec(p.default_intercept, BORROWER_TYPES)[c.btype]
        + _vec(p.default_family, FAMILIES)[c.family]
        + p.default_score * c.z_score
        + p.default_quality * c.quality
        + p.default_dpd * c.dpd0 / 30.0
        + p.default_ead * c.ead / 1e5
    )
    base_r = (
        p.redefault_intercept
        + _vec(p.redefault_family, FAMILIES)[c.family]
        + p.redefault_score * c.z_score
        + p.redefault_quality * c.quality
    )
    n_arms = 1 + len(MEASURES)
    uc = np.repeat(base_c[:, None], n_arms, axis=1)
    ud = np.repeat(base_d[:, None], n_arms, axis=1)
    ur = np.repeat(base_r[:, None], n_arms, axis=1)
    for a, m in enumerate(MEASURES, start=1):
        uc[:, a] += _vec(p.effect_cure_family[m], FAMILIES)[c.family]
        uc[:, a] += _vec(p.effect_cure_type[m], BORROWER_TYPES)[c.btype]
        uc[:, a] += cure_nonlinear_effect(p, c, m)
        ud[:, a] += _vec(p.effect_default_family[m], FAMILIES)[c.family]
        ur[:, a] += _vec(p.effect_redefault_family[m], FAMILIES)[c.family]
    denom = 1.0 + np.exp(uc) + np.exp(ud)
    p_cure = np.exp(uc) / denom
    p_default = np.exp(ud) / denom
    lo, hi = p.redefault_window_months
    p_redef = (1.0 / (1.0 + np.exp(-ur))) * (c.redefault_avail / (hi - lo + 1))[:, None]

    obs_def, obs_late = expected_observed_loss(p, c.start, c.recovery_mean, n_months)
    p_neither = np.clip(1.0 - p_cure - p_default, 0.0, 1.0)
    el = p_default * obs_def[:, None] + p_neither * p.late_default_share * obs_late[:, None]
    ult = (1.0 - c.recovery_mean)[:, None]
    el_u = (p_default + p_neither * p.late_default_share) * ult
    assert el.shape == (e, n_arms)
    return {
        "p_cure": p_cure,
        "p_default": p_default,
        "p_redefault": p_redef,
        "exp_loss_rate": el,
        "exp_loss_rate_ultimate": el_u,
    }


def expected_observed_loss(
    p: SynthParams, start: np.ndarray, recovery_mean: np.ndarray, n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Expected observed loss rate of a default path and of a late-default path.

    A path that reaches 90 DPD at offset ``k`` writes off the whole balance (= EAD) at
    ``k + writeoff_after_default_months`` and recovers ``R * weight_j`` of it ``j`` months
    later; only months up to the data end (index ``n_months - 1``) are observed.
    """
    cum = np.r_[0.0, np.cumsum(p.recovery_weights)]
    n_rec = len(p.recovery_weights)

    def one(probs: dict) -> np.ndarray:
        total = np.zeros(len(start))
        for k, pk in probs.items():
            w = start + int(k) + p.writeoff_after_default_months
            seen = np.clip(n_months - 1 - w, 0, n_rec)
            loss = np.where(w <= n_months - 1, 1.0 - recovery_mean * cum[seen], 0.0)
            total += pk * loss
        return total / sum(probs.values())

    return one(p.default_month_probs), one(p.late_default_month_probs)


def signal_names() -> tuple[str, ...]:
    return tuple(SIGNALS)
