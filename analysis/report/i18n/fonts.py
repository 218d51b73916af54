"""Fonts that can draw a report language: CJK glyph coverage and matplotlib's font list.

:func:`cjk_font` finds an installed font whose glyph table covers common Han characters
(Noto Sans CJK, WenQuanYi Micro Hei, ...; checked glyph by glyph, not by name).
:func:`configure_matplotlib` puts it into matplotlib's font list and into
:data:`FALLBACK_FONTS`, which :func:`analysis.report.style.use_style` keeps after
DejaVu Sans. matplotlib is imported when a font is looked for, not at import time.
"""

from __future__ import annotations

import functools
import re

# Characters a CJK font must have to label our figures (common Han + full-width marks).
CJK_PROBE = "逾期治愈率违约损失经济环境管理个人财务延期分期还款利息减免咨询正常关注次级可疑（）：癒違約損經濟財務還"
#: Fonts tried, glyph by glyph, after DejaVu Sans (:func:`configure_matplotlib` adds the
#: CJK font here; :func:`analysis.report.style.use_style` reads the list).
FALLBACK_FONTS: list[str] = []


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
    to :data:`FALLBACK_FONTS` (so :func:`analysis.report.style.use_style` keeps it): matplotlib (>= 3.6) falls back glyph by glyph, so Latin text stays in DejaVu
    Sans and Han characters come from the CJK font. ``axes.unicode_minus`` is turned
    off because CJK fonts often lack U+2212.
    """
    if not language.startswith("zh"):
        return True
    family = cjk_font()
    if family is None:
        return False
    import matplotlib

    if family not in FALLBACK_FONTS:
        FALLBACK_FONTS.append(family)
    rc = matplotlib.rcParams
    fam = [f for f in rc["font.family"] if f != family]
    rc.update({"font.family": [*fam[:1], family, *fam[1:]], "axes.unicode_minus": False})
    return True


__all__ = ["CJK_PROBE", "FALLBACK_FONTS", "cjk_font", "configure_matplotlib"]
