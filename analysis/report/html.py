"""HTML pages of a report: executed notebooks to self-contained, offline, mailable files.

Management pages are rendered with nbconvert's ``lab`` template, without code
(``exclude_input``), with the ``parameters`` / ``injected-parameters`` cells removed
(:class:`~nbconvert.preprocessors.TagRemovePreprocessor`), and with stderr streams,
warnings and bare ``<Figure ...>`` reprs stripped. A small template extending
``lab/index.html.j2`` empties every block that would load require.js, MathJax,
mermaid or widget scripts from a CDN, so a page fetches nothing from another host;
its CSS is inlined and its images are embedded PNGs (``data:`` URIs). A navigation bar
links the pages of the month, the tables and the list of all months.

The month list ``reports/index.html`` is plain HTML written here from the history store
(:mod:`analysis.report.history`) with a KPI-over-months figure embedded.

Known drawbacks: markdown math (``$...$``) is not typeset, because MathJax would
have to be embedded (about 2 MB); write rates in words and numbers.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path

import nbformat
import pandas as pd
from jinja2 import DictLoader
from nbconvert.preprocessors import Preprocessor

from analysis.report.i18n.catalogue import translator

MAX_PAGE_BYTES = 5 * 1024 * 1024
REMOVE_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell", "remove_cell"}
_TEMPLATE_NAME = "overdue_report.html.j2"
_CSS = """
body { max-width: 1100px; margin: 0 auto; }
nav.report-nav { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 14px;
  padding: 10px 16px; border-bottom: 1px solid #ddd; background: #f7f8fa;
  position: sticky; top: 0; z-index: 10; }
