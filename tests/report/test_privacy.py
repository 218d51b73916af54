"""Small-cell suppression and identifier refusal (analysis.report.privacy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.report.privacy import (
    SUPPRESSED_FLAG,
    PrivacyError,
    count_columns,
    for_display,
    id_columns,
    suppress,
)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment": ["micro", "sole", "indiv", "other"],
            "n": [5, 10, 250, None],
            "effect": [0.2, 0.5, 0.61, 0.3],
            "ci_lower": [0.0, 0.2, 0.55, 0.1],
            "term_months": [12, 12, 24, 36],
        }
    )


def test_rows_below_min_cell_are_blanked_not_dropped():
    out = suppress(_table(), 10, keep=["term_months"])
    assert len(out) == 4
    assert list(out["segment"]) == ["micro", "sole", "indiv", "other"]
    assert list(out[SUPPRESSED_FLAG]) == [True, False, False, True]
    assert out.loc[0, ["n", "effect", "ci_lower"]].isna().all()
    # exactly min_cell is shown
    assert out.loc[1, "effect"] == 0.5 and out.loc[1, "n"] == 10
    # a missing count cannot be checked, so it is suppressed too
    assert out.loc[3, ["effect"]].isna().all()
    # labels kept
    assert list(out["term_months"]) == [12, 12, 24, 36]


def test_input_not_mutated():
    t = _table()
    before = t.copy()
    suppress(t, 10)
    pd.testing.assert_frame_equal(t, before)


def test_smallest_count_decides():
    t = pd.DataFrame({"measure": ["a", "b"], "n_loans": [500, 500], "n_episodes": [8, 40],
                      "effect": [0.1, 0.2]})
    out = suppress(t, 10)
    assert list(out[SUPPRESSED_FLAG]) == [True, False]
    assert np.isnan(out.loc[0, "effect"]) and out.loc[1, "effect"] == 0.2


def test_display_marks_suppressed_cells():
    shown = for_display(suppress(_table(), 10, keep=["term_months"]), 10)
    assert SUPPRESSED_FLAG not in shown.columns
    assert shown.loc[0, "n"] == "suppressed"  # not "< 10": a complementary cell need not be small
    assert shown.loc[0, "effect"] == "suppressed"
    assert shown.loc[2, "n"] == 250
    assert shown.loc[2, "effect"] == 0.61


def test_identifier_columns_refused():
    for col in ("loan_id", "borrower_id", "prev_loan_id"):
        with pytest.raises(PrivacyError, match="identifier"):
            suppress(_table().assign(**{col: "L1"}), 10)
    with pytest.raises(PrivacyError):
        suppress(_table().set_index(pd.Index(["a", "b", "c", "d"], name="loan_id")), 10)
    assert id_columns(_table()) == []


def test_table_without_counts_is_refused_unless_declared():
    t = _table().drop(columns="n")
    with pytest.raises(PrivacyError, match="no count column"):
        suppress(t, 10)
    pd.testing.assert_frame_equal(suppress(t, 10, n_col=None), t)


def test_explicit_count_column_and_bad_min_cell():
    t = pd.DataFrame({"k": ["a", "b"], "episodes": [3, 30], "v": [1.0, 2.0]})
    assert count_columns(t) == []
    out = suppress(t, 10, n_col="episodes")
    assert list(out[SUPPRESSED_FLAG]) == [True, False]
    with pytest.raises(PrivacyError, match="min_cell"):
        suppress(t, 0, n_col="episodes")
    with pytest.raises(PrivacyError, match="not in"):
        suppress(t, 10, n_col="nope")


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=20),
    min_cell=st.integers(min_value=1, max_value=30),
)
def test_property_no_shown_value_rests_on_a_small_count(counts, min_cell):
    t = pd.DataFrame({"seg": [f"s{i}" for i in range(len(counts))], "n": counts,
                      "rate": np.linspace(0, 1, len(counts))})
    out = suppress(t, min_cell)
    assert len(out) == len(t)
    shown = out[out["rate"].notna()]
    assert (shown["n"] >= min_cell).all()
    assert out[SUPPRESSED_FLAG].sum() == sum(c < min_cell for c in counts)
