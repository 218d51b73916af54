"""Every notebook in notebooks/: hygiene in git, and a papermill smoke run on a small book.

The smoke run is one real report (``python -m analysis report``) over all notebooks on a
2,000-loan synthetic book; each notebook's executed copy must hold no error, its HTML
page must exist without error or stderr output, and its tables must have the documented
columns. The same run is searched for every loan and borrower ID of the book.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from analysis.report.pages import page_name
from analysis.report.params import RUNNER_PARAMETERS, default_notebooks_dir
from tests.helpers.reports import AS_OF, published_report

NOTEBOOKS = sorted(default_notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
REQUIRED_PARAMETERS = (
    "data_dir", "as_of", "horizon_months", "probation_months", "segment", "min_cell",
    "tables_dir", "language",
)
# Tables of the notebooks owned with the report runner, and their documented columns
# (docs/reports.md). Other notebooks' tables are checked for identifiers and shape only.
EXPECTED_TABLES: dict[str, list[str]] = {
    "kpis": ["metric", "segment_type", "segment", "value", "n", "is_suppressed"],
    "portfolio_mix": ["segment_type", "segment", "n_loans", "balance", "share_loans",
                      "share_balance", "is_suppressed"],
    "overdue_rates": ["month", "segment_type", "segment", "n_loans", "balance",
                      "overdue_rate_count", "overdue_rate_balance", "rate_30plus_count",
                      "rate_30plus_balance", "rate_90plus_count", "rate_90plus_balance",
                      "is_suppressed"],
    "roll_rates": ["period_start", "period_end", "weight", "from_bucket", "to_bucket", "n_from",
                   "transitions", "balance", "share", "is_suppressed"],
    "vintage_curves": ["segment_type", "segment", "cohort", "dpd_threshold", "months_on_book",
                       "n_loans", "n_observed", "n_ever", "share_ever", "is_suppressed"],
    "outcome_rates": ["segment_type", "segment", "metric", "value", "ci_low", "ci_high", "n",
                      "numerator", "denominator", "method", "is_suppressed"],
    "loan_categories": ["month", "segment_type", "segment", "category", "n_loans", "balance",
                        "share_count", "share_balance", "is_suppressed"],
}


def _ids(nb_path: Path) -> str:
    return nb_path.stem


# ----------------------------------------------------------------------- hygiene (fast)
def test_there_are_report_notebooks():
    stems = [p.stem for p in NOTEBOOKS]
    assert "00_management_summary" in stems and "01_portfolio_overview" in stems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_outputs_are_stripped(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_kernel_is_the_projects(path):
    """An analyst opening the notebook in JupyterLab gets the project's kernel (``make
    venv`` installs it), not whatever ``python3`` is on the machine."""
    spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert spec.get("name") == "overdue-relief", f"{path.name}: kernelspec {spec}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_parameters_cell_and_thin_code(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assert code[0] is tagged[0], f"{path.name}: the parameters cell must be the first code cell"
    tree = ast.parse(tagged[0].source)
    names = {}
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"{path.name}: parameters are typed literals"
        names[node.target.id] = node
        ast.literal_eval(node.value)  # plain literals only
    missing = [p for p in REQUIRED_PARAMETERS if p not in names]
    assert not missing, f"{path.name}: parameters cell lacks {missing}"
    for line in tagged[0].source.splitlines():
        assert "#" in line, f"{path.name}: every parameter needs a comment: {line!r}"
    for c in code:
        src = c.source
        assert not re.search(r"^\s*(def|class)\s", src, re.M), f"{path.name}: no definitions"
        assert "sys.path" not in src and "!pip" not in src and "%pip" not in src
    assert nb.metadata.get("kernelspec", {}).get("name"), f"{path.name}: no kernelspec"


# ----------------------------------------------------------------------- smoke run
@pytest.fixture(scope="module")
def report(tmp_path_factory):
    book, out, info = published_report(tmp_path_factory.getbasetemp())
    assert info["exit_code"] == 0, f"report run failed: {info['message']}"
    return book, out, out / AS_OF


def test_run_published_every_notebook(report):
    _, out, month = report
    run = json.loads((month / "run.json").read_text())
    assert run["status"] == "ok"
    assert set(run["notebook_durations_s"]) == {p.stem for p in NOTEBOOKS}
    declared = set(run["notebook_parameters"]["01_portfolio_overview"])
    assert set(RUNNER_PARAMETERS) - {"tables_dir"} <= declared
    assert (out / "index.html").exists() and (out / "history.sqlite").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_executed_without_error(report, path):
    _, _, month = report
    executed = nbformat.read(month / "executed" / f"{path.stem}.ipynb", as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    html = (month / page_name(path.stem, "en")).read_text(encoding="utf-8")
    assert "jp-OutputArea-output" in html or path.stem.startswith("00")
    assert "Traceback" not in html and 'data-mime-type="application/vnd.jupyter.stderr"' not in html
    assert "injected-parameters" not in html and "data_dir" not in html.split("<footer")[0]
    assert len(html.encode()) < 5 * 1024 * 1024
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", html)


def test_tables_have_documented_columns(report):
    _, _, month = report
    tables = {p.stem: p for p in (month / "tables").glob("*.csv")}
    for name, columns in EXPECTED_TABLES.items():
        assert name in tables, f"missing table {name}.csv"
        got = list(pd.read_csv(tables[name], nrows=5).columns)
        assert [c for c in columns if c != "category_zh"] == [c for c in got if c != "category_zh"], name
    for name, path in tables.items():
        df = pd.read_csv(path)
        assert len(df) > 0, f"{name}.csv is empty"
        assert not [c for c in df.columns if c.endswith(("loan_id", "borrower_id"))], name


def test_small_cells_are_suppressed_not_dropped(report):
    _, _, month = report
    run = json.loads((month / "run.json").read_text())
    min_cell = run["notebook_parameters"]["01_portfolio_overview"]["min_cell"]
    for name in ("outcome_rates", "portfolio_mix", "loan_categories"):
        df = pd.read_csv(month / "tables" / f"{name}.csv")
        count = "n" if "n" in df.columns else "n_loans"
        shown = df[~df["is_suppressed"]]
        assert (shown[count] >= min_cell).all(), name
        hidden = df[df["is_suppressed"]]
        value = "value" if "value" in df.columns else "share_balance"
        # a hidden row loses its value; its base count stays only when it is not small
        # (the row was hidden for a small numerator or as a complement: docs/reports.md)
        assert hidden[value].isna().all(), name
        assert (hidden[count].isna() | (hidden[count] >= min_cell)).all(), name
    cats = pd.read_csv(month / "tables" / "loan_categories.csv")
    assert cats["is_suppressed"].any(), "the small book should have some small category cells"


def test_no_identifier_anywhere_in_the_reports(report):
    book, out, _ = report
    loans = pd.read_parquet(Path(book) / "loans.parquet", columns=["loan_id", "borrower_id"])
    ids = set(loans["loan_id"].astype(str)) | set(loans["borrower_id"].astype(str))
    token = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
    checked = 0
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".csv", ".json", ".ipynb"):
            text = path.read_text(encoding="utf-8", errors="replace")
            hits = ids.intersection(token.findall(text))
            assert not hits, f"{path.relative_to(out)} contains IDs {sorted(hits)[:5]}"
            checked += 1
    assert checked >= 10
