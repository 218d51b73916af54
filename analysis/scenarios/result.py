"""Result objects of the scenario forecast and its backtest (tables, summaries, HTML)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.definitions import FAMILIES

TABLE_COLUMNS: tuple[str, ...] = (
    "month", "family", "new_episodes", "ci_low", "ci_high", "expected_episodes",
    "ead_cny", "ead_ci_low", "ead_ci_high",
)
RELIEF_COLUMNS: tuple[str, ...] = (
    "month", "family", "policy", "quantity", "value", "ci_low", "ci_high",
)
BACKTEST_COLUMNS: tuple[str, ...] = (
    "family", "month", "predicted", "ci_low", "ci_high", "actual", "ratio", "covered",
)
ASSUMPTIONS: tuple[str, ...] = (
    "hazards_stable", "policy_as_given", "no_feedback",
)


def interval(draws: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed ``level`` interval of ``draws`` along ``axis``."""
    a = (1 - level) / 2
    return np.quantile(draws, a, axis=axis), np.quantile(draws, 1 - a, axis=axis)


def month_labels(months: pd.DatetimeIndex) -> list[str]:
    """``YYYY-MM`` labels of month-ends."""
    return [f"{m:%Y-%m}" for m in months]


def long_frame(sim: np.ndarray, mean: np.ndarray, labels: list[str], level: float,
               names: tuple[str, str, str], families: tuple[str, ...] = FAMILIES) -> pd.DataFrame:
    """Rows per month (and a horizon total, month empty) x family of draws ``(B, F, h)``:
    columns ``month``, ``family`` and ``names`` (value, low, high); ``mean``: ``(B, F, h)``
    whose draw-average is the value."""
    tot_sim = sim.sum(axis=2, keepdims=True)
    tot_mean = mean.sum(axis=2, keepdims=True)
    sim_all = np.concatenate([sim, tot_sim], axis=2)
    mean_all = np.concatenate([mean, tot_mean], axis=2)
    lo, hi = interval(sim_all, level)
    value = mean_all.mean(axis=0)
    rows = []
    for j, f in enumerate(families):
        for k, m in enumerate([*labels, ""]):
            rows.append({"month": m, "family": f, names[0]: value[j, k], names[1]: lo[j, k],
                         names[2]: hi[j, k]})
    return pd.DataFrame(rows)


def _html(title: str, lines: list[str], frame: pd.DataFrame) -> str:
    body = "".join(f"<p>{x}</p>" for x in lines)
    return f"<h4>{title}</h4>{body}" + frame.to_html(index=False, float_format=lambda v: f"{v:,.1f}")


@dataclass(frozen=True)
class ForecastResult:
    """Scenario forecast (see :func:`analysis.scenarios.forecast`).

    ``table`` (:data:`TABLE_COLUMNS`): per future month (``YYYY-MM``; empty on the horizon
    total) and family, the expected new overdue episodes (mean over draws) with the
    ``level`` interval of the simulated count, the mean expected count without Monte
    Carlo, and their EAD (CNY) with interval. ``relief`` (:data:`RELIEF_COLUMNS`): per
    month, family and policy (``none``, ``current`` and the chosen one) the relief
    granted (episodes), its cost (CNY), expected cures (episodes) and losses (CNY).
    """

    table: pd.DataFrame
    relief: pd.DataFrame
    scenario: str
    as_of: pd.Timestamp
    horizon_months: int
    policy: str
    level: float
    n_loans: int
    n_draws: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def totals(self) -> pd.DataFrame:
        """Horizon totals per family (rows with an empty month)."""
        return self.table[self.table["month"] == ""].drop(columns="month").reset_index(drop=True)

    def policy_totals(self) -> pd.DataFrame:
        """Horizon totals over families per policy and quantity (value, interval)."""
        r = self.relief[(self.relief["month"] == "") & (self.relief["family"] == "all")]
        return r.drop(columns=["month", "family"]).reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """Per family: new episodes and EAD over the horizon, with intervals."""
        return self.totals()

    def _repr_html_(self) -> str:
        lines = [f"Scenario {self.scenario!r} from {self.as_of:%Y-%m}, {self.horizon_months} "
                 f"months, {self.n_loans:,} loans, {self.n_draws} draws, policy {self.policy!r}."]
        return _html("Scenario forecast", lines, self.summary())


@dataclass(frozen=True)
class BacktestResult:
    """Backtest: forecast fitted up to ``as_of`` against what happened after it.

    ``table`` (:data:`BACKTEST_COLUMNS`): per family and month (empty month: horizon
    total) predicted new episodes with interval, actual episodes (the families of actual
    episodes are their attributed probabilities summed), ratio predicted/actual and
    whether the interval covers the actual count. ``outcomes``: predicted cures and losses
    under current practice against the actual ones of the episodes whose outcome is
    observed (empty when none is).
    """

    table: pd.DataFrame
    outcomes: pd.DataFrame
    forecast: ForecastResult
    as_of: pd.Timestamp
    horizon_months: int
    level: float

    @property
    def coverage(self) -> float:
        """Share of family-month cells (horizon totals excluded) whose interval covers the
        actual count."""
        monthly = self.table[self.table["month"] != ""]
        return float(monthly["covered"].mean()) if len(monthly) else float("nan")

    def summary(self) -> pd.DataFrame:
        """Per family over the horizon: predicted, interval, actual, ratio, covered."""
        return self.table[self.table["month"] == ""].drop(columns="month").reset_index(drop=True)

    def _repr_html_(self) -> str:
        lines = [f"Fitted up to {self.as_of:%Y-%m}; {self.horizon_months} months ahead; "
                 f"monthly interval coverage {self.coverage:.0%} at level {self.level:.0%}."]
        return _html("Scenario backtest", lines, self.summary())


__all__ = ["ASSUMPTIONS", "BACKTEST_COLUMNS", "BacktestResult", "ForecastResult",
           "RELIEF_COLUMNS", "TABLE_COLUMNS", "interval", "long_frame", "month_labels"]
