"""Report languages: one message catalogue per language, number/date formats, CJK fonts.

The catalogue is one YAML file per language in ``analysis/locale/`` (``en.yml``,
``zh-CN.yml``, ...), plus optional per-area files beside it (``locale/en/causes.yml``,
...) merged in; a key defined twice is an error. Nested keys are flattened with dots (``heading.roll_rates``,
``category.measure.deferral``); values are :meth:`str.format` templates with named
placeholders (``{measure}``, ``{points}``). English is the reference: every language
has exactly its keys and, per key, the same placeholders (``tests/test_i18n.py``).

``translator(language)`` returns a :class:`Translator` ``T``:

- ``T(key, **kw)``: the message, formatted; an unknown key raises :class:`KeyError`
  (a typo must fail in tests, not show a raw key to management);
- ``T.category(kind, code)``: the name of a category code (``kind`` one of ``family``,
  ``measure``, ``borrower_type``, ``dpd_bucket``, ``loan_category``, ``metric``,
  ``segment_type``); an unknown code is shown as it is (industries, regions);
- ``T.pct(x)`` (fraction -> percent), ``T.points(x)`` (fraction difference -> points),
  ``T.money(x)`` (CNY), ``T.month(ts)``; NaN reads as the language's "suppressed";
- :func:`translate_frame` renames column titles and maps category values of a table
  **for display only**: the CSV tables keep English codes.

Figures: :func:`cjk_font` finds an installed font whose glyph table covers common Han
characters (Noto Sans CJK, WenQuanYi Micro Hei, ...; checked glyph by glyph, not by
name). :meth:`Translator.for_figures` returns the translator to label a figure with: the
same one (after putting the CJK font first in matplotlib's sans-serif list) when the
font exists, otherwise the English one flagged ``fallback=True``;
:func:`mark_fallback` then writes a visible note on the figure. Figures thus never show
boxes for missing glyphs.

An unknown language raises :class:`analysis.errors.ParameterError`.
"""

from __future__ import annotations

import functools
import math
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.errors import ParameterError

