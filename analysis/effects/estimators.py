"""Effects of relief measures on cure, re-default and loss: four estimators, one table.

Method
------
The treatment is the episode's ``measure``, a multi-valued treatment with ``none`` as
the reference arm; every other code present (``deferral``, ``instalment``,
``rate_reduction``, ``counselling`` and any extra code) is compared with ``none``.
:func:`estimate_effects` puts the steps together, each in its own module:

* :mod:`analysis.effects.design` -- the outcomes (``sustained_cure``, the primary one,
  ``cure`` and ``loss_rate``), the calendar follow-up rule and the covariate design;
* :mod:`analysis.effects.learners`, :mod:`analysis.effects.glm` and
  :mod:`analysis.effects.nuisance` -- the nuisance learners (``glm``: multinomial-logit
  propensity and per-arm GLMs; ``boosting``: gradient-boosted trees, calibrated
  propensity; ``auto`` chooses by size) and the one place where they are cross-fitted;
* :mod:`analysis.effects.overlap` -- the ATE on the overlap population when many
  propensities are extreme (``ATE_overlap``);
* :mod:`analysis.effects.cells` -- the ``naive``, ``regression``, ``ipw`` and ``aipw``
  estimates of each cell with influence-function standard errors;
* :mod:`analysis.effects.diagnostics` -- balance, overlap and E-values, reported with
  the table.

Estimands: for each measure ``a``, ATE = E[Y(a) - Y(none)] over the analysed episodes
and ATT = E[Y(a) - Y(none) | A = a]. Estimates are differences, as fractions.
Propensities are clipped below at ``clip`` (default 0.01, i.e. weights at most 100); the
share of episodes affected is in ``.overlap``. When more than
:data:`~analysis.effects.overlap.OVERLAP_EXTREME_SHARE` of a segment has an extreme
propensity for the contrast, the ATE row is the ATE on the Crump overlap population
(estimand ``ATE_overlap``, its share in ``population_share``), never a tight interval
over an extrapolation. Effects on rates are bounded to [-1, 1] and hidden (``status``
``imprecise``) when their standard error exceeds
:data:`~analysis.effects.cells.MAX_RATE_SE`; the table's ``learner`` column names the
nuisance learner.

Heterogeneity (``by``): nuisance models are fitted once on all episodes with the
segment variable added to the covariates; each estimator is then averaged within the
segment (the segment is a start-of-episode variable, so this targets the conditional
effect). ``cause_family`` uses ``primary_family`` (from the cause attribution) when the
column exists, else ``reported_family``.

Small samples: an arm with fewer than ``min_cell`` episodes is left out of the models
and its rows carry no estimate (status ``too_few``, never dropped silently); sparse
models are penalised and named in the warnings (:mod:`analysis.effects.glm`).

Re-default among the cured is not estimated as an effect (it conditions on a
post-treatment outcome); :func:`analysis.effects.descriptive.redefault_rates` describes
it.

Assumptions: no unmeasured confounding given the covariates, overlap (every episode
could have received every measure), no interference between episodes, consistency (a
measure code means one treatment). Known drawbacks: GLMs without interactions are a
modest outcome model (AIPW stays consistent if the propensity is right; boosting, the
default on large books, captures thresholds and interactions); clipping
trades bias for variance; the multinomial logit may be misspecified; the ATE of a
rarely given measure extrapolates far and its interval says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.checks import require, shown_count
from analysis.definitions import NO_RELIEF
from analysis.effects.cells import (
    ATE_OVERLAP,
    ESTIMANDS,
    METHODS,
    SCORE_METHODS,
    TABLE_COLUMNS,
    estimate_cell,
    finish_table,
)
from analysis.effects.design import (
    DEFAULT_FOLLOWUP,
    DESCRIPTIVE_OUTCOMES,
    OUTCOMES,
    PRIMARY_OUTCOME,
    Followup,
    check_frame,
    outcome_frame,
    segment_column,
)
from analysis.effects.diagnostics import balance_table, e_values, overlap_table, reliability_table
from analysis.effects.glm import blas_limit
from analysis.effects.learners import LEARNER_CHOICES, GlmPropensity
from analysis.effects.nuisance import Nuisance, fit_nuisance
from analysis.effects.overlap import OVERLAP_EXTREME_SHARE, crump_set, extreme_share
from analysis.errors import ParameterError


@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Effects of every measure vs ``none`` on one outcome.

    ``table``: one row per (measure, estimand, segment, method), columns
    :data:`TABLE_COLUMNS`; ``balance``: standardised mean differences before/after
    weighting; ``overlap``: propensity overlap and effective sample sizes per arm;
    ``evalues``: E-value of each effect; ``warnings``: everything the reader must know;
    ``nuisance``: the fitted models (reuse them for targeting); ``reliability``: binned
    predicted vs observed arm shares of the out-of-fold propensities (calibration).
    """

    outcome: str
    table: pd.DataFrame
    balance: pd.DataFrame
    overlap: pd.DataFrame
    evalues: pd.DataFrame
    warnings: tuple[str, ...]
    nuisance: Nuisance = field(repr=False)
    level: float = 0.95
    reliability: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def learner(self) -> str:
        """Name of the nuisance learner (``glm`` or ``boosting``)."""
        return self.nuisance.learner

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """The table's keys with normal intervals at ``level`` (bounded as the table's;
        cells without an estimate stay without one)."""
        require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
        return finish_table(self.table, self.nuisance.kind, level)[list(TABLE_COLUMNS)]

    def summary(self) -> pd.DataFrame:
        """AIPW (else the best available method) effects over all episodes, naive beside."""
        t = self.table[self.table["segment_type"] == "all"]
        best = "aipw" if (t["method"] == "aipw").any() else t["method"].iloc[-1]
        piv = t.pivot_table(index=["measure", "estimand"], columns="method",
                            values="estimate", aggfunc="first", dropna=False)
        main = t[t["method"] == best].set_index(["measure", "estimand"])
        out = main[["estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_control",
                    "population_share", "status"]].copy()
        out.insert(0, "method", best)
        out.insert(1, "learner", self.learner)
        if "naive" in piv and best != "naive":
            out["naive_estimate"] = piv["naive"]
        return out.reset_index()

    def _repr_html_(self) -> str:
        head = (f"<h4>Effects on {self.outcome} (vs {NO_RELIEF}, level {self.level:.0%}, "
                f"learner {self.learner})</h4>")
        warn = "".join(f"<li>{w}</li>" for w in self.warnings)
        return head + self.summary().to_html(index=False, float_format="{:.4f}".format) + (
            f"<ul>{warn}</ul>" if warn else "")


