"""Episode outcome rates: cure, default, re-default, sustained cure, loss rate and LGD.

Cure, default, re-default and sustained-cure rates are proportions over episodes whose
outcome is known (``<NA>`` = censored, excluded from the denominator), with Wilson
intervals. The sustained-cure rate (cured within the horizon and no re-default in the
following ``redefault_months``, see :mod:`analysis.definitions`) is over *all* episodes
whose longer window is observed; the re-default rate is over cured episodes only, a
descriptive rate.
``loss_rate`` = sum(loss) / sum(ead) over uncensored episodes (balance-weighted), ``lgd``
the same over defaulted episodes; their intervals use the delta method for a ratio of
sums.

Known drawback: Wilson intervals and the delta-method interval assume independent
episodes; several episodes of one loan are positively correlated, so intervals are
somewhat too narrow when re-defaults are common.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from analysis.checks import require_columns
from analysis.errors import ParameterError
from analysis.kpis.segments import ALL, SEGMENT_KEYS

_PROPORTIONS = (
    ("cure_rate", "is_cured"),
    ("default_rate", "is_defaulted"),
    ("redefault_rate", "is_redefaulted"),
    ("sustained_cure_rate", "is_sustained_cure"),
)


def wilson_interval(
    k: np.ndarray, n: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (NaN where n == 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    ok = n > 0
    lo, hi = np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    if ok.any():
        lo[ok], hi[ok] = proportion_confint(k[ok], n[ok], alpha=1 - level, method="wilson")
    return lo, hi


def _ratio_rows(
    df: pd.DataFrame, mask: pd.Series, metric: str, level: float
) -> pd.DataFrame:
    """sum(loss) / sum(ead) per segment with a delta-method interval."""
    sub = df.loc[mask & df["loss"].notna() & df["ead"].notna(), [*SEGMENT_KEYS, "loss", "ead"]]
    sums = sub.groupby(SEGMENT_KEYS)[["loss", "ead"]].sum()
    sums["n"] = sub.groupby(SEGMENT_KEYS).size()
    ratio = sums["loss"] / sums["ead"].where(sums["ead"] > 0)
    resid = sub["loss"] - sub.join(ratio.rename("r"), on=SEGMENT_KEYS)["r"] * sub["ead"]
    ss = (resid**2).groupby([sub[k] for k in SEGMENT_KEYS]).sum()
    n = sums["n"].astype(float)
    se = np.sqrt(ss * n / (n - 1).where(n > 1)) / sums["ead"]
    z = stats.norm.ppf(0.5 + level / 2)
    return pd.DataFrame(
        {
            "metric": metric,
            "value": ratio,
            "ci_low": ratio - z * se,
            "ci_high": ratio + z * se,
            "n": sums["n"],
            "numerator": sums["loss"],
            "denominator": sums["ead"],
            "method": "ratio_delta",
        }
    ).reset_index()


def episode_outcome_rates(
    episodes: pd.DataFrame, by: str | None = None, level: float = 0.95
) -> pd.DataFrame:
    """Cure, default, re-default, sustained-cure and loss rates over episodes, with intervals.

    * ``cure_rate``, ``default_rate``, ``redefault_rate``, ``sustained_cure_rate``:
      proportions of True among episodes where ``is_cured`` / ``is_defaulted`` /
      ``is_redefaulted`` / ``is_sustained_cure`` is known (``<NA>`` = censored, excluded);
      Wilson interval at ``level``. A column absent from ``episodes`` gives no rows
      (``is_sustained_cure`` is new: episode tables saved before it have none).
    * ``loss_rate``: sum(loss) / sum(ead) over uncensored episodes (``is_censored`` False,
      or ``is_defaulted`` known when that column is absent); ``lgd``: the same over
      defaulted episodes (realised loss given default). Delta-method intervals.

    ``by`` is any episode column (``borrower_type``, ``industry``, ``region``, ``measure``,
    ...). Columns: ``segment_type``, ``segment``, ``metric``, ``value``, ``ci_low``,
    ``ci_high``, ``n`` (episodes in the denominator), ``numerator``, ``denominator``
    (events and n for proportions; sums of loss and ead, in currency, for the ratios),
    ``method``. A segment with no known outcome gets value NaN and n 0.
    """
    if not 0 < level < 1:
        raise ParameterError(f"level={level!r} must be in (0, 1)")
    require_columns(episodes, ["is_cured", "is_defaulted", "loss", "ead"], "episodes")
    df = episodes.copy()
    if by is None:
        df["segment_type"], df["segment"] = ALL, ALL
    else:
        if by not in df.columns:
            raise ParameterError(f"by={by!r} is not an episode column")
        df["segment_type"] = by
        df["segment"] = df[by].astype(object).where(df[by].notna(), "missing").astype(str)
    segs = df[SEGMENT_KEYS].drop_duplicates().set_index(SEGMENT_KEYS).index
    rows = []
    for metric, col in _PROPORTIONS:
        if col not in df.columns:
            continue
        flag = df[col].astype("boolean")
        known = flag.notna()
        grp = [df[k] for k in SEGMENT_KEYS]
        n = known.groupby(grp).sum().reindex(segs, fill_value=0)
        k = flag.fillna(False).astype(bool).groupby(grp).sum().reindex(segs, fill_value=0)
        lo, hi = wilson_interval(k.to_numpy(), n.to_numpy(), level)
        rows.append(
            pd.DataFrame(
                {
                    "metric": metric,
                    "value": (k / n.where(n > 0)).to_numpy(),
                    "ci_low": lo,
                    "ci_high": hi,
                    "n": n.to_numpy(),
                    "numerator": k.to_numpy().astype(float),
                    "denominator": n.to_numpy().astype(float),
                    "method": "wilson",
                },
                index=segs,
            ).reset_index()
        )
    if "is_censored" in df.columns:
        uncensored = ~df["is_censored"].astype("boolean").fillna(True).astype(bool)
    else:
        uncensored = df["is_defaulted"].astype("boolean").notna()
    defaulted = df["is_defaulted"].astype("boolean").fillna(False).astype(bool)
    for metric, mask in (("loss_rate", uncensored), ("lgd", defaulted)):
        part = _ratio_rows(df, mask, metric, level).set_index(SEGMENT_KEYS).reindex(segs)
        part["metric"], part["method"] = metric, "ratio_delta"
        part["n"] = part["n"].fillna(0)
        rows.append(part.reset_index())
    out = pd.concat(rows, ignore_index=True)
    out["n"] = out["n"].astype(np.int64)
    metrics = [p[0] for p in _PROPORTIONS] + ["loss_rate", "lgd"]
    out["metric"] = pd.Categorical(out["metric"], categories=metrics, ordered=True)
    out = out.sort_values([*SEGMENT_KEYS, "metric"], kind="stable")
    out["metric"] = out["metric"].astype(str)
    cols = [*SEGMENT_KEYS, "metric", "value", "ci_low", "ci_high", "n", "numerator", "denominator",
            "method"]
    return out[cols].reset_index(drop=True)
