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

Numbers: :func:`readable_frame` (what ``ctx.show`` uses) formats every number of a
displayed table by its kind (percent, CNY, count; :func:`column_kinds`), intervals in
their estimate's kind, and titles the columns from the catalogue in every language: the
one formatting home of the pages.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from analysis.report.i18n.catalogue import Translator, translate_frame
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
_FLAG_COLUMNS = ("selected", "covered", "flag", "is_separable")


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


# ----------------------------------------------------------------------------- numbers
# How the numbers of a displayed table read. Every management table goes through
# :func:`readable_frame` (``ctx.show`` does), so one table never mixes formats and an
# interval always reads like its estimate.
#
# Kinds: ``pct`` (fractions shown as percent, one decimal, the language's format.pct),
# ``money`` (CNY, whole yuan with thousands separators), ``count`` (integers with
# thousands separators), ``number`` (anything else, ``precision`` decimals).
NUMBER_KINDS: tuple[str, ...] = ("pct", "money", "count", "number")
_PCT_NAMES = ("share", "cure_rate", "default_rate", "loss_rate", "redefault_rate",
              "expected_loss_rate", "baseline_none", "report_rate", "recall", "true_share")
_MONEY_NAMES = ("value_net_benefit", "cost", "balance", "ead", "loss", "true_value",
                "true_value_full_rule", "gain_per_episode_cny", "gain_total_cny")
_COUNT_NAMES = ("n", "count", "transitions", "numerator", "denominator", "n_episodes_est")
_LOW_HIGH = ("ci_low", "ci_high")


def interval_base(column: str, columns: list[str]) -> str | None:
    """The estimate column an interval column belongs to, else None.

    ``ci_low``/``ci_high`` (and ``unpaired_ci_low``/...): the nearest column to their left
    that is not an interval bound; ``<x>_ci_low``: ``<x>`` when present;
    ``ci_low_<x>``: ``<x>``, ``share_<x>`` or ``value_<x>`` when present, else as ``ci_low``.
    """
    name = str(column)
    if not any(b in name for b in _LOW_HIGH):
        return None
    for b in _LOW_HIGH:
        if name.endswith("_" + b) and name.removesuffix("_" + b) in columns:
            return name.removesuffix("_" + b)
        if name.startswith(b + "_"):
            rest = name.removeprefix(b + "_")
            for cand in (rest, f"share_{rest}", f"value_{rest}"):
                if cand in columns:
                    return cand
    left = columns[: columns.index(column)] if column in columns else []
    for c in reversed(left):
        if not any(b in str(c) for b in _LOW_HIGH):
            return c
    return None


def name_kind(column: str) -> str | None:
    """The number kind a column's name implies (see :data:`NUMBER_KINDS`), else None."""
    name = str(column)
    if name in _COUNT_NAMES or name.startswith("n_"):
        return "count"
    if (name in _PCT_NAMES or name.startswith(("share", "rate_")) or name.endswith(("_rate", "_share"))
            or "_rate_" in name or name.startswith("share_")):
        return "pct"
    if name in _MONEY_NAMES or name.endswith("_cny") or name.startswith("balance"):
        return "money"
    return None


def column_kinds(df: pd.DataFrame, kinds: dict[str, str] | None = None) -> dict[str, str]:
    """The number kind of every numeric column of ``df``: ``kinds`` given by the caller
    first, then the column's name (:func:`name_kind`), else ``money`` for amounts of
    1,000 and more and ``number`` otherwise. An interval bound takes its estimate's kind
    (:func:`interval_base`), so "41.0 %" is never followed by "0.338"."""
    kinds = dict(kinds or {})
    cols = list(df.columns)
    out: dict[str, str] = {}
    for c in cols:
        values = pd.to_numeric(df[c], errors="coerce")
        if values.notna().sum() == 0 or pd.api.types.is_bool_dtype(df[c]):
            continue
        named = kinds.get(c) or name_kind(c)
        out[c] = named or ("money" if values.abs().max() >= 1000 else "number")
    for c in list(out):
        base = interval_base(c, cols)
        if c not in kinds and base is not None and base in out:
            out[c] = out[base]
    return out


def format_number(value: object, kind: str, t: Translator, precision: int = 3) -> object:
    """One number as it reads in kind ``kind``; text (already formatted, "suppressed")
    and missing values are returned as they are."""
    if isinstance(value, str) or value is None or pd.isna(value):
        return value
    v = float(value)
    if kind == "pct":
        return t("format.pct", value=100 * v)
    if kind in ("money", "count"):
        return f"{v:,.0f}"
    return f"{v:,.{precision}f}"


def column_formats(df: pd.DataFrame, t: Translator, kinds: dict[str, str] | None = None,
                   precision: int = 3) -> dict[str, object]:
    """``{column: formatter}`` for a pandas Styler (:func:`column_kinds`, :func:`format_number`)."""
    return {c: (lambda v, k=k: format_number(v, k, t, precision))
            for c, k in column_kinds(df, kinds).items()}


def readable_frame(df: pd.DataFrame, t: Translator, kinds: dict[str, str] | None = None,
                   precision: int = 3) -> pd.DataFrame:
    """A display copy of ``df`` with every number formatted by kind (:func:`column_kinds`)
    and the column titles and category names of the catalogue
    (:func:`analysis.report.i18n.catalogue.translate_frame`), in every language."""
    out = df.copy()
    for c, k in column_kinds(df, kinds).items():
        out[c] = out[c].map(lambda v, k=k: format_number(v, k, t, precision)).astype(object)
    return translate_frame(out, t)



def technical_notes(notes: list[str], t: Translator) -> str:
    """The technical notes of an analyst page (penalties, refits, balance flags, warnings:
    written by the analyses, in English) as HTML for the END of the page: a heading and a
    collapsed ``<details>`` block, so the page opens with its findings. "" without notes."""
    unique = [n for n in dict.fromkeys(str(n) for n in notes) if n.strip()]
    if not unique:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in unique)
    heading, summary = escape(t("technical.heading")), escape(t("technical.summary"))
    return (f"<h2>{heading}</h2>\n<details><summary>{summary} ({len(unique)})</summary>"
            f"<ul>{items}</ul></details>")


__all__ = ["NUMBER_KINDS", "TITLED_COLUMNS", "column_formats", "column_kinds", "display_codes",
           "format_number", "interval_base", "name_kind", "readable_frame", "technical_notes"]
