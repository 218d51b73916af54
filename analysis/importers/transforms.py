"""Column transforms of the import spec: one vectorised function per step.

A column is built from its source column(s) in a fixed order of steps:

1. take: ``const``, one source column, or several combined (``first_non_null``, ``mean``,
   ``sum``); a source column named in ``optional`` may be absent from the file (all missing);
2. ``lower``: lower-case and strip text;
3. ``map``: replace source values (compared as stripped text); values not in the map are
   quarantined (``unmapped: quarantine``, the default), kept, or set missing;
4. ``parse``: ``str``; ``number``; ``integer`` (a whole number); ``percent`` ("13.56%" or
   13.56 -> 0.1356); ``leading_number`` (the first number in the text: " 36 months" -> 36);
   ``date`` with ``format`` (strptime codes, e.g. "%b-%Y"); ``bool`` (Y/N, yes/no, true/
   false, 1/0);
5. ``scale`` (multiply: unit conversions), ``clip`` [lower, upper], ``round`` (decimals;
   ``round: 0`` and ``parse: integer`` give integer columns, negative values round to tens,
   hundreds...);
6. ``month_end``: coarsen a date to its month-end;
7. ``default`` fills what is still missing; a ``required`` column (the default) quarantines
   records still missing; ``check`` ({gt, ge, lt, le}) quarantines values out of range.

Each function returns the values and a per-row reason (empty string = fine), so the
importer can quarantine exactly the records that fail and say why. Nothing loops over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.importers.spec import ColumnSpec

_NUMERIC = ("number", "integer", "percent", "leading_number")
_TRUE = {"y", "yes", "true", "t", "1"}
_FALSE = {"n", "no", "false", "f", "0"}
_OPS = {"gt": (np.greater, ">"), "ge": (np.greater_equal, ">="),
        "lt": (np.less, "<"), "le": (np.less_equal, "<=")}


def _text(s: pd.Series) -> pd.Series:
    """Values as stripped text (object dtype), missing stays None; whole floats lose '.0'."""
    na = s.isna().to_numpy(bool)
    if pd.api.types.is_float_dtype(s):
        vals = s.dropna()
        if (vals == np.round(vals)).all():
            s = s.fillna(0).astype(np.int64)
    txt = s.astype(object).astype(str).str.strip()
    txt[na] = None
    return txt


def take(frame: pd.DataFrame, col: ColumnSpec) -> pd.Series:
    """Step 1: the raw value of the column (constant, one source, or combined sources)."""
    if col.has_const:
        return pd.Series([col.const] * len(frame), index=frame.index, dtype=object)
    parts = [frame[c] if c in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=object)
             for c in col.sources]
    if len(parts) == 1:
        return parts[0]
    if col.combine == "first_non_null":
        out = parts[0].astype(object)
        for p in parts[1:]:
            out = out.where(out.notna(), p.astype(object))
        return out
    nums = pd.concat([pd.to_numeric(p, errors="coerce") for p in parts], axis=1)
    # a mean or sum of several columns is missing when any of them is
    return nums.mean(axis=1, skipna=False) if col.combine == "mean" else nums.sum(axis=1, skipna=False)


def parse(values: pd.Series, how: str, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Step 4: parse raw values; returns (parsed, failed) where failed marks present but
    unparseable values (missing stays missing and is not a parse failure)."""
    present = values.notna()
    if how == "str":
        out = _text(values).astype(object).where(present, None)
        return out, pd.Series(False, index=values.index)
    if how == "date":
        if pd.api.types.is_datetime64_any_dtype(values):
            out = pd.to_datetime(values)
        else:
            out = pd.to_datetime(_text(values), format=fmt, errors="coerce")
        return out, present & out.isna()
    if how == "bool":
        t = _text(values).str.lower()
        out = pd.Series(pd.NA, index=values.index, dtype="boolean")
        out[t.isin(_TRUE).fillna(False).to_numpy(bool)] = True
        out[t.isin(_FALSE).fillna(False).to_numpy(bool)] = False
        return out, present & out.isna()
    if how in ("number", "integer"):
        if pd.api.types.is_numeric_dtype(values):
            out = values.astype(float)
        else:
            text = _text(values).str.replace(",", "", regex=False)
            out = pd.to_numeric(text, errors="coerce").astype(float)
        failed = present & out.isna()
        if how == "integer":
            frac = out.notna() & (out != np.round(out))
            failed = failed | frac
            out = out.where(~frac)
        return out, failed
    if how == "percent":
        if pd.api.types.is_numeric_dtype(values):
            num = values.astype(float)
        else:
            t = _text(values).str.rstrip("%").str.strip()
            num = pd.to_numeric(t, errors="coerce").astype(float)
        return num / 100.0, present & num.isna()
    if how == "leading_number":
        if pd.api.types.is_numeric_dtype(values):
            out = values.astype(float)
        else:
            got = _text(values).str.extract(r"^\D*?(-?\d+(?:\.\d+)?)", expand=False)
            out = pd.to_numeric(got, errors="coerce").astype(float)
        return out, present & out.isna()
    raise ValueError(f"unknown parser {how!r}")  # pragma: no cover - spec checks this


def build_column(frame: pd.DataFrame, col: ColumnSpec, table: str) -> tuple[pd.Series, pd.Series]:
    """Build one output column; returns (values, reason), reason '' where the row is fine.

    Reasons name table, column, step and source column(s) but no value, so they can be
    counted; the raw values are written beside them in the quarantine file.
    """
    src = "+".join(col.sources) if col.sources else "const"
    where = f"{table}.{col.name}"
    reason = pd.Series("", index=frame.index, dtype=object)

    def flag(mask: pd.Series, text: str) -> None:
        m = mask.fillna(False).to_numpy(bool) & (reason.to_numpy() == "")
        reason[m] = text

    values = take(frame, col)
    if col.lower:
        values = _text(values).str.lower().astype(object).where(values.notna(), None)
    if col.mapping is not None:
        key = _text(values)
        mapped = key.map(col.mapping)
        known = key.isin(list(col.mapping)).fillna(False)
        if col.unmapped == "quarantine":
            flag(values.notna() & ~known, f"{where}: value of {src} not in the spec's map")
            values = mapped.astype(object).where(known, None)
        elif col.unmapped == "null":
            values = mapped.astype(object).where(known, None)
        else:
            values = mapped.astype(object).where(known, values)
    values, failed = parse(values, col.parse, col.format)
    label = f"date ({col.format})" if col.parse == "date" else col.parse
    flag(failed, f"{where}: cannot parse {src} as {label}")
    if col.scale is not None:
        values = values * float(col.scale)
    if col.clip is not None:
        values = values.clip(lower=col.clip[0], upper=col.clip[1])
    if col.round is not None:
        values = values.round(int(col.round))
    if col.month_end:
        values = values + pd.offsets.MonthEnd(0)
    if col.default is not None:
        values = values.where(values.notna(), col.default)
    if col.required:
        flag(values.isna(), f"{where}: missing value in {src}")
    for op, bound in col.check.items():
        fn, sym = _OPS[op]
        num = pd.to_numeric(values, errors="coerce")
        ok = pd.Series(fn(num.to_numpy(float), bound), index=values.index) | num.isna()
        flag(~ok, f"{where}: {src} out of range (must be {sym} {bound:g})")
    if col.parse == "integer" or (col.round == 0 and col.parse in _NUMERIC):
        values = values.astype("Int64")
    return values, reason
