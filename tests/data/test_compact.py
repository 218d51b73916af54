"""The pandas loader's compact text (issue #17): IDs and codes of the large tables are
``category`` with sorted categories, and every episode and KPI table is the same as from
the same book held as plain text objects."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from analysis import kpis
from analysis.data import filter_segment, load_book
from analysis.data.checks import index_positions
from analysis.data.coerce import as_category
from analysis.data.schema import TABLES, category_columns
from analysis.episodes import build_episodes
from analysis.kpis.loan_months import codes_of
from tests.helpers.stress import write_book

SEGMENTS = (None, "borrower_type", "industry", "region")


def as_text(book):
    """The book with every categorical column cast back to text objects (the old loader)."""
    def plain(df: pd.DataFrame | None) -> pd.DataFrame | None:
        if df is None:
            return None
        out = df.copy()
        for c in out.columns:
            if isinstance(out[c].dtype, pd.CategoricalDtype):
                out[c] = out[c].astype(object)
        return out

    return replace(book, **{t: plain(getattr(book, t)) for t in
                            ("loans", "performance", "signals", "relief", "reasons")})


def kpi_tables(book, episodes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out = {"headline": kpis.headline_kpis(book, episodes, segments=SEGMENTS)}
    for s in SEGMENTS:
        out[f"overdue {s}"] = kpis.overdue_rates(book, by=s)
        out[f"roll {s}"] = kpis.roll_rates(book, weight="balance", by=s)
        out[f"vintage {s}"] = kpis.vintage_curves(book, dpd_threshold=30, by=s)
        out[f"class {s}"] = kpis.loan_classification(book, by=s)
    return out


def test_category_columns_are_the_ids_and_codes_of_the_large_tables():
    assert category_columns("loans") == ("loan_id", "borrower_id", "borrower_type", "industry",
                                         "region")
    assert category_columns("performance") == ("loan_id",)
    assert category_columns("signals") == ("loan_id",)
    assert [t for t in TABLES if category_columns(t)] == ["loans", "performance", "signals"]


def test_loaded_book_holds_ids_and_codes_as_sorted_categories(synth_book):
    for table in ("loans", "performance", "signals"):
        df = getattr(synth_book, table)
        for c in category_columns(table):
            s = df[c]
            assert isinstance(s.dtype, pd.CategoricalDtype), (table, c, s.dtype)
            cats = s.cat.categories
            assert cats.is_monotonic_increasing and not s.dtype.ordered
            assert len(cats) == s.nunique()  # no unused category
    assert synth_book.relief["loan_id"].dtype == object
    assert synth_book.relief["measure"].dtype == object
    perf = synth_book.performance
    # 4-byte codes instead of a pointer per loan-month, and far less than the text
    assert perf["loan_id"].memory_usage(deep=True) < perf["loan_id"].astype(object).memory_usage(
        deep=True) / 5


def test_episodes_identical_to_text_book(synth_book):
    ep = build_episodes(synth_book)
    ep_text = build_episodes(as_text(synth_book))
    assert len(ep) > 100
    assert not any(isinstance(t, pd.CategoricalDtype) for t in ep.dtypes)
    assert_frame_equal(ep, ep_text)


def test_kpis_identical_to_text_book(synth_book, synth_episodes):
    text = as_text(synth_book)
    got, want = kpi_tables(synth_book, synth_episodes), kpi_tables(text, synth_episodes)
    for name, table in want.items():
        assert len(table) > 0, name
        assert_frame_equal(got[name], table, obj=name)


def test_kpis_identical_on_a_segment_with_unused_categories(synth_book):
    seg = filter_segment(synth_book, [("region", str(synth_book.loans["region"].iloc[0]))])
    assert len(seg.performance["loan_id"].cat.categories) > seg.loans["loan_id"].nunique()
    text = as_text(seg)
    ep, ep_text = build_episodes(seg), build_episodes(text)
    assert_frame_equal(ep, ep_text)
    got, want = kpi_tables(seg, ep), kpi_tables(text, ep_text)
    for name, table in want.items():
        assert_frame_equal(got[name], table, obj=name)


def test_csv_book_loads_the_same_categories(synth_book, tmp_path):
    small = filter_segment(synth_book, [("borrower_type", "micro_enterprise")])
    folder = write_book(as_text(small), tmp_path / "book")
    for t in ("loans", "performance"):
        getattr(small, t).astype({c: object for c in category_columns(t)}).to_csv(
            folder / f"{t}.csv", index=False)
        (folder / f"{t}.parquet").unlink(missing_ok=True)
    back = load_book(folder)
    for t in ("loans", "performance"):
        for c in category_columns(t):
            assert isinstance(getattr(back, t)[c].dtype, pd.CategoricalDtype), (t, c)
            assert getattr(back, t)[c].cat.categories.is_monotonic_increasing
    assert_frame_equal(build_episodes(back), build_episodes(as_text(small)),
                       check_dtype=False, check_exact=False, rtol=1e-12)


def test_as_category_sorts_and_drops_unused():
    s = pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["z", "b", "a"]))
    out = as_category(s)
    assert list(out.cat.categories) == ["a", "b"]
    assert out.astype(object).tolist()[::2] == ["b", "a"] and pd.isna(out.iloc[1])
    assert list(out.cat.codes) == [1, -1, 0, 1]
    plain = as_category(pd.Series(["k2", "k10", "k1"], dtype=object))
    assert list(plain.cat.categories) == ["k1", "k10", "k2"]  # text order, not natural


def test_index_positions_by_category_matches_text_lookup():
    index = pd.Index(np.array(["L3", "L1", "L2"], dtype=object))
    values = pd.Series(["L2", None, "L9", "L3", "L2"], dtype=object)
    want = np.array([2, -1, -1, 0, 2])
    assert list(index_positions(index, values)) == list(want)
    cat = as_category(values)
    assert list(index_positions(index, cat)) == list(want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_codes_of_categorical_equals_sorted_factorize(seed):
    rng = np.random.default_rng(seed)
    pool = np.array([f"L{i:03d}" for i in rng.permutation(40)], dtype=object)
    values = pool[rng.integers(0, 30, 300)]
    values[rng.random(300) < 0.05] = None
    cat = pd.Series(pd.Categorical(values, categories=sorted(pool)))  # 10+ unused categories
    codes, uniques = codes_of(cat)
    want_codes, want_uniques = pd.factorize(values, sort=True)
    assert list(codes) == list(want_codes)
    assert list(uniques) == list(want_uniques)
