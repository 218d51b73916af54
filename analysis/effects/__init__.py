"""Relief effects: doubly robust estimates, diagnostics, time to cure and losses."""

from analysis.effects.cells import ESTIMANDS, METHODS, TABLE_COLUMNS
from analysis.effects.design import (
    OUTCOMES,
    Design,
    Followup,
    build_design,
    default_covariates,
    outcome_frame,
    segment_column,
)
from analysis.effects.diagnostics import e_value_rr, placebo
from analysis.effects.estimators import EffectsResult, estimate_effects
from analysis.effects.losses import (
    NET_BENEFIT_COLUMNS,
    CostParameters,
    NetBenefitResult,
    cost_matrix,
    episode_costs,
    net_benefit,
    typical_terms,
)
from analysis.effects.nuisance import Nuisance, fit_nuisance, fold_ids
from analysis.effects.survival import (
    SurvivalResult,
    aalen_johansen,
    analyse_time_to_cure,
    cox_cure_hazards,
)

__all__ = [
    "CostParameters",
    "Design",
    "ESTIMANDS",
    "EffectsResult",
    "Followup",
    "METHODS",
    "NET_BENEFIT_COLUMNS",
    "NetBenefitResult",
    "Nuisance",
    "OUTCOMES",
    "SurvivalResult",
    "TABLE_COLUMNS",
    "aalen_johansen",
    "analyse_time_to_cure",
    "build_design",
    "cost_matrix",
    "cox_cure_hazards",
    "default_covariates",
    "e_value_rr",
    "episode_costs",
    "estimate_effects",
    "fit_nuisance",
    "fold_ids",
    "net_benefit",
    "outcome_frame",
    "placebo",
    "segment_column",
    "typical_terms",
]
