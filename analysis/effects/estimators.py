"""Effects of relief measures on cure, re-default and loss: four estimators, one table.

Method
------
The treatment is the episode's ``measure``, a multi-valued treatment with ``none`` as
the reference arm; every other code present (``deferral``, ``instalment``,
``rate_reduction``, ``counselling`` and any extra code) is compared with ``none``.
:func:`estimate_effects` puts the steps together, each in its own module:

* :mod:`analysis.effects.design` -- the outcomes (``cure``, ``redefault`` among the
  cured, ``loss_rate``), the calendar follow-up rule and the covariate design;
* :mod:`analysis.effects.glm` and :mod:`analysis.effects.nuisance` -- the
  multinomial-logit propensity and the per-arm outcome GLMs, small-sample penalties,
  cross-fitting;
* :mod:`analysis.effects.cells` -- the ``naive``, ``regression``, ``ipw`` and ``aipw``
  estimates of each cell with influence-function standard errors;
* :mod:`analysis.effects.diagnostics` -- balance, overlap and E-values, reported with
  the table.

Estimands: for each measure ``a``, ATE = E[Y(a) - Y(none)] over the analysed episodes
and ATT = E[Y(a) - Y(none) | A = a]. Estimates are differences, as fractions.
Propensities are clipped below at ``clip`` (default 0.01, i.e. weights at most 100); the
share of episodes affected is in ``.overlap``.

Heterogeneity (``by``): nuisance models are fitted once on all episodes with the
segment variable added to the covariates; each estimator is then averaged within the
segment (the segment is a start-of-episode variable, so this targets the conditional
effect). ``cause_family`` uses ``primary_family`` (from the cause attribution) when the
column exists, else ``reported_family``.

Small samples: an arm with fewer than ``min_cell`` episodes is left out of the models
and its rows carry no estimate (never dropped silently); sparse models are penalised
and named in the warnings (:mod:`analysis.effects.glm`).

Assumptions: no unmeasured confounding given the covariates, overlap (every episode
could have received every measure), no interference between episodes, consistency (a
measure code means one treatment). Known drawbacks: GLMs without interactions are a
modest outcome model (AIPW stays consistent if the propensity is right); clipping
trades bias for variance; the multinomial logit may be misspecified; the ATE of a
rarely given measure extrapolates far and its interval says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.checks import require
from analysis.definitions import NO_RELIEF
from analysis.effects.cells import ESTIMANDS, METHODS, TABLE_COLUMNS, ci, estimate_cell
from analysis.effects.design import (
    DEFAULT_FOLLOWUP,
    OUTCOMES,
    Followup,
    check_frame,
    outcome_frame,
    segment_column,
)
from analysis.effects.diagnostics import balance_table, e_values, overlap_table
from analysis.effects.glm import blas_limit
from analysis.effects.nuisance import Nuisance, fit_nuisance
from analysis.errors import ParameterError


@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Effects of every measure vs ``none`` on one outcome.

    ``table``: one row per (measure, estimand, segment, method), columns
    :data:`TABLE_COLUMNS`; ``balance``: standardised mean differences before/after
    weighting; ``overlap``: propensity overlap and effective sample sizes per arm;
    ``evalues``: E-value of each effect; ``warnings``: everything the reader must know;
    ``nuisance``: the fitted models (reuse them for targeting).
    """

    outcome: str
    table: pd.DataFrame
    balance: pd.DataFrame
    overlap: pd.DataFrame
    evalues: pd.DataFrame
    warnings: tuple[str, ...]
    nuisance: Nuisance = field(repr=False)
    level: float = 0.95

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """The table's keys with normal intervals at ``level``."""
        require(0 < level < 1, f"level must be in (0, 1), got {level}", ParameterError)
        out = self.table.drop(columns=["ci_low", "ci_high"]).copy()
        out["ci_low"], out["ci_high"] = ci(out["estimate"], out["std_error"], level)
        return out[list(TABLE_COLUMNS)]

    def summary(self) -> pd.DataFrame:
        """AIPW (else the best available method) effects over all episodes, naive beside."""
        t = self.table[self.table["segment_type"] == "all"]
        best = "aipw" if (t["method"] == "aipw").any() else t["method"].iloc[-1]
        piv = t.pivot_table(index=["measure", "estimand"], columns="method",
                            values="estimate", aggfunc="first")
        main = t[t["method"] == best].set_index(["measure", "estimand"])
        out = main[["estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_control"]].copy()
        out.insert(0, "method", best)
        if "naive" in piv and best != "naive":
            out["naive_estimate"] = piv["naive"]
        return out.reset_index()

    def _repr_html_(self) -> str:
        head = f"<h4>Effects on {self.outcome} (vs {NO_RELIEF}, level {self.level:.0%})</h4>"
        warn = "".join(f"<li>{w}</li>" for w in self.warnings)
        return head + self.summary().to_html(index=False, float_format="{:.4f}".format) + (
            f"<ul>{warn}</ul>" if warn else "")


