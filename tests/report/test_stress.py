"""Books built to be awkward (issue #16): each passes validation, and each gives a published
report (exit 0, every page) whose degraded sections are named in ``run.json`` and the history.

A model that cannot be fitted costs its own section, never the page or the report: the guard
(:meth:`analysis.report.context.ReportContext.attempt`) is tested in-process, and a singular
fit is injected into each model entry point of a real report run (through a
``sitecustomize`` the report kernel imports; :func:`tests.helpers.stress.singular_fit_site`).

Report runs take 30-90 s each: the corpus and the injected runs are marked ``stress``
(``make test-stress``, which ``.ci/run`` runs); the injected runs also check the tiny-arms
book's 1-episode arm. ``make test`` keeps the in-process guard tests here and a degraded
section of a stand-in page through the runner (``test_report_run``). Hostile text is checked in every page and table
by ``test_disclosure`` (stress) and in the standalone pages by ``test_templates``.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from analysis import load_book
from analysis.data.subset import latest_month
from analysis.errors import EstimationError, InputError, ParameterError
from analysis.importers.tape import run_import
from analysis.report.context import DEGRADED_FILE, SECTIONS, attempt, open_context, why
from analysis.report.history import degraded_sections, runs
from analysis.report.i18n.catalogue import translator
from analysis.report.options import ReportOptions
from analysis.report.pages import page_name
from analysis.report.params import default_notebooks_dir
from tests.helpers import stress

ROOT = Path(__file__).resolve().parents[2]
#: Each report run is long and independent: pytest-xdist spreads them (tests/conftest.py).
XDIST_SPREAD = True
NOTEBOOKS = sorted(p.stem for p in default_notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
BASE_LOANS, BASE_SEED = 800, 5
KEY = b"stress-key-0123456789abcdef"


# ----------------------------------------------------------------------------- books
@pytest.fixture(scope="session")
def base_book(tmp_path_factory) -> Path:
    """One small synthetic book (800 loans, seed 5), made once per session."""
    path = tmp_path_factory.getbasetemp() / "stress_base"
    if not (path / ".complete").exists():
        from analysis.synthetic.generate import generate_book

        generate_book(BASE_LOANS, BASE_SEED, path)
        (path / ".complete").write_text("ok")
    return path


def stress_dir(base: Path, kind: str, tmp: Path) -> Path:
    """The stress book ``kind``: a builder of :mod:`tests.helpers.stress` applied to the base
    book, or ``lendingclub-<seed>`` / ``uci-<seed>``: a public excerpt imported with its
    spec, 20 % of its loans removed at random."""
    out = tmp / kind
    if (out / ".complete").exists():
        return out
    if kind in stress.BUILDERS:
        stress.stress_book(base, kind, out)
    else:
        sample, seed = kind.rsplit("-", 1)
        spec = {"lendingclub": "lendingclub.yml", "uci": "uci_taiwan.yml"}[sample]
        imported = tmp / f"{sample}_imported"
        if not (imported / "loans.parquet").exists():
            assert run_import(ROOT / "data" / "specs" / spec, imported, key=KEY).published
        stress.write_book(stress.drop_rows(load_book(imported), 0.2, int(seed)), out)
    load_book(out)  # every stress book passes validation (else the builder is wrong)
    (out / ".complete").write_text("ok")
    return out


def run_stress(book: Path, out: Path, **kwargs) -> tuple[object, dict]:
    """A real report run on ``book`` for its last month; (RunResult, run.json)."""
    from analysis.report.runner import run_report

    as_of = latest_month(load_book(book)).strftime("%Y-%m")
    result = run_report(ReportOptions(
        data_dir=book, as_of=as_of, out_dir=out, notebooks_dir=default_notebooks_dir(),
        cell_timeout_s=300, run_timeout_s=900, quiet=True, **kwargs))
    assert result.exit_code == 0, f"{book.name}: report failed: {result.message}"
    info = json.loads((result.path / "run.json").read_text(encoding="utf-8"))
    return result, info


def check_published(result, info: dict) -> None:
    """Every page is present, without an error output; ``degraded`` is in run.json and the
    history, record for record, and every degraded section is named on its own page."""
    month = result.path
    assert info["status"] == "ok" and set(info["notebook_durations_s"]) == set(NOTEBOOKS)
    assert not (month / "tables" / DEGRADED_FILE).exists()  # a record, not a table
    for stem in NOTEBOOKS:
        html = (month / page_name(stem, "en")).read_text(encoding="utf-8")
        assert "Traceback" not in html and 'data-mime-type="application/vnd.jupyter.stderr"' \
            not in html, stem
    for d in info["degraded"]:
        assert set(d) == {"notebook", "section", "reason"} and d["section"] in SECTIONS
        assert d["notebook"] in NOTEBOOKS and d["reason"]
        page = _page_text(month / page_name(d["notebook"], "en"))
        assert d["reason"][:40] in page, d
    hist = degraded_sections(month.parent)
    mine = hist[hist["run_id"] == info["run_id"]]
    assert mine[["notebook", "section", "reason"]].to_dict("records") == info["degraded"]
    summary = (month / page_name("00_management_summary", "en")).read_text(encoding="utf-8")
    assert ("Not estimated this month" in summary) == bool(info["degraded"])


def _page_text(path: Path) -> str:
    """A page's text: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------- the guard
