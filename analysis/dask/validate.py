"""Validation of a large book on a Dask cluster: the pandas checks of :mod:`analysis.data`
(``io`` below: :mod:`~analysis.data.read`, :mod:`~analysis.data.coerce`,
:mod:`~analysis.data.checks`), run per Parquet part and per loan partition, gathered into
the same report.

Method
------
1. **Files** (on the client, footers only): each table is located and its columns
   checked with the same functions and messages as :func:`analysis.data.validate_book`
   (``file_present``, ``single_file``, ``required_column``, ``not_empty``).
2. **Per part** (one task per Parquet part, or per CSV file): the part is read with
   ``read_parquet`` / ``read_csv``, typed with ``coerce`` and checked with
   ``check_values`` (pandera up to ``PANDERA_MAX_ROWS`` rows, the same rules as
   masks above). Rows are labelled by their position in the whole table, so a report row
   names ``part-00003.parquet row 17`` exactly as the pandas path does. Each task returns
   its report rows and the typed key columns.
3. **Per loan partition**: the key columns are co-partitioned by loan
   (:func:`analysis.dask.partition.copartition`), and each partition runs the cross-row
   checks of ``io`` on whole loans: ``unique_key`` of every table, ``known_loan_id``,
   ``not_before_origination``, ``contiguous_months``. Duplicate keys share a loan, so
   they meet in one partition; so do a loan's months and its ``loans`` row.
4. **Small tables** (``measures``, ``cause_map``) and the ``cause_map`` checks run on the
   client, with the reasons' codes gathered (one column).
5. **Gather**: report rows with the same file, table, column and check are merged:
   ``n_failures`` added, the first :data:`analysis.data.problems.MAX_EXAMPLES` examples kept in
   source-row order.

Known drawbacks
---------------
Counts agree with the pandas report exactly. When a check fails for more than five rows,
the examples shown may be other failing rows than the pandas path shows (pandas lists
key checks in loan order, this path in source-row order); report rows may come in a
different order. Hive-style sub-folders inside a table folder are not read as columns
(except through the aligned cache, which reads them as the pandas loader does).

A book that is not loan-aligned (one file per table, parts by month, CSV) is validated
from its loan-aligned copy (:mod:`analysis.dask.realign`): steps 2-3 then run per cached
part and per group, and every report row names the source's file, part and row, which the
copy keeps. A CSV table that cannot be rewritten (a malformed header or text) is read as
one task on the client, as before.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.dask.aligned import find_alignment, remember
from analysis.dask.partition import BUCKET, copartition, n_partitions_for
from analysis.dask.realign import SOURCE_ROW, AlignedSource, aligned_source
from analysis.data.checks import (
    book_measures,
    check_cause_map,
    check_monthly,
    check_values,
    columns_ok,
    loan_pos,
    unique_key,
)
from analysis.data.coerce import coerce
from analysis.data.files import locate
from analysis.data.problems import MAX_EXAMPLES, REPORT_COLUMNS, Loaded, Report, ValidationReport
from analysis.data.read import read_csv, read_parquet, read_table
from analysis.data.schema import FIELDS, TABLES
from analysis.months import month_index

_LABEL = "_row"
#: Key columns each loan table keeps for the cross-row checks.
KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "loans": ("loan_id", "origination_date"),
    "performance": ("loan_id", "month"),
    "signals": ("loan_id", "month"),
    "relief": ("loan_id", "granted_date", "measure"),
    "reasons": ("loan_id", "reported_date", "reason_code"),
}


class _LabelledReport(Report):
    """An ``io`` :class:`Report` that also keeps the source labels of its examples, for merging."""

    def __init__(self, data_dir: Path):
        super().__init__(data_dir)
        self.labels: list[list[int]] = []

    def add(self, file, table, column, check, n, examples):
        super().add(file, table, column, check, n, examples)
        if len(self.labels) < len(self.rows):
            self.labels.append([])

    def add_rows(self, ld, column, check, labels, frame, cols, note=None) -> None:
        labels = np.asarray(labels)
        before = len(self.rows)
        super().add_rows(ld, column, check, labels, frame, cols, note)
        if len(self.rows) > before:
            self.labels[-1] = [int(x) for x in labels[:MAX_EXAMPLES]]

    def records(self) -> list[dict]:
        return [dict(r, _labels=lab) for r, lab in zip(self.rows, self.labels, strict=True)]


def _parts_of(path: Path) -> list[tuple[str, int, int]]:
    """(file path, first row, rows) of each Parquet part, in the order ``io`` reads them."""
    import pyarrow.dataset as pds

    if path.is_dir():
        ds = pds.dataset(path, format="parquet", partitioning="hive")
        out, n = [], 0
        for fr in ds.get_fragments():
            k = fr.count_rows()
            out.append((fr.path, n, k))
            n += k
        return out
    import pyarrow.parquet as pq

    return [(str(path), 0, pq.ParquetFile(path).metadata.num_rows)]


def _columns_of(path: Path) -> list[str] | None:
    import pyarrow.parquet as pq

    files = _parts_of(path) if path.is_dir() or path.suffix == ".parquet" else []
    if not files:
        return None
    return [str(c).strip() for c in pq.read_schema(files[0][0]).names]


def _check_part(
    data_dir: Path, table: str, path: str, fmt: str, file: str, parts: tuple,
    first: int, measure_codes: list[str], keep: tuple[str, ...],
) -> tuple[list[dict], pd.DataFrame | None]:
    """Read, type and value-check one part; its report records and typed key columns."""
    rep = _LabelledReport(data_dir)
    if fmt == "csv":
        ld = read_csv(Path(path), table, rep)
    else:
        ld = read_parquet(Path(path), table, rep)
        if ld is not None:
            ld = Loaded(table, file, "parquet", ld.df.set_axis(
                pd.RangeIndex(first, first + len(ld.df))), parts)
    if ld is None:
        return rep.records(), None
    if fmt == "csv" and not columns_ok(ld.file, table, list(ld.df.columns), len(ld.df), rep):
        return rep.records(), None
    return _check_loaded(ld, rep, measure_codes, keep)


def _check_cached_part(
    data_dir: Path, table: str, path: str, desc: dict, measure_codes: list[str],
    keep: tuple[str, ...],
) -> tuple[list[dict], pd.DataFrame | None]:
    """:func:`_check_part` for a part of the aligned cache (:mod:`analysis.dask.realign`):
    its rows in source order, labelled and named as in the source (``desc``)."""
    import pyarrow.parquet as pq

    rep = _LabelledReport(data_dir)
    df = pq.read_table(path).to_pandas().sort_values(SOURCE_ROW, kind="stable")
    df = df.set_index(SOURCE_ROW)
    df.index.name = None
    ld = Loaded(table, desc["file"], desc["fmt"], df, desc["parts"])
    return _check_loaded(ld, rep, measure_codes, keep)


def _check_loaded(ld: Loaded, rep: _LabelledReport, measure_codes: list[str],
                  keep: tuple[str, ...]) -> tuple[list[dict], pd.DataFrame | None]:
    """Type and value-check one read part; its report records and typed key columns."""
    df, rawnull = coerce(ld, rep)
    check_values(ld, df, rawnull, rep, measure_codes)
    keys = df[[c for c in keep if c in df.columns]].copy()
    keys[_LABEL] = df.index.to_numpy(dtype=np.int64)
    return rep.records(), _to_arrow(keys.reset_index(drop=True))


def _to_arrow(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as Arrow strings: the shuffle moves buffers, not Python objects."""
    text = [c for c in df.columns if df[c].dtype == object]
    return df.astype({c: "string[pyarrow]" for c in text}) if text else df


