"""Pass 2 of validation: type each column by its declared kind.

IDs become text (with ``compact``, the pandas loader's choice, the IDs and codes of the
large tables become ``category`` with sorted categories: see :func:`as_category`), dates ``datetime64[ns]``, months month-ends, integers are checked
whole, booleans read from their usual spellings, and defaults are filled
(``write_off``, ``recovery`` = 0). Failures are reported with the value as read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.data.problems import Loaded, Report
from analysis.data.schema import FIELDS, TABLES, category_columns

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _per_unique(a: np.ndarray, fn) -> np.ndarray:
    """``fn(a)`` computed on the distinct values only (months repeat across loans)."""
    codes, uniq = pd.factorize(a, use_na_sentinel=False)
    return np.asarray(fn(np.asarray(uniq)))[codes]


def _as_str(s: pd.Series) -> pd.Series:
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        return s
    if isinstance(s.dtype, pd.CategoricalDtype) and pd.api.types.infer_dtype(
            s.cat.categories, skipna=True) in ("string", "empty"):
        return s
    if pd.api.types.is_float_dtype(s) and bool(((s.dropna() % 1) == 0).all()):
        s = s.astype("Int64")
    out = s.astype(str).astype(object)
    out[s.isna().to_numpy()] = np.nan
    return out


def as_category(s: pd.Series) -> pd.Series:
    """Text as ``category`` with the categories in sorted order and none unused.

    Sorted categories keep the text's order: sorting, ``min``/``max`` and the integer
    codes (which downstream code uses as sort keys) agree with the text. Memory per row
    is the code (1 to 4 bytes) instead of a pointer plus a shared text object, and
    grouping, merging and hashing work on the codes."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return s.astype("category")  # pandas sorts the inferred categories
    s = s.cat.remove_unused_categories()
    cats = s.cat.categories
    if not cats.is_monotonic_increasing:
        s = s.cat.reorder_categories(cats.sort_values())
    return s


def _as_num(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), np.zeros(len(s), bool)
    if pd.api.types.is_integer_dtype(s) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        return s, np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s):
        # the very column when already float64: a new Series would be copied into the frame
        v = s if s.dtype == np.float64 else s.astype("float64")
        inf = np.isinf(v.to_numpy())
        bad = inf
    else:
        v = pd.to_numeric(s, errors="coerce").astype("float64", copy=False)
        inf = np.isinf(v.to_numpy())
        bad = (s.notna() & v.isna()).to_numpy() | inf
    if inf.any():
        v = v.where(~inf)
    return v, bad


def _as_date(s: pd.Series, month: bool) -> tuple[pd.Series, np.ndarray]:
    if isinstance(s.dtype, pd.PeriodDtype):
        v = s.dt.to_timestamp(how="end").dt.normalize()
    elif pd.api.types.is_datetime64_any_dtype(s):
        v = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        if v.dtype != "datetime64[ns]":
            v = v.where((v >= pd.Timestamp.min) & (v <= pd.Timestamp.max))
            v = v.astype("datetime64[ns]")
        a = v.to_numpy()
        if (a.astype("datetime64[D]") != a)[~np.isnat(a)].any():  # a time of day
            v = v.dt.normalize()
        return v, np.zeros(len(s), bool)
    else:
        codes, uniq = pd.factorize(s)
        u = pd.Series(uniq, dtype=object).astype(str).str.strip()
        parsed = pd.to_datetime(u, format="ISO8601", errors="coerce")
        if month:
            ym = u.str.fullmatch(r"\d{4}-\d{2}").to_numpy()
            parsed[ym] = parsed[ym] + pd.offsets.MonthEnd(0)
        parsed = parsed.dt.normalize()
        taken = parsed.to_numpy()[np.where(codes >= 0, codes, 0)]
        taken[codes < 0] = np.datetime64("NaT")
        v = pd.Series(taken, index=s.index).astype("datetime64[ns]")
    return v, (s.notna() & v.isna()).to_numpy()