LANGUAGES: tuple[str, ...] = ("en", "zh-CN", "zh-TW")
LOCALE_DIR = Path(__file__).with_name("locale")
CATEGORY_KINDS: tuple[str, ...] = (
    "family", "measure", "borrower_type", "dpd_bucket", "loan_category", "metric", "segment_type",
)
# Columns whose values are category codes, and the kind of code they hold.
CATEGORY_COLUMNS: dict[str, str] = {
    "family": "family", "cause_family": "family", "measure": "measure", "arm": "measure",
    "borrower_type": "borrower_type", "from_bucket": "dpd_bucket", "to_bucket": "dpd_bucket",
    "dpd_bucket": "dpd_bucket", "category": "loan_category", "metric": "metric",
    "segment_type": "segment_type",
}
# Characters a CJK font must have to label our figures (common Han + full-width marks).
CJK_PROBE = "逾期治愈率违约损失经济环境管理个人财务延期分期还款利息减免咨询正常关注次级可疑（）：癒違約損經濟財務還"


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)
    return out


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The flattened catalogue of ``language`` (key -> template)."""
    if language not in LANGUAGES:
        raise ParameterError(f"language {language!r} is not one of {list(LANGUAGES)}")
    path = LOCALE_DIR / f"{language}.yml"
    if not path.exists():
        raise ParameterError(f"language {language!r}: no catalogue {path}")
    out: dict[str, str] = {}
    for part in [path, *sorted((LOCALE_DIR / language).glob("*.yml"))]:
        with open(part, encoding="utf-8") as fh:
            flat = _flatten(yaml.safe_load(fh) or {})
        clash = sorted(set(flat) & set(out))
        if clash:
            raise ValueError(f"{part}: keys already defined in the {language} catalogue: {clash[:5]}")
        out.update(flat)
    return out


def placeholders(template: str) -> set[str]:
    """Names of the ``{placeholders}`` of a template (format specs ignored)."""
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@dataclass(frozen=True)
class Translator:
    """Messages and formats of one report language (see the module docstring)."""

    language: str
    fallback: bool = False  # True: English labels because no CJK font is installed

    @property
    def messages(self) -> dict[str, str]:
        return catalogue(self.language)

    def __call__(self, key: str, **kw: Any) -> str:
        try:
            template = self.messages[key]
        except KeyError:
            raise KeyError(f"message {key!r} is not in the {self.language} catalogue") from None
        return template.format(**kw) if kw or "{" in template else template

    def category(self, kind: str, code: Any) -> str:
        """Display name of category ``code`` of ``kind``; unknown codes unchanged."""
        if kind not in CATEGORY_KINDS:
            raise KeyError(f"unknown category kind {kind!r}; known: {list(CATEGORY_KINDS)}")
        return self.messages.get(f"category.{kind}.{code}", str(code))

    def _missing(self, x: Any) -> bool:
        return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA

    def pct(self, x: float | None) -> str:
        """A fraction as a percentage with one decimal (0.123 -> "12.3 %")."""
        return self("format.suppressed") if self._missing(x) else self("format.pct", value=100 * x)

    def points(self, x: float | None) -> str:
        """A difference of fractions in percentage points, signed."""
        return (self("format.suppressed") if self._missing(x)
                else self("format.points", value=100 * x))

    def money(self, x: float | None) -> str:
        """An amount in CNY, whole yuan."""
        return self("format.suppressed") if self._missing(x) else self("format.money", value=x)

    def month(self, ts: Any) -> str:
        """A month ("2024-06" / "2024年06月")."""
        t = pd.Timestamp(ts)
        return self("format.month", year=t.year, month=t.month)

    @property
    def name(self) -> str:
        """The language's own name ("English", "简体中文")."""
        return self("language_name")

    def effect_sentence(self, measure: str, segment: str, estimate: float, low: float,
                        high: float, horizon: int) -> str:
        """The narrative sentence of one effect on the cure rate.

        ``estimate``, ``low``, ``high``: risk differences (fractions) and their 95 %
        interval; ``measure`` a measure code; ``segment`` an already readable segment
        name. An interval that includes 0 is said to.
        """
        key = ("narrative.effect_unclear" if low <= 0 <= high
               else "narrative.effect" if estimate > 0 else "narrative.effect_negative")
        shown = estimate if key != "narrative.effect_negative" else -estimate
        text = self(key, measure=self.category("measure", measure), segment=segment,
                    horizon=horizon, points=f"{100 * shown:.1f}", low=f"{100 * low:.1f}",
                    high=f"{100 * high:.1f}")
        return text[:1].upper() + text[1:]

    def for_figures(self) -> Translator:
        """The translator for figure labels: this one if its script can be drawn."""
        if self.language == "en" or configure_matplotlib(self.language):
            return self
        return Translator("en", fallback=True)


def translator(language: str = "en") -> Translator:
    """The :class:`Translator` of ``language``; ParameterError if it is unknown."""
    catalogue(language)
    return Translator(language)


def figure_translator(t: Translator | None) -> Translator:
    """What plot functions call: English when ``t`` is None, else ``t.for_figures()``."""
    return translator("en") if t is None else t.for_figures()


def mark_fallback(fig: Any, t: Translator) -> Any:
    """Write the "no CJK font" note on ``fig`` when ``t`` fell back to English."""
    if t.fallback:
        fig.text(0.99, 0.005, t("figure.font_fallback"), ha="right", va="bottom",
                 fontsize=8, color="#b00020")
    return fig


def translate_frame(df: pd.DataFrame, t: Translator) -> pd.DataFrame:
    """A display copy of ``df``: category codes named, column titles translated.

    Only for showing: written tables keep the English codes. Columns without a
    catalogue title keep their name.
    """
    out = df.copy()
    for col, kind in CATEGORY_COLUMNS.items():
        if col in out.columns:
            out[col] = out[col].map(lambda v, k=kind: v if t._missing(v) else t.category(k, v))
    if "segment" in out.columns and "segment_type" in df.columns:
        kinds = df["segment_type"].map({"borrower_type": "borrower_type"})
        named = [t.category("borrower_type", s) if k == "borrower_type" else s
                 for s, k in zip(out["segment"], kinds, strict=True)]
        out["segment"] = named
    titles = {c: t.messages[f"column.{c}"] for c in out.columns if f"column.{c}" in t.messages}
    return out.rename(columns=titles)


