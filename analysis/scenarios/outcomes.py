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

Known drawbacks: the outcome models' own uncertainty is not drawn (the forecast's
intervals cover the onsets and which loans go overdue); relief changes nothing upstream
(no feedback from relief to the economy or to later onsets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.definitions import FAMILIES, MEASURES, NO_RELIEF
from analysis.effects import CostParameters, cost_matrix, fit_nuisance
from analysis.errors import ParameterError

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


@dataclass(frozen=True)
class OutcomeModels:
    """The fitted cure and loss-rate models (:class:`analysis.effects.Nuisance`)."""

    cure: object
    loss: object
    arms: tuple[str, ...]
    dpd_at_start: float
    notes: tuple[str, ...]


def fit_outcomes(episodes: pd.DataFrame, *, min_cell: int = 10, seed: int = 0) -> OutcomeModels:
    """Fit the cure and loss-rate models on ``episodes`` (with a ``family`` column)."""
    covs = [c for c in OUTCOME_COVARIATES if c in episodes]
    cure = fit_nuisance(episodes, "cure", covariates=covs, min_cell=min_cell, seed=seed)
    loss = fit_nuisance(episodes, "loss_rate", covariates=covs, min_cell=min_cell, seed=seed)
    arms = tuple(a for a in cure.arms if a in loss.arms)
    dpd = float(pd.to_numeric(episodes.get("dpd_at_start"), errors="coerce").median()) \
        if "dpd_at_start" in episodes else 15.0
    return OutcomeModels(cure, loss, arms, dpd, tuple(cure.notes) + tuple(loss.notes))


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


__all__ = ["OUTCOME_COVARIATES", "POLICIES", "OutcomeModels", "PolicyRates", "check_policy",
           "episode_frame", "fit_outcomes", "policy_rates"]