def estimate_effects(
    episodes: pd.DataFrame,
    outcome: str = PRIMARY_OUTCOME,
    covariates: Sequence[str] | None = None,
    by: Iterable[str] | str | None = None,
    methods: Sequence[str] = METHODS,
    estimands: Sequence[str] = ESTIMANDS,
    crossfit_folds: int = 5,
    clip: float = 0.01,
    level: float = 0.95,
    min_cell: int = 10,
    loss_model: str = "auto",
    seed: int = 0,
    followup: Followup | None = DEFAULT_FOLLOWUP,
    learner: str = "auto",
) -> EffectsResult:
    """Estimate every measure's effect vs ``none`` on ``outcome`` (see module docstring).

    ``outcome`` in :data:`OUTCOMES` (default ``sustained_cure``); ``covariates`` (default:
    every start-of-episode attribute and signal, see
    :func:`analysis.effects.design.default_covariates`); ``by`` segment types
    (``cause_family``, ``borrower_type`` or a column); ``methods`` from :data:`METHODS`
    (``regression`` and ``ipw`` need the GLM learner and are skipped, with a warning,
    with boosting); ``estimands`` from :data:`ESTIMANDS`; ``crossfit_folds`` K >= 2
    (default 5; 0 = none, GLM learner only); ``clip`` lower bound on propensities
    (fraction, 0 < clip < 0.5); ``level`` of the intervals; ``min_cell`` minimum
    treated and control episodes per cell, below which the row carries no estimate
    (status ``too_few``) and a warning; ``loss_model`` ``auto`` / ``fractional_logit``
    / ``gaussian``; ``seed`` of the cross-fitting folds; ``followup`` the calendar
    follow-up rule (:class:`Followup`; pass the notebook's horizon and probation; None
    keeps every episode with a known outcome); ``learner`` ``auto`` (GLM below
    :data:`~analysis.effects.learners.AUTO_BOOSTING_MIN_EPISODES` analysed episodes,
    boosting above), ``glm`` or ``boosting``.
    """
    n = len(episodes) if isinstance(episodes, pd.DataFrame) else 0
    with blas_limit(n):
        return _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                                 crossfit_folds, clip, level, min_cell, loss_model, seed,
                                 followup, learner)


