"""Shared pieces of the report tests: a small book, one published report, stand-in notebooks.

The published report is built once per test session (the first test that asks for it;
later callers find it done), so the notebook smoke tests, the privacy scan and the
real-browser check all look at the same run. Under pytest-xdist the workers share it: it
is built in the folder above each worker's own (:func:`shared_base`), under a file lock,
by the first worker that asks; the others wait and read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

from analysis.report.cache import entry_lock
from analysis.report.options import ReportOptions
from analysis.report.params import default_notebooks_dir
from analysis.report.runner import run_report

BOOK_LOANS = 2000
BOOK_SEED = 11
AS_OF = "2024-06"

PARAMS_CELL = (
    'data_dir: str = "../data/synthetic"  # data directory in the contract\n'
    'as_of: str = ""  # reporting month YYYY-MM (empty: latest)\n'
    "horizon_months: int = 6  # outcome window, months\n"
    "probation_months: int = 3  # clean months that confirm a cure\n"
    'segment: str = ""  # optional loan filter\n'
    "min_cell: int = 10  # smallest shown cell\n"
    'tables_dir: str = "tables"  # where tables go\n'
    'language: str = "en"  # report language\n'
)
# A light stand-in: writes a KPI table in the documented shape without loading the book.
LIGHT_KPI_BODY = (
    "import pandas as pd\n"
    "pd.DataFrame({'metric': ['cure_rate', 'overdue_rate_balance'], 'segment_type': 'all',"
    " 'segment': 'all', 'value': [0.4, 0.05], 'n': [120, 900]})"
    ".to_csv(tables_dir + '/kpis.csv', index=False)\n"
    "print('kpis written', min_cell)"
)
# A stand-in report notebook: opens the context and writes the KPI table.
KPI_BODY = (
    "from analysis import kpis\n"
    "from analysis.report.context import open_context\n"
    "ctx = open_context(data_dir=data_dir, as_of=as_of, horizon_months=horizon_months,"
    " probation_months=probation_months, segment=segment, min_cell=min_cell,"
    " tables_dir=tables_dir, language=language)\n"
    "ctx.write_table('kpis', ctx.suppressed(kpis.headline_kpis(ctx.book, ctx.episodes,"
    " ctx.as_of_label)))\n"
    "print('kpis written')"
)


def shared_base(base: Path) -> Path:
    """The session's folder that every pytest-xdist worker sees (the parent of each
    worker's own ``basetemp``); ``base`` itself in a run without workers."""
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def built_once(marker: Path) -> Iterator[bool]:
    """Hold the lock of ``marker`` and say whether it still has to be built (absent)."""
    with entry_lock(marker):
        yield not marker.exists()


def small_book(base: Path) -> Path:
    """A 2,000-loan synthetic book (seed 11), generated once per session."""
    path = shared_base(base) / "book2000"
    done = path / ".complete"
    with built_once(done) as todo:
        if todo:
            from analysis.synthetic.generate import generate_book

            generate_book(BOOK_LOANS, BOOK_SEED, path)
            done.write_text("ok")
    return path


def published_report(base: Path) -> tuple[Path, Path, object]:
    """Run the real notebooks once on :func:`small_book`; returns (book, reports, result)."""
    book = small_book(base)
    out = shared_base(base) / "published_reports"
    marker = shared_base(base) / "published_result.json"
    with built_once(marker) as todo:
        if todo:
            result = run_report(ReportOptions(
                data_dir=book, as_of=AS_OF, out_dir=out, notebooks_dir=default_notebooks_dir(),
                cell_timeout_s=300, run_timeout_s=900, quiet=True,
            ))
            marker.write_text(json.dumps({"exit_code": result.exit_code,
                                          "message": result.message,
                                          "status": result.status, "path": str(result.path)}))
    info = json.loads(marker.read_text())
    return book, out, info


def write_notebook(path: Path, body: str = "x = 1", title: str = "Stand-in page",
                   params: str = PARAMS_CELL) -> Path:
    """A minimal report notebook: a heading, a parameters cell, one code cell."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), cell,
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