def estimate_effects(
    episodes: pd.DataFrame,
    outcome: str = "cure",
    covariates: Sequence[str] | None = None,
    by: Iterable[str] | str | None = None,
    methods: Sequence[str] = METHODS,
    estimands: Sequence[str] = ESTIMANDS,
    crossfit_folds: int = 0,
    clip: float = 0.01,
    level: float = 0.95,
    min_cell: int = 10,
    loss_model: str = "auto",
    seed: int = 0,
    followup: Followup | None = DEFAULT_FOLLOWUP,
) -> EffectsResult:
    """Estimate every measure's effect vs ``none`` on ``outcome`` (see module docstring).

    ``outcome`` in :data:`OUTCOMES`; ``covariates`` (default: every start-of-episode
    attribute and signal, see :func:`analysis.effects.design.default_covariates`); ``by`` segment types
    (``cause_family``, ``borrower_type`` or a column); ``methods`` from :data:`METHODS`;
    ``estimands`` from :data:`ESTIMANDS`; ``crossfit_folds`` 0 (none) or K >= 2 for AIPW;
    ``clip`` lower bound on propensities (fraction, 0 < clip < 0.5); ``level`` of the
    intervals; ``min_cell`` minimum treated and control episodes per cell, below which
    the row carries no estimate and a warning; ``loss_model`` ``auto`` /
    ``fractional_logit`` / ``gaussian``; ``seed`` of the cross-fitting folds;
    ``followup`` the calendar follow-up rule (:class:`Followup`; pass the notebook's
    horizon and probation; None keeps every episode with a known outcome).
    """
    n = len(episodes) if isinstance(episodes, pd.DataFrame) else 0
    with blas_limit(n):
        return _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                                 crossfit_folds, clip, level, min_cell, loss_model, seed, followup)


def _estimate_effects(episodes, outcome, covariates, by, methods, estimands,
                      crossfit_folds, clip, level, min_cell, loss_model, seed,
                      followup) -> EffectsResult:
    """:func:`estimate_effects` inside its BLAS thread limit (same arguments)."""
    check_frame(episodes)
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
    arms_present = episodes["measure"].astype("string").unique()
    require(len(arms_present) >= 2,
            f"episodes: only one arm present ({list(arms_present)}); effects need '{NO_RELIEF}' and at least one measure")
    by_list = [by] if isinstance(by, str) else list(by or [])
    seg_cols = {b: segment_column(episodes, b) for b in by_list}
    nu = fit_nuisance(episodes, outcome, covariates, crossfit_folds, clip, min_cell, seed,
                      loss_model, list(seg_cols.values()), followup)
    warns = [n if n.startswith(f"{outcome}:") else f"{outcome}: {n}" for n in nu.notes]
    rows = episodes.loc[nu.index]
    obs = outcome_frame(episodes, outcome, followup)[0]
    segments: list[tuple[str, str, np.ndarray]] = [("all", "all", np.ones(len(nu.y), bool))]
    for b, col in seg_cols.items():
        vals = rows[col].astype("string").fillna("<NA>").to_numpy()
        for v in sorted(set(vals)):
            segments.append((b, v, vals == v))
    all_measures = sorted(m for m in episodes["measure"].astype("string").unique() if m != NO_RELIEF)
    out, base = [], []
    for m in all_measures:
        k = nu.arms.index(m) if m in nu.arms else None
        for st, sv, seg in segments:
            if k is None:  # arm left out of the models: count it among observed outcomes
                in_seg = np.ones(len(obs), bool) if st == "all" else (
                    obs[seg_cols[st]].astype("string").fillna("<NA>").to_numpy() == sv)
                n_t = int(((obs["measure"].astype("string") == m).to_numpy() & in_seg).sum())
            else:
                n_t = int((nu.a == k)[seg].sum())
            n_c = int((nu.a == 0)[seg].sum())
            small = k is None or n_t < min_cell or n_c < min_cell
            if small:
                warns.append(f"{outcome}: {m} in {st}={sv}: {n_t} treated / {n_c} control episodes "
                             f"(< min_cell={min_cell}); no estimate")
            for est in estimands:
                if small:
                    b0 = np.nan
                elif est == "ATE":
                    b0 = float(nu.mu[seg, 0].mean())
                else:
                    b0 = float(nu.mu[seg & (nu.a == k), 0].mean())
                for meth in methods:
                    if small:
                        val, se = np.nan, np.nan
                    else:
                        val, se = estimate_cell(nu, k, seg, meth, est)
                    out.append((outcome, m, est, st, sv, meth, val, se, n_t, n_c))
                    base.append(b0)
    table = pd.DataFrame(out, columns=[c for c in TABLE_COLUMNS if c not in ("ci_low", "ci_high")])
    table["ci_low"], table["ci_high"] = ci(table["estimate"], table["std_error"], level)
    table = table[list(TABLE_COLUMNS)]
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
    return EffectsResult(outcome, table, balance, overlap, ev, tuple(dict.fromkeys(warns)), nu, level)