def _check_arguments(episodes, outcome, methods, estimands, crossfit_folds, clip, level,
                     min_cell, loss_model, learner) -> None:
    """Raise :class:`ParameterError` / :class:`InputError` on bad arguments."""
    check_frame(episodes)
    require(outcome not in DESCRIPTIVE_OUTCOMES,
            f"outcome {outcome!r} (re-default among the cured) conditions on cure, an outcome of "
            "the measure, so it is not estimated as an effect; use 'sustained_cure', or "
            "analysis.effects.redefault_rates for the descriptive rate", ParameterError)
    require(outcome in OUTCOMES, f"outcome must be one of {OUTCOMES}, got {outcome!r}", ParameterError)
    bad = [m for m in methods if m not in METHODS]
    require(not bad and len(methods) > 0, f"methods must be from {METHODS}, got {list(methods)}", ParameterError)
    bad = [m for m in estimands if m not in ESTIMANDS]
    require(not bad and len(estimands) > 0, f"estimands must be from {ESTIMANDS}, got {list(estimands)}", ParameterError)
    require(0 < clip < 0.5, f"clip must be in (0, 0.5), got {clip}", ParameterError)
    require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
    require(crossfit_folds == 0 or crossfit_folds >= 2,
            f"crossfit_folds must be 0 or >= 2, got {crossfit_folds}", ParameterError)
    require(int(min_cell) >= 1, f"min_cell must be >= 1, got {min_cell}", ParameterError)
    require(loss_model in ("auto", "fractional_logit", "gaussian"),
            f"loss_model must be auto, fractional_logit or gaussian, got {loss_model!r}", ParameterError)
    require(learner in LEARNER_CHOICES, f"learner must be one of {LEARNER_CHOICES}, got {learner!r}",
            ParameterError)
    arms_present = episodes["measure"].astype("string").unique()
    require(len(arms_present) >= 2,
            f"episodes: only one arm present ({list(arms_present)}); effects need '{NO_RELIEF}' and at least one measure")


def _estimand_population(nu: Nuisance, k: int, seg: np.ndarray, estimand: str,
                         clip: float) -> tuple[str, np.ndarray]:
    """(estimand label, rows) of one cell: the ATE moves to the Crump overlap population
    when more than OVERLAP_EXTREME_SHARE of the segment has an extreme propensity."""
    if estimand != "ATE":
        return estimand, seg
    e = nu.e_cf_raw
    if extreme_share(e[seg, k], e[seg, 0], clip) <= OVERLAP_EXTREME_SHARE:
        return estimand, seg
    keep = np.zeros(len(seg), bool)
    keep[seg] = crump_set(e[seg, k], e[seg, 0])
    return ATE_OVERLAP, keep


def _cells(nu: Nuisance, outcome: str, m: str, k: int | None, seg_info: tuple, n_t: int,
           methods: Sequence[str], estimands: Sequence[str], min_cell: int,
           clip: float) -> tuple[list[tuple], list[float], list[str]]:
    """Table rows, baselines under ``none`` and warnings of one measure x segment."""
    st, sv, seg = seg_info
    rows, base, warns = [], [], []
    n_c = int((nu.a == 0)[seg].sum())
    share_seg = max(int(seg.sum()), 1)
    for est in estimands:
        label, pop = (est, seg) if k is None else _estimand_population(nu, k, seg, est, clip)
        nt = n_t if k is None or label == est else int((nu.a == k)[pop].sum())
        nc = n_c if label == est else int((nu.a == 0)[pop].sum())
        share = 1.0 if label == est else float(pop.sum() / share_seg)
        if label == ATE_OVERLAP:
            warns.append(f"{outcome}: {m} in {st}={sv}: more than {OVERLAP_EXTREME_SHARE:.0%} of "
                         f"episodes have an extreme propensity; the ATE is estimated on the overlap "
                         f"population ({share:.1%} of the episodes, Crump et al. 2009), not on all")
        status = "too_few" if k is None or nt < min_cell or nc < min_cell else "ok"
        if status == "too_few" and label == est:
            warns.append(f"{outcome}: {m} in {st}={sv}: {shown_count(nt, min_cell)} treated / "
                         f"{shown_count(nc, min_cell)} control episodes (< min_cell={min_cell}); "
                         "no estimate")
        elif status == "too_few":
            warns.append(f"{outcome}: {m} in {st}={sv}: the overlap population has "
                         f"{shown_count(nt, min_cell)} treated / {shown_count(nc, min_cell)} "
                         f"control episodes (< min_cell={min_cell}); the ATE is not estimable")
        b0 = np.nan
        if status == "ok":
            b0 = float(nu.mu[pop, 0].mean()) if est == "ATE" else float(nu.mu[pop & (nu.a == k), 0].mean())
        for meth in methods:
            val, se = estimate_cell(nu, k, pop, meth, est) if status == "ok" else (np.nan, np.nan)
            rows.append((outcome, m, label, st, sv, meth, val, se, nt, nc, share, nu.learner, status))
            base.append(b0)
    return rows, base, warns


