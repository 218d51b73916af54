"""Re-default among the cured, as a descriptive rate only.

Why not an effect: re-default is observed only for episodes that cured, and cure is
itself an outcome of the measure. Comparing re-default between arms among the cured
compares different principal strata (episodes that cure under ``a`` with episodes that
cure under ``none``), so a difference mixes the measure's effect on *who* cures with its
effect on the cured, and no adjustment for start-of-episode covariates removes that.
The causal contrast is ``sustained_cure`` (cured and not re-defaulted, over every
episode whose window is observed), estimated by :func:`analysis.effects.estimate_effects`.

:func:`redefault_rates` gives, per measure, the share of cured episodes (whose
``redefault_months`` after the cure the data cover) that defaulted again: a description
of what happened, labelled ``descriptive``. Cells with fewer than ``min_cell`` cured
episodes show no rate and no count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.effects.design import DEFAULT_FOLLOWUP, Followup, check_frame, outcome_frame

REDEFAULT_COLUMNS = ("measure", "estimand", "n_cured", "n_redefaulted", "redefault_rate", "status")


def redefault_rates(episodes: pd.DataFrame, followup: Followup | None = DEFAULT_FOLLOWUP,
                    min_cell: int = 10) -> pd.DataFrame:
    """Re-default rate (fraction) among the cured, per measure: descriptive, not causal.

    Columns :data:`REDEFAULT_COLUMNS`; ``estimand`` is always ``descriptive``; ``status``
    ``ok`` or ``too_few`` (fewer than ``min_cell`` cured episodes: rate and counts hidden).
    """
    check_frame(episodes)
    rows, y, _ = outcome_frame(episodes, "redefault", followup)
    g = pd.DataFrame({"measure": rows["measure"].astype("string").to_numpy(), "y": y})
    agg = g.groupby("measure").agg(n_cured=("y", "size"), n_redefaulted=("y", "sum")).reset_index()
    agg["redefault_rate"] = agg["n_redefaulted"] / agg["n_cured"]
    small = agg["n_cured"] < min_cell
    agg["status"] = np.where(small, "too_few", "ok")
    agg[["n_cured", "n_redefaulted", "redefault_rate"]] = agg[
        ["n_cured", "n_redefaulted", "redefault_rate"]].astype(float).mask(small)
    agg.insert(1, "estimand", "descriptive")
    return agg[list(REDEFAULT_COLUMNS)]
