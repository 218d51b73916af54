"""Books built to be awkward (issue #16): each passes validation, and each must still give a
published report, with what cannot be estimated marked on its page and in the run record.

Every builder takes a small synthetic book (or a public excerpt imported with its spec) and
changes it the way real tapes are awkward: tiny or lopsided arms, a covariate that is
constant or collinear, no reasons, no signals, a single month, a single relief code,
hostile text. They write plain ``<table>.parquet`` files (no ground truth: the truth of
the original book no longer describes the changed one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import build_episodes, load_book
from analysis.data import Book

TABLES = ("loans", "performance", "relief", "measures", "signals", "reasons", "cause_map")


def write_book(book: Book, out: Path) -> Path:
    """Write ``book``'s tables as ``<table>.parquet`` in ``out`` (absent tables skipped;
    ``measures`` only when it declares a non-standard code)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        df = getattr(book, name)
        if df is None or name == "measures":
            continue
        df.to_parquet(out / f"{name}.parquet", index=False)
    extra = book.measures[~book.measures["code"].isin(
        ["deferral", "instalment", "rate_reduction", "counselling"])]
    if len(extra):
        extra.to_parquet(out / "measures.parquet", index=False)
    return out


def _keep_loans(book: Book, keep: pd.Series | np.ndarray) -> Book:
    """``book`` restricted to the loans whose ID is in ``keep`` (every table)."""
    ids = set(pd.Series(keep).astype(str))

    def cut(df: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if df is None else df[df["loan_id"].astype(str).isin(ids)].reset_index(drop=True)

    return Book(loans=cut(book.loans), performance=cut(book.performance),
                relief=cut(book.relief), measures=book.measures, signals=cut(book.signals),
                reasons=cut(book.reasons), cause_map=book.cause_map)


def _replace(book: Book, **tables: pd.DataFrame | None) -> Book:
    parts = {name: getattr(book, name) for name in TABLES}
    parts.update(tables)
    return Book(**parts)


def tiny_arms(book: Book, seed: int = 0) -> Book:
    """Three measures granted to exactly 1, 2 and 5 loans (the fourth keeps its grants)."""
    rng = np.random.default_rng(seed)
    relief = book.relief
    kept = [relief[relief["measure"] == "deferral"]]
    for measure, n in (("instalment", 1), ("rate_reduction", 2), ("counselling", 5)):
        rows = relief[relief["measure"] == measure]
        loans = rows["loan_id"].drop_duplicates()
        chosen = rng.choice(loans.to_numpy(), size=min(n, len(loans)), replace=False)
        kept.append(rows[rows["loan_id"].isin(chosen)].groupby("loan_id").head(1))
    return _replace(book, relief=pd.concat(kept).sort_values(["loan_id", "granted_date"])
                    .reset_index(drop=True))


def all_cure(book: Book, borrower_type: str = "micro_enterprise") -> Book:
    """Every episode of one borrower type cures: that type's loans with an episode that did
    not cure are dropped."""
    ep = build_episodes(book)
    bad = ep.loc[(ep["borrower_type"] == borrower_type) & ~ep["is_cured"].fillna(False).astype(bool),
                 "loan_id"]
    return _keep_loans(book, book.loans.loc[~book.loans["loan_id"].isin(bad), "loan_id"])


def degenerate_covariates(book: Book) -> Book:
    """A constant credit score, one industry, and an extra loan column that is an exact
    multiple of the principal."""
    loans = book.loans.assign(credit_score=650.0, industry="retail",
                              principal_k=book.loans["principal"] / 1000.0)
    return _replace(book, loans=loans)


def no_reasons(book: Book) -> Book:
    """No reasons table, and a cause map of signals only."""
    cmap = book.cause_map[book.cause_map["source"] == "signal"].reset_index(drop=True)
    return _replace(book, reasons=None, cause_map=cmap)


def no_signals(book: Book) -> Book:
    """No signals table, and a cause map of reasons only."""
    cmap = book.cause_map[book.cause_map["source"] == "reason"].reset_index(drop=True)
    return _replace(book, signals=None, cause_map=cmap)


def single_month(book: Book) -> Book:
    """One month of data: the loans open in the book's last month, with that month's row
    only (a tape delivered as one month's snapshot)."""
    last = book.performance["month"].max()
    perf = book.performance[book.performance["month"] == last].reset_index(drop=True)
    out = _keep_loans(book, perf["loan_id"])
    signals = None if out.signals is None else out.signals[out.signals["month"] == last]
    return _replace(out, performance=perf, signals=signals)


def single_code(book: Book) -> Book:
    """All relief is deferral."""
    relief = book.relief.assign(measure="deferral", deferral_months=3, instalments=pd.NA,
                                rate_cut_bp=np.nan, counselling_sessions=pd.NA)
    relief = relief.drop_duplicates(["loan_id", "granted_date", "measure"]).reset_index(drop=True)
    return _replace(book, relief=relief)


HOSTILE_REGION = '=HYPERLINK("http://example.invalid","x")'
HOSTILE_INDUSTRY = '<script>alert("industry")</script>'
HOSTILE_REASON = '<img src=x onerror=alert(1)>'


def hostile_text(book: Book) -> Book:
    """HTML and script in industry and reason codes, a spreadsheet formula in region."""
    loans = book.loans.copy()
    n = len(loans)
    loans.loc[: n // 3, "region"] = HOSTILE_REGION
    loans.loc[n // 3: 2 * n // 3, "industry"] = HOSTILE_INDUSTRY
    reasons, cmap = book.reasons, book.cause_map
    if reasons is not None and len(reasons):
        first = reasons["reason_code"].iloc[0]
        reasons = reasons.assign(reason_code=reasons["reason_code"].replace(first, HOSTILE_REASON))
        cmap = cmap.assign(name=cmap["name"].where(
            ~((cmap["source"] == "reason") & (cmap["name"] == first)), HOSTILE_REASON))
    return _replace(book, loans=loans, reasons=reasons, cause_map=cmap)


def drop_rows(book: Book, share: float, seed: int) -> Book:
    """A random ``share`` of the loans removed (all their rows), as a thinner tape would be."""
    rng = np.random.default_rng(seed)
    ids = book.loans["loan_id"]
    return _keep_loans(book, ids[rng.random(len(ids)) >= share])


BUILDERS: dict[str, Callable[[Book], Book]] = {
    "tiny_arms": tiny_arms,
    "all_cure": all_cure,
    "degenerate_covariates": degenerate_covariates,
    "no_reasons": no_reasons,
    "no_signals": no_signals,
    "single_month": single_month,
    "single_code": single_code,
    "hostile_text": hostile_text,
}


def as_text(book: Book) -> Book:
    """``book`` with its category columns (the loader's compact IDs and codes) as plain text,
    so a builder can write any value into them, as into a tape."""
    def plain(df: pd.DataFrame | None) -> pd.DataFrame | None:
        if df is None:
            return None
        cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        return df.astype(dict.fromkeys(cats, object)) if cats else df

    return _replace(book, **{name: plain(getattr(book, name)) for name in TABLES})


def stress_book(source: Path, kind: str, out: Path) -> Path:
    """Write the stress book ``kind`` (a key of :data:`BUILDERS`) built from ``source``."""
    return write_book(BUILDERS[kind](as_text(load_book(source))), out)


# ----------------------------------------------------------------------------- injected fits
#: ``module:function`` targets (comma-separated) that a report kernel replaces by a fit that
#: raises ``numpy.linalg.LinAlgError`` (see :func:`singular_fit_site`).
INJECT_ENV = "OVERDUE_RELIEF_TEST_SINGULAR"

#: The model entry points the notebooks call, by the report section each one feeds.
ENTRY_POINTS: dict[str, str] = {
    "causes.attribution": "analysis.report.cache:attribute",
    # a function and every name it is bound to (the package face, modules that import it)
    "effects.cure": "analysis.effects.estimators:estimate_effects,"
                    "analysis.effects:estimate_effects,analysis.effects.refute:estimate_effects",
    "effects.time_to_cure": "analysis.effects.survival:analyse_time_to_cure",
    "effects.placebo": "analysis.effects.diagnostics:placebo,analysis.effects:placebo",
    "effects.net_benefit": "analysis.effects.losses:net_benefit",
    "targeting.policies": "analysis.targeting.policies:compare_policies",
}

_SITECUSTOMIZE = f'''"""Test-only: replace the model entry points named in ${INJECT_ENV} by a singular fit."""
import os

_targets = os.environ.get("{INJECT_ENV}", "")
if _targets:
    import importlib

    import numpy as np

    for _target in _targets.split(","):
        _module, _name = _target.split(":")

        def _singular(*args, _name=_name, **kwargs):
            raise np.linalg.LinAlgError(f"Singular matrix (injected into {{_name}})")

        setattr(importlib.import_module(_module), _name, _singular)
'''


def singular_fit_site(folder: Path) -> Path:
    """Write a ``sitecustomize.py`` into ``folder`` and return it: with ``folder`` on a
    report kernel's ``PYTHONPATH`` and :data:`INJECT_ENV` set to ``module:function``
    targets, the kernel starts with those functions raising ``LinAlgError`` (a numerically
    impossible fit), before any notebook imports them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
    return folder
