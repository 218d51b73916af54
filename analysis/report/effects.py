"""Page 03's estimation step: the relief effects of some outcomes, one fit scope each call.

Why a step of its own: on a lender's full book (1.97M episodes on the 10M-loan synthetic
book) the three cross-fitted boosted estimates together outlast the report's per-cell
timeout (600 s), so the page estimates the primary outcome in one cell and cure with
loss rate in the next. Cure and loss rate are analysed on the same episodes, so inside
one :func:`analysis.effects.shared_fits` scope they share their propensity fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis.effects import EffectsResult, Followup, estimate_effects, shared_fits
from analysis.report.text.effects import outcome_name


def estimate_outcomes(ctx: Any, episodes: pd.DataFrame, outcomes: Sequence[str],
                      results: dict[str, EffectsResult], notes: list[str], *,
                      followup: Followup, **options: Any) -> None:
    """Estimate the effects on each of ``outcomes`` (:func:`analysis.effects.estimate_effects`
    with ``followup``, ``ctx.min_cell`` and ``options``) through ``ctx.attempt``; each
    result goes into ``results`` and its warnings into ``notes``, and an outcome the data
    do not allow adds the reason, in the report language, to ``notes``."""
    with shared_fits():
        for outcome in outcomes:
            result, reason = ctx.attempt(f"effects.{outcome}", estimate_effects, episodes, outcome,
                                         min_cell=ctx.min_cell, followup=followup, **options)
            if reason is None:
                results[outcome] = result
                notes.extend(result.warnings)
            else:
                notes.append(ctx.t("effects.text.no_estimate_note",
                                   outcome=outcome_name(ctx.t, outcome), reason=reason))


__all__ = ["estimate_outcomes"]
