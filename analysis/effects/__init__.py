"""Relief effects: doubly robust estimates, diagnostics, time to cure and losses."""

from analysis.effects.cells import (
    ATE_OVERLAP,
    ESTIMANDS,
    MAX_RATE_SE,
    METHODS,
    STATUSES,
    TABLE_COLUMNS,
)
from analysis.effects.descriptive import REDEFAULT_COLUMNS, redefault_rates
from analysis.effects.design import (
    OUTCOMES,
    PRIMARY_OUTCOME,
    Design,
    Followup,
    build_design,
    default_covariates,
    outcome_frame,
    segment_column,
)
from analysis.effects.diagnostics import (
    PLACEBO_MAX_EPISODES,
    RELIABILITY_COLUMNS,
    calibration_error,
    e_value_rr,
    placebo,
    reliability_table,
)
from analysis.effects.estimators import EffectsResult, estimate_effects
from analysis.effects.learners import (
    AUTO_BOOSTING_MIN_EPISODES,
    LEARNER_CHOICES,
    LEARNERS,
    MAX_OUTCOME_ROWS,
    Learner,
    choose_learner,
)
from analysis.effects.losses import (
    NET_BENEFIT_COLUMNS,
    CostParameters,
    NetBenefitResult,
    cost_matrix,
    episode_costs,
    net_benefit,
    typical_terms,
)
from analysis.effects.memo import cache_info, shared_fits
from analysis.effects.nuisance import Nuisance, fit_nuisance, fold_ids
from analysis.effects.overlap import OVERLAP_EXTREME_SHARE, crump_set
from analysis.effects.refute import REFUTATION_COLUMNS, RefutationResult, refute_effects
from analysis.effects.survival import (
    PH_COLUMNS,
    SurvivalResult,
    aalen_johansen,
    analyse_time_to_cure,
    cox_cure_hazards,
    proportional_hazards_test,
)

__all__ = [
    "ATE_OVERLAP",
    "AUTO_BOOSTING_MIN_EPISODES",
    "CostParameters",
    "Design",
    "ESTIMANDS",
    "EffectsResult",
    "Followup",
    "LEARNERS",
    "LEARNER_CHOICES",
    "Learner",
    "MAX_OUTCOME_ROWS",
    "MAX_RATE_SE",
    "METHODS",
    "NET_BENEFIT_COLUMNS",
    "NetBenefitResult",
    "Nuisance",
    "OUTCOMES",
    "OVERLAP_EXTREME_SHARE",
    "PH_COLUMNS",
    "PLACEBO_MAX_EPISODES",
    "PRIMARY_OUTCOME",
    "REDEFAULT_COLUMNS",
    "REFUTATION_COLUMNS",
    "RELIABILITY_COLUMNS",
    "RefutationResult",
    "STATUSES",
    "SurvivalResult",
    "TABLE_COLUMNS",
    "aalen_johansen",
    "analyse_time_to_cure",
    "build_design",
    "cache_info",
    "calibration_error",
    "choose_learner",
    "cost_matrix",
    "cox_cure_hazards",
    "crump_set",
    "default_covariates",
    "e_value_rr",
    "episode_costs",
    "estimate_effects",
    "fit_nuisance",
    "fold_ids",
    "net_benefit",
    "outcome_frame",
    "placebo",
    "proportional_hazards_test",
    "redefault_rates",
    "refute_effects",
    "reliability_table",
    "segment_column",
    "shared_fits",
    "typical_terms",
]