def _from_arrow(df: pd.DataFrame) -> pd.DataFrame:
    """Arrow strings back to the object columns ``io`` works on (missing = NaN)."""
    out = {c: df[c].astype(object).where(df[c].notna(), np.nan)
           for c in df.columns if isinstance(df[c].dtype, pd.StringDtype)}
    return df.assign(**out) if out else df


def _key_meta(table: str, keep: tuple[str, ...]) -> pd.DataFrame:
    cols = {c: pd.Series(dtype=FIELDS[c].dtype) for c in keep}
    cols[_LABEL] = pd.Series(dtype="int64")
    return _to_arrow(pd.DataFrame(cols))


def _cross_group(
    data_dir: Path, frames: dict[str, list[pd.DataFrame | None]], lds: dict[str, tuple]
) -> tuple[list[dict], int, np.ndarray]:
    """The cross-row checks on one group of a loan-aligned book (the key columns of its
    parts, no shuffle), with what :func:`validate_book_dask` needs to confirm the
    alignment: the rows whose loan is not in the group's ``loans`` and the hashes of the
    group's loan IDs."""
    pieces = {name: pd.concat([_or_empty(f, _key_meta(name, KEY_COLUMNS[name])) for f in fr],
                              ignore_index=True)
              for name, fr in frames.items() if fr}
    records, unknown = _cross_checks(data_dir, pieces, lds, count_unknown=True)
    ids = pieces["loans"]["loan_id"].dropna() if "loans" in pieces else pd.Series([], dtype=str)
    return records, unknown, pd.util.hash_array(ids.astype(str).to_numpy(dtype=object))