# ----------------------------------------------------------------------------- fonts
def _covers(path: str, text: str) -> bool:
    from matplotlib import ft2font

    try:
        font = ft2font.FT2Font(path)
    except Exception:  # unreadable or unsupported font file
        return False
    cmap = font.get_charmap()
    return all(ord(ch) in cmap for ch in text)


@functools.cache
def cjk_font(text: str = CJK_PROBE) -> str | None:
    """Family name of an installed font with a glyph for every character of ``text``.

    Preferred families first (Noto Sans CJK SC, WenQuanYi Micro Hei, Source Han Sans),
    then any font matplotlib knows whose character map covers ``text``. None when no
    such font is installed.
    """
    from matplotlib import font_manager

    preferred = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Micro Hei",
                 "WenQuanYi Zen Hei", "Source Han Sans SC", "Source Han Sans CN",
                 "AR PL UMing CN", "Droid Sans Fallback")

    def search() -> str | None:
        entries = sorted(font_manager.fontManager.ttflist,
                         key=lambda f: (preferred.index(f.name) if f.name in preferred
                                        else len(preferred), f.name))
        seen: set[str] = set()
        for f in entries:
            # "Last Resort" fonts map every character to a placeholder box.
            if f.fname in seen or "last resort" in f.name.lower():
                continue
            seen.add(f.fname)
            if re.search(r"\.(ttf|otf|ttc)$", f.fname, re.I) and _covers(f.fname, text):
                return f.name
        return None

    found = search()
    if found is None:
        # Fonts installed after matplotlib built its cache are not in ttflist yet.
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known and _covers(path, text):
                try:
                    font_manager.fontManager.addfont(path)
                except Exception:  # a font file matplotlib cannot parse
                    continue
        found = search()
    return found


def configure_matplotlib(language: str) -> bool:
    """Make matplotlib draw ``language``; False when no suitable font is installed.

    For Chinese the CJK family is added to ``font.family`` right after DejaVu Sans and
    to :data:`analysis.report.style.FALLBACK_FONTS` (so :func:`analysis.report.style.use_style` keeps
    it): matplotlib (>= 3.6) falls back glyph by glyph, so Latin text stays in DejaVu
    Sans and Han characters come from the CJK font. ``axes.unicode_minus`` is turned
    off because CJK fonts often lack U+2212.
    """
    if not language.startswith("zh"):
        return True
    family = cjk_font()
    if family is None:
        return False
    import matplotlib

    from analysis.report import style

    if family not in style.FALLBACK_FONTS:
        style.FALLBACK_FONTS.append(family)
    rc = matplotlib.rcParams
    fam = [f for f in rc["font.family"] if f != family]
    rc.update({"font.family": [*fam[:1], family, *fam[1:]], "axes.unicode_minus": False})
    return True


# ----------------------------------------------------------------------------- KPI text
def kpi_table(kpis: pd.DataFrame, t: Translator, segment_type: str = "all") -> pd.DataFrame:
    """:func:`analysis.report.tables.kpi_table` in the language of ``t`` (display only).

    Indicator names come from the ``kpi.*`` keys, segment columns are named by
    :meth:`Translator.category`, "suppressed" values read in the language.
    """
    from analysis.report import tables as rt

    table = rt.kpi_table(kpis, segment_type)
    names = {label: t(f"kpi.{metric}") for metric, (label, _) in rt.KPI_LABELS.items()}
    table["indicator"] = table["indicator"].map(lambda s: names.get(s, s))
    value_cols = [c for c in table.columns if c != "indicator"]
    word = t("format.suppressed")
    for c in value_cols:
        table[c] = table[c].astype(str).str.replace("suppressed", word, regex=False)
    kind = segment_type if segment_type in CATEGORY_KINDS else None
    renamed = {c: t.category(kind, c) for c in value_cols} if kind else {}
    return translate_frame(table.rename(columns=renamed), t)


