"""Portfolio KPIs over loan-months and episodes: rates, rolls, vintages, classification."""

from analysis.kpis.classification import (
    LOAN_CATEGORIES_ZH,
    NPL_CATEGORIES,
    classification_table,
    loan_classification,
    loan_month_categories,
)
from analysis.kpis.headline import headline_kpis, headline_kpis_from, resolve_as_of
from analysis.kpis.outcomes import episode_outcome_rates, wilson_interval
from analysis.kpis.overdue import overdue_rates
from analysis.kpis.rolls import CLOSED, ROLL_TO_BUCKETS, roll_matrix, roll_rates
from analysis.kpis.segments import ALL, SEGMENT_COLUMNS, SEGMENT_KEYS, by_segments
from analysis.kpis.vintages import vintage_curves

__all__ = [
    "ALL",
    "CLOSED",
    "LOAN_CATEGORIES_ZH",
    "NPL_CATEGORIES",
    "ROLL_TO_BUCKETS",
    "SEGMENT_COLUMNS",
    "SEGMENT_KEYS",
    "by_segments",
    "classification_table",
    "episode_outcome_rates",
    "headline_kpis",
    "headline_kpis_from",
    "loan_classification",
    "loan_month_categories",
    "overdue_rates",
    "resolve_as_of",
    "roll_matrix",
    "roll_rates",
    "vintage_curves",
    "wilson_interval",
]
