"""``reports/index.html``: every published month, its headline KPIs, and their trend.

Built from the folders under ``reports/`` that hold a ``run.json`` and from the history
store (the latest successful run of each month). The KPI-over-months figure is an
embedded PNG; the page loads nothing from anywhere else. Suppressed KPIs read
"suppressed" in the page's language. Recent failed runs are listed with their message
(as logged, in English) and the folder that keeps their notebooks and log.

One page per language: ``index.html`` (English) always, and ``index.<lang>.html`` for
every other language whose pages some published month holds (``index.<lang>.html`` in
the month folder). Each links the months' pages of its language (English where a month
has none in it) and its twins in the other languages. Every visible string comes from the
message catalogue (:mod:`analysis.report.i18n.catalogue`); the page is the template
``report_months_index.html.j2`` (:mod:`analysis.report.html`), with autoescape, so a
segment, a catalogue entry or a failed run's message is shown as text, never as markup.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from analysis.report import style
from analysis.report.history import latest_metrics, runs
from analysis.report.html import (
    catalogue_text,
    index_name,
    nav_html,
    render_template,
    table_html,
)
from analysis.report.i18n.catalogue import LANGUAGES, Translator, mark_fallback, translator
from analysis.report.publish import write_text_atomic
from analysis.report.text.kpis import local_value, metric_kind

# Headline KPIs of the month list, in display order (labels kpi.*, kinds from KPI_LABELS).
HEADLINE: tuple[str, ...] = (
    "n_loans_active", "balance_active", "overdue_rate_balance", "rate_30plus_balance",
    "rate_90plus_balance", "npl_ratio_balance", "cure_rate", "default_rate", "loss_rate",
)
PLOTTED: tuple[str, ...] = ("overdue_rate_balance", "rate_90plus_balance", "npl_ratio_balance",
                            "cure_rate", "default_rate")


def _published_months(out: Path) -> list[dict]:
    months = []
    for folder in sorted(out.iterdir() if out.exists() else [], reverse=True):
        info_path = folder / "run.json"
        if not folder.is_dir() or folder.name.startswith((".", "_")) or not info_path.exists():
            continue
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        info["folder"] = folder.name
        months.append(info)
    return months


def published_languages(out: Path) -> list[str]:
    """English, then every other language with a summary page in some published month."""
    folders = [f for f in (out.iterdir() if out.exists() else []) if f.is_dir()]
    return ["en", *[lang for lang in LANGUAGES if lang != "en"
                    and any((f / index_name(lang)).exists() for f in folders)]]


def kpi_trend_figure(metrics: pd.DataFrame, t: Translator | None = None) -> str | None:
    """Data URI of a line chart of the plotted KPIs over months (None with < 1 month)."""
    d = metrics[metrics["metric"].isin(PLOTTED) & (metrics["report_segment"] == "")]
    if d.empty:
        return None
    tr = (t or translator("en")).for_figures()
    fig, ax = style.new_figure(figsize=(9.0, 4.0))
    d = d.assign(month=pd.to_datetime(d["as_of"] + "-01") + pd.offsets.MonthEnd(0))
    n_months = d["month"].nunique()
    for metric, g in d.groupby("metric", sort=False):
        g = g.sort_values("month")
        ax.plot(g["month"], g["value"], marker="o", label=tr(f"kpi.{metric}"))
    style.percent_axis(ax)
    style.month_axis(ax)
    style.finish(ax, tr("page.trend_title"), xlabel=tr("page.trend_xlabel"),
                 ylabel=tr("page.trend_ylabel"), n=n_months, n_unit=tr("page.trend_n_unit"),
                 legend=True)
    return style.figure_to_data_uri(mark_fallback(fig, tr))


def _months_rows(out: Path, months: list[dict], metrics: pd.DataFrame,
                 t: Translator) -> tuple[list[str], list[dict]]:
    """Header and rows of the published months' table: each row ``href`` (the month's page
    in ``t``'s language, else English), ``month`` and ``cells`` (segment, headline KPIs in
    :data:`HEADLINE` order, published at), all text."""
    values: dict[str, dict[str, float]] = {}
    for info in months:
        m = metrics[metrics["run_id"] == info.get("run_id")] if not metrics.empty else metrics
        values[info["folder"]] = dict(zip(m["metric"], m["value"], strict=False)) if len(m) else {}
    shown = [k for k in HEADLINE if any(k in v for v in values.values())]
    header = [t("page.month"), t("page.segment"), *[t(f"kpi.{k}") for k in shown],
              t("page.published")]
    rows = []
    for info in months:
        folder = info["folder"]
        page = index_name(t.language)
        if not (out / folder / page).exists():
            page = "index.html"
        segment = str(info.get("parameters", {}).get("segment", ""))
        kpi = values[folder]
        cells = [segment or t.category("segment_type", "all"),
                 *[local_value(kpi[k], metric_kind(k), t) if k in kpi else "" for k in shown],
                 str(info.get("ended_at", ""))[:16].replace("T", " ")]
        rows.append({"href": f"{folder}/{page}", "month": info.get("as_of", folder),
                     "cells": cells})
    return header, rows


def _failed_runs(out: Path, t: Translator) -> Markup | None:
    """The last ten failed runs as an HTML table (None when there are none)."""
    history = runs(out)
    failed = history[history["status"] == "failed"].tail(10)
    if not len(failed):
        return None
    shown = pd.DataFrame({
        t("page.run"): failed["run_id"],
        t("page.month"): failed["as_of"],
        t("page.started"): failed["started_at"].str[:16].str.replace("T", " "),
        t("page.message"): failed["message"].str.slice(0, 300),
        t("page.kept_in"): "_failed/" + failed["run_id"],
    }).iloc[::-1]
    return table_html(shown)


def render_months_index(out: Path, language: str = "en",
                        languages: list[str] | None = None) -> str:
    """The HTML of ``reports/index.html`` (``index.<language>.html``).

    ``languages``: the languages whose month lists exist (twin links); default
    :func:`published_languages`.
    """
    t = translator(language)
    months = _published_months(out)
    metrics = latest_metrics(out, segment_type="all")
    if not metrics.empty:
        metrics = metrics.assign(report_segment=metrics["report_segment"].fillna(""))
    header, rows = _months_rows(out, months, metrics, t)
    langs = published_languages(out) if languages is None else languages
    twins = [(translator(lang).name, index_name(lang)) for lang in langs if lang != language]
    return str(render_template(
        "report_months_index.html.j2", language=language, title=t("page.index_title"),
        nav=nav_html(twins, None) if twins else "", none_yet=t("page.index_none"),
        published_heading=t("page.published_months"), months_header=header, months=rows,
        note=catalogue_text(t("page.index_note")),
        trend_uri=kpi_trend_figure(metrics, t) if not metrics.empty else None,
        trend_heading=t("page.trend"), trend_title=t("page.trend_title"),
        failed_table=_failed_runs(out, t), failed_heading=t("page.failed_runs"),
        failed_note=t("page.failed_note"),
    ))


def write_months_index(out: Path) -> Path:
    """Write ``out/index.html`` and ``out/index.<lang>.html`` of every published language
    (atomically); returns the English page's path."""
    langs = published_languages(out)
    for lang in langs:
        write_text_atomic(out / index_name(lang), render_months_index(out, lang, langs))
    return out / index_name("en")
