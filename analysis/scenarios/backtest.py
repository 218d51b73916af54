"""Backtest of the scenario forecast: fit up to T-h, forecast T-h+1..T, compare.

The models are fitted on the book as known at ``as_of`` = T - h (default: ``h`` months
before the book's last month T); the forecast then uses the signals that were actually
realised after ``as_of`` (a ``realised`` scenario: each loan's observed signals, its recent
level where it has none) under current practice. It is compared with what happened:

* *onsets*: new overdue episodes by family and month among the loans of the book at
  ``as_of``; the family of an actual episode is its attributed probability (summed over
  episodes), from the attribution of the whole book;
* *outcomes*: predicted cures and losses under current practice against the actual cures
  and losses of those episodes whose outcome is already observed (most are still open
  when the horizon ends at the book's last month: the table says how many).

Calibration: the ratio predicted / actual per family over the horizon and the share of
family-months whose interval covers the actual count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.causes import Attribution, attribute
from analysis.data import Book, latest_month
from analysis.definitions import FAMILIES, Definitions
from analysis.episodes import episodes_from_definitions
from analysis.errors import ParameterError
from analysis.months import month_index, month_number, parse_month
from analysis.scenarios.forecast import family_probabilities, fit_models, forecast
from analysis.scenarios.result import BACKTEST_COLUMNS, BacktestResult
from analysis.scenarios.spec import Scenario


def actual_onsets(episodes: pd.DataFrame, p_family: np.ndarray, loans: pd.Series,
                  as_of: pd.Timestamp, horizon_months: int) -> pd.DataFrame:
    """``(3, h)`` actual new episodes by family and month (sums of ``p_family``) of the
    loans ``loans`` with a start in the ``horizon_months`` after ``as_of``, as a frame
    (index families, columns months ahead 1..h)."""
    k = month_index(episodes["start_month"]) - month_number(as_of)
    keep = (k >= 1) & (k <= horizon_months) & episodes["loan_id"].isin(loans).to_numpy()
    out = np.zeros((3, horizon_months))
    for j in range(3):  # three families
        out[j] = np.bincount(k[keep] - 1, weights=p_family[keep, j], minlength=horizon_months)
    return pd.DataFrame(out, index=list(FAMILIES), columns=range(1, horizon_months + 1))


def backtest(book: Book, horizon_months: int = 6, as_of: str | pd.Timestamp | None = None, *,
             episodes: pd.DataFrame | None = None, attribution: Attribution | None = None,
             strict: bool = True, n_draws: int = 100, level: float = 0.95,
             seed: int = 0) -> BacktestResult:
    """Backtest (module docstring). ``episodes``/``attribution``: of the whole ``book``
    (built when omitted). ``strict``: fit on an attribution of the book known at
    ``as_of`` (no look-ahead); ``False`` reuses ``attribution`` for the fit too (faster;
    later reports then inform the family split of past onsets)."""
    last = latest_month(book)
    month = parse_month(as_of) if as_of else last - pd.offsets.MonthEnd(horizon_months)
    if month_number(month) + horizon_months > month_number(last):
        raise ParameterError(f"backtest: as_of={month:%Y-%m} + {horizon_months} months is past "
                             f"the book's last month {last:%Y-%m}")
    if episodes is None:
        episodes = episodes_from_definitions(book, Definitions())
    if attribution is None:
        attribution = attribute(book, episodes, n_boot=0, seed=seed)
    fm = fit_models(book, month, attribution=None if strict else attribution,
                    episodes=None if strict else episodes, seed=seed)
    realised = Scenario("realised", "signals as realised", method="realised")
    fc = forecast(book, month, realised, horizon_months, policy="current", models=fm,
                  future=book, n_draws=n_draws, level=level, seed=seed)
    p = family_probabilities(episodes, attribution)
    loans = fm.book.loans["loan_id"]
    act = actual_onsets(episodes, p, loans, month, horizon_months)
    tab = fc.table.copy()
    ahead = {m: k + 1 for k, m in enumerate(sorted(set(tab["month"]) - {""}))}
    tab["actual"] = [float(act.loc[f].sum()) if m == "" else float(act.loc[f, ahead[m]])
                     for f, m in zip(tab["family"], tab["month"], strict=True)]
    tab = tab.rename(columns={"new_episodes": "predicted"})
    with np.errstate(divide="ignore", invalid="ignore"):
        tab["ratio"] = tab["predicted"] / tab["actual"]
    tab["covered"] = (tab["ci_low"] <= tab["actual"]) & (tab["actual"] <= tab["ci_high"])
    return BacktestResult(tab[list(BACKTEST_COLUMNS)].reset_index(drop=True),
                          _outcomes(fc.relief, episodes, p, loans, month, horizon_months),
                          fc, month, horizon_months, level)


def _outcomes(relief: pd.DataFrame, episodes: pd.DataFrame, p: np.ndarray, loans: pd.Series,
              as_of: pd.Timestamp, horizon_months: int) -> pd.DataFrame:
    """Predicted (current practice) vs actual cures and losses over the horizon per family."""
    k = month_index(episodes["start_month"]) - month_number(as_of)
    keep = (k >= 1) & (k <= horizon_months) & episodes["loan_id"].isin(loans).to_numpy()
    ep = episodes.loc[keep]
    pk = p[keep]
    observed = ep["is_cured"].notna().to_numpy() if "is_cured" in ep else np.zeros(len(ep), bool)
    cured = ep["is_cured"].fillna(False).astype(bool).to_numpy() if "is_cured" in ep else observed
    loss = pd.to_numeric(ep.get("loss", pd.Series(0.0, index=ep.index)),
                         errors="coerce").fillna(0).to_numpy(float)
    cur = relief[(relief["policy"] == "current") & (relief["month"] == "")]
    rows = []
    for j, f in enumerate(FAMILIES):
        pred = cur[cur["family"] == f].set_index("quantity")["value"]
        rows.append({"family": f, "predicted_cures": float(pred.get("cures", np.nan)),
                     "actual_cures": float(pk[cured, j].sum()),
                     "predicted_loss_cny": float(pred.get("loss_cny", np.nan)),
                     "actual_loss_cny": float((pk[:, j] * loss).sum()),
                     "episodes_observed": float(pk[observed, j].sum()),
                     "episodes": float(pk[:, j].sum())})
    return pd.DataFrame(rows)


__all__ = ["actual_onsets", "backtest"]