def _cross_checks(
    data_dir: Path, pieces: dict[str, pd.DataFrame], lds: dict[str, tuple],
    count_unknown: bool = False,
) -> Any:
    """``io``'s cross-row checks on one loan partition (each loan whole): the report
    records, and with ``count_unknown`` also the number of rows whose loan ID is not in
    the partition's ``loans`` (missing IDs not counted)."""
    rep = _LabelledReport(data_dir)
    dfs: dict[str, pd.DataFrame] = {}
    ld_of: dict[str, Any] = {}
    for name, piece in pieces.items():
        piece = piece.drop(columns=[c for c in piece.columns if c.startswith(BUCKET)])
        piece = _from_arrow(piece.sort_values(_LABEL, kind="stable").set_index(_LABEL))
        piece.index.name = None
        file, fmt, parts = lds[name]
        dfs[name] = piece
        ld_of[name] = Loaded(name, file, fmt, piece, parts)
    loans = dfs.get("loans")
    loan_index = origin = None
    if loans is not None:
        unique_key(ld_of["loans"], loans, rep, ["loan_id"])
        first = loans.drop_duplicates("loan_id").dropna(subset=["loan_id"])
        loan_index = pd.Index(first["loan_id"])
        origin_m = month_index(first["origination_date"])
        origin = (np.where(origin_m < 0, np.iinfo("int64").min, origin_m),
                  first["origination_date"])
    unknown = 0

    def positions(name: str) -> np.ndarray | None:
        nonlocal unknown
        pos = loan_pos(ld_of[name], dfs[name], rep, loan_index)
        if pos is not None:
            unknown += int(np.count_nonzero((pos < 0) & dfs[name]["loan_id"].notna().to_numpy()))
        elif count_unknown:
            unknown += int(dfs[name]["loan_id"].notna().sum())
        return pos

    for name in ("performance", "signals"):
        if name in dfs:
            pos = positions(name)
            check_monthly(ld_of[name], dfs[name], rep, pos,
                         origin if name == "performance" else None,
                         contiguous=name == "performance")
    for name in ("relief", "reasons"):
        if name in dfs:
            pos = positions(name)
            unique_key(ld_of[name], dfs[name], rep, list(TABLES[name].primary_key))
            if name == "relief" and pos is not None:
                df = dfs[name]
                g = month_index(df["granted_date"])
                early = (pos >= 0) & (g >= 0) & (g < origin[0][np.where(pos >= 0, pos, 0)])
                rep.add_mask(ld_of[name], "granted_date", "not_before_origination", early, df,
                             ["loan_id", "granted_date", "measure"])
    return (rep.records(), unknown) if count_unknown else rep.records()


