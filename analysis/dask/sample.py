"""A weighted, stratified sample of the episode table for models that do not fit in memory.

The models (cause attribution, relief effects, targeting) run in pandas on the episode
table. At tens of millions of loans the table may hold millions of episodes; when a model
cannot take them all, :func:`sample_episodes` draws a stratified random sample with
design weights, and :class:`SampleDesign` says what precision that costs.

Method
------
* **Strata**: ``measure`` x outcome, the outcome being ``exit_type`` (cure / default /
  open) and whether the horizon outcome is censored, so each relief arm and each outcome
  keeps its share exactly (the weighted counts of every stratum equal the full counts).
* **Allocation**: proportional to stratum size, except that a stratum is kept whole when
  it has at most ``min_per_stratum`` episodes or its proportional share would exceed its
  size, and no stratum gets fewer than ``min_per_stratum`` (rare arm x outcome cells, such
  as counselling followed by default, are over-sampled so that per-arm models still see
  them). The remaining budget is shared proportionally among the other strata.
* **Draw**: simple random sampling without replacement within each stratum (seeded
  ``numpy`` generator); weight = N_h / n_h (episodes represented per sampled episode).

Precision
---------
For a weighted mean or proportion of a column, :func:`stratified_mean` gives the
stratified estimator and its standard error
``sqrt(sum_h W_h^2 (1 - n_h/N_h) s_h^2 / n_h)`` (W_h = N_h / N, s_h the within-stratum
standard deviation). :class:`SampleDesign` reports Kish's effective sample size
``n_eff = (sum w)^2 / sum w^2`` and the standard-error inflation relative to using all N
episodes, ``sqrt(N / n_eff)``, the usual summary of what a weighted sample costs a
regression (estimators whose variance falls as 1/n).

Assumptions and known drawbacks
-------------------------------
Models must use the weights (weighted likelihood or weighted estimating equations) to
estimate population quantities; robust (sandwich) standard errors then account for the
weights, but not for the finite-population correction (conservative). Kish's n_eff
ignores the gain from stratifying on the outcome, so ``se_inflation`` is an upper-ish
summary for means of outcome-related columns and about right for covariate effects.
Several episodes of one loan may be sampled independently (no clustering by loan).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import InputError, ParameterError

STRATA_COLUMNS: tuple[str, ...] = ("measure", "exit_type", "is_censored")


@dataclass(frozen=True)
class SampleDesign:
    """What a sample of the episode table is and what it costs in precision.

    ``table``: one row per stratum (``measure``, ``exit_type``, ``is_censored``,
    ``n_population``, ``n_sample``, ``weight``). ``summary()``: ``n_population``,
    ``n_sample``, ``sampling_fraction``, ``n_effective`` (Kish), ``se_inflation``
    (sqrt(N / n_eff): standard errors of a model fitted on the weighted sample are
    about this many times those on all episodes).
    """

    table: pd.DataFrame
    seed: int

    def summary(self) -> pd.DataFrame:
        n_pop = int(self.table["n_population"].sum())
        n = int(self.table["n_sample"].sum())
        w = self.table["weight"].to_numpy(dtype=float)
        k = self.table["n_sample"].to_numpy(dtype=float)
        n_eff = float((w @ k) ** 2 / (w**2 @ k)) if n else 0.0
        return pd.DataFrame(
            {
                "metric": ["n_population", "n_sample", "sampling_fraction", "n_effective",
                           "se_inflation"],
                "value": [n_pop, n, n / n_pop if n_pop else np.nan, n_eff,
                          np.sqrt(n_pop / n_eff) if n_eff else np.nan],
            }
        )

    def _repr_html_(self) -> str:
        return self.summary().to_html(index=False) + self.table.to_html(index=False)


def _strata(episodes: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in STRATA_COLUMNS if c not in episodes.columns]
    if missing:
        raise InputError(f"episode table: missing column(s) {missing} needed for the strata")
    out = pd.DataFrame(index=episodes.index)
    for c in STRATA_COLUMNS:
        out[c] = episodes[c].astype(object).where(episodes[c].notna(), "missing").astype(str)
    return out


def allocate(sizes: np.ndarray, max_rows: int, min_per_stratum: int) -> np.ndarray:
    """Sample size per stratum: proportional, take-all for small strata, a floor of
    ``min_per_stratum``; the total is at most ``max_rows`` (unless the floors exceed it)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    n = np.zeros_like(sizes)
    fixed = sizes <= min_per_stratum
    n[fixed] = sizes[fixed]
    for _ in range(len(sizes) + 1):  # a handful of strata: a few rounds
        free = np.flatnonzero(~fixed)
        if len(free) == 0:
            break
        budget = max(int(max_rows - n[fixed].sum()), 0)
        share = np.floor(budget * sizes[free] / sizes[free].sum()).astype(np.int64)
        whole = share >= sizes[free]
        floor = share < min_per_stratum
        if not (whole.any() or floor.any()):
            n[free] = share
            break
        n[free[whole]] = sizes[free[whole]]
        n[free[floor & ~whole]] = min_per_stratum
        fixed[free[whole | floor]] = True
    return np.minimum(n, sizes)


