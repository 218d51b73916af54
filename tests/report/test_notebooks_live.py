"""Each notebook opens and runs top to bottom in a live kernel with its DEFAULT parameters,
as an analyst would run it in JupyterLab (docs/exploring.md).

The notebooks' default ``data_dir`` is ``../data/synthetic`` (beside ``notebooks/``), so
the notebooks are copied to ``<tmp>/notebooks`` with the 2,000-loan demo book at
``<tmp>/data/synthetic``; nothing of the repository is written. The kernel is a live one
(nbclient, no report run), so ``ctx.show`` draws interactive tables (itables, offline):
the test checks they are there and that no output fetches anything from the network.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from analysis.report.cache import CACHE_ENV
from analysis.report.context import INTERACTIVE_ENV
from analysis.report.params import default_notebooks_dir
from tests.helpers.reports import small_book

# The order of a report run: the summary last, reading the tables the others wrote.
ORDER = ("01_portfolio_overview", "02_overdue_causes", "03_relief_effects", "04_targeting",
         "00_management_summary")


@pytest.fixture(scope="module")
def live_runs(tmp_path_factory) -> dict[str, nbformat.NotebookNode]:
    from nbclient import NotebookClient

    base = tmp_path_factory.mktemp("live")
    shutil.copytree(small_book(tmp_path_factory.getbasetemp()), base / "data" / "synthetic",
                    ignore=shutil.ignore_patterns(".complete"))
    work = base / "notebooks"
    work.mkdir()
    env_before = {k: os.environ.pop(k, None) for k in (CACHE_ENV, INTERACTIVE_ENV)}
    out: dict[str, nbformat.NotebookNode] = {}
    try:
        for stem in ORDER:
            src = default_notebooks_dir() / f"{stem}.ipynb"
            nb = nbformat.read(src, as_version=4)
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(work)}}).execute()
            out[stem] = nb
    finally:
        os.environ.update({k: v for k, v in env_before.items() if v is not None})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("stem", ORDER)
def test_notebook_runs_with_its_defaults(live_runs, stem) -> None:
    nb = live_runs[stem]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, errors[:1]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells
                   if c.cell_type == "code" for o in c.get("outputs", []))
    assert "itables" in html.lower() or stem == "00_management_summary" and "<table" in html
    # offline: no script, stylesheet or module is fetched from another host
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert not re.search(r"(from|import\()\s*[\"'](https?:)?//", html)


def test_live_detection(monkeypatch) -> None:
    from analysis.report.context import is_live

    monkeypatch.setenv(INTERACTIVE_ENV, "1")
    assert is_live()
    monkeypatch.setenv(INTERACTIVE_ENV, "0")
    assert not is_live()
    monkeypatch.delenv(INTERACTIVE_ENV)
    monkeypatch.setenv(CACHE_ENV, str(Path("/tmp")))
    assert not is_live()  # a report run: static pages
    monkeypatch.delenv(CACHE_ENV)
    assert not is_live()  # plain Python, no kernel
