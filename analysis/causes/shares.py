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
Intervals are percentile intervals at ``level``. Shares of every segment type are two
sparse products (:class:`SegmentSums`) inside a loop over replicates (vectorised over
episodes); each replicate's probabilities are drawn once and serve both weights.

*Trends.* The slope of the monthly share on time (per 12 months, ordinary least squares
over the months with at least ``min_cell`` episodes), with its interval from the same
replicates.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.definitions import FAMILIES
from analysis.progress import progress

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


class SegmentSums:
    """Weighted sums per segment of every segment type in one sparse product.

    ``matrix``: ``(S, n)`` indicator of episode ``e`` in segment row ``s`` (the segments
    of all types stacked, ``offsets`` where each type starts); an episode without a value
    for a type (code -1) is in no row of that type.
    """

    def __init__(self, segs: dict[str, tuple[np.ndarray, list[str]]]) -> None:
        self.segs = segs
        rows, cols, offsets, start = [], [], {}, 0
        for st, (codes, labels) in segs.items():
            ok = np.flatnonzero(codes >= 0)
            rows.append(codes[ok] + start)
            cols.append(ok)
            offsets[st] = start
            start += len(labels)
        n = len(next(iter(segs.values()))[0]) if segs else 0
        r, c = np.concatenate(rows or [[]]), np.concatenate(cols or [[]])
        self.matrix = sp.csr_matrix((np.ones(len(r)), (r.astype(np.int64), c.astype(np.int64))),
                                    shape=(start, n))
        self.offsets = offsets
        self.n_rows = start

    def shares(self, p: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``(S, 3)`` weighted shares ``sum w p / sum w`` per segment row (NaN if no weight)."""
        den = self.matrix @ w
        num = self.matrix @ (w[:, None] * p)
        return np.divide(num, den[:, None], out=np.full(num.shape, np.nan),
                         where=den[:, None] > 0)

    def split(self, stacked: np.ndarray) -> dict[str, np.ndarray]:
        """Segment type -> its rows of ``stacked`` (segments on the second-to-last axis)."""
        out = {}
        for st, (_c, labels) in self.segs.items():
            o = self.offsets[st]
            out[st] = stacked[..., o:o + len(labels), :]
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
    """Shares with percentile intervals and monthly trends, for one weight.

    ``p``: ``(n, 3)`` per-episode probabilities; ``value``: per-episode weight (1 or
    ead); ``loan_codes``: 0..L-1 per episode; ``draw_p(b)``: the probabilities of
    replicate ``b`` (model draws), None to keep ``p`` fixed.

    Returns (shares table: segment_type, segment, family, share, ci_low, ci_high,
    n_episodes, method, weight; trends table: family, slope_per_year, ci_low, ci_high,
    n_months, method, weight). Shares of segments with fewer than ``min_cell`` episodes
    are NaN (suppressed). :func:`bootstrap_share_tables` does several weights at once.
    """
    return bootstrap_share_tables(p, {weight: value}, loan_codes, segs, draw_p=draw_p,
                                  n_boot=n_boot, level=level, rngs={weight: rng},
                                  min_cell=min_cell, method=method)


def bootstrap_share_tables(
    p: np.ndarray,
    values: dict[str, np.ndarray],
    loan_codes: np.ndarray,
    segs: dict[str, tuple[np.ndarray, list[str]]],
    *,
    draw_p: Callable[[int], np.ndarray] | None,
    n_boot: int,
    level: float,
    rngs: dict[str, np.random.Generator],
    min_cell: int,
    method: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`bootstrap_shares` for several weights (name -> per-episode weight), each with
    its own Poisson stream ``rngs[name]``, sharing each replicate's ``draw_p(b)`` (drawn
    once, not once per weight); the tables of all weights, stacked in ``values`` order.

    Cost: per replicate one draw of ``p`` and, per weight, ``L`` Poisson draws and two
    sparse products over the ``n`` episodes: linear in episodes, whatever the loan-months.
    """
    index = SegmentSums(segs)
    counts = {st: np.bincount(c[c >= 0], minlength=len(lbl)) for st, (c, lbl) in segs.items()}
    n_loans = int(loan_codes.max()) + 1 if len(loan_codes) else 0
    reps: dict[str, list[np.ndarray]] = {w: [] for w in values}
    for b in progress(range(n_boot), "cause shares: bootstrap"):  # work inside is vectorised
        pb = p if draw_p is None else draw_p(b)
        for w, v in values.items():
            lw = rngs[w].poisson(1.0, n_loans).astype(float)
            reps[w].append(index.shares(pb, v * lw[loan_codes]))
    tables, trends = [], []
    for w, v in values.items():
        point = index.split(index.shares(p, v))
        rep_st = (index.split(np.stack(reps[w])) if n_boot
                  else {st: np.empty((0, len(lbl), 3)) for st, (_c, lbl) in segs.items()})
        table = _share_table(point, rep_st, counts, segs, level, min_cell, n_boot)
        trend = _trends(point, rep_st, counts, segs, level, min_cell, n_boot)
        for t in (table, trend):
            t["method"] = method
            t["weight"] = w
        tables.append(table)
        trends.append(trend)
    return pd.concat(tables, ignore_index=True), pd.concat(trends, ignore_index=True)


def _percentiles(arr: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``alpha`` and ``1 - alpha`` quantiles over replicates (axis 0), ignoring NaN
    (segments without weight in a replicate): ``np.quantile`` where no replicate is NaN,
    the slower ``np.nanquantile`` only for the other cells (the same numbers)."""
    lo = np.quantile(arr, alpha, axis=0)
    hi = np.quantile(arr, 1 - alpha, axis=0)
    gaps = np.isnan(arr).any(axis=0)
    if gaps.any():
        with warnings.catch_warnings():  # segments without episodes are all-NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            lo[gaps] = np.nanquantile(arr[:, gaps], alpha, axis=0)
            hi[gaps] = np.nanquantile(arr[:, gaps], 1 - alpha, axis=0)
    return lo, hi


def _share_table(point: dict[str, np.ndarray], reps: dict[str, np.ndarray],
                 counts: dict[str, np.ndarray], segs: dict[str, tuple[np.ndarray, list[str]]],
                 level: float, min_cell: int, n_boot: int) -> pd.DataFrame:
    """Long table of shares with percentile intervals; small segments suppressed."""
    alpha = (1 - level) / 2
    rows = []
    for st, (_codes, labels) in segs.items():
        share = point[st]
        if n_boot:
            lo, hi = _percentiles(reps[st], alpha)  # reps: (B, n_seg, 3)
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
    order = {st: i for i, st in enumerate(SEGMENT_TYPES)}
    return table.sort_values(
        ["segment_type", "segment", "family"],
        key=lambda s: s.map(order) if s.name == "segment_type" else s,
        kind="stable",
    ).reset_index(drop=True)


def _trends(point: dict[str, np.ndarray], reps: dict[str, np.ndarray],
            counts: dict[str, np.ndarray], segs: dict[str, tuple[np.ndarray, list[str]]],
            level: float, min_cell: int, n_boot: int) -> pd.DataFrame:
    """Slope per year of each family's monthly share (OLS over months with at least
    ``min_cell`` episodes) with its percentile interval over the replicates."""
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
    slope = proj @ point["month"][ok]  # (3,)
    if n_boot:
        arr = reps["month"][:, ok, :]  # (B, m, 3)
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
