"""Display copies of the cause and relief-effect tables in the report language.

:func:`analysis.report.i18n.catalogue.translate_frame` (called by ``ctx.show``) names the category codes of
the columns it knows (``family``, ``measure``, ``arm``, ...) and gives every column with a
``column.<name>`` catalogue entry its title. The tables of notebooks 02 and 03 have more
codes than that: outcome, method and model codes, reported and model families, cause
families used as segments, yes/no flags. :func:`display_codes` names those **for display
only** (the CSV tables keep the English codes); in English it returns the table as it is.

:data:`TITLED_COLUMNS` lists the columns of these tables that have a catalogue title
(``analysis/locale/<language>/causes_effects.yml``); a test checks that every column the
two notebooks show has one.
"""

from __future__ import annotations

import pandas as pd

from analysis.report.i18n.catalogue import Translator
from analysis.report.text.causes import MODEL_KEYS
from analysis.report.text.effects import METHOD_KEYS, outcome_name

TITLED_COLUMNS: tuple[str, ...] = (
    # cause attribution (notebook 02)
    "family", "share_episodes", "ci_low_balance", "ci_high_balance", "n_episodes",
    "trend_per_year", "share", "slope_per_year", "n_months", "signal", "coef_per_sd",
    "odds_ratio", "p_value", "mean_contribution", "share_of_family", "model", "n_labelled",
    "brier", "log_loss", "pct_same_primary", "brier_economic", "brier_management",
    "brier_personal", "kappa", "selected", "reported_share", "model_share_labelled",
    "model_share_unlabelled", "n_unlabelled", "reported_family", "model_family", "true_share",
    "error_pp", "covered", "recall", "report_rate",
    "report_rate_ci_low", "report_rate_ci_high", "share_named_economic",
    "share_named_management", "share_named_personal", "n_episodes_est",
    # relief effects (notebook 03)
    "measure", "estimand", "method", "estimate", "std_error", "n_treated", "n_control",
    "naive_estimate", "hazard_ratio", "n_cures", "arm", "e_min", "e_p01", "e_median", "e_p99",
    "e_max", "e_p01_all", "share_clipped_all", "share_clipped_arm", "max_weight", "ess_ate",
    "ess_ate_share", "ess_att_control", "outcome", "baseline_none", "risk_ratio", "e_value",
    "e_value_ci", "sd_outcome", "std_effect", "flag", "loss_avoided_cny", "cost_cny",
    "net_benefit_cny", "net_benefit_per_10k_ead", "expected_loss_rate", "expected_loss_cny",
    "std_error_cny",
)
_FAMILY_COLUMNS = ("reported_family", "model_family")
_FLAG_COLUMNS = ("selected", "covered", "flag")


def _name(t: Translator, key_of: dict[str, str], code: object) -> object:
    return t(key_of[code]) if isinstance(code, str) and code in key_of else code


def _flag(t: Translator, v: object) -> object:
    if isinstance(v, bool) or str(v) in ("True", "False"):
        return t("causes.table.yes") if str(v) == "True" else t("causes.table.no")
    return v


def _segments(t: Translator, out: pd.DataFrame, segment_type: str | None) -> pd.Series:
    """Segment values named: cause families, borrower types, and "all"."""
    kinds = (out["segment_type"].astype(str) if "segment_type" in out.columns
             else pd.Series(segment_type or "", index=out.index))
    named = []
    for s, kind in zip(out["segment"], kinds, strict=True):  # a displayed table: few rows
        if str(s) == "all":
            named.append(t("causes.table.all"))
        elif kind == "cause_family":
            named.append(t.category("family", s))
        elif kind == "borrower_type":
            named.append(t.category("borrower_type", s))
        else:
            named.append(s)
    return pd.Series(named, index=out.index, dtype=object)


def display_codes(df: pd.DataFrame, t: Translator, segment_type: str | None = None) -> pd.DataFrame:
    """A display copy of ``df`` with the codes :func:`translate_frame` does not know named.

    English (``t.language == "en"``) returns ``df`` unchanged. Otherwise: ``outcome``
    (cure, redefault, loss_rate, placebo outcomes), ``method`` (naive, regression, ipw,
    aipw), ``model`` (shapley, label_model, latent), ``reported_family`` / ``model_family``,
    ``segment`` values of cause families, borrower types and "all" (the kind from the
    ``segment_type`` column, else from the argument ``segment_type``), ``family`` "all",
    ``segment_type`` ``cause_family``, and the yes/no columns ``selected``, ``covered``,
    ``flag``.
    """
    if t.language == "en":
        return df
    out = df.copy()
    if "outcome" in out.columns:
        out["outcome"] = out["outcome"].map(lambda v: outcome_name(t, v) if isinstance(v, str) else v)
    if "method" in out.columns:
        out["method"] = out["method"].map(lambda v: _name(t, METHOD_KEYS, v))
    if "model" in out.columns:
        out["model"] = out["model"].map(lambda v: _name(t, MODEL_KEYS, v))
    for col in _FAMILY_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(lambda v: t.category("family", v) if isinstance(v, str) else v)
    if "family" in out.columns:
        out["family"] = out["family"].map(lambda v: t("causes.table.all") if v == "all" else v)
    if "segment" in out.columns:
        out["segment"] = _segments(t, out, segment_type)
    if "segment_type" in out.columns:
        out["segment_type"] = out["segment_type"].map(
            lambda v: t("effects.table.cause_family") if v == "cause_family" else v)
    for col in _FLAG_COLUMNS:
        if col in out.columns:
            out[col] = out[col].map(lambda v: _flag(t, v)).astype(object)
    return out
