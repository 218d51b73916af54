"""Tiny hand-made books for tests: each loan given as a list of month-end DPD values."""

from __future__ import annotations

import pandas as pd

from analysis.data.book import Book
from analysis.definitions import MEASURES


def standard_measures() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "code": list(MEASURES),
            "description": list(MEASURES),
            "is_concession": [m != "counselling" for m in MEASURES],
        }
    )


def tiny_book(
    loans: dict[str, dict],
    relief: list[dict] | None = None,
    reasons: list[dict] | None = None,
    cause_map: list[dict] | None = None,
    signals: pd.DataFrame | None = None,
) -> Book:
    """Build a Book from ``{loan_id: {"first": "2023-01", "dpd": [...], ...}}``.

    Optional per loan: ``balance`` (a list, or one number for every month; default 1000),
    ``write_off`` and ``recovery`` ({month offset: amount}), ``borrower_type``, ``industry``,
    ``region``, ``term_months`` and ``origination``.
    """
    loan_rows, perf_rows = [], []
    for lid, spec in loans.items():
        first = pd.Period(spec["first"], "M")
        n = len(spec["dpd"])
        bal = spec.get("balance", 1000.0)
        bal = [bal] * n if isinstance(bal, int | float) else bal
        loan_rows.append(
            {
                "loan_id": lid,
                "borrower_id": "B" + lid,
                "borrower_type": spec.get("borrower_type", "micro_enterprise"),
                "industry": spec.get("industry", "retail"),
                "region": spec.get("region", "zhejiang"),
                "origination_date": pd.Timestamp(spec.get("origination", first.start_time)),
                "term_months": spec.get("term_months", 24),
                "principal": 1000.0,
                "annual_rate": 0.1,
            }
        )
        for i in range(n):
            perf_rows.append(
                {
                    "loan_id": lid,
                    "month": (first + i).to_timestamp(how="end").normalize(),
                    "balance": float(bal[i]),
                    "days_past_due": int(spec["dpd"][i]),
                    "write_off": float(spec.get("write_off", {}).get(i, 0.0)),
                    "recovery": float(spec.get("recovery", {}).get(i, 0.0)),
                }
            )
    relief_df = pd.DataFrame(
        relief or [], columns=["loan_id", "granted_date", "measure", "deferral_months"]
    )
    relief_df["granted_date"] = pd.to_datetime(relief_df["granted_date"])
    reasons_df = None
    if reasons:
        reasons_df = pd.DataFrame(reasons)
        reasons_df["reported_date"] = pd.to_datetime(reasons_df["reported_date"])
    return Book(
        loans=pd.DataFrame(loan_rows),
        performance=pd.DataFrame(perf_rows),
        relief=relief_df,
        measures=standard_measures(),
        signals=signals,
        reasons=reasons_df,
        cause_map=pd.DataFrame(cause_map) if cause_map else None,
    )
