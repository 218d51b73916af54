"""What the team that schedules the monthly run relies on, end to end with stand-in
notebooks: the run's log.txt is published next to run.json; run.json names the code and
the library versions; ``refresh`` publishes again after a version change, and only then."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import ParameterError
from analysis.report import params
from analysis.report import provenance as prov
from analysis.report import refresh as refresh_module
from analysis.report.options import ReportOptions
from analysis.report.pages import package_version
from analysis.report.refresh import refresh, version_change
from analysis.report.runner import run_report
from tests.helpers.reports import AS_OF, LIGHT_KPI_BODY, small_book, write_notebook

ROOT = Path(__file__).resolve().parents[2]
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return small_book(tmp_path_factory.getbasetemp())


def _opts(book: Path, tmp_path: Path) -> ReportOptions:
    nbdir = tmp_path / "nbs"
    write_notebook(nbdir / "01_kpis.ipynb", LIGHT_KPI_BODY, title="KPIs")
    write_notebook(nbdir / "00_summary.ipynb", "print(1)", title="Summary")
    return ReportOptions(data_dir=book, as_of=AS_OF, out_dir=tmp_path / "reports",
                         notebooks_dir=nbdir, cell_timeout_s=120, run_timeout_s=300,
                         lock_timeout_s=5, quiet=True)


def test_run_publishes_its_log_and_names_code_and_libraries(book, tmp_path):
    result = run_report(_opts(book, tmp_path))
    assert result.exit_code == 0, result.message
    month = tmp_path / "reports" / AS_OF
    log = (month / "log.txt").read_text().splitlines()
    assert all(re.match(STAMP + " (INFO|WARNING|ERROR) ", line) for line in log), log[:3]
    text = "\n".join(log)
    for step in ("report run " + result.run_id, "validating input (pandas)", "[1/2] 01_kpis ...",
                 "[2/2] 00_summary done in", "publishing "):
        assert step in text
    info = json.loads((month / "run.json").read_text())
    assert info["package_version"] == package_version()
    assert info["libraries"]["pandas"] == pd.__version__
    assert info["libraries"]["numpy"] == np.__version__
    assert set(prov.LIBRARIES) | {"python"} == set(info["libraries"])
    assert info["python"] == info["libraries"]["python"] and info["platform"]
    assert info["environment_id"] == prov.environment_id() and info["retries"] == []
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert info["git_commit"] == (head or None)
    assert isinstance(info["git_dirty"], bool) or info["git_commit"] is None


@pytest.mark.slow  # three runs, ~17 s; `make test-ops` (CI) runs it
def test_refresh_publishes_again_after_a_version_bump_and_only_then(book, tmp_path,
                                                                     monkeypatch):
    opts = _opts(book, tmp_path)
    first = refresh(opts)
    assert first is not None and first.exit_code == 0, first and first.message
    month = first.as_of  # the book's latest complete month
    assert refresh(opts) is None  # nothing changed: nothing to do
    monkeypatch.setattr(refresh_module, "package_version", lambda: "99.0.0")
    assert "published by overdue-relief" in version_change(opts.out_dir, month)
    assert refresh(opts, check_versions=False) is None  # the flag that disables it
    again = refresh(opts)
    assert again is not None and again.exit_code == 0 and again.run_id != first.run_id
    info = json.loads((opts.out_dir / month / "run.json").read_text())
    assert info["run_id"] == again.run_id and again.as_of == month


def _publish_info(out: Path, **info) -> None:
    (out / AS_OF).mkdir(parents=True)
    (out / AS_OF / "run.json").write_text(json.dumps({"status": "ok", **info}))


def test_version_change_reads_package_version_and_environment(tmp_path):
    out = tmp_path / "reports"
    assert version_change(out, AS_OF) is None  # nothing published
    _publish_info(out, package_version=package_version(), environment_id=prov.environment_id())
    assert version_change(out, AS_OF) is None
    (out / AS_OF / "run.json").write_text(json.dumps({"package_version": "0.0.1"}))
    assert f"published by overdue-relief 0.0.1, this is {package_version()}" == \
        version_change(out, AS_OF)
    (out / AS_OF / "run.json").write_text(json.dumps(
        {"package_version": package_version(), "environment_id": "000000000000"}))
    assert "library versions changed" in version_change(out, AS_OF)
    (out / AS_OF / "run.json").write_text(json.dumps({"status": "ok"}))  # an older record
    assert version_change(out, AS_OF) is None


def test_environment_id_follows_every_library_version():
    versions = prov.library_versions()
    assert versions["pandas"] == pd.__version__ and versions["python"]
    assert prov.environment_id(versions) == prov.environment_id(dict(versions))
    bumped = {**versions, "scikit-learn": versions["scikit-learn"] + ".post1"}
    assert prov.environment_id(bumped) != prov.environment_id(versions)
    assert re.fullmatch(r"[0-9a-f]{12}", prov.environment_id())


def test_notebooks_come_from_the_checkout_else_from_the_installed_package(tmp_path,
                                                                          monkeypatch):
    assert prov.notebooks_dir() == ROOT / "notebooks"  # this checkout
    # not a checkout: the module sits in an installed tree without pyproject.toml
    monkeypatch.setattr(params, "__file__", str(tmp_path / "site" / "analysis" / "report" / "params.py"))
    package = tmp_path / "analysis" / "report"
    monkeypatch.setattr(params.resources, "files", lambda name: package)
    with pytest.raises(ParameterError, match="pass --notebooks DIR"):
        prov.notebooks_dir()
    write_notebook(package / "notebooks" / "01_page.ipynb")
    assert prov.notebooks_dir() == package / "notebooks"
