"""Report languages: one message catalogue per language, number and date formats.

The catalogue is one YAML file per language in ``analysis/report/i18n/locale/``
(``en.yml``, ``zh-CN.yml``, ...), plus optional per-area files beside it
(``locale/en/causes_effects.yml``, ...) merged in; a key defined twice is an error.
Nested keys are flattened with dots (``heading.roll_rates``,
``category.measure.deferral``); values are :meth:`str.format` templates with named
placeholders (``{measure}``, ``{points}``). English is the reference: every language
has exactly its keys and, per key, the same placeholders (``tests/report/test_i18n.py``).

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

Figures: :meth:`Translator.for_figures` returns the translator to label a figure with:
the same one when a font can draw the language (:mod:`analysis.report.i18n.fonts`),
otherwise the English one flagged ``fallback=True``; :func:`mark_fallback` then writes a
visible note on the figure. Figures thus never show boxes for missing glyphs.

This is the lowest module of the delivery layer: it imports no other report module
but :mod:`analysis.report.i18n.fonts`. An unknown language raises
:class:`analysis.errors.ParameterError`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from analysis.errors import ParameterError
from analysis.report.i18n.fonts import configure_matplotlib

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
    min_cell: int = 1  # counts below this read "fewer than min_cell" (:meth:`count`)

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

    def count(self, n: float | None) -> str:
        """A count of loans or episodes, as an integer with thousands separators; a count
        below ``min_cell`` (1..min_cell-1) reads "fewer than min_cell", so no page
        sentence discloses a cell the tables suppress. Zero is shown: it is no cell."""
        if self._missing(n):
            return self("format.suppressed")
        n = int(n)
        if 0 < n < self.min_cell:
            return self("format.fewer_than", min_cell=f"{self.min_cell:,}")
        return f"{n:,}"

    def with_min_cell(self, min_cell: int) -> Translator:
        """This translator with counts below ``min_cell`` withheld (see :meth:`count`)."""
        return dataclasses.replace(self, min_cell=int(min_cell))

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
        return Translator("en", fallback=True, min_cell=self.min_cell)


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


__all__ = [
    "CATEGORY_COLUMNS", "CATEGORY_KINDS", "LANGUAGES", "LOCALE_DIR", "Translator", "catalogue",
    "figure_translator", "mark_fallback", "placeholders", "translate_frame", "translator",
]
