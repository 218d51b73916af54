"""Passes 3 and 4 of validation: values, then across rows and tables.

Values: the declared rules (``>= 0``, allowed codes, ...) and non-null checks. Tables up
to :data:`PANDERA_MAX_ROWS` rows are validated by the pandera schema generated from the
registry (lazy, so all failures at once). Pandera gathers every failure case row by row,
which takes minutes when a 24M-row table fails wholesale; larger tables therefore run
the very same registry rules as plain vectorised masks, giving identical report rows.

Across rows and tables: required columns, unique keys, known ``loan_id``, no
performance before origination, contiguous months, declared measure codes, mapped
signals, a signal for every cause family, mapped reason codes. Everything is vectorised
on integer loan positions and month numbers (no loop over loans). The Dask engine runs
the same functions per part and per loan partition (:mod:`analysis.dask.validate`).
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from analysis.data.problems import MAX_EXAMPLES, Loaded, Report, format_value
from analysis.data.schema import FIELDS, STANDARD_MEASURES, TABLES, field_rules, pandera_schema
from analysis.definitions import FAMILIES
from analysis.months import NAT_MONTH, month_index

#: Tables with more rows are checked with the registry's vectorised rules, not pandera.
PANDERA_MAX_ROWS = 1_000_000


def check_values(ld: Loaded, df: pd.DataFrame, rawnull: dict[str, np.ndarray], rep: Report,
                 measure_codes: list[str], use_pandera: bool | None = None) -> None:
    """Not-null and the registry's value rules (pandera, or the same masks when large)."""
    t = TABLES[ld.table]
    keys = [k for k in t.primary_key if k in df.columns]
    fields = [FIELDS[n] for n in t.fields if n in df.columns]
    for f in fields:
        if not f.nullable and f.name in rawnull:
            rep.add_mask(ld, f.name, "not_null", rawnull[f.name], df, [*keys, f.name])
    hints = {r.name: (lambda _, h=r.hint: h) for f in fields
             for r in field_rules(f, measure_codes) if r.hint}
    if use_pandera is None:
        use_pandera = len(df) <= PANDERA_MAX_ROWS
    if use_pandera:
        import pandera.pandas as pa

        schema = pandera_schema(ld.table, measure_codes=measure_codes, dtypes=False,
                                primary_key=False)
        schema = schema.update_columns({f.name: {"nullable": True, "required": False}
                                        for f in FIELDS.values() if f.name in schema.columns})
        try:
            schema.validate(df, lazy=True)
        except pa.errors.SchemaErrors as e:
            fc = e.failure_cases.dropna(subset=["index"])
            for (col, chk), g in fc.groupby(["column", "check"], sort=False):
                labels = pd.unique(g["index"].astype("int64"))
                rep.add_rows(ld, col, chk, labels, df, [*keys, col], note=hints.get(chk))
        return
    for f in fields:
        for r in field_rules(f, measure_codes):
            rep.add_mask(ld, f.name, r.name, r.failures(df[f.name]), df, [*keys, f.name],
                         note=hints.get(r.name))


def columns_ok(file: str, name: str, columns: list[str], n_rows: int, rep: Report) -> bool:
    """Required columns present, and rows unless the table may be empty; False when the
    table cannot be typed and checked further (a signals table without a signal column
    is reported but checked on)."""
    t = TABLES[name]
    missing = [n for n in t.fields if FIELDS[n].required and n not in columns]
    if missing:
        for n in missing:
            close = difflib.get_close_matches(n, list(columns), n=1, cutoff=0.6)
            cl = [c for c in columns if c.lower() == n.lower()] or close
            rep.add(file, name, n, "required_column", 1, [
                f"column {n!r} is missing; columns are {', '.join(map(repr, columns[:12]))}"
                + (f" (did you mean {cl[0]!r}?)" if cl else "")])
        return False
    if n_rows == 0 and not t.may_be_empty:
        rep.add(file, name, "", "not_empty", 1, ["the file has a header but no rows"])
        return False
    if name == "signals" and len(columns) <= 2:
        rep.add(file, name, "", "required_column", 1,
                ["signals has no signal column besides loan_id and month"])
    return True


