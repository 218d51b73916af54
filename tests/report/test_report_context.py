"""The notebook context: parameter checks, as_of restriction, segment filter, cache, tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.report.cache import CACHE_ENV, data_fingerprint
from analysis.report.context import open_context
from analysis.report.privacy import PrivacyError
from tests.helpers.reports import small_book


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return small_book(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def ctx(book, tmp_path_factory):
    return open_context(str(book), as_of="2024-06", tables_dir=str(tmp_path_factory.mktemp("t")))


def test_context_restricts_everything_to_as_of(ctx):
    end = pd.Timestamp("2024-06-30")
    assert ctx.as_of == end and ctx.as_of_label == "2024-06"
    assert ctx.book.performance["month"].max() == end
    assert (ctx.book.loans["origination_date"] <= end).all()
    assert (ctx.book.relief["granted_date"] <= end).all()
    if ctx.book.signals is not None:
        assert ctx.book.signals["month"].max() <= end
    assert (ctx.episodes["start_month"] <= end).all()
    assert ctx.episodes["is_censored"].any()  # outcomes beyond as_of are unknown, not failures
    assert ctx.truth is not None and "episodes" in ctx.truth
    assert ctx.definitions.horizon_months == 6 and ctx.min_cell == 10


def test_latest_month_by_default_and_definitions(book):
    c = open_context(str(book), horizon_months=12, probation_months=6, default_dpd=60)
    assert c.as_of == c.book.performance["month"].max()
    assert (c.definitions.horizon_months, c.definitions.probation_months,
            c.definitions.default_dpd) == (12, 6, 60)


@pytest.mark.parametrize("kwargs, message", [
    ({"as_of": "2024-13"}, "YYYY-MM"),
    ({"as_of": "June"}, "YYYY-MM"),
    ({"as_of": "2031-01"}, "outside the data"),
    ({"horizon_months": "6"}, "must be int"),
    ({"horizon_months": 0}, "horizon_months"),
    ({"min_cell": 2.5}, "must be int"),
    ({"min_cell": True}, "must be int"),
    ({"min_cell": 0}, ">= 1"),
    ({"segment": "borrower_type"}, "column=value"),
    ({"segment": "colour=red"}, "not a loan attribute"),
    ({"segment": "loan_id=L0000001"}, "not a loan attribute"),
    ({"segment": "borrower_type=bank"}, "no loan has"),
    ({"language": "fr"}, "language"),
    ({"default_dpd": 0}, "default_dpd"),
    ({"dpd_cap": 5}, "unknown definition"),
])
def test_bad_parameters_fail_loudly(book, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        open_context(str(book), **kwargs)


def test_missing_data_dir(tmp_path):
    with pytest.raises(ParameterError, match="no such directory"):
        open_context(str(tmp_path / "nope"))


def test_segment_filter(book, ctx):
    seg = open_context(str(book), as_of="2024-06", segment="borrower_type=micro_enterprise")
    assert set(seg.book.loans["borrower_type"]) == {"micro_enterprise"}
    assert set(seg.book.performance["loan_id"]) <= set(seg.book.loans["loan_id"])
    assert set(seg.episodes["borrower_type"]) <= {"micro_enterprise"}
    assert 0 < len(seg.episodes) < len(ctx.episodes)
    both = open_context(str(book), as_of="2024-06",
                        segment="borrower_type=micro_enterprise,region=zhejiang")
    assert len(both.book.loans) < len(seg.book.loans)
    assert set(both.book.loans["region"]) == {"zhejiang"}


def test_episode_cache_is_used_within_a_run(book, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first = open_context(str(book), as_of="2024-06")
    files = list((tmp_path / "cache").glob("episodes-*.parquet"))
    assert len(files) == 1
    second = open_context(str(book), as_of="2024-06")
    def norm(df: pd.DataFrame) -> pd.DataFrame:  # parquet reads a missing object as None
        return df.astype(object).where(df.notna(), None)

    pd.testing.assert_frame_equal(norm(first.episodes), norm(second.episodes))
    assert second.episodes["is_cured"].dtype == first.episodes["is_cured"].dtype
    open_context(str(book), as_of="2024-05")  # other month: another entry
    assert len(list((tmp_path / "cache").glob("episodes-*.parquet"))) == 2


def test_write_table_suppresses_and_refuses_ids(ctx):
    t = pd.DataFrame({"segment": ["a", "b"], "n": [3, 50], "rate": [0.5, 0.25]})
    path = ctx.write_table("demo", t)
    back = pd.read_csv(path)
    assert len(back) == 2 and back["rate"].isna().tolist() == [True, False]
    assert back["is_suppressed"].tolist() == [True, False]
    assert ctx.read_table("demo").shape == back.shape and ctx.read_table("nothing") is None
    with pytest.raises(PrivacyError):
        ctx.write_table("ids", t.assign(loan_id="L1"))
    with pytest.raises(ParameterError):
        ctx.write_table("../escape", t)
    shown = ctx.display_table(t)
    assert shown["rate"].tolist()[0] == "suppressed" and shown["n"].tolist()[0] == "suppressed"


def test_fingerprint_changes_with_content(book, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(book, copy)
    assert data_fingerprint(copy) == data_fingerprint(book)
    (copy / "relief.parquet").write_bytes((copy / "relief.parquet").read_bytes() + b"\0")
    assert data_fingerprint(copy) != data_fingerprint(book)


def _shown_html(ctx, df, monkeypatch) -> str:
    import IPython.display

    seen: list[str] = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: seen.append(obj.data))
    ctx.show(df, caption="t")
    return seen[0]


def test_show_formats_every_column_in_the_language(book, ctx, tmp_path, monkeypatch):
    df = pd.DataFrame({"family": ["economic", "personal"], "brier": [0.449993, 0.1234567],
                       "share": [0.4987, 0.25], "n_episodes": [50, 3]})
    html = _shown_html(ctx, df, monkeypatch)
    assert "0.450" in html and "0.449993" not in html  # 3 decimals kept beside the % column
    assert "49.9 %" in html and "suppressed" in html and "&lt; 10" not in html
    zh = open_context(str(book), as_of="2024-06", tables_dir=str(tmp_path), language="zh-CN")
    html = _shown_html(zh, df, monkeypatch)
    assert "49.9%" in html and "已隐藏" in html and "suppressed" not in html
    assert "全部" in zh.segment_label and ctx.segment_label == "whole book"
