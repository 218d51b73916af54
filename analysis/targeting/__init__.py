"""Targeting: which relief measure to offer to whom, and what a policy is worth."""

from analysis.targeting.estimates import ArmEstimates, TargetingWarning, arm_estimates
from analysis.targeting.paired import (
    DIFFERENCE_COLUMNS,
    paired_difference,
    policy_differences,
    unpaired_std_error,
)
from analysis.targeting.policies import (
    POLICY_COLUMNS,
    PolicyResult,
    compare_policies,
    true_policy_values,
)
from analysis.targeting.pooled import (
    ArmDesign,
    crossfit_pooled_loss,
    fit_pooled_logit,
    fit_pooled_loss,
    pooled_design,
)
from analysis.targeting.recommendations import RECOMMEND_COLUMNS, as_of_month, open_mask, recommend
from analysis.targeting.rules import (
    MISSING,
    BudgetRule,
    GridRule,
    Node,
    Split,
    candidate_splits,
    fit_budget_rule,
    fit_grid_rule,
    fit_policy_tree,
    leaf_values,
)

__all__ = [
    "ArmDesign",
    "ArmEstimates",
    "BudgetRule",
    "DIFFERENCE_COLUMNS",
    "GridRule",
    "MISSING",
    "Node",
    "POLICY_COLUMNS",
    "PolicyResult",
    "RECOMMEND_COLUMNS",
    "Split",
    "TargetingWarning",
    "arm_estimates",
    "as_of_month",
    "candidate_splits",
    "compare_policies",
    "crossfit_pooled_loss",
    "fit_budget_rule",
    "fit_grid_rule",
    "fit_policy_tree",
    "fit_pooled_logit",
    "fit_pooled_loss",
    "leaf_values",
    "open_mask",
    "paired_difference",
    "policy_differences",
    "pooled_design",
    "recommend",
    "true_policy_values",
    "unpaired_std_error",
]