def unique_key(ld: Loaded, df: pd.DataFrame, rep: Report, cols: list[str]) -> None:
    """Report rows repeating an earlier row's key ``cols`` (rows with a missing key part
    are left to the not-null check)."""
    ok = df[cols].notna().all(axis=1)
    dup = df.duplicated(cols, keep="first") & ok
    rep.add_mask(ld, ", ".join(cols), "unique_key", dup, df, cols,
                 note=lambda _: "repeats an earlier row's key")


def index_positions(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent or missing). A categorical
    column is looked up once per category and taken by its codes: no hashing of the
    millions of loan-month IDs."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_cat = np.append(index.get_indexer(values.cat.categories), -1)
        return per_cat[values.cat.codes.to_numpy()]  # code -1 (missing) takes the -1
    return index.get_indexer(values)


def loan_pos(ld: Loaded, df: pd.DataFrame, rep: Report, loan_index: pd.Index | None
             ) -> np.ndarray | None:
    """Position of each row's loan in ``loan_index`` (-1 when unknown, reported as
    ``known_loan_id``); None without a ``loans`` table."""
    if loan_index is None:
        return None
    pos = index_positions(loan_index, df["loan_id"])
    unknown = pos < 0
    if unknown.any():
        unknown &= df["loan_id"].notna().to_numpy()
    rep.add_mask(ld, "loan_id", "known_loan_id", unknown, df, ["loan_id"],
                 note=lambda _: "not in loans")
    return pos


def check_monthly(ld: Loaded, df: pd.DataFrame, rep: Report, pos: np.ndarray | None,
                  origin: tuple[np.ndarray, pd.Series] | None,
                  contiguous: bool) -> np.ndarray | None:
    """Key uniqueness, origination and gaps for a (loan_id, month) table; returns sort order."""
    if pos is None:
        unique_key(ld, df, rep, ["loan_id", "month"])
        return None
    m = month_index(df["month"])
    valid = (pos >= 0) & (m != NAT_MONTH)
    key = np.where(valid, pos.astype("int64") * 400_000 + (m + 200_000), -1)
    if np.all(key[1:] >= key[:-1]):
        order = None
        sk, sp, sm, v = key, pos, m, valid
    else:
        order = np.argsort(key, kind="stable")
        sk, sp, sm, v = key[order], pos[order], m[order], valid[order]
    same = v[1:] & v[:-1] & (sp[1:] == sp[:-1])
    dup = same & (sk[1:] == sk[:-1])
    labels = df.index.to_numpy() if order is None else df.index.to_numpy()[order]
    rep.add_rows(ld, "loan_id, month", "unique_key", labels[1:][dup], df,
                 ["loan_id", "month"], note=lambda _: "repeats an earlier row's key")
    if contiguous:
        # a loan with a month that failed to parse would show a false gap: skip it
        unparsed = np.zeros(int(pos.max(initial=-1)) + 1, bool)
        unparsed[pos[(pos >= 0) & (m == NAT_MONTH)]] = True
        gap = same & (sm[1:] - sm[:-1] > 1) & ~unparsed[np.maximum(sp[1:], 0)]
        after, before = labels[1:][gap], labels[:-1][gap]
        prev = dict(zip(after[:MAX_EXAMPLES], before[:MAX_EXAMPLES], strict=True))
        rep.add_rows(ld, "month", "contiguous_months", after, df,
                     ["loan_id", "month"],
                     note=lambda lab: f"previous month of the loan is {format_value(df.at[prev[lab], 'month'])}")
    if origin is not None:
        origin_m, origin_date = origin
        early = valid & (m < origin_m[np.where(pos >= 0, pos, 0)])
        rep.add_mask(ld, "month", "not_before_origination", early, df, ["loan_id", "month"],
                     note=lambda lab: "loan originated "
                     + format_value(origin_date.iloc[pos[df.index.get_loc(lab)]]))
    return order


