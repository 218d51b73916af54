"""Relief effects: doubly robust estimates, diagnostics, time to cure and losses."""

from analysis.effects.diagnostics import e_value_rr, placebo
from analysis.effects.estimators import (
    OUTCOMES,
    TABLE_COLUMNS,
    Followup,
    build_design,
    estimate_effects,
    fit_nuisance,
    fold_ids,
    outcome_frame,
)
from analysis.effects.losses import (
    NET_BENEFIT_COLUMNS,
    CostParameters,
    cost_matrix,
    episode_costs,
    net_benefit,
    typical_terms,
)
from analysis.effects.survival import aalen_johansen, analyse_time_to_cure, cox_cure_hazards

__all__ = [
    "CostParameters",
    "Followup",
    "NET_BENEFIT_COLUMNS",
    "OUTCOMES",
    "TABLE_COLUMNS",
    "aalen_johansen",
    "analyse_time_to_cure",
    "build_design",
    "cost_matrix",
    "cox_cure_hazards",
    "e_value_rr",
    "episode_costs",
    "estimate_effects",
    "fit_nuisance",
    "fold_ids",
    "net_benefit",
    "outcome_frame",
    "placebo",
    "typical_terms",
]
