"""Tidy tables and sentences the portfolio and summary notebooks show.

Thin compositions of :mod:`analysis.kpis` (which owns every definition): the
portfolio mix at the reporting month, the overdue-rate trend, the roll-rate window,
outcome rates by segment, and the summary blocks that show other pages' tables (in the
report language). The headline-KPI table is :mod:`analysis.report.text.kpis`.
Every table carries the count its numbers rest on (``n``, ``n_loans``, ``n_from``,
``n_observed``), so :mod:`analysis.report.privacy` can suppress small cells. Rates are
fractions; balances in the book's currency (CNY).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import kpis
from analysis.data.book import Book
from analysis.report.privacy import SUPPRESSED_TEXT, assert_no_ids, for_display
from analysis.report.text.causes import method_name
from analysis.report.text.display import display_codes
from analysis.report.text.targeting import policy_frame

SEGMENTS: tuple[str, ...] = ("borrower_type", "industry", "region")
TREND_COLUMNS: tuple[str, ...] = (
    "month", "segment_type", "segment", "n_loans", "balance", "overdue_rate_count",
    "overdue_rate_balance", "rate_30plus_count", "rate_30plus_balance", "rate_90plus_count",
    "rate_90plus_balance",
)
# Captions of the tables the management summary shows from other pages (by table name).
SUMMARY_CAPTIONS: dict[str, str] = {"attribution": "summary.table_attribution",
                                    "effects": "summary.table_effects",
                                    "targeting": "summary.table_targeting"}

def portfolio_mix(book: Book, as_of: pd.Timestamp, segments: Sequence[str] = SEGMENTS,
                  rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Active loans and balance at ``as_of`` by each segment column, with shares.

    ``rates``: :func:`analysis.kpis.overdue_rates` rows already computed for these
    segments (e.g. :func:`overdue_trend` with ``months=None``), to avoid recomputing.
    Columns: see :func:`mix_table`.
    """
    parts = []
    for by in segments:
        if by not in book.loans.columns:
            continue
        if rates is not None and by in set(rates["segment_type"]):
            parts.append(rates[rates["segment_type"] == by])
        else:
            parts.append(kpis.overdue_rates(book, by=by))
    return mix_table(parts, as_of)