def merge_records(records: list[dict]) -> pd.DataFrame:
    """Report rows of several tasks -> one report table (``REPORT_COLUMNS``)."""
    merged: dict[tuple, dict] = {}
    for r in records:
        key = (r["file"], r["table"], r["column"], r["check"])
        exs = [e for e in str(r["examples"]).split(" | ") if e]
        labs = list(r.get("_labels") or [])
        pairs = list(zip(labs + [None] * (len(exs) - len(labs)), exs, strict=True))
        if key not in merged:
            merged[key] = {"n": 0, "pairs": [], "row_level": bool(labs)}
        m = merged[key]
        if m["row_level"] or not m["pairs"]:
            m["n"] += int(r["n_failures"])
        m["pairs"] += pairs
    rows = []
    for (file, table, column, check), m in merged.items():
        pairs = m["pairs"]
        if m["row_level"]:
            pairs = sorted(pairs, key=lambda p: (p[0] is None, p[0] if p[0] is not None else 0))
        rows.append(dict(file=file, table=table, column=column, check=check, n_failures=m["n"],
                         examples=" | ".join(e for _, e in pairs[: MAX_EXAMPLES])))
    out = pd.DataFrame(rows, columns=REPORT_COLUMNS)
    out["n_failures"] = out["n_failures"].astype("int64")
    return out


_DONE: dict[tuple, ValidationReport] = {}


