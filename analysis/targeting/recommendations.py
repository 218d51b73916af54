"""Recommendations for the episodes open at a reporting month (collections list).

For every episode *open* at ``as_of`` -- started in or before ``as_of``, still running
(its last row is not before ``as_of``), not returned to clean (cure month) and not in
default (90+ DPD or written off) by ``as_of`` -- the measure the learned rule of
:func:`analysis.targeting.policies.compare_policies` assigns, the expected cure probability with
it and without relief, the expected net benefit (CNY: loss avoided against no relief
minus the measure's cost) and the attributed cause.

The rule and the outcome models are learned on episodes whose outcome window had closed
by ``as_of`` (started at least ``horizon_months + probation_months - 1`` months before),
so a backdated run does not learn from outcomes that were unknown at ``as_of``.
Expected cure probabilities are those of the horizon from the episode's start (the
models know nothing of the months an episode has already run). The output holds loan
IDs: it is an operational list, not a report.
"""

from __future__ import annotations

import warnings as _warnings

import numpy as np
import pandas as pd

from analysis.causes import with_cause
from analysis.data.book import Book
from analysis.definitions import Definitions
from analysis.effects import CostParameters, episode_costs, typical_terms
from analysis.errors import InputError, ParameterError
from analysis.targeting.policies import PolicyResult, compare_policies

RECOMMEND_COLUMNS: tuple[str, ...] = (
    "loan_id", "borrower_id", "episode_no", "start_month", "months_open", "borrower_type",
    "ead", "dpd_at_start", "current_measure", "attributed_cause", "recommended_measure",
    "p_cure_with", "p_cure_without", "expected_loss_avoided_cny", "cost_cny",
    "expected_net_benefit_cny", "within_budget", "priority", "rule_leaf",
)


def as_of_month(as_of: str | pd.Timestamp) -> pd.Timestamp:
    """``"YYYY-MM"`` (or a date) -> month-end Timestamp."""
    try:
        ts = pd.Timestamp(str(as_of) + "-01") if isinstance(as_of, str) and len(as_of) == 7 else pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"as_of={as_of!r}: use a month 'YYYY-MM'") from exc
    if pd.isna(ts):
        raise ParameterError(f"as_of={as_of!r}: use a month 'YYYY-MM'")
    return ts + pd.offsets.MonthEnd(0)


