"""Numerator suppression, complementary suppression and spreadsheet-safe CSVs
(analysis.report.privacy; issue #16).

:func:`derivable_small_counts` is an independent reader of a published table: it lists
every count of loans or episodes it can see or work out with a calculator (a shown
count, a rate times its base, a base minus its numerator, a total minus the shown parts
of a partition, the step between two shown cells of a nested or cumulative chain) that
lies between 1 and ``min_cell - 1``. The property tests and the published-report test
assert it finds nothing.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.report.privacy import (
    COUNT_RATES,
    NESTED,
    SUPPRESSED_FLAG,
    spreadsheet_safe,
    suppress,
    write_csv,
)
from tests.helpers.reports import published_report
from tests.helpers.stress import HOSTILE_INDUSTRY, HOSTILE_REASON, HOSTILE_REGION

# The base column each published table is suppressed on (as the notebooks call it).
BASES = {"portfolio_mix": "n_loans", "overdue_rates": "n_loans", "roll_rates": "n_from",
         "vintage_curves": "n_observed", "loan_categories": "n_loans", "kpis": "n",
         "outcome_rates": "n", "effects": "n_treated", "net_benefit": "n_treated",
         "targeting": "n_episodes"}


def _small(x: float, m: int) -> bool:
    return bool(np.isfinite(x) and 1 <= round(abs(x)) < m)


def _key(t: pd.DataFrame, drop: tuple[str, ...]) -> list[str]:
    numeric = {c for c in t.columns if pd.api.types.is_numeric_dtype(t[c])}
    return [c for c in t.columns if c not in numeric and c not in drop and c != SUPPRESSED_FLAG] + [
        c for c in ("months_on_book", "dpd_threshold") if c in t.columns and c not in drop]


def _counts(t: pd.DataFrame, base: str) -> dict[str, pd.Series]:
    """Every count column a reader sees or can work out, by name, aligned with ``t``."""
    out = {base: t[base].astype(float)}
    for num in ("n_ever", "transitions", "n_control"):
        if num in t.columns:
            out[num] = t[num].astype(float)
    if {"metric", "value"} <= set(t.columns):
        rate = t["metric"].isin(list(COUNT_RATES))
        held = t["numerator"] if "numerator" in t.columns else t["value"] * t[base]
        out["numerator"] = held.where(rate).round()
    for c in COUNT_RATES:
        if c in t.columns:
            out[c] = (t[c] * t[base]).round()
    return out


def _partition_problems(t, counts, m, name) -> list[str]:
    found = []
    groups = []
    if "segment_type" in t.columns:
        key = _key(t, ("segment_type", "segment"))
        for col, s in counts.items():
            for _, g in t.assign(_c=s).groupby(key, dropna=False) if key else [(0, t.assign(_c=s))]:
                tot = g.loc[g["segment_type"] == "all", "_c"]
                for st_, parts in g[g["segment_type"] != "all"].groupby("segment_type"):
                    total = tot.iloc[0] if len(tot) else parts["_c"].sum(min_count=1)
                    groups.append((col, st_, total, parts["_c"], len(tot) > 0 or True))
    for part_col in ("category", "to_bucket"):
        if part_col in t.columns:
            key = _key(t, (part_col,))
            for col, s in counts.items():
                if col in ("n_from", "n_observed"):
                    continue
                for k, g in t.assign(_c=s).groupby(key, dropna=False):
                    if "n_from" in g.columns:  # roll rates: the parts of n_from (shares weigh balance)
                        groups.append((col, k, g["n_from"].max(), g["_c"], True))
                        continue
                    known = g[g["_c"].notna() & (g.get("share_count", 0) > 0)]
                    if len(known):  # categories: the month's total is a count over its share
                        total = (known["_c"] / known["share_count"]).iloc[0]
                        groups.append((col, k, total, g["_c"], True))
    for col, where, total, parts, complete in groups:
        if not np.isfinite(total):
            continue
        rest = total - parts.sum()
        hidden = int(parts.isna().sum())
        if _small(rest, m) or (complete and hidden == 1 and round(rest) >= 1):
            found.append(f"{name}: {col} at {where}: total minus shown parts = {rest:.0f} "
                         f"({hidden} hidden)")
    return found


def derivable_small_counts(t: pd.DataFrame, m: int, name: str, base: str) -> list[str]:
    """Counts from 1 to ``m - 1`` that ``t`` shows or lets a reader derive (see module doc)."""
    found: list[str] = []
    counts = _counts(t, base)
    for col, s in counts.items():
        bad = s[[_small(x, m) for x in s]]
        found += [f"{name}: {col} = {x:.0f} shown" for x in bad]
        if col != base and col != "n_control":
            den = t["n_observed"] if col == "n_ever" else t[base]
            rest = den - s
            found += [f"{name}: {base} - {col} = {x:.0f}" for x in rest if _small(x, m)]
    chains = []
    if "n_ever" in t.columns:
        key = _key(t, ("months_on_book",))
        for _, g in t.sort_values("months_on_book").groupby(key, dropna=False):
            chains.append([0.0, *g["n_ever"].dropna()])
    nested = [c for c in NESTED if c in counts]
    if len(nested) > 1:
        for r in range(len(t)):
            chains.append([t[base].iloc[r], *(counts[c].iloc[r] for c in nested
                                               if np.isfinite(counts[c].iloc[r]))])
    for chain in chains:
        steps = np.diff(np.asarray(chain, dtype=float))
        found += [f"{name}: step of {x:.0f} between shown cells of a chain"
                  for x in steps if _small(x, m)]
    return found + _partition_problems(t, counts, m, name)


# -- spreadsheet-safe CSV ------------------------------------------------------------

def test_text_cells_that_a_spreadsheet_would_evaluate_are_prefixed(tmp_path):
    df = pd.DataFrame({"region": [HOSTILE_REGION, "+1", "-x", "@SUM(A1)", "\tq", "\rz", "east",
                                  None],
                       "mixed": [1.5, "=1+1", -2, "a-b", None, 3, "x", "y"],
                       "balance": [-5.0, -1.25, 0.0, 3.0, -7.0, 1.0, 2.0, 3.0],
                       "n": [-1, 2, 3, 4, 5, 6, 7, 8]})
    safe = spreadsheet_safe(df)
    assert safe["region"].tolist()[:7] == ["'" + HOSTILE_REGION, "'+1", "'-x", "'@SUM(A1)", "'\tq",
                                           "'\rz", "east"]
    assert safe["region"].iloc[7] is None
    assert safe["mixed"].tolist()[:4] == [1.5, "'=1+1", -2, "a-b"]  # numbers untouched
    pd.testing.assert_series_equal(safe["balance"], df["balance"])  # negatives stay numbers
    pd.testing.assert_series_equal(safe["n"], df["n"])
    assert df["region"].iloc[0] == HOSTILE_REGION  # input not mutated
    assert spreadsheet_safe(df.rename(columns={"n": "=n"})).columns[-1] == "'=n"
    path = write_csv(df, tmp_path / "t.csv")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[1][2] == "-5.0" and rows[1][3] == "-1"
    assert not list(tmp_path.glob("*.tmp"))


def _evaluable(path) -> list[str]:
    """Text cells of a CSV a spreadsheet would evaluate (numbers are fine)."""
    bad = []
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")):
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


# -- numerators and complements: hand-computed cases ---------------------------------

def test_numerator_of_a_cumulative_curve_and_its_steps():
    # one cohort of 400 loans: ever 30+ by month on book 0, 0, 2, 12, 15, 30, 31, 45
    ever = [0, 0, 2, 12, 15, 30, 31, 45]
    t = pd.DataFrame({"segment_type": "all", "segment": "all", "cohort": "2021Q1",
                      "dpd_threshold": 30, "months_on_book": range(8), "n_loans": 400,
                      "n_observed": 400, "n_ever": ever, "share_ever": np.array(ever) / 400})
    out = suppress(t, 10, n_col="n_observed")
    # 2 is small; 12 is 12 from the last shown 0; 15 is 3 from 12: hidden; 30 is 18 from
    # 12; 31 is 1 from 30: hidden; 45 is 15 from 30
    assert out["n_ever"].tolist()[:2] == [0, 0]
    assert out["n_ever"].isna().tolist() == [False, False, True, False, True, False, True, False]
    assert out["share_ever"].isna().equals(out["n_ever"].isna())
    assert out["n_observed"].tolist() == [400] * 8 and out["months_on_book"].tolist() == list(range(8))
    assert out[SUPPRESSED_FLAG].tolist() == out["n_ever"].isna().tolist()
    assert derivable_small_counts(out, 10, "vintage", "n_observed") == []
    pd.testing.assert_frame_equal(suppress(out, 10, n_col="n_observed"), out)  # idempotent


def test_long_table_numerators_complements_twins_and_segments():
    # 200 loans: 196 are individuals and 4 micro; 90+: 9 of 200 -> individuals 6, micro 3
    rows = []
    for seg_type, seg, n, r90, cure_n, cured in (("all", "all", 200, 9, 50, 48),
                                                ("borrower_type", "individual", 196, 6, 30, 29),
                                                ("borrower_type", "micro", 4, 3, 20, 19)):
        rows += [(seg_type, seg, "rate_90plus_count", r90 / n, n),
                 (seg_type, seg, "rate_90plus_balance", 0.01, n),
                 (seg_type, seg, "cure_rate", cured / cure_n, cure_n)]
    t = pd.DataFrame(rows, columns=["segment_type", "segment", "metric", "value", "n"])
    out = suppress(t, 10)
    v = out.set_index(["segment", "metric"])["value"]
    # 9 of 200 in 90+ is small: its rate and the balance twin go; the base stays
    assert np.isnan(v[("all", "rate_90plus_count")]) and np.isnan(v[("all", "rate_90plus_balance")])
    assert out.set_index(["segment", "metric"])["n"][("all", "rate_90plus_count")] == 200
    # 48 cured of 50: 2 not cured is small -> the cure rate goes
    assert np.isnan(v[("all", "cure_rate")])
    # micro: 4 loans, the whole rows on them go
    micro = out[(out["segment"] == "micro") & out["metric"].str.startswith("rate_")]
    assert micro["n"].isna().all() and micro["value"].isna().all()
    assert derivable_small_counts(out, 10, "kpis", "n") == []


def test_complementary_suppression_in_a_partition():
    # one month of five categories adding up to 500 loans; only "loss" (4) is small
    t = pd.DataFrame({"month": "2024-01-31", "segment_type": "all", "segment": "all",
                      "category": ["normal", "special", "sub", "doubtful", "loss"],
                      "n_loans": [400, 60, 24, 12, 4]})
    t["share_count"] = t["n_loans"] / 500
    out = suppress(t, 10)
    # 500 - shown = 4 would give "loss" away: the smallest other part (12) goes with it
    assert out["n_loans"].isna().tolist() == [False, False, False, True, True]
    assert derivable_small_counts(out, 10, "loan_categories", "n_loans") == []


@settings(max_examples=80, deadline=None)
@given(parts=st.lists(st.lists(st.integers(0, 60), min_size=2, max_size=5), min_size=1,
                      max_size=4),
       min_cell=st.integers(2, 15))
def test_property_nothing_small_is_shown_or_derivable_in_a_partition(parts, min_cell):
    rows = []
    for month, counts in enumerate(parts):
        total = sum(counts)
        for i, c in enumerate(counts):
            rows.append((f"m{month}", f"c{i}", c, c / total if total else np.nan))
    t = pd.DataFrame(rows, columns=["month", "category", "n_loans", "share_count"])
    out = suppress(t, min_cell)
    assert derivable_small_counts(out, min_cell, "categories", "n_loans") == []
    shown = out["n_loans"].dropna()
    assert ((shown == 0) | (shown >= min_cell)).all()


@settings(max_examples=60, deadline=None)
@given(segs=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 80), st.integers(0, 80)),
                     min_size=2, max_size=4),
       min_cell=st.integers(2, 12))
def test_property_nested_rates_by_segment(segs, min_cell):
    rows = []
    for i, (a, b, c) in enumerate(segs):  # 90+ <= 30+ <= overdue <= n
        r90, r30, od = sorted((a, b, c))
        n = od + b + 1
        rows.append(("borrower_type", f"s{i}", n, od, r30, r90))
    tot = np.sum([r[2:] for r in rows], axis=0)
    rows.append(("all", "all", *tot))
    t = pd.DataFrame(rows, columns=["segment_type", "segment", "n_loans", "od", "r30", "r90"])
    t = t.assign(overdue_rate_count=t["od"] / t["n_loans"], rate_30plus_count=t["r30"] / t["n_loans"],
                 rate_90plus_count=t["r90"] / t["n_loans"], month="2024-01-31").drop(
        columns=["od", "r30", "r90"])
    out = suppress(t, min_cell, n_col="n_loans")
    assert derivable_small_counts(out, min_cell, "overdue_rates", "n_loans") == []


# -- the published report on a small book ----------------------------------------------

@pytest.mark.stress
def test_published_tables_hold_no_small_or_derivable_count(tmp_path_factory):
    _, out, info = published_report(tmp_path_factory.getbasetemp())
    assert info["exit_code"] == 0, info["message"]
    tables = sorted(out.rglob("tables/*.csv"))
    assert {p.stem for p in tables} >= {"kpis", "vintage_curves", "outcome_rates", "overdue_rates",
                                        "loan_categories", "portfolio_mix", "roll_rates"}
    found = []
    for p in tables:
        if p.stem in BASES:
            found += derivable_small_counts(pd.read_csv(p), 10, p.stem, BASES[p.stem])
        assert _evaluable(p) == [], p
    assert found == []


@pytest.mark.stress
def test_hostile_text_book_is_inert_in_every_page_and_table(tmp_path_factory):
    from analysis.report.options import ReportOptions
    from analysis.report.params import default_notebooks_dir
    from analysis.report.runner import run_report
    from tests.helpers.reports import AS_OF, small_book
    from tests.helpers.stress import stress_book

    base = tmp_path_factory.getbasetemp()
    book = stress_book(small_book(base), "hostile_text", base / "hostile")
    out = base / "hostile_reports"
    res = run_report(ReportOptions(data_dir=book, as_of=AS_OF, out_dir=out,
                                   notebooks_dir=default_notebooks_dir(), cell_timeout_s=300,
                                   run_timeout_s=900, quiet=True))
    assert res.exit_code == 0, res.message
    pages = sorted(out.rglob("*.html"))
    assert len(pages) >= 6  # index and every notebook's page
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for raw in (HOSTILE_INDUSTRY, HOSTILE_REASON, "<script>alert", "onerror=alert"):
            assert raw not in html, (page.name, raw)
    tables = sorted(out.rglob("tables/*.csv"))
    assert any(HOSTILE_REGION in p.read_text(encoding="utf-8").replace('""', '"') for p in tables)
    for p in tables:
        assert _evaluable(p) == [], p
