"""The causes join: each episode's attributed family, for the analyses that use it.

Targeting learns its rules per cause; :func:`with_cause` adds ``primary_family`` from
:func:`analysis.causes.attribute` to an episode table. When the attribution was fitted on
a loan sample (a large Dask book), ``inputs`` lets its fitted models attribute the other
episodes too (:func:`analysis.causes.scorer.attribute_episodes`).
"""

from __future__ import annotations

import pandas as pd

from analysis.causes.attribution import attribute
from analysis.causes.inputs import AttributionUnavailable
from analysis.causes.result import Attribution
from analysis.causes.scorer import attribute_episodes
from analysis.data.book import Book
from analysis.definitions import Definitions


def with_cause(book: Book, episodes: pd.DataFrame, definitions: Definitions | None = None,
               seed: int = 0, attribution: Attribution | None = None,
               inputs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """``episodes`` with ``primary_family`` from the cause attribution (unless present);
    falls back to the reported family when attribution is impossible (message returned).
    ``attribution``: an :class:`analysis.causes.result.Attribution` of ``book`` and ``episodes``
    already computed (the report run's, ``ReportContext.with_cause``). ``inputs``: the
    attribution inputs of episodes it was not fitted on (``loan_id``, ``month``, covariates,
    ``reported_family``; :func:`analysis.dask.report_pass.episode_inputs`): those episodes
    are attributed by its fitted models; the episodes it was fitted on keep its result."""
    if "primary_family" in episodes:
        return episodes, ""
    try:
        att = attribution if attribution is not None else attribute(
            book, episodes, definitions=definitions, n_boot=0, seed=seed)
    except AttributionUnavailable as exc:
        return episodes, f"cause attribution unavailable ({exc}); the reported family is used"
    cols = ["loan_id", "start_month", "primary_family"]
    # loan ids as strings before the concat: the de-duplication must see the attributed and
    # the scored copy of an episode as equal whatever dtype each source gave its ids
    # (categorical of integers, object strings, ...)
    as_string = {"loan_id": "string"}
    pe = att.per_episode[cols].astype(as_string)
    if inputs is not None and getattr(att, "scorer", None) is not None:
        scored = attribute_episodes(att.scorer, inputs)[cols].astype(as_string)
        pe = pd.concat([pe, scored], ignore_index=True).drop_duplicates(cols[:2])
    keys = episodes[["loan_id", "start_month"]].astype(as_string)
    merged = keys.merge(pe, on=["loan_id", "start_month"], how="left")
    out = episodes.copy()
    out["primary_family"] = merged["primary_family"].to_numpy()
    return out, ""


__all__ = ["with_cause"]