def _files_fingerprint(base: Path) -> tuple:
    """(path, size, mtime) of every file under ``base``: a report holds while unchanged."""
    return (str(base.resolve()),) + tuple(
        (str(p), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(base.rglob("*")) if p.is_file())


def validate_book_dask(
    data_dir: str | os.PathLike, *, npartitions: int | None = None, align: bool = True
) -> ValidationReport:
    """Validate ``data_dir`` on the current Dask scheduler; the same
    :class:`analysis.data.ValidationReport` as :func:`analysis.data.validate_book`
    (``.ok``, ``.table``, ``.format()``). Never raises for bad data.

    A book in loan-aligned Parquet parts (:mod:`analysis.dask.aligned`; ``align``
    and no ``npartitions``) runs the cross-row checks per group of parts, without the
    shuffle. When only the file names suggest the alignment, the data must confirm it
    (every row's loan in its group's ``loans``, no loan ID in two groups); the result is
    remembered for :func:`analysis.dask.frames.load_book_dask` in this process, and if the
    data refute it the checks run again with the shuffle. A report is also remembered for
    the unchanged files, so a scheduled run that validates twice reads the book once."""
    base = Path(data_dir)
    key = (_files_fingerprint(base), npartitions, align) if base.is_dir() else None
    if key is not None and key in _DONE:
        return _DONE[key]
    src = aligned_source(base) if align and npartitions is None and base.is_dir() else None
    report = _validate(base, npartitions, align, src)
    if key is not None:
        _DONE.clear()
        _DONE[key] = report
    return report


def _locate_all(base: Path, rep: Report) -> dict[str, Path]:
    """The file or folder of every table found once (``io``'s ``file_present`` and
    ``single_file`` checks; ``cause_map`` required with ``signals`` or ``reasons``)."""
    located: dict[str, Path] = {}
    for name, t in TABLES.items():
        path = locate(base, name, rep, t.required == "always")
        if path is not None:
            located[name] = path
    for name in ("signals", "reasons"):
        if name in located and "cause_map" not in located:
            _why = f" (required because {_file_name(located[name])} exists)"
            locate(base, "cause_map", rep, True, why=_why)
            break
    return located


def _check_small(located: dict[str, Path], rep: Report
                 ) -> tuple[dict[str, Loaded], dict[str, pd.DataFrame], pd.DataFrame]:
    """``measures`` and ``cause_map`` read, typed and checked in pandas on the client,
    exactly as ``io`` does; with the book's measures table."""
    small_lds, small_dfs, raw_nulls = {}, {}, {}
    for name in ("measures", "cause_map"):
        if name in located:
            ld = read_table(located[name], name, rep)
            if ld is not None and columns_ok(ld.file, name, list(ld.df.columns), len(ld.df), rep):
                small_lds[name] = ld
                small_dfs[name], raw_nulls[name] = coerce(ld, rep)
    meas = book_measures(small_lds.get("measures"), small_dfs.get("measures"), rep)
    codes = list(meas["code"])
    for name, df in small_dfs.items():
        check_values(small_lds[name], df, raw_nulls[name], rep, codes)
        unique_key(small_lds[name], df, rep, list(TABLES[name].primary_key))
    return small_lds, small_dfs, meas


@dataclass
class _PartTasks:
    """The per-part tasks of the loan tables: their report records, their key-column
    frames by table, ``(file, format, parts)`` and row count by table, and the real
    paths of the parts (to match them with aligned groups)."""

    records: list = field(default_factory=list)
    key_frames: dict[str, list] = field(default_factory=dict)
    lds: dict[str, tuple] = field(default_factory=dict)
    n_rows: dict[str, int] = field(default_factory=dict)
    part_paths: dict[str, list[str]] = field(default_factory=dict)


def _cached_tasks(out: _PartTasks, base: Path, name: str, src: AlignedSource,
                  located: dict[str, Path], codes: list[str], rep: Report) -> None:
    """The tasks of a loan table read from the aligned cache, one per cached part,
    naming the source's file, parts and rows."""
    import pyarrow.parquet as pq
    from dask import delayed

    desc = src.tables[name]
    files = [str(f) for f in sorted(src.path(name).glob("*.parquet"))]
    out.n_rows[name] = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    columns = desc["columns"] or _columns_of(located[name])
    if columns is not None and not columns_ok(desc["file"], name, columns, out.n_rows[name],
                                              rep):
        return
    out.lds[name] = (desc["file"], desc["fmt"], desc["parts"])
    tasks = [delayed(_check_cached_part, nout=2)(base, name, f, desc, codes, KEY_COLUMNS[name],
                                                 dask_key_name=f"validate-part-{name}-{i}")
             for i, f in enumerate(files)]
    out.records += [t[0] for t in tasks]
    out.key_frames[name] = [t[1] for t in tasks]
    out.part_paths[name] = [os.path.realpath(f) for f in files]


def _part_tasks(base: Path, located: dict[str, Path], codes: list[str], rep: Report,
                src: AlignedSource | None = None) -> _PartTasks:
    """One task per Parquet part of each loan table (a CSV file, or a folder without
    parts, is checked on the client at once), or per part of the aligned cache ``src``."""
    from dask import delayed

    out = _PartTasks()
    for name in KEY_COLUMNS:
        if name not in located:
            continue
        if src is not None and name in src.tables:
            _cached_tasks(out, base, name, src, located, codes, rep)
            continue
        path = located[name]
        fmt = "parquet" if (path.is_dir() or path.suffix == ".parquet") else "csv"
        file = _file_name(path)
        if fmt == "parquet":
            try:
                parts = _parts_of(path)
                columns = _columns_of(path)
            except Exception:  # unreadable: let io's reader report it, in one task
                parts, columns = [], None
        else:
            parts, columns = [], None
        keep = KEY_COLUMNS[name]
        if fmt == "csv" or not parts:  # one CSV file, or a folder without parts: on the client
            recs, keys = _check_part(base, name, str(path), fmt, file, (), 0, codes, keep)
            out.records.append(recs)
            if keys is not None:
                out.n_rows[name] = len(keys)
                out.lds[name] = (file, fmt, ())
                out.key_frames[name] = [keys]
            continue
        out.n_rows[name] = sum(k for _, _, k in parts)
        if columns is not None and not columns_ok(file, name, columns, out.n_rows[name], rep):
            continue
        meta_parts = tuple((Path(p).name, s) for p, s, _ in parts) if path.is_dir() else ()
        out.lds[name] = (file, fmt, meta_parts)
        tasks = [delayed(_check_part, nout=2)(base, name, p, fmt, file, meta_parts, s, codes,
                                              keep, dask_key_name=f"validate-part-{name}-{i}")
                 for i, (p, s, _) in enumerate(parts)]
        out.records += [t[0] for t in tasks]
        out.key_frames[name] = [t[1] for t in tasks]
        out.part_paths[name] = [os.path.realpath(p) for p, _, _ in parts]
    return out


def _shuffled_cross(base: Path, parts: _PartTasks, npartitions: int | None) -> list:
    """The cross-row check tasks, one per loan partition of the co-partitioned keys."""
    import dask.dataframe as dd
    from dask import delayed

    n_loans = parts.n_rows.get("loans") or 1
    n = npartitions or n_partitions_for(n_loans)
    ddfs = {name: dd.from_delayed([delayed(_or_empty)(f, _key_meta(name, KEY_COLUMNS[name]))
                                   for f in frames],
                                  meta=_key_meta(name, KEY_COLUMNS[name]), verify_meta=False)
            for name, frames in parts.key_frames.items()}
    pieces = {name: copartition(df, n) for name, df in ddfs.items()}
    return [delayed(_cross_checks)(base, {name: p[k] for name, p in pieces.items()}, parts.lds,
                                   dask_key_name=f"validate-cross-{k}")
            for k in range(n)]


def _signal_columns(located: dict[str, Path], src: AlignedSource | None) -> list[str]:
    """The column names of ``signals`` (a CSV's header from the aligned cache's record)."""
    if src is not None and "signals" in src.tables and src.tables["signals"]["columns"]:
        return list(src.tables["signals"]["columns"])
    path = located["signals"]
    if not (path.is_dir() or path.suffix == ".parquet"):  # CSV: its header
        try:
            return [str(c).strip() for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig")]
        except (ValueError, OSError, UnicodeDecodeError):
            return []
    return _columns_of(path) or []


def _counts(located: dict[str, Path], parts: _PartTasks, meas: pd.DataFrame,
            months: tuple | None, src: AlignedSource | None = None) -> dict:
    """Sizes of the book for the report's message (rows from the parts)."""
    n_rows = parts.n_rows
    counts = {"loans": n_rows.get("loans", 0), "loan_months": n_rows.get("performance", 0),
              "relief": n_rows.get("relief", 0), "measures": len(meas),
              "reasons": n_rows.get("reasons", 0)}
    if "signals" in located:
        counts["signal_columns"] = max(len(_signal_columns(located, src)) - 2, 0)
    if months is not None and pd.notna(months[0]):
        counts["first_month"] = pd.Timestamp(months[0]).strftime("%Y-%m")
        counts["last_month"] = pd.Timestamp(months[1]).strftime("%Y-%m")
    return counts


def _validate(base: Path, npartitions: int | None, align: bool,
              src: AlignedSource | None = None) -> ValidationReport:
    import dask
    from dask import delayed

    rep = _LabelledReport(base)
    if not base.is_dir():
        rep.add(str(base), "", "", "directory_exists", 1,
                [f"{base} is not a directory" if base.exists() else f"{base} not found"])
        return rep.result()
    located = _locate_all(base, rep)
    small_lds, small_dfs, meas = _check_small(located, rep)
    # loan tables: per part, then per loan partition
    parts = _part_tasks(base, located, list(meas["code"]), rep, src)
    key_frames = parts.key_frames
    reason_codes = None
    cross = []
    al_paths = {name: src.path(name) if src is not None and name in src.tables else located[name]
                for name in KEY_COLUMNS if name in located}
    al = find_alignment(al_paths, 2**62) if align and npartitions is None else None
    groups = _group_frames(al, key_frames, parts.part_paths) if al is not None else None
    if groups is not None:
        cross = [delayed(_cross_group, nout=3)(base, fr, parts.lds,
                                               dask_key_name=f"validate-group-{g}")
                 for g, fr in enumerate(groups)]
    elif key_frames:
        cross = _shuffled_cross(base, parts, npartitions)
    if "reasons" in key_frames and "cause_map" in small_dfs:
        reason_codes = delayed(pd.concat)(
            [delayed(_or_empty)(f, _key_meta("reasons", KEY_COLUMNS["reasons"]))
             for f in key_frames["reasons"]], ignore_index=True)
    months = None
    if "performance" in key_frames:
        months = [delayed(_month_span)(f) for f in key_frames["performance"]]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Computing mixed collections")
        part_out, cross_out, rc, months = dask.compute(parts.records, cross, reason_codes,
                                                       months)
    if groups is not None:
        hashes = np.concatenate([h for _, _, h in cross_out]) if cross_out else np.array([])
        confirmed = al.proven or (sum(u for _, u, _ in cross_out) == 0
                                  and len(np.unique(hashes)) == len(hashes))
        remember(al_paths, confirmed)
        if not confirmed:
            return _validate(base, npartitions, False, src)
        cross_out = [r for r, _, _ in cross_out]
    if months:
        spans = [m for m in months if m is not None]
        months = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None
    records = rep.records() + _flat([part_out, cross_out])
    tail = _LabelledReport(base)
    _cause_map_on_client(base, located, small_lds, small_dfs, rc, tail, src)
    records += tail.records()
    table = merge_records(records)
    return ValidationReport(table=table, data_dir=base,
                            counts=_counts(located, parts, meas, months, src))


def _group_frames(al: Any, key_frames: dict[str, list], part_paths: dict[str, list[str]]
                  ) -> list[dict[str, list]] | None:
    """The key-column tasks of each aligned group, by table (None when a part of a group
    has no task, e.g. a table that failed its column checks)."""
    out = []
    for files in al.groups:
        fr: dict[str, list] = {}
        for name, fs in files.items():
            if name not in key_frames:
                return None
            where = dict(zip(part_paths[name], key_frames[name], strict=True))
            try:
                fr[name] = [where[os.path.realpath(f)] for f in fs]
            except KeyError:
                return None
        out.append(fr)
    return out


def _month_span(frame: pd.DataFrame | None) -> tuple | None:
    if frame is None or frame["month"].notna().sum() == 0:
        return None
    return frame["month"].min(), frame["month"].max()


def _flat(items: Any) -> list[dict]:
    """Report records out of nested lists (task results)."""
    if isinstance(items, dict):
        return [items]
    return [r for x in items for r in _flat(x)]


def _or_empty(frame: pd.DataFrame | None, meta: pd.DataFrame) -> pd.DataFrame:
    return meta if frame is None else frame.astype(meta.dtypes.to_dict(), copy=False)


def _file_name(path: Path) -> str:
    return path.name + ("/" if path.is_dir() else "")


def _cause_map_on_client(base, located, small_lds, small_dfs, reasons, rep, src=None) -> None:
    """``io``'s ``check_cause_map`` with the signal columns and the reasons' codes."""
    if "cause_map" not in small_dfs:
        return
    lds = {"cause_map": small_lds["cause_map"]}
    dfs = {"cause_map": small_dfs["cause_map"]}
    if "signals" in located:
        cols = _signal_columns(located, src)
        lds["signals"] = Loaded("signals", _file_name(located["signals"]), "parquet",
                                     pd.DataFrame(columns=cols))
        dfs["signals"] = lds["signals"].df
    if reasons is not None:
        rs = _from_arrow(reasons.sort_values(_LABEL, kind="stable").set_index(_LABEL))
        rs.index.name = None
        path = located["reasons"]
        fmt = "parquet" if (path.is_dir() or path.suffix == ".parquet") else "csv"
        parts = tuple((Path(p).name, s) for p, s, _ in _parts_of(path)) if path.is_dir() else ()
        lds["reasons"] = Loaded("reasons", _file_name(path), fmt, rs, parts)
        dfs["reasons"] = rs
    check_cause_map(lds, dfs, rep)