def _as_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), np.zeros(len(s), bool)
    low = s.astype(str).str.strip().str.lower()
    v = pd.Series(pd.NA, index=s.index, dtype="boolean")
    v[low.isin(_TRUE).to_numpy()] = True
    v[low.isin(_FALSE).to_numpy()] = False
    v[s.isna().to_numpy()] = pd.NA
    return v, (s.notna() & v.isna()).to_numpy()


def _infer_extra(s: pd.Series) -> pd.Series:
    """Type a further (covariate) column read from CSV as text: bool, number or text."""
    if s.dtype != object:
        return s
    nn = s.dropna()
    if len(nn) and nn.str.strip().str.lower().isin({"true", "false"}).all():
        return _as_bool(s)[0]
    num, bad = _as_num(s)
    if not bad.any() and len(nn):
        return num
    return s


def coerce(ld: Loaded, rep: Report, *, compact: bool = False
           ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Type the table in place; returns it and the raw-null flags (for the not-null check).

    Columns are replaced one by one (no copy of columns already in the right type);
    examples of type failures show the values as read. ``compact`` (the pandas loader):
    the columns of :func:`~analysis.data.schema.category_columns` become ``category``
    (:func:`as_category`); the Dask engine keeps text, whose categories would differ
    between partitions.
    """
    t = TABLES[ld.table]
    as_cat = set(category_columns(ld.table)) if compact else set()
    df = ld.df
    rawnull: dict[str, np.ndarray] = {}
    keys = [k for k in t.primary_key if k in df.columns]
    declared = [n for n in t.fields if n in df.columns or FIELDS[n].has_default]
    for f in (FIELDS[n] for n in t.fields):
        if f.name not in df.columns:
            if f.has_default:
                df[f.name] = pd.Series(np.nan if f.default is None else f.default,
                                       index=df.index, dtype=f.dtype)
            continue
        s = df[f.name]
        null = rawnull[f.name] = s.isna().to_numpy()
        if f.kind == "str":
            v, bad = _as_str(s), np.zeros(len(s), bool)
            if null.any():
                v = v.where(~null, np.nan)
            if f.name in as_cat:
                v = as_category(v)
        elif f.kind in ("int", "float"):
            v, bad = _as_num(s)
        elif f.kind in ("date", "month"):
            v, bad = _as_date(s, f.kind == "month")
        else:
            v, bad = _as_bool(s)
        rep.add_mask(ld, f.name, f"type:{f.kind}", bad, df, [*keys, f.name])
        if f.kind == "int" and not pd.api.types.is_integer_dtype(v):
            frac = (v.notna() & (v % 1 != 0)).to_numpy()
            rep.add_mask(ld, f.name, "integer", frac, df, [*keys, f.name])
            if frac.any():
                v = v.where(~frac)
            if f.nullable:
                v = v.astype("Int64")
            elif not v.isna().any():
                v = v.astype("int64")
        elif f.kind == "int" and f.nullable:
            v = v.astype("Int64")
        if f.kind == "month":
            def not_month_end(u: np.ndarray) -> np.ndarray:
                d = u.astype("datetime64[D]")
                return ~np.isnat(u) & ((d + 1).astype("datetime64[M]") == d.astype("datetime64[M]"))

            me = _per_unique(v.to_numpy(), not_month_end)
            rep.add_mask(ld, f.name, "month_end", me, df, [*keys, f.name],
                         note=lambda _: "write YYYY-MM or the month-end date")
            if me.any():
                v = v.where(~me)
        if f.has_default and f.default is not None:
            if null.any():
                v = v.fillna(f.default)
            rawnull[f.name] = np.zeros(len(s), bool)
        if v is not s:
            df[f.name] = v
    for c in [c for c in df.columns if c not in t.fields]:
        if t.extra == "numeric_signals":
            v, bad = _as_num(df[c])
            rep.add_mask(ld, c, "numeric", bad, df, [*keys, c])
        else:
            v = _infer_extra(df[c])
            v = v.where(v.notna(), np.nan) if v.dtype == object and v.hasnans else v
        if v is not df[c]:
            df[c] = v
    order = declared + [c for c in df.columns if c not in t.fields]
    if list(df.columns) != order:
        df = df[order]
    return df, rawnull


__all__ = ["as_category", "coerce"]
