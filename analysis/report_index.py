"""``reports/index.html``: every published month, its headline KPIs, and their trend.

Built from the folders under ``reports/`` that hold a ``run.json`` and from the history
store (the latest successful run of each month). The KPI-over-months figure is an
embedded PNG; the page loads nothing from anywhere else. Suppressed KPIs show as
"suppressed". Recent failed runs are listed with their message and the folder that
keeps their notebooks and log.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from analysis.report_history import latest_metrics, runs
from analysis.report_html import plain_page, table_html
from analysis.report_publish import write_text_atomic

# Headline KPIs, in display order, with their label and kind (rate / count / amount).
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("n_loans_active", "active loans", "count"),
    ("balance_active", "active balance (CNY)", "amount"),
    ("overdue_rate_balance", "overdue rate (balance, DPD 1+)", "rate"),
    ("rate_30plus_balance", "30+ DPD rate (balance)", "rate"),
    ("rate_90plus_balance", "90+ DPD rate (balance)", "rate"),
    ("npl_ratio_balance", "NPL ratio (balance)", "rate"),
    ("cure_rate", "cure rate", "rate"),
    ("default_rate", "default rate", "rate"),
    ("loss_rate", "loss rate", "rate"),
)
PLOTTED: tuple[str, ...] = ("overdue_rate_balance", "rate_90plus_balance", "npl_ratio_balance",
                            "cure_rate", "default_rate")


def _fmt(value: float, kind: str) -> str:
    if pd.isna(value):
        return "suppressed"
    if kind == "rate":
        return f"{100 * value:.1f} %"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.0f}"


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


def kpi_trend_figure(metrics: pd.DataFrame) -> str | None:
    """Data URI of a line chart of the plotted KPIs over months (None with < 1 month)."""
    d = metrics[metrics["metric"].isin(PLOTTED) & (metrics["report_segment"] == "")]
    if d.empty:
        return None
    from analysis import style

    labels = {m: lab for m, lab, _ in HEADLINE}
    fig, ax = style.new_figure(figsize=(9.0, 4.0))
    d = d.assign(month=pd.to_datetime(d["as_of"] + "-01") + pd.offsets.MonthEnd(0))
    n_months = d["month"].nunique()
    for metric, g in d.groupby("metric", sort=False):
        g = g.sort_values("month")
        ax.plot(g["month"], g["value"], marker="o", label=labels.get(metric, metric))
    style.percent_axis(ax)
    style.month_axis(ax)
    style.finish(ax, "Headline KPIs by reporting month", xlabel="reporting month",
                 ylabel="rate (% of balance or of episodes)", n=n_months,
                 n_unit="published months", legend=True)
    uri = style.figure_to_data_uri(fig)
    return uri


def render_months_index(out: Path) -> str:
    """The HTML of ``reports/index.html``."""
    months = _published_months(out)
    metrics = latest_metrics(out, segment_type="all")
    if not metrics.empty:
        metrics = metrics.assign(report_segment=metrics["report_segment"].fillna(""))
    body = ["<h1>Overdue and relief reports</h1>"]
    if not months:
        body.append("<p>No report has been published yet.</p>")
    else:
        rows = []
        for info in months:
            folder = info["folder"]
            params = info.get("parameters", {})
            segment = str(params.get("segment", ""))
            m = metrics[(metrics["run_id"] == info.get("run_id"))] if not metrics.empty else metrics
            values = dict(zip(m["metric"], m["value"], strict=False)) if len(m) else {}
            row = {
                "month": f'<a href="{html.escape(folder)}/index.html">{html.escape(info.get("as_of", folder))}</a>',
                "segment": html.escape(segment or "all loans"),
            }
            for metric, label, kind in HEADLINE:
                if metric in values:
                    row[label] = _fmt(values[metric], kind)
            row["published"] = html.escape(str(info.get("ended_at", ""))[:16].replace("T", " "))
            rows.append(row)
        table = pd.DataFrame(rows).fillna("")
        body.append("<h2>Published months</h2>")
        body.append(table.to_html(index=False, escape=False, border=0))
        body.append(
            '<p class="muted">Rates are fractions of active balance (overdue, NPL) or of '
            "episodes whose outcome is known (cure, default, loss); the KPIs come from the "
            "latest successful run of each month in <code>history.sqlite</code>.</p>"
        )
    if not metrics.empty:
        uri = kpi_trend_figure(metrics)
        if uri:
            body.append("<h2>Trend</h2>")
            body.append(f'<img alt="Headline KPIs by reporting month" src="{uri}">')
    history = runs(out)
    failed = history[history["status"] == "failed"].tail(10)
    if len(failed):
        shown = pd.DataFrame({
            "run": failed["run_id"],
            "month": failed["as_of"],
            "started": failed["started_at"].str[:16].str.replace("T", " "),
            "message": failed["message"].str.slice(0, 300),
            "kept in": "_failed/" + failed["run_id"],
        }).iloc[::-1]
        body.append("<h2>Recent failed runs</h2>")
        body.append('<p class="muted">The published months above were not changed by these.</p>')
        body.append(f'<div class="failed">{table_html(shown)}</div>')
    return plain_page("Overdue and relief reports", "\n".join(body))


def write_months_index(out: Path) -> Path:
    """Write ``out/index.html`` atomically; returns its path."""
    path = out / "index.html"
    write_text_atomic(path, render_months_index(out))
    return path
