"""The headline KPIs as people read them: labels, formatted cells, sentences, a text table.

One home for every rendering of :func:`analysis.kpis.headline_kpis` output (possibly
suppressed by :mod:`analysis.report.privacy`):

* :func:`kpi_cells`: the English table of indicators (values formatted, "suppressed"
  where suppressed), whole book or one column per segment;
* :func:`kpi_table`: the same in the report language (what notebooks 00 and 01 show);
* :func:`headline_sentences`: plain-language sentences on the whole book;
* :func:`local_value`: one value in the report language (the month list, ``reports/index.html``);
* :func:`format_kpis`: the plain-text table ``python -m analysis kpis`` prints (every
  metric, compact cells such as ``5.5% (n=5,610)``, no translation).

A metric's kind (rate, count, amount) comes from :data:`KPI_LABELS`; a metric not listed
there is a rate when its name says ``rate`` or ``ratio``, else an amount.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.report.i18n.catalogue import CATEGORY_KINDS, Translator, translate_frame

# metric -> (label, kind) for the summary; kind: rate, count, amount. The labels are the
# English kpi.* catalogue entries (a test keeps them equal); pages use :func:`kpi_table`.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "n_loans_active": ("Active loans", "count"),
    "balance_active": ("Active balance (CNY)", "amount"),
    "overdue_rate_count": ("Overdue rate, DPD 1+ (share of loans)", "rate"),
    "overdue_rate_balance": ("Overdue rate, DPD 1+ (share of balance)", "rate"),
    "rate_30plus_count": ("30+ DPD rate (share of loans)", "rate"),
    "rate_30plus_balance": ("30+ DPD rate (share of balance)", "rate"),
    "rate_90plus_count": ("90+ DPD rate (share of loans)", "rate"),
    "rate_90plus_balance": ("90+ DPD rate (share of balance)", "rate"),
    "npl_ratio_balance": ("NPL ratio, substandard or worse (share of balance)", "rate"),
    "n_episodes": ("Overdue episodes started so far", "count"),
    "cure_rate": ("Cure rate of overdue episodes", "rate"),
    "default_rate": ("Default rate of overdue episodes", "rate"),
    "redefault_rate": ("Re-default rate after a cure", "rate"),
    "loss_rate": ("Loss rate (loss / balance at episode start)", "rate"),
}
_RATE_WORDS = ("rate", "ratio")


def metric_kind(metric: str) -> str:
    """``rate``, ``count`` or ``amount``: from :data:`KPI_LABELS`, else ``rate`` when the
    name says rate or ratio and ``amount`` otherwise."""
    if metric in KPI_LABELS:
        return KPI_LABELS[metric][1]
    return "rate" if any(w in metric for w in _RATE_WORDS) else "amount"


def format_value(value: float, kind: str) -> str:
    """``0.0512`` -> ``5.1 %`` (rate), ``12345`` -> ``12,345``; NaN -> ``suppressed``."""
    if value is None or pd.isna(value):
        return "suppressed"
    if kind == "rate":
        return f"{100 * float(value):.1f} %"
    return f"{float(value):,.0f}"


def local_value(value: float, kind: str, t: Translator) -> str:
    """One KPI value in the language of ``t``: a rate as its percent, a count or amount
    whole; NaN reads as the language's "suppressed"."""
    if pd.isna(value):
        return t("format.suppressed")
    return t.pct(value) if kind == "rate" else f"{value:,.0f}"


def kpi_cells(kpis: pd.DataFrame, segment_type: str = "all") -> pd.DataFrame:
    """Headline KPIs as a readable English table (values formatted, suppressed ones say so).

    For ``segment_type="all"``: columns ``indicator``, ``value``, ``n``. For a segment
    column: one row per indicator, one column per segment, cells ``value (n N)``.
    """
    k = kpis[kpis["segment_type"] == segment_type]
    rows = []
    for metric, (label, kind) in KPI_LABELS.items():
        for r in k[k["metric"] == metric].itertuples(index=False):
            n = "" if pd.isna(r.n) else f"{int(r.n):,}"
            rows.append({"indicator": label, "segment": str(r.segment),
                         "value": format_value(r.value, kind), "n": n})
    flat = pd.DataFrame(rows, columns=["indicator", "segment", "value", "n"])
    if segment_type == "all":
        return flat.drop(columns="segment")
    flat["cell"] = flat["value"] + np.where(flat["n"] != "", " (n " + flat["n"] + ")", "")
    order = list(dict.fromkeys(flat["indicator"]))
    wide = flat.pivot(index="indicator", columns="segment", values="cell").reindex(order)
    return wide.reset_index().rename_axis(columns=None)


