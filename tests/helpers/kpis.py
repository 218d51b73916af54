"""Tiny hand-made books and episode tables for the KPI tests (answers worked out by hand)."""

from __future__ import annotations

import pandas as pd

from analysis.data.book import Book
from tests.helpers.books import tiny_book


def make_book(spec: dict[str, dict], relief: list[tuple[str, str, str]] | None = None) -> Book:
    """:func:`tests.helpers.books.tiny_book` with a balance of 100 and a 12-month term by default.
    ``relief``: (loan_id, granted_date, measure)."""
    spec = {lid: {"balance": 100.0, "term_months": 12, **s} for lid, s in spec.items()}
    rows = [{"loan_id": lid, "granted_date": g, "measure": m} for lid, g, m in relief or []]
    return tiny_book(spec, relief=rows)


OVERDUE_SPEC = {
    "A": {"first": "2024-01", "dpd": [0, 0], "balance": 100},
    "B": {"first": "2024-01", "dpd": [5, 0], "balance": 300},
    "C": {"first": "2024-01", "dpd": [45, 75], "balance": 200, "borrower_type": "individual"},
    "D": {"first": "2024-01", "dpd": [120, 150], "balance": 400, "borrower_type": "individual"},
    # written off (excluded from the active book) and repaid (balance 0: excluded)
    "E": {"first": "2024-01", "dpd": [200, 230], "balance": 50, "write_off": {0: 50.0}},
    "F": {"first": "2024-01", "dpd": [0, 0], "balance": 0},
}

NA = pd.NA


def outcome_episodes() -> pd.DataFrame:
    """Five episodes: two cured, one defaulted with a loss, one censored, one neither."""
    return pd.DataFrame(
        {
            "loan_id": ["a", "b", "c", "d", "e"],
            "start_month": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-02-29",
                                           "2024-05-31", "2024-03-31"]),
            "borrower_type": ["micro_enterprise", "micro_enterprise", "individual",
                              "individual", "individual"],
            "is_cured": pd.array([True, True, False, NA, False], dtype="boolean"),
            "is_defaulted": pd.array([False, False, True, NA, False], dtype="boolean"),
            "is_redefaulted": pd.array([True, False, NA, NA, NA], dtype="boolean"),
            "is_censored": [False, False, False, True, False],
            "loss": [0.0, 0.0, 150.0, 999.0, 10.0],
            "ead": [100.0, 200.0, 300.0, 1000.0, 400.0],
        }
    )