def sample_episodes(
    episodes: pd.DataFrame,
    max_rows: int,
    seed: int,
    *,
    min_per_stratum: int = 500,
) -> tuple[pd.DataFrame, pd.Series]:
    """A stratified random sample of at most about ``max_rows`` episodes and its weights.

    Returns ``(sample, weights)``: ``sample`` keeps the columns and index of
    ``episodes`` (rows in their original order); ``weights`` (float, same index, name
    ``weight``) is N_h / n_h, the number of episodes each sampled one stands for. When
    the table has at most ``max_rows`` rows it is returned whole with weight 1. The
    design (strata, sizes, precision) is in ``sample.attrs["design"]``, a
    :class:`SampleDesign`. Deterministic for a ``seed``.
    """
    if int(max_rows) < 1:
        raise ParameterError(f"max_rows={max_rows!r} must be >= 1")
    if int(min_per_stratum) < 1:
        raise ParameterError(f"min_per_stratum={min_per_stratum!r} must be >= 1")
    strata = _strata(episodes)
    codes, keys = pd.factorize(pd.MultiIndex.from_frame(strata), sort=True)
    sizes = np.bincount(codes, minlength=len(keys))
    if len(episodes) <= max_rows:
        n_h = sizes.copy()
    else:
        n_h = allocate(sizes, int(max_rows), int(min_per_stratum))
    rng = np.random.default_rng(seed)
    u = rng.random(len(episodes))
    order = np.lexsort((u, codes))  # random order within each stratum
    start = np.r_[0, np.cumsum(sizes)[:-1]]
    rank = np.empty(len(episodes), dtype=np.int64)
    rank[order] = np.arange(len(episodes)) - np.repeat(start, sizes)
    keep = rank < n_h[codes]
    weight_h = np.divide(sizes, n_h, out=np.zeros(len(sizes)), where=n_h > 0)
    sample = episodes.loc[keep].copy()
    weights = pd.Series(weight_h[codes[keep]], index=sample.index, name="weight")
    design = pd.DataFrame(list(keys), columns=list(STRATA_COLUMNS))
    design["n_population"] = sizes
    design["n_sample"] = n_h
    design["weight"] = weight_h
    sample.attrs["design"] = SampleDesign(design, int(seed))
    return sample, weights


def stratified_mean(
    sample: pd.DataFrame, weights: pd.Series, column: str, level: float = 0.95
) -> pd.Series:
    """Weighted mean of ``column`` (a proportion for a 0/1 or boolean column; missing
    values dropped) with the stratified standard error and a normal interval at
    ``level``: ``estimate, se, ci_low, ci_high, n``."""
    from scipy import stats

    design = sample.attrs.get("design")
    if design is None:
        raise InputError("sample has no design: draw it with sample_episodes")
    y = pd.to_numeric(sample[column].astype("Float64"), errors="coerce")
    ok = y.notna().to_numpy()
    strata = _strata(sample)
    key = pd.MultiIndex.from_frame(design.table[list(STRATA_COLUMNS)].astype(str))
    h = key.get_indexer(pd.MultiIndex.from_frame(strata))
    yv = y.to_numpy(dtype=float, na_value=np.nan)[ok]
    h = h[ok]
    n_pop = design.table["n_population"].to_numpy(dtype=float)
    n_h = np.bincount(h, minlength=len(n_pop)).astype(float)
    sum_h = np.bincount(h, weights=yv, minlength=len(n_pop))
    sq_h = np.bincount(h, weights=yv**2, minlength=len(n_pop))
    mean_h = np.divide(sum_h, n_h, out=np.zeros_like(sum_h), where=n_h > 0)
    var_h = np.divide(sq_h - n_h * mean_h**2, n_h - 1, out=np.zeros_like(sum_h), where=n_h > 1)
    # population stratum sizes among non-missing values, estimated by the sampled share
    n_all = design.table["n_sample"].to_numpy(dtype=float)
    pop_h = np.divide(n_pop * n_h, n_all, out=np.zeros_like(n_pop), where=n_all > 0)
    w_h = pop_h / pop_h.sum()
    w = weights.to_numpy(dtype=float)[ok]
    est = float(w @ yv / w.sum()) if len(yv) else np.nan  # = sum_h W_h * mean_h
    fpc = np.divide(n_h, pop_h, out=np.ones_like(n_h), where=pop_h > 0)
    se = float(np.sqrt(np.sum(np.divide(w_h**2 * (1 - fpc) * var_h, n_h,
                                        out=np.zeros_like(n_h), where=n_h > 0))))
    z = stats.norm.ppf(0.5 + level / 2)
    return pd.Series({"estimate": est, "se": se, "ci_low": est - z * se,
                      "ci_high": est + z * se, "n": int(ok.sum())})