def open_mask(episodes: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Episodes open at ``as_of`` (see module docstring)."""
    need = ("start_month", "end_month", "cure_month", "default_month")
    missing = [c for c in need if c not in episodes]
    if missing:
        raise InputError(f"episodes: column(s) {missing} missing (needed to find open episodes)")
    start = pd.to_datetime(episodes["start_month"])
    end = pd.to_datetime(episodes["end_month"])
    cured = pd.to_datetime(episodes["cure_month"]).le(as_of).fillna(False)
    default = pd.to_datetime(episodes["default_month"]).le(as_of).fillna(False)
    return (start.le(as_of) & end.ge(as_of) & ~cured & ~default).astype(bool)


def empty_recommendations(message: str) -> pd.DataFrame:
    """A recommendation table without rows whose ``attrs["message"]`` says why."""
    out = pd.DataFrame({c: pd.Series(dtype=object) for c in RECOMMEND_COLUMNS})
    out.attrs["message"] = message
    return out


def recommend(book: Book, episodes: pd.DataFrame, as_of: str | pd.Timestamp,
              costs: CostParameters | None = None, *, horizon_months: int = 6,
              probation_months: int = 3, result: PolicyResult | None = None,
              definitions: Definitions | None = None, seed: int = 0,
              **compare_kwargs) -> pd.DataFrame:
    """One row per episode open at ``as_of`` (columns :data:`RECOMMEND_COLUMNS`).

    ``book``: the loaded book (for the cause attribution when ``episodes`` has no
    ``primary_family``); ``episodes``: its :func:`analysis.episodes.build_episodes`
    output; ``result``: a :class:`analysis.targeting.policies.PolicyResult` to apply (learned
    here when None, with ``compare_kwargs`` passed to
    :func:`analysis.targeting.policies.compare_policies`). No open episode: an empty frame whose
    ``attrs["message"]`` says so (nothing is fitted). Also ``attrs["warnings"]``.
    """
    costs = costs or CostParameters()
    month = as_of_month(as_of)
    is_open = open_mask(episodes, month)
    if not is_open.any():
        return empty_recommendations(f"no episode is open at {month:%Y-%m}: nothing to recommend")
    msgs: list[str] = []
    if result is None or result.estimates.features.columns[0] not in episodes:
        episodes, note = with_cause(book, episodes, definitions, seed)
        if note:
            msgs.append(note)
    if result is None:
        cutoff = (month.to_period("M") - (horizon_months + probation_months - 1)).to_timestamp(how="end").normalize()
        train = episodes.loc[pd.to_datetime(episodes["start_month"]) <= cutoff]
        if len(train) == 0:
            raise InputError(f"recommend: no episode started by {cutoff:%Y-%m} (as_of {month:%Y-%m} minus "
                             f"{horizon_months + probation_months - 1} months) to learn from")
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            result = compare_policies(train, costs, seed=seed, **compare_kwargs)
    else:
        train = episodes.loc[result.estimates.index.intersection(episodes.index)]
    msgs += list(result.warnings)
    est = result.estimates
    op = episodes.loc[is_open]
    cause = est.features.columns[0]
    if cause not in op:
        raise InputError(f"recommend: the open episodes lack the rule's cause column {cause!r}")
    arms = list(est.arms)
    rec = np.asarray(result.rule.assign(op), dtype=object)
    budget = np.asarray(result.budget_rule.assign(op), dtype=object)
    p = est.nuisance_cure.predict_outcomes(op).to_numpy()
    loss = est.predict_loss(op)[arms].to_numpy()
    terms = typical_terms(train, costs)
    cost = np.column_stack([episode_costs(op, a, costs, terms).to_numpy() for a in arms])
    k = np.array([arms.index(a) for a in rec], int)
    rows = np.arange(len(op))
    ead = op["ead"].astype(float).to_numpy()
    avoided = ead * (loss[:, 0] - loss[rows, k])
    nb = avoided - cost[rows, k]
    leaves = result.rule.leaves()
    leaf_text = np.array([" & ".join(c) or "all" for c, _ in leaves], dtype=object)
    start = pd.to_datetime(op["start_month"])
    months_open = (month.to_period("M") - start.dt.to_period("M")).apply(lambda d: d.n).astype(int)
    out = pd.DataFrame({
        "loan_id": op["loan_id"].to_numpy(),
        "borrower_id": op["borrower_id"].to_numpy() if "borrower_id" in op else pd.NA,
        "episode_no": op["episode_no"].to_numpy() if "episode_no" in op else pd.NA,
        "start_month": start.dt.strftime("%Y-%m").to_numpy(),
        "months_open": months_open.to_numpy(),
        "borrower_type": op["borrower_type"].to_numpy() if "borrower_type" in op else pd.NA,
        "ead": ead,
        "dpd_at_start": op["dpd_at_start"].to_numpy() if "dpd_at_start" in op else pd.NA,
        "current_measure": op["measure"].to_numpy(),
        "attributed_cause": op[cause].astype("string").fillna("<NA>").to_numpy(),
        "recommended_measure": rec,
        "p_cure_with": p[rows, k], "p_cure_without": p[:, 0],
        "expected_loss_avoided_cny": avoided, "cost_cny": cost[rows, k],
        "expected_net_benefit_cny": nb,
        "within_budget": (budget == rec) & (rec != "none"),
        "rule_leaf": leaf_text[result.rule.leaf_ids(op)] if len(leaf_text) > 1 else "all",
    })
    out["priority"] = out["expected_net_benefit_cny"].rank(ascending=False, method="first").astype(int)
    out = out.sort_values("priority", kind="stable").reset_index(drop=True)[list(RECOMMEND_COLUMNS)]
    g = result.gain("current_practice").set_index("policy").loc["learned"]
    out.attrs["message"] = (
        f"{len(out):,} episodes open at {month:%Y-%m}; rule learned on {len(est.index):,} episodes "
        f"with a known outcome; its estimated gain over current practice: "
        f"{g['gain_per_episode_cny']:,.0f} CNY per episode (95 % interval {g['ci_low']:,.0f} to "
        f"{g['ci_high']:,.0f})" + ("; the interval includes 0: treat the recommendations as a "
                                   "hypothesis to test" if g["ci_low"] <= 0 <= g["ci_high"] else ""))
    out.attrs["warnings"] = tuple(dict.fromkeys(msgs))
    return out


__all__ = ["RECOMMEND_COLUMNS", "as_of_month", "empty_recommendations", "open_mask",
           "recommend"]
