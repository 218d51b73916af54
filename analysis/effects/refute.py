"""Refutation checks of the relief effects, as DoWhy users expect them.

Method
------
:func:`refute_effects` re-runs the cross-fitted AIPW estimate of every measure's ATE and
ATT (all episodes) under changes that a credible design must survive, and tests the
Cox model's proportional hazards:

* ``placebo_treatment`` -- the measure is randomly permuted across episodes, so it can
  have no effect: the estimates must be near 0. ``z`` = estimate / SE.
* ``random_common_cause`` -- a pure-noise covariate is added: the estimates must not
  move. ``z`` = (new - original) / original SE; passes within :data:`SHIFT_MAX` SE.
* ``data_subset`` -- ``n_subsets`` random subsets of ``subset_share`` of the episodes:
  the estimates must stay within sampling error. The subset estimate's deviation from
  the full one has variance SE_subset^2 - SE_full^2 (nested samples), so
  ``z`` = difference / sqrt(SE_subset^2 - SE_full^2).
* ``proportional_hazards`` (:func:`analysis.effects.survival.proportional_hazards_test`)
  -- the Schoenfeld-residual test of each measure's cure hazard ratio.

A cell passes when ``|z| <= REFUTE_Z`` (2.58): each check looks at 8 or more
correlated cells, so the 99 % bound keeps the chance of a false alarm per check near
that of one 95 % test. Cost: 1 + 2 + ``n_subsets`` effect fits and one Cox fit.

Above ``max_episodes`` (:data:`REFUTE_MAX_EPISODES`) the checks run on an
equal-probability sample of that many episodes, every check against the sample's own
estimate: each check compares estimates with their own standard errors, so its power to
show a broken design does not need the full book, while each re-run of the cross-fitted
estimate on a lender's full book costs minutes. The result says how many were used.

Known drawbacks: a placebo near zero shows the machinery does not invent effects, not
that the confounders are all measured; the checks share the original learner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.effects.design import (
    DEFAULT_FOLLOWUP,
    PRIMARY_OUTCOME,
    Followup,
    check_frame,
    default_covariates,
)
from analysis.effects.estimators import estimate_effects
from analysis.effects.survival import proportional_hazards_test
from analysis.errors import FIT_ERRORS
from analysis.models import random_rows

#: |z| above which a refutation cell fails (two-sided 99 %).
REFUTE_Z = 2.58
#: Largest shift, in original standard errors, that adding a noise covariate may cause.
SHIFT_MAX = 0.5
#: Episodes above which the checks run on an equal-probability sample of this many.
REFUTE_MAX_EPISODES = 50_000
#: Name of the noise covariate of the random-common-cause check.
NOISE_COLUMN = "refute_noise"
REFUTATION_COLUMNS = ("check", "replicate", "measure", "estimand", "estimate", "refuted_estimate",
                      "std_error", "z", "passed")
CHECKS: tuple[str, ...] = ("placebo_treatment", "random_common_cause", "data_subset",
                           "proportional_hazards")


@dataclass(frozen=True)
class RefutationResult:
    """Refutation checks of one outcome's effects.

    ``table``: one row per check, replicate, measure and estimand (columns
    :data:`REFUTATION_COLUMNS`); ``ph_test``: the proportional-hazards table
    (:data:`analysis.effects.survival.PH_COLUMNS`; empty when skipped); ``warnings``.
    """

    outcome: str
    learner: str
    table: pd.DataFrame
    ph_test: pd.DataFrame
    warnings: tuple[str, ...] = ()
    n_episodes: int = 0  # episodes the checks ran on
    n_total: int = 0  # episodes given (more than n_episodes when sampled)

    def summary(self) -> pd.DataFrame:
        """Per check: cells tested, cells passed and the largest |z| (or smallest p)."""
        g = self.table.groupby("check", sort=False)
        out = pd.DataFrame({"n_cells": g["passed"].count(),
                            "n_passed": g["passed"].apply(lambda p: int((p == True).sum())),  # noqa: E712
                            "max_abs_z": g["z"].apply(lambda z: z.abs().max())}).reset_index()
        if len(self.ph_test):
            out = pd.concat([out, pd.DataFrame({
                "check": ["proportional_hazards"], "n_cells": [len(self.ph_test)],
                "n_passed": [int(self.ph_test["passed"].sum())], "max_abs_z": [np.nan]})],
                ignore_index=True)
        out["passed"] = out["n_passed"] == out["n_cells"]
        return out

    def _repr_html_(self) -> str:
        head = (f"<h4>Refutation checks of the effects on {self.outcome} (learner {self.learner}"
                f"; {self.n_episodes:,} of {self.n_total:,} episodes)</h4>")
        warn = "".join(f"<li>{w}</li>" for w in self.warnings)
        return head + self.summary().to_html(index=False, float_format="{:.3f}".format) + (
            f"<ul>{warn}</ul>" if warn else "")


def _aipw(episodes: pd.DataFrame, outcome: str, covariates, kw: dict) -> pd.DataFrame:
    """AIPW ATE and ATT over all episodes: measure, estimand, estimate, std_error."""
    r = estimate_effects(episodes, outcome, covariates=covariates, methods=["aipw"], **kw)
    t = r.table[r.table["segment_type"] == "all"]
    return t[["measure", "estimand", "estimate", "std_error"]].reset_index(drop=True), r.learner


def _rows(check: str, rep: int, base: pd.DataFrame, new: pd.DataFrame, z: pd.Series,
          limit: float) -> pd.DataFrame:
    out = base[["measure", "estimand"]].copy()
    out.insert(0, "replicate", rep)
    out.insert(0, "check", check)
    out["estimate"], out["refuted_estimate"] = base["estimate"], new["estimate"]
    out["std_error"], out["z"] = new["std_error"], z
    out["passed"] = (z.abs() <= limit).astype(object).where(z.notna(), None)  # None: not tested
    return out


def refute_effects(episodes: pd.DataFrame, outcome: str = PRIMARY_OUTCOME,
                   covariates: Sequence[str] | None = None, learner: str = "auto",
                   crossfit_folds: int = 5, n_subsets: int = 2, subset_share: float = 0.5,
                   clip: float = 0.01, min_cell: int = 10, seed: int = 0,
                   followup: Followup | None = DEFAULT_FOLLOWUP, cox: bool = True,
                   max_episodes: int | None = REFUTE_MAX_EPISODES) -> RefutationResult:
    """Run the refutation checks of the module docstring on ``outcome``'s AIPW effects.

    Arguments as :func:`analysis.effects.estimate_effects`; ``n_subsets`` random subsets
    of ``subset_share`` (fraction) of the episodes; ``seed`` of the permutation, the
    noise and the subsets; ``cox`` runs the proportional-hazards test too;
    ``max_episodes``: above it, the checks run on a random sample of that many (None:
    all episodes).
    """
    check_frame(episodes)
    n_total = len(episodes)
    pick = random_rows(n_total, max_episodes, np.random.SeedSequence([seed, 11]))
    if pick is not None:
        episodes = episodes.iloc[pick]
    rng = np.random.default_rng(seed)
    kw = {"crossfit_folds": crossfit_folds, "clip": clip, "min_cell": min_cell, "seed": seed,
          "followup": followup, "learner": learner}
    covs = list(covariates) if covariates is not None else default_covariates(episodes)
    base, used = _aipw(episodes, outcome, covs, kw)
    kw["learner"] = used  # the same learner for every re-run, whatever the subset size
    perm = episodes.assign(measure=rng.permutation(episodes["measure"].to_numpy()))
    new, _ = _aipw(perm, outcome, covs, kw)
    parts = [_rows("placebo_treatment", 0, base, new, new["estimate"] / new["std_error"], REFUTE_Z)]
    noisy = episodes.assign(**{NOISE_COLUMN: rng.normal(size=len(episodes))})
    new, _ = _aipw(noisy, outcome, [*covs, NOISE_COLUMN], kw)
    parts.append(_rows("random_common_cause", 0, base, new,
                       (new["estimate"] - base["estimate"]) / base["std_error"], SHIFT_MAX))
    for rep in range(n_subsets):
        sub = episodes.loc[rng.random(len(episodes)) < subset_share]
        new, _ = _aipw(sub, outcome, covs, kw)
        new = base[["measure", "estimand"]].merge(new, how="left", on=["measure", "estimand"])
        sd = np.sqrt(np.maximum(new["std_error"] ** 2 - base["std_error"] ** 2, 1e-12))
        parts.append(_rows("data_subset", rep + 1, base, new, (new["estimate"] - base["estimate"]) / sd,
                           REFUTE_Z))
    table = pd.concat(parts, ignore_index=True)[list(REFUTATION_COLUMNS)]
    warns = [f"{outcome}: refutation {r.check} failed for {r.measure} {r.estimand} (z {r.z:+.2f})"
             for r in table[table["passed"].eq(False)].itertuples()]
    ph = pd.DataFrame()
    if cox:
        try:
            ph, w = proportional_hazards_test(episodes, covariates, min_cell)
            warns += w + [f"cox: proportional hazards rejected for {r.measure} (p {r.p_value:.3g})"
                          for r in ph[~ph["passed"]].itertuples()]
        except FIT_ERRORS as exc:
            warns.append(f"cox: proportional-hazards test unavailable ({exc})")
    return RefutationResult(outcome, used, table, ph, tuple(dict.fromkeys(warns)),
                            len(episodes), n_total)