def _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                      crossfit_folds, clip, level, min_cell, loss_model, seed,
                      followup, learner="auto") -> EffectsResult:
    """:func:`estimate_effects` inside its BLAS thread limit (same arguments)."""
    _check_arguments(episodes, outcome, methods, estimands, crossfit_folds, clip, level,
                     min_cell, loss_model, learner)
    by_list = [by] if isinstance(by, str) else list(by or [])
    seg_cols = {b: segment_column(episodes, b) for b in by_list}
    coef_methods = [m for m in methods if m not in SCORE_METHODS]
    nu = fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                      loss_model, list(seg_cols.values()), followup, learner, bool(coef_methods))
    warns = [n if n.startswith(f"{outcome}:") else f"{outcome}: {n}" for n in nu.notes]
    if not isinstance(nu.propensity, GlmPropensity) and coef_methods:
        warns.append(f"{outcome}: the {nu.learner} learner has no coefficients; methods "
                     f"{coef_methods} need learner='glm' and are skipped")
        methods = [m for m in methods if m in SCORE_METHODS] or ["aipw"]
    rows = episodes.loc[nu.index]
    obs = outcome_frame(episodes, outcome, followup)[0]
    segments: list[tuple[str, str, np.ndarray]] = [("all", "all", np.ones(len(nu.y), bool))]
    for b, col in seg_cols.items():
        vals = rows[col].astype("string").fillna("<NA>").to_numpy()
        segments += [(b, v, vals == v) for v in sorted(set(vals))]
    out, base = [], []
    for m in sorted(x for x in episodes["measure"].astype("string").unique() if x != NO_RELIEF):
        k = nu.arms.index(m) if m in nu.arms else None
        for st, sv, seg in segments:
            if k is None:  # arm left out of the models: count it among observed outcomes
                in_seg = np.ones(len(obs), bool) if st == "all" else (
                    obs[seg_cols[st]].astype("string").fillna("<NA>").to_numpy() == sv)
                n_t = int(((obs["measure"].astype("string") == m).to_numpy() & in_seg).sum())
            else:
                n_t = int((nu.a == k)[seg].sum())
            r, b0, w = _cells(nu, outcome, m, k, (st, sv, seg), n_t, methods, estimands, min_cell, clip)
            out += r
            base += b0
            warns += w
    cols = [c for c in TABLE_COLUMNS if c not in ("ci_low", "ci_high")]
    table = finish_table(pd.DataFrame(out, columns=cols), nu.kind, level)[list(TABLE_COLUMNS)]
    vague = table[table["status"] == "imprecise"]
    if len(vague):
        warns.append(f"{outcome}: {len(vague)} cell(s) have a standard error above the precision "
                     "limit and show no estimate (status 'imprecise')")
    balance = balance_table(nu)
    overlap, owarn = overlap_table(nu)
    warns += [f"{outcome}: {w}" for w in owarn]
    nflag = balance["flag"].sum()
    if nflag:
        worst = balance.loc[balance["smd_after"].abs().idxmax()]
        warns.append(f"{outcome}: balance: {int(nflag)} covariate x arm x estimand cells have |SMD| > 0.1 after "
                     f"weighting (worst {worst['covariate']} in {worst['arm']} {worst['estimand']}: "
                     f"{worst['smd_after']:.2f})")
    ev = e_values(table, pd.Series(base, index=table.index), nu.kind, float(np.std(nu.y)))
    return EffectsResult(outcome, table, balance, overlap, ev, tuple(dict.fromkeys(warns)), nu, level,
                         reliability_table(nu, min_cell=min_cell))