nav.report-nav a { margin-right: 14px; color: #1f5fa8; text-decoration: none; }
nav.report-nav a.current { font-weight: bold; color: #222; }
nav.report-nav span.meta { float: right; color: #777; }
footer.report-footer { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 12px;
  color: #777; padding: 12px 16px; border-top: 1px solid #ddd; margin-top: 24px; }
.jp-RenderedHTMLCommon table { font-size: 13px; }
"""
_TEMPLATE = (
    "{%- extends 'index.html.j2' -%}\n"
    "{%- block html_head_js -%}{%- endblock html_head_js -%}\n"
    "{% block jupyter_widgets %}{% endblock jupyter_widgets %}\n"
    "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"
    "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n"
    "{% block extra_css %}<style type=\"text/css\">" + _CSS + "</style>{% endblock extra_css %}\n"
    "{%- block body_header -%}{{ super() }}{{ resources.report_nav }}{%- endblock body_header -%}\n"
    "{% block body_footer %}{{ resources.report_footer }}{{ super() }}{% endblock body_footer %}\n"
)


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


def nav_html(links: Sequence[tuple[str, str]], current: str | None, meta: str = "") -> str:
    """A navigation bar: ``links`` are ``(label, href)``; ``current`` is an href."""
    parts = []
    for label, href in links:
        cls = ' class="current"' if href == current else ""
        parts.append(f'<a href="{html.escape(href)}"{cls}>{html.escape(label)}</a>')
    meta_html = f'<span class="meta">{html.escape(meta)}</span>' if meta else ""
    return f'<nav class="report-nav">{"".join(parts)}{meta_html}</nav>'


def _exporter(with_code: bool):
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        template_file=_TEMPLATE_NAME,
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
    body = re.sub(r"<html lang=\"[^\"]*\">", f'<html lang="{html.escape(language)}">', body, count=1)
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


def footer_html(run_id: str, as_of: str, params: dict, version: str) -> str:
    """Provenance line at the bottom of each page, in the language of ``params["language"]``.

    Parameters are shown as ``name=value`` (codes), paths left out.
    """
    t = translator(str(params.get("language", "en")))
    shown = ", ".join(
        f"{k}={v}" for k, v in sorted(params.items()) if k not in ("data_dir", "tables_dir")
    )
    text = t("page.footer", month=as_of, run_id=run_id, version=version, params=shown)
    return f'<footer class="report-footer">{html.escape(text)}</footer>'


# --------------------------------------------------------------------------- plain pages
_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, "DejaVu Sans", sans-serif; max-width: 1100px; margin: 0 auto;
  padding: 0 16px 24px; color: #222; }}
h1 {{ font-size: 22px; margin-top: 20px; }} h2 {{ font-size: 17px; margin-top: 24px; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 8px 0; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: right; }}
td {{ white-space: nowrap; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #f7f8fa; }}
a {{ color: #1f5fa8; }} .muted {{ color: #777; font-size: 12px; }}
.failed {{ color: #c23b3b; }} img {{ max-width: 100%; }}
{extra_css}
</style></head>
<body>
{body}
</body></html>
"""


def tag(name: str, text: str) -> str:
    """``<name>text</name>`` with ``text`` escaped."""
    return f"<{name}>{html.escape(text)}</{name}>"


def index_name(language: str) -> str:
    """``index.html`` in English, else ``index.<lang>.html``: a month's summary page, its
    tables list and ``reports/`` month list in ``language`` (as ``report.page_name``)."""
    return "index.html" if language == "en" else f"index.{language}.html"


def plain_page(title: str, body: str, *, language: str = "en", nav: str = "") -> str:
    """A small self-contained page (no script, inline CSS)."""
    return _PAGE.format(
        lang=html.escape(language), title=html.escape(title), body=nav + body,
        extra_css=_CSS if nav else "",
    )


def table_html(df: pd.DataFrame) -> str:
    """A plain HTML table (escaped, no index)."""
    return df.to_html(index=False, escape=True, na_rep="", border=0)


def month_link_page(as_of: str, pages: Sequence[tuple[str, str]], tables: Sequence[str],
                    language: str = "en", nav: str = "") -> str:
    """The month's ``index.html`` when the run had no management summary notebook.

    ``pages``: ``(title, href)`` of the month's pages; ``tables``: CSV file names.
    """
    t = translator(language)
    items = "".join(f'<li><a href="{html.escape(h)}">{html.escape(x)}</a></li>' for x, h in pages)
    tabs = "".join(
        f'<li><a href="tables/{html.escape(x)}">{html.escape(x)}</a></li>' for x in tables
    )
    title = t("page.month_title", month=as_of)
    body = (
        tag("h1", title) + tag("h2", t("page.pages")) + f"<ul>{items}</ul>"
        + tag("h2", t("nav.tables")) + f"<ul>{tabs}</ul>"
        + '<p class="muted"><a href="run.json">run.json</a> · '
        + f'<a href="../{index_name(language)}">{html.escape(t("nav.all_months"))}</a></p>'
    )
    return plain_page(title, body, language=language, nav=nav)


def tables_page(as_of: str, tables: Sequence[tuple[str, int, list[str]]], nav: str = "",
                language: str = "en") -> str:
    """``tables/index[.<lang>].html``: each CSV with its rows and columns (names as written)."""
    t = translator(language)
    rows = "".join(
        f'<tr><td><a href="{html.escape(name)}">{html.escape(name)}</a></td><td>{n:,}</td>'
        f"<td>{html.escape(', '.join(cols))}</td></tr>"
        for name, n, cols in tables
    )
    title = t("page.tables_title", month=as_of)
    head = "".join(f"<th>{html.escape(t(k))}</th>" for k in ("page.file", "page.rows",
                                                               "page.columns"))
    body = (
        tag("h1", title) + "<p>" + t("page.tables_intro") + "</p>"
        f"<table><tr>{head}</tr>{rows}</table>"
    )
    return plain_page(title, body, language=language, nav=nav)


def check_page_size(path: Path) -> int:
    """Size in bytes; raises ValueError when a page exceeds 5 MB (not mailable)."""
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        raise ValueError(f"{path.name} is {size / 1e6:.1f} MB, over the 5 MB limit for a page")
    return size
