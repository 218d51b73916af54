"""HTML pages of a report: executed notebooks to self-contained, offline, mailable files.

Management pages are rendered with nbconvert's ``lab`` template, without code
(``exclude_input``), with the ``parameters`` / ``injected-parameters`` cells removed
(:class:`~nbconvert.preprocessors.TagRemovePreprocessor`), and with stderr streams,
warnings and bare ``<Figure ...>`` reprs stripped. A small template extending
``lab/index.html.j2`` empties every block that would load require.js, MathJax,
mermaid or widget scripts from a CDN, so a page fetches nothing from another host;
its CSS is inlined and its images are embedded PNGs (``data:`` URIs). A navigation bar
links the pages of the month, the tables and the list of all months.

The standalone pages (the month list ``reports/index*.html``, a month's link page, the
tables page), the navigation bar and the footer are Jinja2 templates in ``templates/``
(package data; the notebook pages extend nbconvert's ``lab`` template with
``report_notebook.html.j2`` from there too). One environment renders them, with
autoescape on: loan-tape text, catalogue text and failed runs' messages go in as text,
never as markup. The only HTML built outside a template is a pandas table rendered with
``escape=True`` (:func:`table_html`). A template missing from an installed package
raises :class:`~analysis.errors.InputError` naming it.

Known drawbacks: markdown math (``$...$``) is not typeset, because MathJax would
have to be embedded (about 2 MB); write rates in words and numbers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup, escape
from nbconvert.preprocessors import Preprocessor

from analysis.errors import InputError
from analysis.report.i18n.catalogue import translator

MAX_PAGE_BYTES = 5 * 1024 * 1024
REMOVE_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell", "remove_cell"}
#: The page templates, shipped as package data (pyproject.toml ``[tool.setuptools.package-data]``).
TEMPLATE_DIR = Path(str(resources.files("analysis.report") / "templates"))
#: Every template a report needs: a wheel without one of them is broken (tests/test_packaging.py).
TEMPLATES: tuple[str, ...] = (
    "report_page.html.j2", "report_macros.html.j2", "report_nav.html.j2",
    "report_footer.html.j2", "report_month.html.j2", "report_tables.html.j2",
    "report_months_index.html.j2", "report_notebook.html.j2", "report_page.css",
    "report_nav.css",
)
_NOTEBOOK_TEMPLATE = "report_notebook.html.j2"


class StripNoisePreprocessor(Preprocessor):
    """Drop stderr streams (warnings, progress bars) and bare matplotlib object reprs."""

    _REPR = re.compile(r"^<(Figure|Axes|matplotlib\.)[^>]*>$")

    def preprocess_cell(self, cell, resources, index):  # noqa: D401 - nbconvert API
        if cell.cell_type != "code":
            return cell, resources
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue
            data = out.get("data", {})
            if set(data) == {"text/plain"} and self._REPR.match(str(data["text/plain"]).strip()):
                continue
            kept.append(out)
        cell.outputs = kept
        return cell, resources


def notebook_title(nb: nbformat.NotebookNode, default: str) -> str:
    """The first markdown heading of ``nb`` (without ``#``), else ``default``.

    Headings printed by code (``Markdown(ctx.t(...))`` outputs, in the report language)
    count as markdown.
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = str(cell.source)
        else:
            text = "\n".join(str(o.get("data", {}).get("text/markdown", ""))
                             for o in cell.get("outputs", []))
        for line in text.splitlines():
            m = re.match(r"^#{1,2}\s+(.*\S)", line)
            if m:
                return re.sub(r"[*_`]", "", m.group(1))
    return default


def _exporter(with_code: bool):
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[FileSystemLoader(str(TEMPLATE_DIR))],
        template_file=template_path(_NOTEBOOK_TEMPLATE).name,
        exclude_input=not with_code,
        exclude_input_prompt=not with_code,
        exclude_output_prompt=True,
        embed_images=True,
        anchor_link_text="",
        require_js_url="",
        mathjax_url="",
        mermaid_js_url="",
        jquery_url="",
    )
    tags = TagRemovePreprocessor(
        remove_cell_tags=REMOVE_CELL_TAGS if not with_code else {"remove-cell", "remove_cell"},
        remove_input_tags={"hide-input", "remove-input"},
        remove_all_outputs_tags={"remove-output"},
        enabled=True,
    )
    exporter.register_preprocessor(tags, enabled=True)
    if not with_code:
        exporter.register_preprocessor(StripNoisePreprocessor(), enabled=True)
    return exporter


def render_notebook(
    nb: nbformat.NotebookNode,
    out_path: Path,
    *,
    title: str,
    nav: str = "",
    footer: str = "",
    language: str = "en",
    with_code: bool = False,
) -> int:
    """Write ``nb`` as one self-contained HTML page; returns its size in bytes."""
    nb = nbformat.from_dict(nbformat.v4.upgrade(nb) if nb.nbformat < 4 else nb)
    nb.metadata["title"] = title
    exporter = _exporter(with_code)
    body, _ = exporter.from_notebook_node(
        nb, resources={"report_nav": nav, "report_footer": footer}
    )
    body = re.sub(r"<html lang=\"[^\"]*\">", f'<html lang="{escape(language)}">', body, count=1)
    body = strip_remote_scripts(body)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(body, encoding="utf-8")
    return len(body.encode("utf-8"))


def strip_remote_scripts(page: str) -> str:
    """Remove any ``<script src=...>`` and ``<link href=...>`` pointing off the machine."""
    page = re.sub(
        r"<script[^>]*\bsrc=\"(?:https?:)?//[^\"]*\"[^>]*>\s*</script>", "", page, flags=re.I
    )
    return re.sub(r"<link[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*/?>", "", page, flags=re.I)


