"""Family shares by segment with loan-bootstrap intervals, and their trends over months.

Part of :mod:`analysis.causes.attribution` (read its docstring first).

Method
------
The share of family ``f`` in a segment is ``sum_e v_e p_ef / sum_e v_e`` over the
segment's episodes, ``p_ef`` the episode's probability of ``f`` and ``v_e`` its weight:
1 for the share of episodes, ``ead`` (balance at the start) for the share of overdue
balance.

*Bootstrap.* Each replicate gives every loan a Poisson(1) weight (the Poisson bootstrap,
equivalent to resampling loans with replacement for large books); all episodes of a loan
share its weight, so the dependence between episodes of one loan is kept. The per-episode
probabilities of a replicate are recomputed from a draw of the models' coefficients from
their asymptotic normal distribution (onset logit and label model), so the interval also
covers the estimation uncertainty of the models (a cheap stand-in for refitting them in
every replicate). For the latent model's ``combined`` shares the draw also imputes each
episode's family from its posterior (:meth:`analysis.causes.latent.LatentAttribution.draw_fn`),
so ``p`` is then one-hot. What the interval does not cover: the choice of the model, the
positive-part mapping of Shapley values to probabilities, and label noise in the reports.
Intervals are percentile intervals at ``level``. Shares are computed with ``bincount``
per family and segment type inside a loop over replicates (vectorised over episodes).

*Trends.* The slope of the monthly share on time (per 12 months, ordinary least squares
over the months with at least ``min_cell`` episodes), with its interval from the same
replicates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.definitions import FAMILIES

SEGMENT_TYPES: tuple[str, ...] = ("all", "month", "borrower_type", "industry", "region")


def segment_codes(frame: pd.DataFrame) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Segment type -> (code per episode, segment labels); episodes with no value get -1."""
    out: dict[str, tuple[np.ndarray, list[str]]] = {
        "all": (np.zeros(len(frame), dtype=int), ["all"])
    }
    for st in SEGMENT_TYPES[1:]:
        col = "start_month" if st == "month" else st
        if col not in frame.columns:
            continue
        values = frame[col]
        if st == "month":
            values = pd.to_datetime(values).dt.strftime("%Y-%m")
        codes, uniq = pd.factorize(values.astype("object"), sort=True)
        out[st] = (codes.astype(int), [str(u) for u in uniq])
    return out


def _shares_once(
    p: np.ndarray, w: np.ndarray, segs: dict[str, tuple[np.ndarray, list[str]]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Segment type -> (shares (n_seg, 3), weight totals (n_seg,))."""
    out = {}
    for st, (codes, labels) in segs.items():
        ok = codes >= 0
        c, ww = codes[ok], w[ok]
        den = np.bincount(c, weights=ww, minlength=len(labels))
        num = np.bincount(
            (c[:, None] * 3 + np.arange(3)).ravel(), weights=(ww[:, None] * p[ok]).ravel(),
            minlength=3 * len(labels),
        ).reshape(len(labels), 3)
        share = np.divide(num, den[:, None], out=np.full(num.shape, np.nan), where=den[:, None] > 0)
        out[st] = (share, den)
    return out


def bootstrap_shares(
    p: np.ndarray,
    value: np.ndarray,
    loan_codes: np.ndarray,
    segs: dict[str, tuple[np.ndarray, list[str]]],
    *,
    draw_p: Callable[[int], np.ndarray] | None,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
    min_cell: int,
    method: str,
    weight: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shares with percentile intervals and monthly trends.

    ``p``: ``(n, 3)`` per-episode probabilities; ``value``: per-episode weight (1 or
    ead); ``loan_codes``: 0..L-1 per episode; ``draw_p(b)``: the probabilities of
    replicate ``b`` (model draws), None to keep ``p`` fixed.

    Returns (shares table: segment_type, segment, family, share, ci_low, ci_high,
    n_episodes, method, weight; trends table: family, slope_per_year, ci_low, ci_high,
    n_months, method, weight). Shares of segments with fewer than ``min_cell`` episodes
    are NaN (suppressed).
    """
    point = _shares_once(p, value, segs)
    counts = {st: np.bincount(c[c >= 0], minlength=len(lbl)) for st, (c, lbl) in segs.items()}
    n_loans = int(loan_codes.max()) + 1 if len(loan_codes) else 0
    reps: dict[str, list[np.ndarray]] = {st: [] for st in segs}
    for b in range(n_boot):  # loop over replicates; work inside is vectorised
        lw = rng.poisson(1.0, n_loans).astype(float)
        pb = p if draw_p is None else draw_p(b)
        res = _shares_once(pb, value * lw[loan_codes], segs)
        for st in segs:
            reps[st].append(res[st][0])
    alpha = (1 - level) / 2
    rows = []
    for st, (_codes, labels) in segs.items():
        share = point[st][0]
        if n_boot:
            arr = np.stack(reps[st])  # (B, n_seg, 3)
            with warnings.catch_warnings():  # segments without episodes are all-NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                lo = np.nanquantile(arr, alpha, axis=0)
                hi = np.nanquantile(arr, 1 - alpha, axis=0)
        else:
            lo = hi = np.full(share.shape, np.nan)
        n = counts[st]
        small = n < min_cell
        for j, f in enumerate(FAMILIES):
            rows.append(
                pd.DataFrame(
                    {
                        "segment_type": st,
                        "segment": labels,
                        "family": f,
                        "share": np.where(small, np.nan, share[:, j]),
                        "ci_low": np.where(small, np.nan, lo[:, j]),
                        "ci_high": np.where(small, np.nan, hi[:, j]),
                        "n_episodes": np.where(small, np.nan, n.astype(float)),
                    }
                )
            )
    table = pd.concat(rows, ignore_index=True)
    table["method"] = method
    table["weight"] = weight
    order = {st: i for i, st in enumerate(SEGMENT_TYPES)}
    table = table.sort_values(
        ["segment_type", "segment", "family"],
        key=lambda s: s.map(order) if s.name == "segment_type" else s,
        kind="stable",
    ).reset_index(drop=True)
    trends = _trends(point, reps, counts, segs, level, min_cell, n_boot)
    trends["method"] = method
    trends["weight"] = weight
    return table, trends


def _trends(point, reps, counts, segs, level, min_cell, n_boot) -> pd.DataFrame:
    cols = ["family", "slope_per_year", "ci_low", "ci_high", "n_months"]
    if "month" not in segs:
        return pd.DataFrame(columns=cols)
    labels = segs["month"][1]
    ok = counts["month"] >= min_cell
    if ok.sum() < 3:
        return pd.DataFrame(columns=cols)
    t = pd.PeriodIndex(labels, freq="M").astype("int64").to_numpy()[ok].astype(float) / 12.0
    tc = t - t.mean()
    proj = tc / (tc @ tc)  # slope = proj @ share
    slope = proj @ point["month"][0][ok]  # (3,)
    if n_boot:
        arr = np.stack(reps["month"])[:, ok, :]  # (B, m, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            arr = np.where(np.isfinite(arr), arr, np.nanmean(arr, axis=0, keepdims=True))
        sb = np.einsum("m,bmj->bj", proj, arr)
        alpha = (1 - level) / 2
        lo, hi = np.quantile(sb, alpha, axis=0), np.quantile(sb, 1 - alpha, axis=0)
    else:
        lo = hi = np.full(3, np.nan)
    return pd.DataFrame(
        {"family": list(FAMILIES), "slope_per_year": slope, "ci_low": lo, "ci_high": hi,
         "n_months": int(ok.sum())}
    )
