"""The pages of a published month: HTML of the executed notebooks, the tables index, links.

:func:`render_pages` turns the executed notebooks of a run into HTML pages without code
(:mod:`analysis.report.html`; with ``analyst`` also pages with code under ``analyst/``),
each with the navigation of the month (every page, the tables, all months, and the same
page in the other published languages); without a summary notebook, a contents page
links the others. ``tables/index[.<lang>].html`` lists the CSV tables the run wrote.
File names: :func:`page_name` (``index`` for the summary ``00_*``, ``.<lang>`` for a
language other than English).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pandas as pd

from analysis.report import html as rh
from analysis.report.i18n.catalogue import translator
from analysis.report.options import SUPPORTED_LANGUAGES
from analysis.report.params import NotebookSpec
from analysis.version import __version__

SUMMARY_PREFIX = "00_"


def package_version() -> str:
    """The installed version of ``overdue-relief`` (page footers, run records): the one
    source, :data:`analysis.__version__`."""
    return __version__


def page_name(stem: str, language: str) -> str:
    """HTML file of a notebook: ``index`` for the summary, else the stem (+ ``.<lang>``)."""
    base = "index" if stem.startswith(SUMMARY_PREFIX) else stem
    return f"{base}.html" if language == "en" else f"{base}.{language}.html"


def table_summaries(tables: Path) -> list[tuple[str, int, list[str]]]:
    """(file name, rows, columns) of every CSV table in ``tables``, by name."""
    out = []
    for p in sorted(tables.glob("*.csv")):
        df = pd.read_csv(p)
        out.append((p.name, len(df), [str(c) for c in df.columns]))
    return out


def month_languages(target: Path) -> set[str]:
    """Languages whose summary page ``target`` already holds."""
    return {lang for lang in SUPPORTED_LANGUAGES
            if (target / page_name(SUMMARY_PREFIX, lang)).exists()}


def render_pages(staging: Path, specs: Sequence[NotebookSpec], language: str, as_of: str,
                 run_id: str, params: dict, analyst: bool,
                 twins: Sequence[str] = ()) -> dict[str, int]:
    """Write the HTML pages of the notebooks executed in ``staging/executed/`` and the
    tables index; returns page name -> size in bytes. ``twins``: the other languages whose
    pages this month has (linked from every page)."""
    t = translator(language)
    months_index = page_name(SUMMARY_PREFIX, language)  # reports/index[.<lang>].html

    executed = {s.stem: nbformat.read(staging / "executed" / f"{s.stem}.ipynb", as_version=4)
                for s in specs}
    titles = {s.stem: rh.notebook_title(executed[s.stem], s.title_slug.replace("_", " ").title())
              for s in specs}
    ordered = sorted(specs, key=lambda s: (not s.stem.startswith(SUMMARY_PREFIX), s.stem))
    has_summary = any(s.stem.startswith(SUMMARY_PREFIX) for s in specs)
    links = [] if has_summary else [(t("nav.contents"), page_name(SUMMARY_PREFIX, language))]
    links += [(titles[s.stem], page_name(s.stem, language)) for s in ordered]
    links += [(t("nav.tables"), "tables/" + months_index),
              (t("nav.all_months"), "../" + months_index)]

    def twin_links(stem: str) -> list[tuple[str, str]]:  # the same page in other languages
        return [(translator(lang).name, page_name(stem, lang)) for lang in twins]

    meta = f"{as_of}" + (f" · {params.get('segment')}" if params.get("segment") else "")
    footer = rh.footer_html(run_id, as_of, params, package_version())
    sizes: dict[str, int] = {}
    for s in specs:
        name = page_name(s.stem, language)
        sizes[name] = rh.render_notebook(
            executed[s.stem], staging / name, title=titles[s.stem],
            nav=rh.nav_html(links + twin_links(s.stem), name, meta), footer=footer,
            language=language,
        )
        if analyst:
            rh.render_notebook(
                executed[s.stem], staging / "analyst" / name,
                title=t("page.analyst_title", title=titles[s.stem]),
                footer=footer, language=language, with_code=True,
            )
    if not has_summary:
        name = page_name(SUMMARY_PREFIX, language)
        page = rh.month_link_page(
            as_of, [(titles[s.stem], page_name(s.stem, language)) for s in ordered],
            [p.name for p in sorted((staging / "tables").glob("*.csv"))], language,
            nav=rh.nav_html(links + twin_links(SUMMARY_PREFIX), name, meta),
        )
        (staging / name).write_text(page, encoding="utf-8")
        sizes[name] = len(page.encode())
    tables = table_summaries(staging / "tables")
    (staging / "tables" / months_index).write_text(
        rh.tables_page(as_of, tables, nav=rh.nav_html(
            [(label, "../" + h) for label, h in links
             if not h.startswith(("..", "tables/"))]
            + [(t("nav.tables"), months_index), (t("nav.all_months"), "../../" + months_index)]
            + twin_links(SUMMARY_PREFIX), months_index, meta),
            language=language),
        encoding="utf-8",
    )
    for name in sizes:
        rh.check_page_size(staging / name)
    return sizes


def carry_other_languages(target: Path, staging: Path, language: str) -> None:
    """Keep pages of other languages already published for this month."""
    if not target.exists():
        return
    for p in [*target.glob("*.html"), *target.glob("tables/*.html")]:  # pages, tables index
        parts = p.name.split(".")
        lang = parts[-2] if len(parts) == 3 else "en"
        rel = p.relative_to(target)
        if lang != language and not (staging / rel).exists():
            shutil.copy2(p, staging / rel)



__all__ = ["SUMMARY_PREFIX", "carry_other_languages", "package_version", "page_name",
           "month_languages", "render_pages", "table_summaries"]