def footer_html(run_id: str, as_of: str, params: dict, version: str) -> Markup:
    """Provenance line at the bottom of each page, in the language of ``params["language"]``.

    Parameters are shown as ``name=value`` (codes), paths left out; all of it is text.
    """
    t = translator(str(params.get("language", "en")))
    shown = ", ".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in ("data_dir", "tables_dir")
    )
    text = t("page.footer", month=as_of, run_id=run_id, version=version, params=shown)
    return render_template("report_footer.html.j2", text=text)


# --------------------------------------------------------------------------- templates
@functools.cache
def _environment(folder: str) -> Environment:
    return Environment(loader=FileSystemLoader(folder), autoescape=True, trim_blocks=True,
                       lstrip_blocks=True, undefined=StrictUndefined)


def page_environment() -> Environment:
    """The one Jinja2 environment of the standalone pages: the package's ``templates/``
    folder, autoescape on, so every value (tape text, catalogue text, messages) goes in
    as text unless it is :class:`~markupsafe.Markup` that our own code built."""
    return _environment(str(TEMPLATE_DIR))


def _missing(name: str) -> InputError:
    return InputError(
        f"page template {name!r} is missing from {TEMPLATE_DIR}: the installed package is "
        "incomplete (analysis/report/templates/ is package data); reinstall overdue-relief"
    )


def template_path(name: str) -> Path:
    """The file of template ``name``; InputError naming it when the package lacks it."""
    path = TEMPLATE_DIR / name
    if not path.is_file():
        raise _missing(name)
    return path


def render_template(name: str, **context: Any) -> Markup:
    """Template ``name`` rendered with ``context`` (text values escaped): HTML.

    InputError naming the template when it, or one it extends or includes, is missing.
    """
    try:
        html = page_environment().get_template(name).render(**context)
    except TemplateNotFound as exc:
        raise _missing(exc.name or name) from exc
    return Markup(html)  # the output of our autoescaping template: HTML by construction


def nav_html(links: Sequence[tuple[str, str]], current: str | None, meta: str = "") -> Markup:
    """A navigation bar: ``links`` are ``(label, href)``; ``current`` is an href.

    Labels, hrefs and ``meta`` are text (escaped); the result is HTML for a page's ``nav``.
    """
    return render_template("report_nav.html.j2", links=list(links), current=current, meta=meta)


def tag(name: str, text: str) -> Markup:
    """``<name>text</name>`` with ``text`` escaped (``name`` is a tag name, e.g. ``h2``)."""
    return Markup("<{0}>{1}</{0}>").format(Markup(name), text)


def index_name(language: str) -> str:
    """``index.html`` in English, else ``index.<lang>.html``: a month's summary page, its
    tables list and ``reports/`` month list in ``language`` (as ``report.page_name``)."""
    return "index.html" if language == "en" else f"index.{language}.html"


def plain_page(title: str, body: str, *, language: str = "en", nav: str = "") -> str:
    """A small self-contained page (no script, inline CSS).

    ``body`` and ``nav`` go in as HTML only when they are :class:`~markupsafe.Markup`
    (from :func:`tag`, :func:`table_html`, :func:`nav_html`); a plain ``str`` is text.
    """
    return str(render_template("report_page.html.j2", title=title, body=body,
                               language=language, nav=nav))


def table_html(df: pd.DataFrame) -> Markup:
    """A plain HTML table of ``df`` (cells and headers escaped, no index)."""
    # The one place where HTML built outside a template enters a page: pandas escapes every
    # cell and header itself (escape=True), so this is markup we made, with the data as text.
    return Markup(df.to_html(index=False, escape=True, na_rep="", border=0))


def catalogue_text(text: str) -> str:
    """Catalogue text for the ``code_spans`` macro (``report_macros.html.j2``), which sets
    ```x``` as ``<code>x</code>`` and escapes the rest: a ``<code>x</code>`` written in a
    catalogue entry becomes ```x```; any other markup stays text."""
    return re.sub(r"<code>([^<>`]*)</code>", r"`\1`", text)


def month_link_page(as_of: str, pages: Sequence[tuple[str, str]], tables: Sequence[str],
                    language: str = "en", nav: str = "") -> str:
    """The month's ``index.html`` when the run had no management summary notebook.

    ``pages``: ``(title, href)`` of the month's pages; ``tables``: CSV file names. ``nav``:
    :func:`nav_html`.
    """
    t = translator(language)
    return str(render_template(
        "report_month.html.j2", title=t("page.month_title", month=as_of), language=language,
        nav=nav, pages=list(pages), tables=list(tables), pages_heading=t("page.pages"),
        tables_heading=t("nav.tables"), all_months=t("nav.all_months"),
        months_index=index_name(language),
    ))


def tables_page(as_of: str, tables: Sequence[tuple[str, int, list[str]]], nav: str = "",
                language: str = "en") -> str:
    """``tables/index[.<lang>].html``: each CSV ``(file name, rows, column names)`` as
    written. ``nav``: :func:`nav_html`."""
    t = translator(language)
    return str(render_template(
        "report_tables.html.j2", title=t("page.tables_title", month=as_of), language=language,
        nav=nav, intro=catalogue_text(t("page.tables_intro")), tables=list(tables),
        header=[t(k) for k in ("page.file", "page.rows", "page.columns")],
    ))


def check_page_size(path: Path) -> int:
    """Size in bytes; raises ValueError when a page exceeds 5 MB (not mailable)."""
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        raise ValueError(f"{path.name} is {size / 1e6:.1f} MB, over the 5 MB limit for a page")
    return size