def _singular():
    raise np.linalg.LinAlgError("Singular matrix")


def _separated():
    raise PerfectSeparationError("Perfect separation detected")


def _bad_clip():
    raise ParameterError("clip must be in (0, 0.5)")


def _bug():
    return {}["no_such_column"]


def test_attempt_catches_fit_failures_and_lets_bugs_through():
    assert attempt(lambda x: x + 1, 1) == (2, None)
    for step, kind in [(_singular, np.linalg.LinAlgError), (_separated, PerfectSeparationError)]:
        result, error = attempt(step)
        assert result is None and isinstance(error, kind)
    with pytest.raises(KeyError):  # a programming error fails the run loudly
        attempt(_bug)
    with pytest.raises(ZeroDivisionError):
        attempt(lambda: 1 / 0)
    with pytest.raises(TypeError):
        attempt(lambda: None + 1)


def test_why_is_in_the_report_language():
    en, zh, tw = (translator(lang) for lang in ("en", "zh-CN", "zh-TW"))
    singular = np.linalg.LinAlgError("Singular matrix")
    assert why(singular, en).startswith("the model could not be fitted on these data")
    assert "Singular matrix" in why(singular, en) and "collinear" in why(singular, en)
    assert "方程组奇异" in why(singular, zh) and "方程組奇異" in why(singular, tw)
    assert "separation" in why(PerfectSeparationError("x"), en)
    assert "完全分离" in why(PerfectSeparationError("x"), zh)
    assert why(EstimationError("cox: no events"), en) == (
        "the model could not be fitted on these data (cox: no events)")
    assert why(InputError("too few episodes"), zh) == "too few episodes"  # the data's own words


def test_ctx_attempt_records_only_the_failed_section(base_book, tmp_path):
    ctx = open_context(str(base_book), tables_dir=str(tmp_path / "tables"), language="zh-CN")
    assert ctx.attempt("effects.placebo", len, ctx.episodes) == (len(ctx.episodes), None)
    assert ctx.degraded() == [] and ctx.degraded_text() == ""
    result, reason = ctx.attempt("effects.time_to_cure", _singular)
    assert result is None and "方程组奇异" in reason
    assert ctx.degraded() == [{"section": "effects.time_to_cure", "reason": reason, "notebook": ""}]
    text = ctx.degraded_text()
    assert text.startswith("## 本月未能估计的部分") and "治愈所需时间：" in text
    with pytest.raises(KeyError):  # a bug inside a guarded step is not a degraded section
        ctx.attempt("effects.placebo", _bug)
    with pytest.raises(ValueError, match="unknown report section"):
        ctx.attempt("effects.no_such_section", len, [])
    assert [d["section"] for d in ctx.degraded()] == ["effects.time_to_cure"]


def test_bad_parameter_is_still_reported_not_hidden(base_book, tmp_path):
    """A guarded step that rejects a parameter says so on the page (as before: the reason
    is the error's own message), and the section is listed; open_context still raises."""
    ctx = open_context(str(base_book), tables_dir=str(tmp_path / "t"))
    _, reason = ctx.attempt("effects.cure", _bad_clip)
    assert reason == "clip must be in (0, 0.5)" and ctx.degraded()[0]["reason"] == reason
    with pytest.raises(ParameterError):
        open_context(str(base_book), min_cell=0, tables_dir=str(tmp_path / "t"))