def kpi_table(kpis: pd.DataFrame, t: Translator, segment_type: str = "all") -> pd.DataFrame:
    """:func:`kpi_cells` in the language of ``t`` (display only).

    Indicator names come from the ``kpi.*`` keys, segment columns are named by
    :meth:`Translator.category`, "suppressed" values read in the language.
    """
    table = kpi_cells(kpis, segment_type)
    names = {label: t(f"kpi.{metric}") for metric, (label, _) in KPI_LABELS.items()}
    table["indicator"] = table["indicator"].map(lambda s: names.get(s, s))
    value_cols = [c for c in table.columns if c != "indicator"]
    word = t("format.suppressed")
    for c in value_cols:
        table[c] = table[c].astype(str).str.replace("suppressed", word, regex=False)
    kind = segment_type if segment_type in CATEGORY_KINDS else None
    renamed = {c: t.category(kind, c) for c in value_cols} if kind else {}
    return translate_frame(table.rename(columns=renamed), t)


def headline_sentences(kpis: pd.DataFrame, t: Translator, month: str) -> list[str]:
    """Plain-language sentences on the whole-book KPIs (suppressed ones say so).

    ``kpis``: :func:`analysis.kpis.headline_kpis` output (possibly suppressed);
    ``month``: the reporting month ``YYYY-MM``.
    """
    k = kpis[kpis["segment_type"] == "all"].set_index("metric")

    def get(metric: str) -> tuple[float, float]:
        if metric not in k.index or pd.isna(k.loc[metric, "value"]):
            return math.nan, math.nan
        return float(k.loc[metric, "value"]), float(k.loc[metric, "n"])

    out: list[str] = []
    month_text = t.month(pd.Timestamp(month + "-01"))
    n_active, _ = get("n_loans_active")
    bal, _ = get("balance_active")
    if not math.isnan(n_active):
        out.append(t("narrative.book_size", month=month_text, loans=t.count(n_active),
                     balance=t.money(bal)) if not math.isnan(bal) else
                   t("narrative.book_size_no_balance", month=month_text, loans=t.count(n_active)))
    od, _ = get("overdue_rate_balance")
    r90, _ = get("rate_90plus_balance")
    npl, _ = get("npl_ratio_balance")
    if not math.isnan(od):
        s = t("narrative.overdue_share", overdue=t.pct(od))
        if not math.isnan(r90):
            s += t("narrative.overdue_90", rate90=t.pct(r90))
        if not math.isnan(npl):
            s += t("narrative.overdue_npl", npl=t.pct(npl))
        out.append(s + t("narrative.sentence_end"))
    cure, n_cure = get("cure_rate")
    dflt, n_dflt = get("default_rate")
    if not (math.isnan(cure) or math.isnan(dflt)):
        out.append(t("narrative.cure_default", cure=t.pct(cure), n_cure=t.count(n_cure),
                     default=t.pct(dflt), n_default=t.count(n_dflt)))
    elif "cure_rate" in k.index:
        out.append(t("narrative.cure_suppressed"))
    loss, _ = get("loss_rate")
    if not math.isnan(loss):
        out.append(t("narrative.losses", loss=t.pct(loss)))
    return out


def text_cell(metric: str, value: float, n: int) -> str:
    """One cell of :func:`format_kpis`: ``5.5% (n=5,610)`` for a rate, ``113,533,113``
    for a count or amount, ``- (n=N)`` when there is no value."""
    if pd.isna(value):
        return f"- (n={n:,})"
    if metric_kind(metric) == "rate":
        return f"{100 * value:.1f}% (n={n:,})"
    return f"{value:,.0f}"


def format_kpis(table: pd.DataFrame, as_of: pd.Timestamp | None = None) -> str:
    """A readable text table of :func:`analysis.kpis.headline_kpis` output: one row per
    metric, one column per segment ("all" first); rates in %, with the n behind each."""
    t = table.copy()
    t["column"] = t["segment"].where(t["segment_type"] != "all", "all")
    cells = zip(t["metric"], t["value"], t["n"], strict=True)
    t["cell"] = [text_cell(m, v, n) for m, v, n in cells]
    metrics = list(dict.fromkeys(t["metric"]))
    columns = list(dict.fromkeys(t["column"]))
    wide = t.pivot_table(index="metric", columns="column", values="cell", aggfunc="first")
    wide = wide.reindex(index=metrics, columns=columns).fillna("")
    wide.index.name, wide.columns.name = None, None
    head = "Headline KPIs" + (f" as of {as_of:%Y-%m}" if as_of is not None else "")
    with pd.option_context("display.width", 200, "display.max_columns", None,
                           "display.max_colwidth", 40):
        return head + "\n" + wide.to_string()


__all__ = ["KPI_LABELS", "format_kpis", "format_value", "headline_sentences", "kpi_cells",
           "kpi_table", "local_value", "metric_kind", "text_cell"]
