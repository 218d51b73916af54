"""A forecast run on an equal-probability loan sample, scaled to the whole book (Dask books).

On the Dask engine the notebooks hold a loan-month sample of the book (``ctx.book``): every
loan whose hashed ID falls below the inclusion probability ``f``, with all its rows
(:mod:`analysis.dask.report_pass`). The forecast needs the loan-months of the loans
performing at ``as_of``, which at tens of millions of loans do not fit on the reporting
machine, so it runs on that sample and :func:`to_book` scales the result to the book.

Method
------
*Totals.* Every published quantity is a total over loans (new episodes, their EAD, relief
granted, its cost, cures, losses), so the book's total is estimated by the sample's total
times ``1 / f`` (Horvitz-Thompson; the design is self-weighting, each sampled loan stands
for ``1 / f`` loans). The expected counts are unbiased for what the same models would
forecast on every loan; the models themselves are fitted on the sample (hazards and
outcome models: their coefficients are estimated from ``f`` of the loans, so their
standard errors are about ``1 / sqrt(f)`` times those of a full fit, and the parameter
draws behind the intervals already carry that).

*Intervals.* The sample's interval of a simulated count, times ``1 / f``. Per draw the
sample's count is Poisson with mean ``E_s``, so the scaled count has variance
``E / f`` (``E = E_s / f``, the book's expected count). What the book's interval must
cover is the Monte Carlo of which of its loans go overdue (variance ``E``) plus the
sampling error of the estimate ``E_s / f``, which for a Bernoulli(``f``) sample of loans
with onset probabilities ``p_i`` is ``(1 - f) / f * sum p_i^2 <= (1 - f) / f * E``.
Their sum is at most ``E / f``: the scaled interval covers both, exactly when onsets are
near-certain and conservatively (wider) otherwise, which is the usual case (monthly onset
probabilities of a few per cent). Its relative half-width is about
``1.96 / sqrt(E_s)``: the precision of the sample's own count, stated on the page
(:func:`precision`).

Known drawbacks
---------------
Conservative intervals (see above); a family, region or industry with few sampled loans
has a wide interval; segments absent from the sample are absent from the forecast (the
scenario is validated against the sample's segments). The backtest is scaled the same
way: its predicted and actual counts are both the sample's, times ``1 / f``, so the
ratios and the coverage are those of the sample.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np
import pandas as pd

from analysis.errors import ParameterError
from analysis.scenarios.result import BacktestResult, ForecastResult

R = TypeVar("R", ForecastResult, BacktestResult)

#: Extensive columns (totals over loans) of each table, scaled by ``1 / f``.
SCALED: dict[str, tuple[str, ...]] = {
    "forecast": ("new_episodes", "ci_low", "ci_high", "expected_episodes", "ead_cny",
                 "ead_ci_low", "ead_ci_high"),
    "relief": ("value", "ci_low", "ci_high"),
    "backtest": ("predicted", "ci_low", "ci_high", "actual"),
    "outcomes": ("predicted_cures", "actual_cures", "predicted_loss_cny", "actual_loss_cny",
                 "episodes_observed", "episodes"),
}


def _scale(df: pd.DataFrame, columns: tuple[str, ...], w: float) -> pd.DataFrame:
    cols = [c for c in columns if c in df.columns]
    return df.assign(**{c: pd.to_numeric(df[c], errors="coerce") * w for c in cols})


def to_book(result: R, fraction: float) -> R:
    """``result`` of a forecast or backtest run on a loan sample of inclusion probability
    ``fraction``, scaled to the whole book (module docstring): counts, EAD, costs, cures
    and losses and their intervals times ``1 / fraction``; ratios and coverage unchanged;
    ``n_loans`` the book's estimated performing loans. ``fraction`` 1: ``result`` itself."""
    f = float(fraction)
    if not 0 < f <= 1:
        raise ParameterError(f"sample fraction {fraction!r}: must be in (0, 1]")
    if f == 1:
        return result
    w = 1.0 / f
    if isinstance(result, BacktestResult):
        return replace(result, table=_scale(result.table, SCALED["backtest"], w),
                       outcomes=_scale(result.outcomes, SCALED["outcomes"], w),
                       forecast=to_book(result.forecast, f))
    note = (f"Run on an equal-probability sample of loans (inclusion probability {f:.4f}); "
            f"totals and intervals scaled by 1/{f:.4f} (analysis.scenarios.sampled).")
    return replace(result, table=_scale(result.table, SCALED["forecast"], w),
                   relief=_scale(result.relief, SCALED["relief"], w),
                   n_loans=int(round(result.n_loans * w)), notes=(*result.notes, note))


def precision(result: ForecastResult) -> pd.DataFrame:
    """Per family, over the horizon: the forecast's relative interval half-width
    (``(ci_high - ci_low) / 2 / new_episodes``), the precision a page states for a
    sampled forecast (the same before and after :func:`to_book`)."""
    tot = result.totals()
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (tot["ci_high"] - tot["ci_low"]) / 2 / tot["new_episodes"]
    return pd.DataFrame({"family": tot["family"], "new_episodes": tot["new_episodes"],
                         "relative_half_width": rel})


__all__ = ["SCALED", "precision", "to_book"]
