"""One plot style for every report: colours, sizes, titles with units and sample sizes.

Every figure in a report goes through :func:`new_figure` and :func:`finish`, so that it
has a title, axis labels with units, the number of loans/episodes it rests on, and a
resolution that keeps a page small (PNG at 100 dpi; a page of ten figures stays well
under 1 MB). Colours are fixed per category (measure, cause family, borrower type,
DPD bucket, loan category) so a measure has the same colour in every notebook.

Functions never load data; they take tidy DataFrames the analyses produced.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from PIL import Image

from analysis.definitions import BORROWER_TYPES, DPD_BUCKETS, FAMILIES, LOAN_CATEGORIES, MEASURES
from analysis.report.i18n.fonts import FALLBACK_FONTS

DPI = 100
FIGSIZE = (8.0, 4.2)
WIDE_FIGSIZE = (10.0, 4.6)
_BLUE, _ORANGE, _GREEN, _RED, _PURPLE, _GREY = (
    "#1f5fa8", "#e08a1e", "#2e8b57", "#c23b3b", "#7b52ab", "#8c8c8c",
)
PALETTE: tuple[str, ...] = (_BLUE, _ORANGE, _GREEN, _RED, _PURPLE, "#3aa6b9", "#b5651d", _GREY)
MEASURE_COLORS: dict[str, str] = dict(zip(("none", *MEASURES), (_GREY, _BLUE, _ORANGE, _GREEN, _PURPLE), strict=True))
FAMILY_COLORS: dict[str, str] = dict(zip(FAMILIES, (_BLUE, _ORANGE, _RED), strict=True))
BORROWER_COLORS: dict[str, str] = dict(zip(BORROWER_TYPES, (_BLUE, _ORANGE, _GREEN), strict=True))
BUCKET_COLORS: dict[str, str] = dict(
    zip(DPD_BUCKETS, ("#4c9a2a", "#f2c14e", "#f28e2b", "#e15759", "#9c1f1f", "#3b3b3b"), strict=True)
)
CATEGORY_COLORS: dict[str, str] = dict(
    zip(LOAN_CATEGORIES, ("#4c9a2a", "#f2c14e", "#f28e2b", "#e15759", "#3b3b3b"), strict=True)
)
OUTCOME_COLORS: dict[str, str] = {"cure": _GREEN, "default": _RED, "loss": _PURPLE, "open": _GREY}


#: Palette size of the pages' PNG figures (:func:`figure_png`).
PNG_COLORS = 256


def use_style() -> None:
    """Apply the report style to matplotlib's rcParams (idempotent)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=list(PALETTE))
    matplotlib.rcParams.update(
        {
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.family": ["DejaVu Sans", *FALLBACK_FONTS, "sans-serif"],
        }
    )
    _register_notebook_display()