def headline_sentences(kpis: pd.DataFrame, t: Translator, month: str) -> list[str]:
    """Plain-language sentences on the whole-book KPIs (suppressed ones say so).

    ``kpis``: :func:`analysis.kpis.metrics.headline_kpis` output (possibly suppressed);
    ``month``: the reporting month ``YYYY-MM``.
    """
    k = kpis[kpis["segment_type"] == "all"].set_index("metric")

    def get(metric: str) -> tuple[float, float]:
        if metric not in k.index or pd.isna(k.loc[metric, "value"]):
            return math.nan, math.nan
        return float(k.loc[metric, "value"]), float(k.loc[metric, "n"])

    out: list[str] = []
    month_text = t.month(pd.Timestamp(month + "-01"))
    n_active, _ = get("n_loans_active")
    bal, _ = get("balance_active")
    if not math.isnan(n_active):
        out.append(t("narrative.book_size", month=month_text, loans=f"{n_active:,.0f}",
                     balance=t.money(bal)) if not math.isnan(bal) else
                   t("narrative.book_size_no_balance", month=month_text, loans=f"{n_active:,.0f}"))
    od, _ = get("overdue_rate_balance")
    r90, _ = get("rate_90plus_balance")
    npl, _ = get("npl_ratio_balance")
    if not math.isnan(od):
        s = t("narrative.overdue_share", overdue=t.pct(od))
        if not math.isnan(r90):
            s += t("narrative.overdue_90", rate90=t.pct(r90))
        if not math.isnan(npl):
            s += t("narrative.overdue_npl", npl=t.pct(npl))
        out.append(s + t("narrative.sentence_end"))
    cure, n_cure = get("cure_rate")
    dflt, n_dflt = get("default_rate")
    if not (math.isnan(cure) or math.isnan(dflt)):
        out.append(t("narrative.cure_default", cure=t.pct(cure), n_cure=f"{n_cure:,.0f}",
                     default=t.pct(dflt), n_default=f"{n_dflt:,.0f}"))
    elif "cure_rate" in k.index:
        out.append(t("narrative.cure_suppressed"))
    loss, _ = get("loss_rate")
    if not math.isnan(loss):
        out.append(t("narrative.losses", loss=t.pct(loss)))
    return out


def effect_sentences(effects: pd.DataFrame | None, t: Translator, horizon: int,
                     method: str = "aipw", estimand: str = "ATE") -> list[str]:
    """Narrative sentences on the cure-rate effects of an ``effects.csv`` table.

    One sentence per measure for the whole book and per cause family, from the rows of
    ``method``/``estimand`` with outcome ``cure``; suppressed or missing estimates are
    skipped. ``horizon``: the outcome window in months.
    """
    need = {"outcome", "measure", "estimate", "ci_low", "ci_high"}
    if effects is None or not need <= set(effects.columns):
        return []
    d = effects[effects["outcome"].astype(str) == "cure"]
    for col, val in (("method", method), ("estimand", estimand)):
        if col in d.columns and (d[col].astype(str) == val).any():
            d = d[d[col].astype(str) == val]
    if "segment_type" in d.columns:
        d = d[d["segment_type"].astype(str).isin(["all", "cause_family"])]
    d = d.dropna(subset=["estimate", "ci_low", "ci_high"])
    out = []
    for r in d.itertuples(index=False):  # a handful of measures x families
        st = str(getattr(r, "segment_type", "all"))
        seg = (t("narrative.segment_family", family=t.category("family", r.segment))
               if st == "cause_family" else t("narrative.segment_all"))
        out.append(t.effect_sentence(str(r.measure), seg, float(r.estimate), float(r.ci_low),
                                     float(r.ci_high), horizon))
    return out
