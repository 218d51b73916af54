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
message catalogue (:mod:`analysis.report.i18n.catalogue`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from analysis.report import style
from analysis.report.history import latest_metrics, runs
from analysis.report.html import index_name, nav_html, plain_page, table_html, tag
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


def _months_table(out: Path, months: list[dict], metrics: pd.DataFrame, t: Translator) -> str:
    """The published months with their headline KPIs (links to the pages in ``t``'s language)."""
    rows = []
    for info in months:
        folder = info["folder"]
        page = index_name(t.language)
        if not (out / folder / page).exists():
            page = "index.html"
        segment = str(info.get("parameters", {}).get("segment", ""))
        m = metrics[(metrics["run_id"] == info.get("run_id"))] if not metrics.empty else metrics
        values = dict(zip(m["metric"], m["value"], strict=False)) if len(m) else {}
        row = {
            t("page.month"): f'<a href="{html.escape(folder)}/{page}">'
                             f'{html.escape(info.get("as_of", folder))}</a>',
            t("page.segment"): html.escape(segment or t.category("segment_type", "all")),
        }
        for metric in HEADLINE:
            if metric in values:
                row[html.escape(t(f"kpi.{metric}"))] = local_value(values[metric],
                                                                   metric_kind(metric), t)
        row[t("page.published")] = html.escape(str(info.get("ended_at", ""))[:16].replace("T", " "))
        rows.append(row)
    return pd.DataFrame(rows).fillna("").to_html(index=False, escape=False, border=0)


def _failed_runs(out: Path, t: Translator) -> list[str]:
    history = runs(out)
    failed = history[history["status"] == "failed"].tail(10)
    if not len(failed):
        return []
    shown = pd.DataFrame({
        t("page.run"): failed["run_id"],
        t("page.month"): failed["as_of"],
        t("page.started"): failed["started_at"].str[:16].str.replace("T", " "),
        t("page.message"): failed["message"].str.slice(0, 300),
        t("page.kept_in"): "_failed/" + failed["run_id"],
    }).iloc[::-1]
    return [tag("h2", t("page.failed_runs")),
            f'<p class="muted">{html.escape(t("page.failed_note"))}</p>',
            f'<div class="failed">{table_html(shown)}</div>']


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
    body = [tag("h1", t("page.index_title"))]
    if not months:
        body.append(tag("p", t("page.index_none")))
    else:
        body.append(tag("h2", t("page.published_months")))
        body.append(_months_table(out, months, metrics, t))
        body.append(f'<p class="muted">{t("page.index_note")}</p>')
    if not metrics.empty:
        uri = kpi_trend_figure(metrics, t)
        if uri:
            body.append(tag("h2", t("page.trend")))
            body.append(f'<img alt="{html.escape(t("page.trend_title"))}" src="{uri}">')
    body += _failed_runs(out, t)
    langs = published_languages(out) if languages is None else languages
    twins = [(translator(lang).name, index_name(lang)) for lang in langs if lang != language]
    nav = nav_html(twins, None) if twins else ""
    return plain_page(t("page.index_title"), "\n".join(body), language=language, nav=nav)


def write_months_index(out: Path) -> Path:
    """Write ``out/index.html`` and ``out/index.<lang>.html`` of every published language
    (atomically); returns the English page's path."""
    langs = published_languages(out)
    for lang in langs:
        write_text_atomic(out / index_name(lang), render_months_index(out, lang, langs))
    return out / index_name("en")
