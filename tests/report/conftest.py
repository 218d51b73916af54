"""Session fixtures of the report tests that publish more than one month."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.reports import built_once, shared_base, small_book

TWO_MONTHS = ("2024-05", "2024-06")
OTHER_LANGUAGES = ("zh-CN", "zh-TW")


def _publish(book: Path, out: Path, as_of: str, language: str, only: tuple[str, ...] = ()):
    from analysis.report.options import ReportOptions
    from analysis.report.params import default_notebooks_dir
    from analysis.report.runner import run_report

    return run_report(ReportOptions(
        data_dir=book, as_of=as_of, out_dir=out, notebooks_dir=default_notebooks_dir(),
        language=language, languages=("en", *OTHER_LANGUAGES), only=only,
        cell_timeout_s=300, run_timeout_s=900, quiet=True,
    ))


@pytest.fixture(scope="session")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2,000-loan demo book published for two consecutive months (every page in
    English), then the latest month's effects and summary pages in zh-CN and zh-TW;
    returns the reports folder. Built once per session (about four minutes)."""
    own = tmp_path_factory.getbasetemp()
    base = shared_base(own)  # shared by the pytest-xdist workers
    out = base / "two_months"
    marker = base / "two_months.json"
    with built_once(marker) as todo:
        if todo:
            book = small_book(own)
            results = [_publish(book, out, m, "en") for m in TWO_MONTHS]
            results += [_publish(book, out, TWO_MONTHS[-1], lang, ("03", "00"))
                        for lang in OTHER_LANGUAGES]
            marker.write_text(json.dumps([[r.exit_code, r.message] for r in results]))
    for code, message in json.loads(marker.read_text()):
        assert code == 0, f"report run failed: {message}"
    return out
