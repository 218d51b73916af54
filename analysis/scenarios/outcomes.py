"""What a forecast episode will cost and return under a relief policy.

The per-arm outcome models of :func:`analysis.effects.fit_nuisance` (cure within the
horizon; loss rate) are fitted on the past episodes whose outcome is observed, with the
attributed cause ``family`` among the covariates; its propensity model is *current
practice* (the probability of each measure given the episode's covariates). For each loan
of the forecast and each family, a hypothetical episode starting now (EAD = the loan's
balance, the median DPD at start) gets every arm's cure probability, loss rate and cost
(:func:`analysis.effects.cost_matrix`). Policies:

* ``none``: no relief;
* ``current``: the arms in the proportions current practice gives such episodes;
* ``learned``: per episode the arm with the largest expected net benefit, loss saved
  against no relief minus cost (the plug-in rule the targeting analysis learns from,
  without its tree or its doubly robust scoring);
* a measure name: that measure for every episode.

Uncertainty of the outcome models: besides the fit on every past episode,
:func:`fit_outcomes` refits the models on ``n_halves`` random halves of the episodes. A
half-sample estimate's deviation from the full-sample one has about the full-sample
estimate's sampling variance (``Var(half) = 2 s^2``, ``Cov(half, full) = s^2``, so
``Var(half - full) = s^2``), so a forecast draw that uses a half's models (rates, and the
learned rule's choices with them) carries the outcome models' uncertainty; draw 0 uses
the full fit. A half whose fit fails or lacks an arm of the full fit is left out (noted).

Known drawbacks: relief changes nothing upstream (no feedback from relief to the economy
or to later onsets); with a few halves the intervals' tails are coarse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.definitions import FAMILIES, MEASURES, NO_RELIEF
from analysis.effects import CostParameters, cost_matrix, fit_nuisance
from analysis.errors import FIT_ERRORS, ParameterError

POLICIES: tuple[str, ...] = ("none", "current", "learned", *MEASURES)
OUTCOME_COVARIATES: tuple[str, ...] = ("family", "borrower_type", "ead", "credit_score",
                                       "dpd_at_start")


def check_policy(policy: str) -> str:
    """``policy`` if known, else a ParameterError listing the choices."""
    if policy not in POLICIES:
        raise ParameterError(f"policy={policy!r}: use one of {list(POLICIES)}")
    return policy


@dataclass(frozen=True)
class PolicyRates:
    """Per hypothetical episode (rows: loans x families) under one policy: share
    relieved, expected cost (CNY), cure probability, loss rate (fraction of EAD)."""

    relieved: np.ndarray
    cost: np.ndarray
    cure: np.ndarray
    loss_rate: np.ndarray


#: Half-sample refits of the outcome models behind the forecast's relief intervals.
OUTCOME_HALVES = 8


@dataclass(frozen=True)
class OutcomeModels:
    """The fitted cure and loss-rate models (:class:`analysis.effects.Nuisance`) and the
    ``(cure, loss)`` models of the random halves (module docstring)."""

    cure: object
    loss: object
    arms: tuple[str, ...]
    dpd_at_start: float
    notes: tuple[str, ...]
    halves: tuple[tuple[object, object], ...] = ()

    def half(self, b: int) -> OutcomeModels:
        """The models of half ``b`` (same arms and DPD at start)."""
        cure, loss = self.halves[b]
        return OutcomeModels(cure, loss, self.arms, self.dpd_at_start, ())


def _fit_pair(episodes: pd.DataFrame, covs: list[str], min_cell: int, seed: int
              ) -> tuple[object, object]:
    return (fit_nuisance(episodes, "cure", covariates=covs, min_cell=min_cell, seed=seed),
            fit_nuisance(episodes, "loss_rate", covariates=covs, min_cell=min_cell, seed=seed))


def fit_outcomes(episodes: pd.DataFrame, *, min_cell: int = 10, seed: int = 0,
                 n_halves: int = OUTCOME_HALVES) -> OutcomeModels:
    """Fit the cure and loss-rate models on ``episodes`` (with a ``family`` column), and
    on ``n_halves`` random halves of them."""
    covs = [c for c in OUTCOME_COVARIATES if c in episodes]
    cure, loss = _fit_pair(episodes, covs, min_cell, seed)
    arms = tuple(a for a in cure.arms if a in loss.arms)
    dpd = float(pd.to_numeric(episodes.get("dpd_at_start"), errors="coerce").median()) \
        if "dpd_at_start" in episodes else 15.0
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    halves, failed = [], 0
    for b in range(n_halves):
        rows = np.sort(rng.permutation(len(episodes))[: len(episodes) // 2])
        try:
            pair = _fit_pair(episodes.iloc[rows], covs, min_cell, seed + 1 + b)
        except FIT_ERRORS:
            failed += 1
            continue
        if all(a in pair[0].arms and a in pair[1].arms for a in arms):
            halves.append(pair)
        else:
            failed += 1
    notes = tuple(cure.notes) + tuple(loss.notes)
    if failed:
        notes += (f"scenario outcomes: {failed} of {n_halves} half-sample refits left out "
                  "(a fit failed or an arm was missing); the relief intervals use "
                  f"{len(halves)}",)
    return OutcomeModels(cure, loss, arms, dpd, notes, tuple(halves))


def episode_frame(loans: pd.DataFrame, ead: np.ndarray, months_on_book: np.ndarray,
                  dpd_at_start: float) -> pd.DataFrame:
    """Hypothetical episodes: each loan once per family (family-major order)."""
    base = loans.reset_index(drop=True).assign(ead=ead, months_on_book=months_on_book,
                                               dpd_at_start=dpd_at_start)
    return pd.concat([base.assign(family=f) for f in FAMILIES], ignore_index=True)


def policy_rates(models: OutcomeModels, frame: pd.DataFrame, policies: tuple[str, ...],
                 costs: CostParameters | None = None) -> dict[str, PolicyRates]:
    """:class:`PolicyRates` of each policy for the rows of ``frame``."""
    arms = list(models.arms)
    cure = models.cure.predict_outcomes(frame)[arms].to_numpy()
    loss = np.clip(models.loss.predict_outcomes(frame)[arms].to_numpy(), 0, 1)
    cost = cost_matrix(frame, arms, costs or CostParameters()).to_numpy()
    ead = frame["ead"].to_numpy(float)
    out = {}
    for pol in policies:
        if pol == "current":
            w = models.cure.propensities(frame)[arms].to_numpy()
            w = w / w.sum(axis=1, keepdims=True)
        elif pol == "learned":
            net = (loss[:, [0]] - loss) * ead[:, None] - cost
            w = np.eye(len(arms))[np.argmax(net, axis=1)]
        else:
            arm = NO_RELIEF if pol == "none" else pol
            if arm not in arms:
                raise ParameterError(f"policy={pol!r}: the outcome models have no arm {arm!r} "
                                     f"(too few past episodes received it); arms: {arms}")
            w = np.zeros((len(frame), len(arms)))
            w[:, arms.index(arm)] = 1.0
        out[pol] = PolicyRates(1.0 - w[:, 0], (w * cost).sum(1), (w * cure).sum(1),
                               (w * loss).sum(1))
    return out


__all__ = ["OUTCOME_COVARIATES", "OUTCOME_HALVES", "POLICIES", "OutcomeModels", "PolicyRates", "check_policy",
           "episode_frame", "fit_outcomes", "policy_rates"]
