"""Scenario forecast: next months' overdue by cause, the relief it calls for, what it saves.

Method
------
1. *Fit, on the book as known at* ``as_of`` (:func:`analysis.data.restrict_to`): the
   episodes, their cause attribution (:func:`analysis.causes.attribute`, the latent
   competing-causes posterior when there are reports), the per-family onset hazards
   (:mod:`analysis.scenarios.hazards`: each family log-linear in its own signals) and the
   per-arm cure and loss models with current practice's propensities
   (:mod:`analysis.scenarios.outcomes`).
2. *Start from the loans performing at* ``as_of`` (:mod:`analysis.scenarios.paths`):
   balances amortise on their schedule, loans leave at maturity, loans in probation join
   the at-risk set when it ends.
3. *Give them the scenario's signals* (:mod:`analysis.scenarios.spec`): the recent level
   (or trend) of each loan's signals, shifted or set where the scenario says.
4. *Simulate* (:mod:`analysis.scenarios.simulate`): per draw, hazard coefficients drawn
   from their covariance and outcome models from a half-sample refit (model
   uncertainty) and a signal path; onsets by family and month
   with Monte Carlo counts (which loans go overdue), their EAD, and the relief, cost, cures
   and losses under no relief, current practice and the chosen policy.

Assumptions
-----------
* The hazards are stable: the relations between signals and onsets fitted up to ``as_of``
  hold over the horizon; only the signals move.
* The relief policy is as given: every episode of the horizon is treated by the policy's
  rule, at the cost parameters given.
* No feedback: relief changes neither the economy nor later onsets (a cured borrower's
  renewed risk is not simulated within the horizon).
* Loans in an overdue episode at ``as_of`` and loans originated after it are not
  forecast; new onsets come from the loans performing at ``as_of``.

Known drawbacks
---------------
The family split of past onsets is the attribution's point estimate; the outcome models'
uncertainty comes from a few half-sample refits (coarse tails); the counts' Monte Carlo is Poisson (slightly wider than the
sum of independent Bernoulli onsets). On a Dask book the forecast runs on the report's
equal-probability loan sample and is scaled to the book
(:func:`analysis.scenarios.sampled.to_book`), with its precision stated on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.causes import Attribution, attribute
from analysis.data import Book, latest_month, restrict_to
from analysis.definitions import FAMILIES, Definitions
from analysis.effects import CostParameters
from analysis.episodes import episodes_from_definitions
from analysis.errors import ParameterError
from analysis.months import month_end, month_number, parse_month
from analysis.scenarios.hazards import HazardModel, fit_hazards
from analysis.scenarios.outcomes import (
    OutcomeModels,
    check_policy,
    episode_frame,
    fit_outcomes,
    policy_rates,
)
from analysis.scenarios.paths import population, signal_paths
from analysis.scenarios.result import ForecastResult, long_frame, month_labels
from analysis.scenarios.simulate import QUANTITIES, Draws, simulate
from analysis.scenarios.spec import Scenario, load_scenario

P_COLUMNS = [f"p_{f}" for f in FAMILIES]


@dataclass(frozen=True)
class FittedModels:
    """What a forecast fits on the book known at ``as_of`` (reusable across scenarios)."""

    book: Book
    as_of: pd.Timestamp
    hazards: HazardModel
    outcomes: OutcomeModels | None
    definitions: Definitions
    notes: tuple[str, ...]


def family_probabilities(episodes: pd.DataFrame, attribution: Attribution) -> np.ndarray:
    """``(n, 3)`` attributed family probabilities of ``episodes`` (1/3 each if unmatched)."""
    pe = attribution.per_episode[["loan_id", "start_month", *P_COLUMNS]].astype({"loan_id": "string"})
    keys = episodes[["loan_id", "start_month"]].astype({"loan_id": "string"})
    p = keys.merge(pe.drop_duplicates(["loan_id", "start_month"]), on=["loan_id", "start_month"],
                   how="left")[P_COLUMNS].to_numpy(float)
    return np.where(np.isnan(p), 1.0 / 3.0, p)


def fit_models(book: Book, as_of: str | pd.Timestamp, *, attribution: Attribution | None = None,
               episodes: pd.DataFrame | None = None, definitions: Definitions | None = None,
               with_outcomes: bool = True, min_cell: int = 10, seed: int = 0) -> FittedModels:
    """Fit hazards and outcome models on ``book`` as known at ``as_of``.

    ``episodes``/``attribution``: of that same restricted book (rebuilt when omitted); an
    attribution of a longer book may be passed to save time (its families are then
    informed by later reports, a mild look-ahead in the family split only).
    """
    defs = definitions or Definitions()
    month = parse_month(as_of)
    last = latest_month(book)
    if month > last:
        raise ParameterError(f"as_of={month:%Y-%m} is after the book's last month {last:%Y-%m}")
    known = restrict_to(book, month)
    if episodes is None or month < last:
        episodes = episodes_from_definitions(known, defs)
    else:
        episodes = episodes[episodes["start_month"] <= month]
    if attribution is None:
        attribution = attribute(known, episodes, definitions=defs, n_boot=0, seed=seed)
    p = family_probabilities(episodes, attribution)
    hz = fit_hazards(known, episodes, p, overdue_dpd=defs.overdue_dpd,
                     probation_months=defs.probation_months, seed=seed)
    notes: list[str] = []
    outcomes = None
    if with_outcomes:
        fams = np.asarray(FAMILIES, dtype=object)[np.argmax(p, axis=1)]
        outcomes = fit_outcomes(episodes.assign(family=fams), min_cell=min_cell, seed=seed)
        notes += list(outcomes.notes)
    return FittedModels(known, month, hz, outcomes, defs, tuple(notes))


def forecast(book: Book, as_of: str | pd.Timestamp, scenario: str | Scenario | dict = "baseline",
             horizon_months: int = 6, policy: str = "learned", *,
             models: FittedModels | None = None, attribution: Attribution | None = None,
             episodes: pd.DataFrame | None = None, future: Book | None = None,
             costs: CostParameters | None = None, n_draws: int = 100, level: float = 0.95,
             max_outcome_loans: int = 20_000, seed: int = 0) -> ForecastResult:
    """Forecast new overdue episodes by family for ``horizon_months`` after ``as_of``.

    ``scenario``: a :class:`Scenario`, its mapping, a YAML path or a shipped name.
    ``policy``: the relief rule to cost (``learned``, ``current``, ``none`` or a measure);
    ``none`` and ``current`` are always reported beside it. ``models``: from
    :func:`fit_models` (reuse across scenarios); otherwise fitted here. ``future``: the
    book with the months after ``as_of`` (for a ``realised`` scenario, as in backtests).
    ``n_draws``: parameter draws x signal paths (intervals at ``level``).
    """
    check_policy(policy)
    if horizon_months < 1 or n_draws < 1 or not 0 < level < 1:
        raise ParameterError("horizon_months and n_draws must be >= 1 and level in (0, 1)")
    sc = load_scenario(scenario)
    sc.validate(book, parse_month(as_of), horizon_months)  # before any fitting: fail fast
    fm = models or fit_models(book, as_of, attribution=attribution, episodes=episodes)
    rng = np.random.default_rng(seed)
    d = fm.definitions
    pop = population(fm.book, fm.as_of, horizon_months, overdue_dpd=d.overdue_dpd,
                     probation_months=d.probation_months)
    paths = signal_paths(fm.book, pop, sc, fm.as_of, horizon_months, fm.hazards.signal_mean,
                         fm.hazards.signal_sd, future=future if future is not None else book)
    n = len(pop.loans)
    keep = pop.at_risk.any(axis=1)  # loans that cannot start an episode add nothing
    pop, paths = pop.subset(keep), paths.subset(keep)
    n_risk = len(pop.loans)
    sample = np.sort(rng.choice(n_risk, size=min(n_risk, max_outcome_loans), replace=False))
    policies = tuple(dict.fromkeys(("none", "current", policy)))
    rates: list[dict] = [{}]
    if fm.outcomes is not None:
        frame = episode_frame(pop.loans.iloc[sample], pop.balance[sample, 0],
                              pop.months_on_book[sample, 0], fm.outcomes.dpd_at_start)
        rates = [policy_rates(m, frame, policies, costs) for m in
                 (fm.outcomes, *(fm.outcomes.half(b) for b in range(len(fm.outcomes.halves))))]
    draws = simulate(fm.hazards, pop, paths, rates, sample, n_draws, seed)
    labels = month_labels(month_end(month_number(fm.as_of) + np.arange(1, horizon_months + 1)))
    return ForecastResult(_onset_table(draws, labels, level), _relief_table(draws, labels, level),
                          sc.name, fm.as_of, horizon_months, policy, level, n, n_draws, fm.notes)


def _onset_table(draws: Draws, labels: list[str], level: float) -> pd.DataFrame:
    t = long_frame(draws.onsets, draws.expected, labels, level,
                   ("new_episodes", "ci_low", "ci_high"))
    e = long_frame(draws.expected, draws.expected, labels, level, ("expected_episodes", "_l", "_h"))
    m = long_frame(draws.ead, draws.ead, labels, level, ("ead_cny", "ead_ci_low", "ead_ci_high"))
    t["expected_episodes"] = e["expected_episodes"]
    return pd.concat([t, m[["ead_cny", "ead_ci_low", "ead_ci_high"]]], axis=1)


def _relief_table(draws: Draws, labels: list[str], level: float) -> pd.DataFrame:
    parts = []
    for name, arr in draws.policies.items():
        for qi, q in enumerate(QUANTITIES):
            x = arr[:, qi]
            x = np.concatenate([x, x.sum(axis=1, keepdims=True)], axis=1)
            f = long_frame(x, x, labels, level, ("value", "ci_low", "ci_high"),
                           families=(*FAMILIES, "all"))
            parts.append(f.assign(policy=name, quantity=q))
    if not parts:
        return pd.DataFrame(columns=["month", "family", "policy", "quantity", "value",
                                     "ci_low", "ci_high"])
    out = pd.concat(parts, ignore_index=True)
    return out[["month", "family", "policy", "quantity", "value", "ci_low", "ci_high"]]


__all__ = ["FittedModels", "family_probabilities", "fit_models", "forecast"]
