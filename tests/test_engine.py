"""The engine registry: ``auto`` picks by the size of the book, every entry point asks the
registry, and unknown names are parameter errors."""

from __future__ import annotations

import argparse

import pytest

from analysis import engine
from analysis.cli.common import add_engine_arguments
from analysis.data import load_book, validate_book
from analysis.engine import (
    AUTO_DASK_ROWS,
    ENGINES,
    choose_engine,
    engine_choices,
    load_book_any,
    synth_with_engine,
    validate_with_engine,
)
from analysis.errors import ParameterError


def test_choose_engine(synth_dir, monkeypatch):
    assert choose_engine(synth_dir, "pandas") == "pandas"
    assert choose_engine(synth_dir, "dask") == "dask"
    assert choose_engine(synth_dir, "auto") == "pandas"
    monkeypatch.setattr("analysis.engine.AUTO_DASK_ROWS", 1000)
    assert choose_engine(synth_dir, "auto") == "dask"
    assert AUTO_DASK_ROWS == 20_000_000
    with pytest.raises(Exception, match="engine"):
        choose_engine(synth_dir, "spark")


def test_registry_and_choices():
    assert list(ENGINES) == ["pandas", "dask"]
    assert engine_choices() == ("pandas", "dask", "auto")
    with pytest.raises(ParameterError):
        engine.register("auto", ENGINES["pandas"])
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    assert parser.parse_args(["--engine", "auto"]).engine == "auto"
    assert parser.parse_args([]).engine == "pandas"


def test_unknown_engine_is_a_parameter_error(synth_dir, tmp_path):
    with pytest.raises(ParameterError, match="spark"):
        load_book_any(synth_dir, "spark")
    with pytest.raises(ParameterError, match="spark"):
        validate_with_engine(synth_dir, "spark")
    with pytest.raises(ParameterError, match="spark"):
        synth_with_engine(10, 1, tmp_path / "book", engine="spark")


def test_pandas_engine_is_the_pandas_loader(synth_dir, tmp_path):
    report = validate_with_engine(synth_dir, "auto")
    assert report.ok and report.message() == validate_book(synth_dir).message()
    book = load_book_any(synth_dir, "pandas")
    assert len(book.performance) == len(load_book(synth_dir).performance)
    missing = validate_with_engine(tmp_path / "nowhere", "dask")  # reported by pandas
    assert not missing.ok and missing.table["check"].tolist() == ["directory_exists"]


def test_auto_needs_dask_installed_and_is_the_report_default(synth_dir, monkeypatch):
    """``auto`` picks Dask for a big book only when Dask can run; the report defaults to
    ``auto``, the other commands to pandas."""
    from analysis.cli.main import build_parser
    from analysis.report.options import ReportOptions

    monkeypatch.setattr("analysis.engine.AUTO_DASK_ROWS", 1000)
    assert engine.dask_installed() and choose_engine(synth_dir, "auto") == "dask"
    monkeypatch.setattr(engine.importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else object())
    assert not engine.dask_installed() and choose_engine(synth_dir, "auto") == "pandas"
    assert choose_engine(synth_dir, "dask") == "dask"  # asked for by name: its own error later
    assert ReportOptions(data_dir=synth_dir, as_of="", out_dir=synth_dir).engine == "auto"
    parser = build_parser()
    assert parser.parse_args(["report", "--data", "d", "--as-of", "2024-12"]).engine == "auto"
    assert parser.parse_args(["validate", "--data", "d"]).engine == "pandas"
