"""Tables derived from an attribution: drivers of each family, comparison with the truth.

Part of :mod:`analysis.causes.attribution`; :func:`truth_comparison` is in the package face
:mod:`analysis.causes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.causes.model import OnsetModel
from analysis.causes.result import Attribution
from analysis.definitions import FAMILIES
from analysis.errors import InputError


def truth_comparison(
    att: Attribution, truth_episodes: pd.DataFrame, method: str | None = None
) -> pd.DataFrame:
    """Estimated portfolio shares and primary families against the true families.

    ``truth_episodes``: ``loan_id``, ``start_month``, ``family`` (``truth/episodes`` of a
    synthetic book). Episodes are matched on (loan_id, start_month); the true share is
    over the matched episodes. Returns one row per family (``true_share``, ``share``,
    ``ci_low``, ``ci_high``, ``error_pp`` in percentage points, ``covered``,
    ``recall``: share of the family's episodes whose primary family is right,
    ``n_episodes``) and a row ``all`` whose ``recall`` is the overall accuracy.
    """
    m = method or att.method
    if m != att.method:
        raise InputError("truth_comparison: per-episode families exist for the headline "
                         f"method {att.method!r} only")
    tru = truth_episodes[["loan_id", "start_month", "family"]].copy()
    tru["start_month"] = pd.to_datetime(tru["start_month"]) + pd.offsets.MonthEnd(0)
    pe = att.per_episode.assign(
        start_month=pd.to_datetime(att.per_episode["start_month"]) + pd.offsets.MonthEnd(0)
    )
    j = pe.merge(tru, on=["loan_id", "start_month"], how="inner")
    est = att.shares(method=m).set_index("family")
    rows = []
    for f in FAMILIES:
        is_f = j["family"] == f
        true_share = float(is_f.mean()) if len(j) else float("nan")
        share = float(est.loc[f, "share"])
        rows.append({
            "family": f,
            "true_share": true_share,
            "share": share,
            "ci_low": float(est.loc[f, "ci_low"]),
            "ci_high": float(est.loc[f, "ci_high"]),
            "error_pp": 100 * (share - true_share),
            "covered": bool(est.loc[f, "ci_low"] <= true_share <= est.loc[f, "ci_high"]),
            "recall": float((j.loc[is_f, "primary_family"] == f).mean()) if is_f.any()
            else float("nan"),
            "n_episodes": int(is_f.sum()),
        })
    rows.append({
        "family": "all", "true_share": 1.0, "share": 1.0, "ci_low": np.nan, "ci_high": np.nan,
        "error_pp": np.nan, "covered": np.nan,
        "recall": float((j["primary_family"] == j["family"]).mean()) if len(j) else np.nan,
        "n_episodes": len(j),
    })
    return pd.DataFrame(rows)


def drivers_table(onset: OnsetModel | None, z_sig: np.ndarray | None, level: float) -> pd.DataFrame:
    """Per signal: family, coefficient per SD with interval, odds ratio, contributions."""
    cols = ["family", "signal", "coef_per_sd", "ci_low", "ci_high", "odds_ratio", "p_value",
            "mean_contribution", "share_of_family"]
    if onset is None or z_sig is None:
        return pd.DataFrame(columns=cols)
    ct = onset.coef_table(level).set_index("term")
    names = list(onset.design.signals)
    beta = onset.signal_beta()
    contrib = z_sig * beta  # (n, k) log-odds contribution of each signal
    mean_c = contrib.mean(axis=0)
    pos = np.clip(contrib, 0, None).mean(axis=0)
    out = pd.DataFrame(
        {
            "family": [onset.design.signals[c] for c in names],
            "signal": names,
            "coef_per_sd": beta,
            "ci_low": ct.loc[names, "ci_low"].to_numpy(),
            "ci_high": ct.loc[names, "ci_high"].to_numpy(),
            "odds_ratio": np.exp(beta),
            "p_value": ct.loc[names, "p_value"].to_numpy(),
            "mean_contribution": mean_c,
            "_pos": pos,
        }
    )
    tot = out.groupby("family")["_pos"].transform("sum")
    out["share_of_family"] = np.divide(out["_pos"], tot, out=np.zeros(len(out)), where=tot > 0)
    out = out.drop(columns="_pos")
    fam_order = {f: i for i, f in enumerate(FAMILIES)}
    out = out.sort_values(["family", "share_of_family"], ascending=[True, False],
                          key=lambda s: s.map(fam_order) if s.name == "family" else s)
    return out.reset_index(drop=True)[cols]


__all__ = ["drivers_table", "truth_comparison"]
