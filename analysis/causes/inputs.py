"""Inputs of the cause attribution: checks of signals, reasons and ``cause_map``.

Part of :mod:`analysis.causes.attribution`; the exceptions are in the package face :mod:`analysis.causes`.
"""

from __future__ import annotations

from analysis.data.book import Book
from analysis.definitions import FAMILIES
from analysis.errors import InputError


class AttributionUnavailable(InputError):
    """The book has neither signals nor reported reasons (or no episode to attribute)."""


class CauseMapError(InputError):
    """``cause_map`` does not cover the signals / reason codes, or leaves a family empty."""


def check_inputs(book: Book) -> tuple[dict[str, str], bool]:
    """Validate the cause inputs; returns (signal column -> family, has reasons).

    Raises :class:`AttributionUnavailable` without signals and reasons, and
    :class:`CauseMapError` for an unmapped signal column or reason code, an unknown family,
    or a family with no signal.
    """
    sig_cols = list(book.signal_columns)
    has_reasons = book.reasons is not None and len(book.reasons) > 0
    if not sig_cols and not has_reasons:
        raise AttributionUnavailable(
            "cause attribution needs signals (table 'signals') or reported reasons "
            "(table 'reasons'); this book has neither"
        )
    cmap = book.cause_map
    if cmap is None or len(cmap) == 0:
        raise CauseMapError(
            "table 'cause_map' is missing or empty: it must map every signal column and "
            "reason code to a family (economic, management, personal)"
        )
    for col in ("source", "name", "family"):
        if col not in cmap.columns:
            raise CauseMapError(f"table 'cause_map': column '{col}' is missing")
    bad_fam = cmap[~cmap["family"].isin(FAMILIES)]
    if len(bad_fam):
        raise CauseMapError(
            f"table 'cause_map', column 'family': unknown famil(ies) "
            f"{sorted(bad_fam['family'].astype(str).unique())}; allowed {list(FAMILIES)}; "
            f"example rows: {bad_fam.head(5).to_dict('records')}"
        )
    sig_map = cmap[cmap["source"] == "signal"]
    signals = dict(zip(sig_map["name"].astype(str), sig_map["family"].astype(str), strict=False))
    if sig_cols:
        missing = [c for c in sig_cols if c not in signals]
        if missing:
            raise CauseMapError(
                f"table 'signals': column(s) {missing} have no row in 'cause_map' "
                "(source='signal', name=<column>, family=<family>)"
            )
        empty = [f for f in FAMILIES if not any(signals[c] == f for c in sig_cols)]
        if empty:
            raise CauseMapError(
                f"table 'cause_map': famil(ies) {empty} have no signal column; the Shapley "
                "split needs at least one signal per family"
            )
    if has_reasons:
        codes = set(cmap.loc[cmap["source"] == "reason", "name"].astype(str))
        unknown = book.reasons[~book.reasons["reason_code"].astype(str).isin(codes)]
        if len(unknown):
            raise CauseMapError(
                f"table 'reasons', column 'reason_code': code(s) "
                f"{sorted(unknown['reason_code'].astype(str).unique())[:10]} have no row in "
                f"'cause_map' (source='reason'); example rows: "
                f"{unknown.head(5).to_dict('records')}"
            )
    return {c: signals[c] for c in sig_cols}, has_reasons
