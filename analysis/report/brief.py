"""The management brief's numbers: this month beside the published history.

The summary page (notebook 00) runs inside a report run, before the run is recorded in
``reports/history.sqlite`` (:mod:`analysis.report.history`). So every series here is the
*history of earlier published months* plus *this run's month* from its own tables: the
latest successful run of each earlier month, and this month as it is being published
(a month published before is replaced by this run's figures, never shown twice).

* :func:`reports_dir`: where the history is (``$OVERDUE_RELIEF_REPORTS_DIR``, else the
  reports folder a report run's ``tables_dir`` sits in: ``reports/.staging-<run>/tables``);
* :func:`metric_trend`: the headline rates over the published months;
* :func:`kpi_changes`: each whole-book KPI with its change since the previous published month;
* :func:`estimate_trend`: the headline effect estimates over the published months;
* :func:`republished`: the months published more than once whose figures changed.

Outside a report run (an analyst's notebook) there is usually no history: the series
then hold this month only, and the page says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.report.history import (
    HISTORY_FILE,
    headline_estimates,
    latest_estimates,
    latest_metrics,
    republished_months,
)

#: Environment variable naming the reports folder whose history the summary reads.
REPORTS_ENV = "OVERDUE_RELIEF_REPORTS_DIR"
#: The rates of the trend chart: overdue (share of balance), cure and loss.
TREND_METRICS: tuple[str, ...] = ("overdue_rate_balance", "cure_rate", "loss_rate")
TREND_COLUMNS: tuple[str, ...] = ("as_of", "metric", "value", "n", "is_current")
CHANGE_COLUMNS: tuple[str, ...] = ("metric", "value", "n", "previous", "previous_month", "change")


def reports_dir(tables_dir: str | os.PathLike) -> Path | None:
    """The reports folder holding ``history.sqlite``: ``$OVERDUE_RELIEF_REPORTS_DIR`` when
    set, else the grandparent of ``tables_dir`` when it holds a history (a report run
    writes its tables to ``reports/.staging-<run id>/tables``); None otherwise."""
    env = os.environ.get(REPORTS_ENV, "")
    if env:
        return Path(env)
    candidate = Path(tables_dir).resolve().parent.parent
    return candidate if (candidate / HISTORY_FILE).exists() else None


def _earlier(frame: pd.DataFrame, as_of: str, report_segment: str) -> pd.DataFrame:
    """History rows of the months before ``as_of`` for the report segment."""
    if frame.empty:
        return frame
    return frame[(frame["as_of"] < as_of) & (frame["report_segment"] == report_segment)]


def metric_trend(kpis: pd.DataFrame, as_of: str, history: Path | None,
                 report_segment: str = "", metrics: tuple[str, ...] = TREND_METRICS
                 ) -> pd.DataFrame:
    """Whole-book values of ``metrics`` for every published month up to ``as_of``.

    ``kpis``: this run's headline KPIs (``tables/kpis.csv``, suppressed); ``as_of``:
    ``YYYY-MM``; ``history``: the reports folder (:func:`reports_dir`) or None. Columns
    :data:`TREND_COLUMNS` (``value`` a fraction, NaN when suppressed; ``is_current`` marks
    this run's month), months ascending.
    """
    cur = kpis[(kpis["segment_type"] == "all") & kpis["metric"].isin(metrics)]
    now = pd.DataFrame({"as_of": as_of, "metric": cur["metric"], "value": cur["value"],
                        "n": cur["n"], "is_current": True})
    parts = [now]
    if history is not None:
        past = _earlier(latest_metrics(history, "all"), as_of, report_segment)
        past = past[past["metric"].isin(metrics)]
        parts.insert(0, past.assign(is_current=False)[list(TREND_COLUMNS)])
    out = pd.concat([p for p in parts if len(p)] or [now], ignore_index=True)
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out.sort_values(["as_of", "metric"]).reset_index(drop=True)[list(TREND_COLUMNS)]


def kpi_changes(kpis: pd.DataFrame, as_of: str, history: Path | None,
                report_segment: str = "") -> pd.DataFrame:
    """Every whole-book KPI of this run with its change since the previous published month.

    Columns :data:`CHANGE_COLUMNS`: ``value`` and ``n`` this month, ``previous`` (the
    latest successful run of the last published month before ``as_of``; NaN without one),
    ``previous_month`` (``YYYY-MM`` or ""), ``change`` = value - previous (a difference of
    fractions for rates, of counts or CNY otherwise).
    """
    cur = kpis[kpis["segment_type"] == "all"][["metric", "value", "n"]].copy()
    cur["value"] = pd.to_numeric(cur["value"], errors="coerce")
    past = (_earlier(latest_metrics(history, "all"), as_of, report_segment)
            if history is not None else pd.DataFrame(columns=["as_of", "metric", "value"]))
    prev_month = str(past["as_of"].max()) if len(past) else ""
    prev = (past[past["as_of"] == prev_month].set_index("metric")["value"] if prev_month
            else pd.Series(dtype=float))
    cur["previous"] = pd.to_numeric(cur["metric"].map(prev), errors="coerce")
    cur["previous_month"] = prev_month
    cur["change"] = cur["value"] - cur["previous"]
    return cur.reset_index(drop=True)[list(CHANGE_COLUMNS)]


def estimate_trend(effects: pd.DataFrame | None, as_of: str, history: Path | None,
                   report_segment: str = "") -> pd.DataFrame:
    """The headline effect estimates (:func:`analysis.report.history.headline_estimates`)
    of every published month up to ``as_of``: earlier months from the history, this month
    from this run's ``effects`` table. Columns ``as_of``, ``is_current`` and
    :data:`analysis.report.history.ESTIMATE_COLUMNS` (risk differences, fractions)."""
    now = headline_estimates(effects).assign(as_of=as_of, is_current=True)
    parts = [now]
    if history is not None:
        past = _earlier(latest_estimates(history), as_of, report_segment)
        parts.insert(0, past.drop(columns=["run_id", "report_segment"]).assign(is_current=False))
    parts = [p for p in parts if len(p)]
    if not parts:
        return now
    out = pd.concat(parts, ignore_index=True)
    for c in ("estimate", "ci_low", "ci_high"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out.sort_values(["as_of", "outcome", "measure"]).reset_index(drop=True)


def republished(kpis: pd.DataFrame, as_of: str, history: Path | None,
                report_segment: str = "", tolerance: float = 1e-9) -> pd.DataFrame:
    """Months whose published figures changed when published again (late data, new
    definitions): earlier months published twice with different whole-book metrics
    (:func:`analysis.report.history.republished_months`), and ``as_of`` itself when this
    run's ``kpis`` differ from its earlier publication. Columns ``as_of``, ``metrics``
    (changed metric names, comma-separated); empty without a history."""
    columns = ["as_of", "metrics"]
    if history is None:
        return pd.DataFrame(columns=columns)
    rep = republished_months(history, report_segment)
    rows = rep[rep["changed"].astype(bool) & (rep["as_of"] < as_of)][columns]
    before = latest_metrics(history, "all")
    before = before[(before["as_of"] == as_of) & (before["report_segment"] == report_segment)]
    if len(before):
        now = kpis[kpis["segment_type"] == "all"].set_index("metric")["value"]
        both = pd.concat([before.set_index("metric")["value"].rename("before"),
                          pd.to_numeric(now, errors="coerce").rename("now")], axis=1)
        diff = ~(((both["before"] - both["now"]).abs() <= tolerance)
                 | (both["before"].isna() & both["now"].isna()))
        if diff.any():
            rows = pd.concat([rows, pd.DataFrame(
                {"as_of": [as_of], "metrics": [",".join(sorted(both.index[diff]))]})])
    return rows.reset_index(drop=True)


def months_shown(trend: pd.DataFrame) -> int:
    """How many months a trend table covers."""
    return int(np.unique(trend["as_of"]).size) if len(trend) else 0


__all__ = ["CHANGE_COLUMNS", "REPORTS_ENV", "TREND_COLUMNS", "TREND_METRICS", "estimate_trend",
           "kpi_changes", "metric_trend", "months_shown", "reports_dir", "republished"]
