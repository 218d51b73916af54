"""Cause attribution: why episodes went overdue (reported, labelled and latent causes)."""

from analysis.causes.attribution import attribute
from analysis.causes.inputs import AttributionUnavailable, CauseMapError
from analysis.causes.join import with_cause
from analysis.causes.labels import fit_label_model, reported_families
from analysis.causes.latent import (
    LatentData,
    LatentFit,
    Prior,
    fit_latent,
    latent_attribution,
    log_posterior,
    report_likelihood,
)
from analysis.causes.model import (
    at_risk_months,
    contributions_to_probabilities,
    fit_onset,
    group_contributions,
    shapley_by_coalitions,
    shapley_three,
    subsample,
)
from analysis.causes.result import PER_EPISODE_COLUMNS, TABLE_COLUMNS, Attribution
from analysis.causes.scorer import EpisodeScorer, attribute_episodes
from analysis.causes.tables import truth_comparison

__all__ = [
    "Attribution",
    "AttributionUnavailable",
    "CauseMapError",
    "EpisodeScorer",
    "LatentData",
    "LatentFit",
    "PER_EPISODE_COLUMNS",
    "Prior",
    "TABLE_COLUMNS",
    "at_risk_months",
    "attribute",
    "attribute_episodes",
    "contributions_to_probabilities",
    "fit_label_model",
    "fit_latent",
    "fit_onset",
    "group_contributions",
    "latent_attribution",
    "log_posterior",
    "report_likelihood",
    "reported_families",
    "shapley_by_coalitions",
    "shapley_three",
    "subsample",
    "truth_comparison",
    "with_cause",
]