def book_measures(ld: Loaded | None, df: pd.DataFrame | None, rep: Report) -> pd.DataFrame:
    """Standard four plus declared codes (declared rows that failed checks are left out)."""
    std = pd.DataFrame({
        "code": list(STANDARD_MEASURES),
        "description": [d for d, _ in STANDARD_MEASURES.values()],
        "is_concession": [c for _, c in STANDARD_MEASURES.values()],
        "is_standard": True,
    })
    if df is None or df.empty:
        return std
    d = df.dropna(subset=["code"]).drop_duplicates("code")
    d = d[d["code"].astype(str).str.fullmatch(r"[a-z][a-z0-9_]*") & (d["code"] != "none")]
    is_std = d["code"].isin(STANDARD_MEASURES).to_numpy()
    want = d["code"].map({k: c for k, (_, c) in STANDARD_MEASURES.items()})
    clash = is_std & d["is_concession"].notna().to_numpy() & (d["is_concession"] != want).to_numpy()
    rep.add_mask(ld, "is_concession", "standard_measure", clash, d, ["code", "is_concession"],
                 note=lambda lab: f"standard measure has is_concession={want[lab]}")
    d = d.reindex(columns=["code", "description", "is_concession"])
    new = d.loc[~is_std].assign(is_standard=False)
    new["is_concession"] = new["is_concession"].fillna(True).astype(bool)
    if "description" in d.columns:
        desc = d.set_index("code")["description"].dropna()
        std["description"] = std["code"].map(desc).fillna(std["description"])
    return pd.concat([std, new], ignore_index=True)


def check_cause_map(lds: dict[str, Loaded], dfs: dict[str, pd.DataFrame], rep: Report) -> None:
    """Every signal column mapped, every mapped signal present, a signal for every cause
    family, every reason code mapped."""
    cm = dfs.get("cause_map")
    if cm is None:
        return
    cmld = lds["cause_map"]
    src = cm["source"].astype(str)
    if "signals" in dfs:
        sig, sld = dfs["signals"], lds["signals"]
        cols = [c for c in sig.columns if c not in ("loan_id", "month")]
        mapped = cm.loc[src == "signal"]
        names = set(mapped["name"].dropna())
        for c in cols:
            if c not in names:
                rep.add(sld.file, "signals", c, "signal_mapped", 1, [
                    f"signal column {c!r} has no cause_map row with source='signal'"])
        orphan = (src == "signal") & ~cm["name"].isin(cols)
        rep.add_mask(cmld, "name", "mapped_signal_exists", orphan, cm, ["source", "name", "family"],
                     note=lambda _: f"signals has no such column (columns: {', '.join(cols)})")
        fams = set(mapped.loc[mapped["name"].isin(cols), "family"])
        for fam in FAMILIES:
            if fam not in fams:
                rep.add(cmld.file, "cause_map", "family", "family_has_signal", 1, [
                    f"family '{fam}' has no signal column mapped to it (signal columns: "
                    f"{', '.join(cols) or 'none'})"])
    if "reasons" in dfs:
        rs, rld = dfs["reasons"], lds["reasons"]
        codes = set(cm.loc[src == "reason", "name"].dropna())
        bad = rs["reason_code"].notna() & ~rs["reason_code"].isin(codes)
        first = rs.loc[bad].drop_duplicates("reason_code").index
        if bad.any():
            rep.add(rld.file, "reasons", "reason_code", "reason_mapped", int(bad.sum()), [
                f"{rld.where(int(i))}: loan_id={format_value(rs.at[i, 'loan_id'])}, "
                f"reason_code={format_value(rs.at[i, 'reason_code'])} (no cause_map row with "
                "source='reason')" for i in first])


__all__ = ["PANDERA_MAX_ROWS", "book_measures", "check_cause_map", "check_monthly",
           "check_values", "columns_ok", "index_positions", "loan_pos", "unique_key"]