# ----------------------------------------------------------------------------- the corpus
CORPUS = [
    *[pytest.param(k, id=k, marks=pytest.mark.stress) for k in stress.BUILDERS],
    *[pytest.param(f"{s}-{seed}", id=f"{s}-{seed}", marks=pytest.mark.stress)
      for s in ("lendingclub", "uci") for seed in (1, 2)],
]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stress_corpus")


@pytest.mark.parametrize("kind", CORPUS)
def test_stress_book_publishes(kind, base_book, corpus_dir):
    book = stress_dir(base_book, kind, corpus_dir / "books")
    result, info = run_stress(book, corpus_dir / "reports" / kind)
    check_published(result, info)
    month = result.path
    if kind == "tiny_arms":  # the 1-episode instalment arm: no estimate, and the page says so
        page = (month / page_name("03_relief_effects", "en")).read_text(encoding="utf-8")
        assert "fewer than min_cell" in page and "instalment" in page
        effects = pd.read_csv(month / "tables" / "effects.csv")
        shown = effects[(effects["measure"] == "instalment") & effects["estimate"].notna()]
        assert shown.empty, "an estimate for the 1-episode arm was published"
    if kind == "hostile_text":  # HTML and script from the tape are shown inert on every page
        shown = 0
        for stem in NOTEBOOKS:
            page = (month / page_name(stem, "en")).read_text(encoding="utf-8")
            assert stress.HOSTILE_INDUSTRY not in page and stress.HOSTILE_REASON not in page
            shown += "&lt;script&gt;alert(" in page  # shown, as text
        assert shown >= 1


# ----------------------------------------------------------------------------- injected fits
#: The sections a singular fit in each entry point must cost (and no other): estimate_effects
#: feeds the three outcomes and the refutation checks; net benefit reuses the loss-rate
#: nuisance, so it is not reached.
INJECTED = {
    "causes.attribution": {"causes.attribution"},
    "effects.cure": {"effects.sustained_cure", "effects.cure", "effects.loss_rate",
                     "effects.refutation"},
    "effects.time_to_cure": {"effects.time_to_cure"},
    "effects.placebo": {"effects.placebo"},
    "effects.net_benefit": {"effects.net_benefit"},
    "targeting.policies": {"targeting.policies"},
}


@pytest.mark.stress  # a whole report each (CI's make test-stress); make test keeps the
@pytest.mark.parametrize("entry", list(INJECTED))  # stand-in page's degraded section
def test_singular_fit_costs_only_its_section(entry, base_book, corpus_dir, monkeypatch):
    """A numerically impossible fit (LinAlgError) in one model entry point of a real run:
    exit 0, every page, exactly that section degraded, its page says why in the report
    language (here zh-CN: the reason is translated, not a traceback)."""
    book = stress_dir(base_book, "tiny_arms", corpus_dir / "books")
    site = stress.singular_fit_site(corpus_dir / "site")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.setenv(stress.INJECT_ENV, stress.ENTRY_POINTS[entry])
    result, info = run_stress(book, corpus_dir / "injected" / entry, language="zh-CN")
    assert {d["section"] for d in info["degraded"]} == INJECTED[entry]
    for d in info["degraded"]:
        assert "方程组奇异" in d["reason"] and "injected into" in d["reason"]
    month = result.path
    for stem in NOTEBOOKS:
        html = (month / page_name(stem, "zh-CN")).read_text(encoding="utf-8")
        assert "Traceback" not in html and "LinAlgError" not in html
    summary = (month / page_name("00_management_summary", "zh-CN")).read_text(encoding="utf-8")
    assert "本月未能估计的部分" in summary
    if "effects.cure" not in INJECTED[entry]:  # the 1-episode arm: no estimate published
        effects = pd.read_csv(month / "tables" / "effects.csv")
        assert effects.loc[(effects["measure"] == "instalment")
                           & effects["estimate"].notna()].empty
    assert runs(month.parent)["status"].tolist() == ["ok"]