def figure_png(fig: Figure, dpi: int = DPI, colors: int = PNG_COLORS) -> bytes:
    """PNG bytes of ``fig`` at ``dpi`` (tight bounding box), reduced to a palette of
    ``colors`` colours (no dithering; 0 keeps full colour). A chart has a few flat colours
    and their anti-aliased edges: the palette PNG reads the same and is about a quarter
    of the size, which keeps a page of fifteen figures well under 1.5 MB."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if not colors:
        return buf.getvalue()
    buf.seek(0)
    with Image.open(buf) as im:
        pal = im.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE,
                                         dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _register_notebook_display() -> None:
    """In a notebook, show a returned :class:`Figure` as one PNG (no pyplot needed)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def new_figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None, **kw
) -> tuple[Figure, Axes | np.ndarray]:
    """A new figure and axes in the report style.

    The figure is not registered with pyplot: a notebook shows it once, as the value
    of the cell (``fig``), and it never accumulates in pyplot's figure list.
    """
    use_style()
    fig = Figure(figsize=figsize or FIGSIZE, dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def sample_size_text(n: int | float | None, unit: str = "loans") -> str:
    """``"n = 12,345 loans"`` (empty when ``n`` is None)."""
    if n is None or (isinstance(n, float) and np.isnan(n)):
        return ""
    return f"n = {int(n):,} {unit}"


def finish(
    ax: Axes,
    title: str,
    *,
    xlabel: str | None = None,
    ylabel: str | None = None,
    n: int | float | None = None,
    n_unit: str = "loans",
    note: str | None = None,
    legend: bool | None = None,
) -> Axes:
    """Title (with the sample size), axis labels with units, optional note below the axes."""
    size = sample_size_text(n, n_unit)
    ax.set_title(f"{title}\n{size}" if size else title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if legend is True or (legend is None and ax.get_legend_handles_labels()[0]):
        ax.legend(loc="best")
    if note:
        ax.annotate(
            note, xy=(0, 0), xycoords="figure fraction", xytext=(4, 2),
            textcoords="offset points", fontsize=8, color=_GREY, va="bottom",
        )
    return ax


def percent_axis(ax: Axes, axis: str = "y", decimals: int = 0) -> None:
    """Show fractions (0.05) as percentages (5 %) on ``axis``."""
    fmt = PercentFormatter(xmax=1.0, decimals=decimals)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def thousands_axis(ax: Axes, axis: str = "y") -> None:
    """Thousands separators on ``axis``."""
    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def month_axis(ax: Axes) -> None:
    """Compact ``YYYY-MM`` dates on the x axis."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))


def colors_for(labels: Sequence[str]) -> list[str]:
    """The fixed colour of each category label (palette order for unknown labels)."""
    fixed = {
        **MEASURE_COLORS, **FAMILY_COLORS, **BORROWER_COLORS, **BUCKET_COLORS,
        **CATEGORY_COLORS, **OUTCOME_COLORS, "all": "#555555", "all episodes": "#555555",
    }
    out, k = [], 0
    for lab in labels:
        if str(lab) in fixed:
            out.append(fixed[str(lab)])
        else:
            out.append(PALETTE[k % len(PALETTE)])
            k += 1
    return out


def ci_bars(
    ax: Axes,
    df: pd.DataFrame,
    *,
    label: str,
    estimate: str = "estimate",
    lower: str = "ci_lower",
    upper: str = "ci_upper",
    horizontal: bool = True,
) -> Axes:
    """Point estimates with 95 % interval whiskers, one bar per row (NaN rows: 'suppressed')."""
    d = df.reset_index(drop=True)
    pos = np.arange(len(d))
    est = d[estimate].astype(float).to_numpy()
    err = np.vstack([est - d[lower].astype(float), d[upper].astype(float) - est])
    # An interval bounded to [0, 1] may end short of an estimate outside it (e.g. a loss rate
    # above 100 %): draw no whisker on that side rather than fail.
    err = np.clip(err, 0.0, None)
    colors = colors_for(d[label].astype(str).tolist())
    if horizontal:
        ax.barh(pos, np.nan_to_num(est), color=colors, alpha=0.85)
        ax.errorbar(est, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
        ax.set_yticks(pos, d[label].astype(str))
        ax.invert_yaxis()
    else:
        ax.bar(pos, np.nan_to_num(est), color=colors, alpha=0.85)
        ax.errorbar(pos, est, yerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
        ax.set_xticks(pos, d[label].astype(str))
    for i in np.flatnonzero(np.isnan(est)):
        xy = (0, pos[i]) if horizontal else (pos[i], 0)
        ax.annotate("suppressed", xy=xy, fontsize=8, color=_GREY, va="center")
    return ax


def figure_to_data_uri(fig: Figure, dpi: int = DPI) -> str:
    """PNG of ``fig`` as a ``data:`` URI (for self-contained HTML pages)."""
    return "data:image/png;base64," + base64.b64encode(figure_png(fig, dpi)).decode("ascii")