def mix_table(rates_by_segment: Sequence[pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """The portfolio mix from overdue rates, one frame per segment column.

    Columns: ``segment_type``, ``segment``, ``n_loans``, ``balance`` (CNY),
    ``share_loans``, ``share_balance`` (fractions of the portfolio at ``as_of``).
    """
    rows = []
    for od in rates_by_segment:
        od = od[od["month"] == as_of]
        rows.append(od[["segment_type", "segment", "n_loans", "balance"]])
    if not rows:
        return pd.DataFrame(columns=["segment_type", "segment", "n_loans", "balance",
                                     "share_loans", "share_balance"])
    mix = pd.concat(rows, ignore_index=True)
    tot = mix.groupby("segment_type")[["n_loans", "balance"]].transform("sum")
    mix["share_loans"] = mix["n_loans"] / tot["n_loans"].replace(0, np.nan)
    mix["share_balance"] = mix["balance"] / tot["balance"].replace(0, np.nan)
    return mix.sort_values(["segment_type", "balance"], ascending=[True, False]).reset_index(drop=True)


def overdue_trend(book: Book, segments: Sequence[str | None] = (None, "borrower_type"),
                  months: int | None = 24) -> pd.DataFrame:
    """Overdue rates per month (count and balance, DPD 1+, 30+, 90+), last ``months``."""
    segments = [s for s in segments if s is None or s in book.loans.columns]
    od = kpis.by_segments(kpis.overdue_rates, book, segments=segments)
    od = od[list(TREND_COLUMNS)]
    if months:
        keep = np.sort(od["month"].unique())[-months:]
        od = od[od["month"].isin(keep)]
    return od.reset_index(drop=True)


def roll_window(book: Book, as_of: pd.Timestamp, months: int = 12,
                weight: str = "balance") -> pd.DataFrame:
    """Roll rates over the ``months`` transitions ending at ``as_of``, with ``n_from``.

    ``n_from`` is the number of loan-months in the from-bucket: the base of every share
    in that row (what privacy suppression checks).
    """
    rr = kpis.roll_rates(book, weight=weight, end=as_of, months=months)
    rr = rr.rename(columns={"n": "transitions"})
    rr["n_from"] = rr.groupby("from_bucket", observed=True)["transitions"].transform("sum")
    cols = ["period_start", "period_end", "weight", "from_bucket", "to_bucket", "n_from",
            "transitions", "balance", "share"]
    return rr[[c for c in cols if c in rr.columns]].reset_index(drop=True)


def outcome_rates(episodes: pd.DataFrame,
                  segments: Sequence[str | None] = (None, *SEGMENTS)) -> pd.DataFrame:
    """Cure, default, re-default and loss rates with 95 % intervals by segment."""
    present = [s for s in segments if s is None or s in episodes.columns]
    out = kpis.by_segments(kpis.episode_outcome_rates, episodes, segments=present)
    return out.reset_index(drop=True)


def categories_trend(book: Book, months: int = 12) -> pd.DataFrame:
    """Five-category balance shares over the last ``months`` month-ends."""
    cl = kpis.loan_classification(book)
    keep = np.sort(cl["month"].unique())[-months:]
    return cl[cl["month"].isin(keep)].reset_index(drop=True)


def summary_block(ctx, table: pd.DataFrame | None, name: str, max_rows: int = 15,
                  prefer: dict[str, Sequence[str]] | None = None) -> None:
    """Show a table another notebook wrote in this run (already suppressed), or a note.

    Only the whole-book rows (``segment_type == "all"``) when the table has segments.
    ``prefer`` keeps, for each named column, the rows of the first listed value present
    (e.g. ``{"method": ["aipw"]}``: one estimator for management) and drops the column.
    ``ctx`` is the notebook's :class:`analysis.report.context.ReportContext`; the caption and
    the note are in its language, codes are named for display
    (:func:`analysis.report.text.targeting.policy_frame` for policy tables, else
    :func:`analysis.report.text.display.display_codes`) and ``ctx.show`` translates the
    column titles and category names.
    """
    from IPython.display import Markdown, display  # a notebook's display: only here

    t = ctx.t
    if table is None:
        display(Markdown(t("summary.missing_table", name=name)))
        return
    assert_no_ids(table, name)
    if "segment_type" in table.columns and (table["segment_type"] == "all").any():
        table = table[table["segment_type"] == "all"].drop(columns=["segment_type", "segment"],
                                                           errors="ignore")
    notes = []
    for col, values in (prefer or {}).items():
        if col not in table.columns:
            continue
        hit = next((v for v in values if (table[col].astype(str) == v).any()), None)
        if hit is not None:
            table = table[table[col].astype(str) == hit].drop(columns=[col])
            named = display_codes(pd.DataFrame({col: [hit]}), t)[col].iloc[0]
            if col == "method" and named == hit:  # an attribution method (combined, ...)
                named = method_name(t, hit)
            notes.append(t("format.label_value", column=t.messages.get(f"column.{col}", col),
                           value=named))
    caption = t(SUMMARY_CAPTIONS[name]) if name in SUMMARY_CAPTIONS else name
    if notes:
        caption = t("format.with_note", caption=caption,
                    notes=t("format.list_sep").join(notes))
    head = for_display(table.head(max_rows), ctx.min_cell).replace(SUPPRESSED_TEXT,
                                                                   t("format.suppressed"))
    shown = policy_frame(head, t) if "policy" in head.columns else display_codes(head, t)
    if len(table) > len(shown):
        caption = t("summary.first_rows", caption=caption, shown=len(shown), total=len(table))
    ctx.show(shown, n_col=None, caption=caption)


def last_months(table: pd.DataFrame, months: int,
                segment_types: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of the last ``months`` month-ends (and of ``segment_types``) of a monthly table."""
    keep = np.sort(table["month"].unique())[-months:]
    out = table[table["month"].isin(keep)]
    if segment_types is not None:
        out = out[out["segment_type"].isin(list(segment_types))]
    return out.reset_index(drop=True)


__all__ = ["SEGMENTS", "SUMMARY_CAPTIONS", "TREND_COLUMNS", "categories_trend", "last_months",
           "mix_table", "outcome_rates", "overdue_trend", "portfolio_mix", "roll_window",
           "summary_block"]
