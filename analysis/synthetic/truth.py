"""Ground-truth tables of the synthetic book: true effects and true cause shares.

Estimands (all computed from the exact per-episode potential-outcome probabilities,
so they carry no sampling noise of the realised outcomes):

- **population**: episodes whose data cover ``start + horizon_months + probation_months
  - 1`` (the months needed to know a horizon outcome; an administrative rule that does
  not look at outcomes). ``is_censored`` in ``truth/episodes.parquet`` flags the rest.
- ``cure``: ATE = mean over the population (of the segment) of ``p_cure[a] -
  p_cure[none]``; ATT = the same mean over episodes that received ``a``.
- ``loss_rate``: the same with ``exp_loss_rate`` (the expected *realised* loss rate,
  i.e. write-offs minus recoveries observed up to the data end, over EAD; this is what
  :func:`analysis.episodes.build_episodes` measures).
- ``sustained_cure`` (the primary re-default outcome, issue #15): cured within the
  horizon and no re-default in the following ``redefault_months``, over *all* episodes.
  ATE = mean of ``p_cure[a] (1 - p_redefault[a]) - p_cure[none] (1 - p_redefault[none])``
  over the *sustained population*: episodes whose data cover ``start + horizon_months +
  probation_months - 1 + redefault_months`` (``is_sustained_censored`` in
  ``truth/episodes.parquet`` flags the rest; the same calendar rule as
  ``is_sustained_cure`` in :mod:`analysis.episodes`). Why that population: the generator
  scales ``p_redefault`` by the months of the re-default window the loan can still use
  (``redefault_avail``, from its remaining term), and a re-default is realised only if
  its month falls before the data end; over episodes whose whole window is observed
  every drawn re-default is seen, so ``p_cure (1 - p_redefault)`` is exactly the
  probability that the measured ``is_sustained_cure`` is True. ATT: the same mean over
  the sustained population's episodes that received ``a``.
- ``redefault`` (kept as a *descriptive* contrast) is defined only among cured episodes,
  so the contrast reported is the re-default rate among the cured had everyone received
  ``a`` minus the same had nobody: ``E[p_cure_a p_redefault_a] / E[p_cure_a] -
  E[p_cure_none p_redefault_none] / E[p_cure_none]`` (means over the population or the
  treated). It mixes the effect on who cures with the effect on the cured, as any
  comparison among the cured does (a principal-strata quantity, not a causal effect of
  the measure on the cured).

``std_error``, ``ci_low`` and ``ci_high`` are empty (truth has no sampling error);
``n_treated`` / ``n_control`` count the population's episodes with the measure / with
none in the segment. Shares: the realised true family of all episodes (censored or
not), overall and by borrower type, industry, region and start month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.definitions import FAMILIES, MEASURES

EFFECT_COLUMNS = [
    "outcome", "measure", "estimand", "segment_type", "segment", "method", "estimate",
    "std_error", "ci_low", "ci_high", "n_treated", "n_control",
]
SHARE_COLUMNS = ["segment_type", "segment", "family", "share", "n_episodes"]


def _contrast(outcome: str, po: dict, a: int, sel: np.ndarray) -> float:
    if not sel.any():
        return float("nan")
    if outcome == "cure":
        return float(np.mean(po["p_cure"][sel, a] - po["p_cure"][sel, 0]))
    if outcome == "loss_rate":
        return float(np.mean(po["exp_loss_rate"][sel, a] - po["exp_loss_rate"][sel, 0]))
    if outcome == "sustained_cure":
        held = po["p_cure"][sel] * (1.0 - po["p_redefault"][sel])
        return float(np.mean(held[:, a] - held[:, 0]))
    pc, pr = po["p_cure"][sel], po["p_redefault"][sel]

    def rate(k: int) -> float:
        return float(np.sum(pc[:, k] * pr[:, k]) / np.sum(pc[:, k]))

    return rate(a) - rate(0)


def _segment_masks(observed: np.ndarray,
                   segments: dict[str, np.ndarray]) -> list[tuple[str, str, np.ndarray]]:
    """(segment type, segment, mask) for the whole population and every segment value."""
    seg_list = [("all", "all", observed)]
    for seg_type, values in segments.items():
        for v in pd.unique(values):
            seg_list.append((seg_type, v, observed & (values == v)))
    return seg_list


def true_effects(
    po: dict, arm: np.ndarray, observed: np.ndarray, segments: dict[str, np.ndarray],
    sustained_observed: np.ndarray | None = None,
) -> pd.DataFrame:
    """The true effects table. ``po``: arrays (e, 5) by arm (none first); ``arm``:
    assigned arm index per episode; ``observed``: horizon covered (cure, loss_rate,
    redefault); ``sustained_observed``: the longer sustained-cure window covered (None:
    no ``sustained_cure`` rows); ``segments``: ``{"cause_family": names,
    "borrower_type": names}`` per episode."""
    populations = {"cure": observed, "redefault": observed, "loss_rate": observed}
    if sustained_observed is not None:
        populations["sustained_cure"] = sustained_observed
    rows = []
    for outcome, population in populations.items():
        seg_list = _segment_masks(population, segments)
        for a, m in enumerate(MEASURES, start=1):
            for seg_type, seg, mask in seg_list:
                n_t = int(np.sum(mask & (arm == a)))
                n_c = int(np.sum(mask & (arm == 0)))
                for estimand, sel in (("ATE", mask), ("ATT", mask & (arm == a))):
                    rows.append((outcome, m, estimand, seg_type, str(seg), "truth",
                                 _contrast(outcome, po, a, sel), np.nan, np.nan, np.nan,
                                 n_t, n_c))
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    return out.sort_values(["outcome", "measure", "estimand", "segment_type", "segment"],
                           kind="stable").reset_index(drop=True)


def true_shares(family: np.ndarray, segments: dict[str, np.ndarray]) -> pd.DataFrame:
    """Share of episodes per true family, overall and per segment value."""
    fam = pd.Categorical(np.asarray(FAMILIES)[family], categories=list(FAMILIES))
    frames = []
    for seg_type, values in {"all": np.full(len(family), "all"), **segments}.items():
        tab = pd.crosstab(pd.Series(values, name="segment"), pd.Series(fam, name="family"),
                          dropna=False)
        n = tab.sum(axis=1)
        long = (tab.div(n, axis=0).stack().rename("share").reset_index()
                .merge(n.rename("n_episodes").reset_index(), on="segment"))
        long.insert(0, "segment_type", seg_type)
        frames.append(long)
    out = pd.concat(frames, ignore_index=True)[SHARE_COLUMNS]
    out["family"] = out["family"].astype(str)
    out["segment"] = out["segment"].astype(str)
    return out
