"""Declarative import: a loan tape plus a YAML spec -> a validated, pseudonymised book.

``python -m analysis import --spec SPEC.yml --out DIR`` (see :mod:`analysis.cli.tapes`).

Method
------
1. **Read** every source of the spec (CSV as text with the declared encoding and
   delimiter, or Parquet), remembering each record's file and line (CSV: the physical line
   where the record starts, header = line 1; Parquet: the row number, 1-based).
2. **Build** the contract tables in the order loans, performance, relief, measures,
   signals, reasons, cause_map: mapped tables column by column (steps in
   :mod:`analysis.importers.transforms`), derived tables by a registered derivation
   (:mod:`analysis.importers.derive`) fed with the records that survived the mapped tables,
   constant tables from ``rows``.
3. **Quarantine** per source record: a record with any problem (unparseable, unmapped,
   missing, out of range, a duplicate key, a ``loan_id`` unknown to ``loans``) leaves every
   table it feeds, so a book never holds half a loan. Each problem is one line of the
   quarantine file ``<DIR>.quarantine.csv`` beside the output (``source, file, line, table,
   reason, raw``; ``raw`` holds the values of the source columns involved, as JSON, never
   those of identifier columns). Counts per reason are reported. When the share of
   quarantined records among all records read passes ``quarantine.max_share``, the import
   fails (exit 2) and writes ``<DIR>.quarantine.rejected.csv`` instead.
4. **Pseudonymise** the ID columns (``identifiers.pseudonymise``, by default ``loan_id`` and
   ``borrower_id``) in every table: HMAC-SHA256 keyed with the secret of
   ``OVERDUE_RELIEF_KEY`` or ``--key-file``, message ``"<column>:<value>"``, hex digest cut
   to 32 characters (128 bits). The same key gives the same IDs on the next import, so
   monthly refreshes join up; the key is never written anywhere. Identifier columns of
   ``identifiers.drop`` never reach the output (the spec is refused if a column built from
   one is not pseudonymised).
5. **Publish atomically**: the tables are written as Parquet into a temporary folder beside
   ``DIR``, validated with the contract (``analysis.load_book``), then swapped in by
   renaming; an earlier import in ``DIR`` is untouched if anything fails before the swap.
   An existing ``DIR`` that is not an earlier import (no ``_import.json``) is never replaced.
   ``_import.json`` in the output records the spec, source checksums, counts and a key
   fingerprint (an HMAC of a fixed text: it tells whether two imports used the same key and
   reveals nothing of the key).

Known drawbacks: pseudonymisation loops over the distinct IDs in Python (hashlib has no
vectorised HMAC; about a second per million IDs). The swap is two renames (old aside, new
in); a crash between them leaves the earlier import in ``.<DIR>.old-*`` beside ``DIR``.
Pseudonyms protect against casual re-identification only: covariates (state, dates,
amounts) can still single out a borrower; coarsen and round them in the spec.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import FIELDS, TABLES, validate_book
from analysis.errors import InputError
from analysis.importers.derive import columns_of, derivations
from analysis.importers.keys import KEY_ENV, key_fingerprint, pseudonymise_tables
from analysis.importers.read import Source, check_columns, read_source
from analysis.importers.spec import TABLE_ORDER, ImportInputError, ImportSpec, PartSpec, load_spec
from analysis.importers.transforms import build_column

_KEYS = {"loans": ("loan_id",), "performance": ("loan_id", "month"),
         "signals": ("loan_id", "month")}
_QUARANTINE_COLUMNS = ["source", "file", "line", "table", "reason", "raw"]


class QuarantineThresholdError(InputError):
    """Too many records quarantined: nothing was published."""

    def __init__(self, message: str, result: ImportResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``quarantine_counts``: reason, n_problems, n_records."""

    out_dir: Path
    published: bool
    n_records: int
    n_quarantined: int
    max_share: float
    table_rows: dict[str, int]
    quarantine_counts: pd.DataFrame
    quarantine_path: Path | None
    pseudonymised: bool
    manifest: dict = field(default_factory=dict)

    @property
    def quarantine_share(self) -> float:
        return self.n_quarantined / self.n_records if self.n_records else 0.0

    @property
    def table(self) -> pd.DataFrame:
        """Rows per output table, as a tidy frame (``table``, ``rows``)."""
        return pd.DataFrame({"table": list(self.table_rows), "rows": list(self.table_rows.values())})

    def _repr_html_(self) -> str:
        head = "<pre>" + self.summary().split("\nquarantine counts")[0] + "</pre>"
        return head + (self.quarantine_counts.to_html(index=False) if len(self.quarantine_counts)
                       else "")

    def summary(self) -> str:
        state = "published to" if self.published else (
            "dry run, valid, NOT published:" if self.quarantine_path is not None
            and self.quarantine_path.name.endswith(".dry-run.csv") else "NOT published:")
        lines = [f"{state} {self.out_dir}",
                 "rows: " + ", ".join(f"{t}={n}" for t, n in self.table_rows.items()),
                 f"quarantined records: {self.n_quarantined} of {self.n_records} "
                 f"({self.quarantine_share:.2%}; threshold {self.max_share:.2%})"]
        if len(self.quarantine_counts):
            lines.append("quarantine counts per reason:")
            for r in self.quarantine_counts.itertuples(index=False):
                lines.append(f"  {r.n_records:6d} records  {r.reason}")
        if self.quarantine_path is not None:
            lines.append(f"quarantine file: {self.quarantine_path}")
        lines.append("IDs pseudonymised (HMAC-SHA256)" if self.pseudonymised
                     else "IDs NOT pseudonymised (--no-pseudonymise)")
        return "\n".join(lines)


# ---------------------------------------------------------------- building
def _apply_where(frame: pd.DataFrame, where: dict) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    for c in where.get("notnull", []):
        keep &= frame[c].notna()
    for c, v in (where.get("equals") or {}).items():
        keep &= frame[c].astype("string").str.strip() == str(v)
    for c, vs in (where.get("in") or {}).items():
        keep &= frame[c].astype("string").str.strip().isin([str(v) for v in vs])
    return frame[keep.fillna(False).to_numpy(bool)]


def _apply_stack(frame: pd.DataFrame, stack: tuple[dict, ...]) -> pd.DataFrame:
    """Wide to long: one copy of each record per stack entry, columns renamed."""
    if not stack:
        return frame
    pieces = []
    for entry in stack:
        piece = frame.copy()
        for new, old in entry.items():
            if isinstance(old, dict) and "const" in old:
                piece[new] = old["const"]
            else:
                piece[new] = frame[old]
        pieces.append(piece)
    return pd.concat(pieces)  # index (record number) repeats: one record, several rows


def _part_needs(part: PartSpec) -> tuple[set[str], set[str]]:
    stacked = {k for e in part.stack for k in e}
    needed = {c for col in part.columns for c in col.sources} - stacked
    needed |= set(part.passthrough) - stacked
    needed |= set(part.where.get("notnull", [])) | set(part.where.get("equals") or {}) \
        | set(part.where.get("in") or {})
    needed |= {v for e in part.stack for v in e.values() if isinstance(v, str)}
    optional = {c for col in part.columns for c in col.optional}
    return needed, optional


def _build_part(part: PartSpec, src: Source, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = _apply_stack(_apply_where(src.frame, part.where), part.stack)
    out = {"__row": frame.index.to_numpy()}
    problems = []
    for col in part.columns:
        values, reason = build_column(frame, col, table)
        out[col.name] = values.array
        bad = reason.to_numpy() != ""
        if bad.any():
            problems.append(pd.DataFrame({"__row": frame.index.to_numpy()[bad],
                                          "reason": reason.to_numpy()[bad],
                                          "columns": [col.sources] * int(bad.sum())}))
    for c in part.passthrough:
        out[c] = frame[c].to_numpy()
    df = pd.DataFrame(out)
    probs = pd.concat(problems, ignore_index=True) if problems else _no_problems()
    return df, probs


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame({"__row": pd.Series([], dtype="int64"), "reason": [], "columns": []})


def _columns_needed(spec: ImportSpec, source: str) -> set[str] | None:
    """Source columns any table reads (None: a derivation may read any column)."""
    cols: set[str] = set()
    for t in spec.tables.values():
        if t.derive and t.derive_source == source:
            more = columns_of(t.derive, t.params)
            if more is None:
                return None
            cols |= more
        for part in t.parts:
            if part.source == source:
                cols |= _part_needs(part)[0] | {c for col in part.columns for c in col.optional}
    return cols


@dataclass
class _Built:
    tables: dict[str, pd.DataFrame]
    sources_of: dict[str, str | None]
    problems: list[pd.DataFrame]  # with __src


def _build_tables(spec: ImportSpec, sources: dict[str, Source]) -> _Built:
    built = _Built({}, {}, [])

    def add_problems(p: pd.DataFrame, src: str, table: str) -> None:
        if len(p):
            built.problems.append(p.assign(__src=src, table=table))

    def bad_rows(src: str) -> np.ndarray:
        rows = [p.loc[p["__src"] == src, "__row"].to_numpy(np.int64) for p in built.problems]
        return np.concatenate(rows) if rows else np.array([], dtype=np.int64)

    registry = derivations()
    for tname in TABLE_ORDER:
        t = spec.tables.get(tname)
        if t is None:
            continue
        if t.rows is not None:
            built.tables[tname] = pd.DataFrame(list(t.rows))
            built.sources_of[tname] = None
        elif t.empty:
            built.tables[tname] = pd.DataFrame()
            built.sources_of[tname] = None
        elif t.derive:
            src = sources[t.derive_source]
            known = bad_rows(t.derive_source)
            frame = src.frame[~src.frame.index.isin(known)]
            try:
                derived = registry[t.derive](frame, t.params)
            except KeyError as exc:
                raise ImportInputError(f"tables.{tname}: derivation {t.derive!r} needs column or "
                                   f"parameter {exc} that source {t.derive_source!r} / the "
                                   "spec lacks") from None
            built.tables[tname] = derived.table.assign(__src=t.derive_source)
            built.sources_of[tname] = t.derive_source
            add_problems(derived.problems, t.derive_source, tname)
        else:
            frames = []
            for i, part in enumerate(t.parts):
                src = sources[part.source]
                needed, optional = _part_needs(part)
                check_columns(src, needed, optional, f"tables.{tname}"
                               + (f".parts[{i}]" if len(t.parts) > 1 else ""))
                df, probs = _build_part(part, src, tname)
                frames.append(df.assign(__src=part.source))
                add_problems(probs, part.source, tname)
            built.tables[tname] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            built.sources_of[tname] = t.parts[0].source if t.parts else None
    return built


def _drop_records(built: _Built) -> None:
    """Remove every row whose source record has a problem, from every table."""
    if not built.problems:
        return
    allp = pd.concat(built.problems, ignore_index=True)
    bad = pd.MultiIndex.from_arrays([allp["__src"].astype(str), allp["__row"].astype(np.int64)])
    for name, df in built.tables.items():
        if "__src" in df.columns and len(df):
            keys = pd.MultiIndex.from_arrays([df["__src"].astype(str), df["__row"].astype(np.int64)])
            built.tables[name] = df[~keys.isin(bad)]


def _key_problems(built: _Built) -> None:
    """Duplicated keys and loan_ids unknown to loans become problems of their records."""
    for name, keys in _KEYS.items():
        df = built.tables.get(name)
        if df is None or not len(df) or "__src" not in df.columns:
            continue
        if not set(keys) <= set(df.columns):
            continue
        # rows of one record repeated by a stack are not duplicates of each other
        later = df.duplicated(list(keys), keep="first").to_numpy(bool)
        if later.any():
            first = df[~later & df.duplicated(list(keys), keep=False).to_numpy(bool)]
            first = first[[*keys, "__row"]].rename(columns={"__row": "__first"})
            cand = df[later][[*keys, "__row", "__src"]].merge(first, on=list(keys), how="left")
            cand = cand[cand["__row"] != cand["__first"]]
            dup_rows, dup_src = cand["__row"].to_numpy(), cand["__src"].to_numpy()
            built.problems.append(pd.DataFrame({
                "__row": dup_rows, "__src": dup_src,
                "reason": f"{name}: duplicate {'/'.join(keys)} (first record kept)",
                "columns": [()] * len(cand), "table": name}))
            _drop_records(built)  # before the next table: one duplicate record, one problem
    loans = built.tables.get("loans")
    if loans is None or "loan_id" not in loans.columns:
        return
    known = pd.Index(loans["loan_id"].astype(str))
    for name, df in built.tables.items():
        if name == "loans" or "__src" not in df.columns or "loan_id" not in df.columns:
            continue
        orphan = ~df["loan_id"].astype(str).isin(known).to_numpy(bool)
        if orphan.any():
            built.problems.append(pd.DataFrame({
                "__row": df.loc[orphan, "__row"].to_numpy(),
                "__src": df.loc[orphan, "__src"].to_numpy(),
                "reason": f"{name}: loan_id not in loans (the loan was not imported)",
                "columns": [()] * int(orphan.sum()), "table": name}))
    _drop_records(built)


def _quarantine_frame(built: _Built, sources: dict[str, Source],
                      drop_ids: set[str]) -> pd.DataFrame:
    if not built.problems:
        return pd.DataFrame(columns=_QUARANTINE_COLUMNS)
    allp = pd.concat(built.problems, ignore_index=True)
    parts = []
    for sname, grp in allp.groupby("__src", sort=False):
        src = sources[sname]
        rows = grp["__row"].to_numpy(np.int64)
        raw = []
        for cols_, r in zip(grp["columns"], rows, strict=True):
            cols_ = [c for c in cols_ if c in src.frame.columns and c not in drop_ids]
            vals = src.frame.loc[r, cols_] if cols_ else pd.Series(dtype=object)
            raw.append(json.dumps({c: (None if pd.isna(v) else str(v)) for c, v in vals.items()},
                                  ensure_ascii=False))
        parts.append(pd.DataFrame({"source": sname, "file": str(src.spec.path),
                                   "line": src.lines[rows], "table": grp["table"].to_numpy(),
                                   "reason": grp["reason"].to_numpy(), "raw": raw}))
    q = pd.concat(parts, ignore_index=True)
    return q.sort_values(["source", "line", "table"], kind="stable").reset_index(drop=True)


def _counts(q: pd.DataFrame) -> pd.DataFrame:
    if not len(q):
        return pd.DataFrame({"reason": [], "n_problems": [], "n_records": []})
    g = q.groupby("reason")
    out = pd.DataFrame({"n_problems": g.size(),
                        "n_records": g.apply(lambda d: d[["source", "line"]].drop_duplicates()
                                             .shape[0], include_groups=False)})
    return out.reset_index().sort_values(["n_records", "reason"], ascending=[False, True],
                                         ignore_index=True)


# ---------------------------------------------------------------- finishing
def _finish(df: pd.DataFrame, name: str, pseudo: tuple[str, ...], key: bytes | None) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("__row", "__src") if c in df.columns]).reset_index(drop=True)
    for c in pseudo:
        if c in df.columns and key is None:
            df[c] = df[c].astype("string").astype(object)
    for c in df.columns:
        if str(df[c].dtype) == "Int64" and not df[c].isna().any():
            df[c] = df[c].astype("int64")
    if df.empty and not len(df.columns):
        df = pd.DataFrame({f: pd.Series([], dtype=FIELDS[f].dtype)
                           for f in TABLES[name].fields if FIELDS[f].required})
    return df


class ImportValidationError(ImportInputError):
    """The imported tables break the data contract; ``.report`` is the validation report."""

    def __init__(self, message: str, report: pd.DataFrame) -> None:
        super().__init__(message)
        self.report = report


def _validate(tmp: Path, spec: ImportSpec, out: Path) -> None:
    rep = validate_book(tmp)
    if not rep.ok:
        raise ImportValidationError(
            f"the tables built by {spec.path} break the data contract; nothing published, "
            f"{out} untouched. Fix the spec (or quarantine the records with a `check`):\n"
            + rep.format().replace(str(tmp), out.name), rep.table)


def _check_replaceable(out: Path) -> None:
    """Only an earlier import (or an empty folder) may be replaced by a new one."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / "_import.json").is_file())):
        raise ImportInputError(
            f"--out {out} exists and is not an earlier import (no _import.json): refusing to "
            "replace it; choose a new folder or remove it yourself")


def _publish(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_import(spec: str | Path | ImportSpec, out_dir: str | Path, *,
               sources: dict[str, str] | None = None, key: bytes | None = None,
               no_pseudonymise: bool = False, validate: bool = True,
               dry_run: bool = False) -> ImportResult:
    """Import the sources of ``spec`` into the contract folder ``out_dir``.

    ``sources`` overrides source paths by name; ``key`` is the pseudonymisation secret
    (see :func:`resolve_key`), required unless ``no_pseudonymise``. Raises
    :class:`QuarantineThresholdError` when too many records are quarantined, and an
    :class:`InputError` for unreadable sources or an output that fails validation; in
    all these cases ``out_dir`` is left as it was. ``dry_run`` does everything but the
    publishing (quarantine in ``<DIR>.quarantine.dry-run.csv``), to try a spec.
    """
    spec = spec if isinstance(spec, ImportSpec) else load_spec(spec)
    out = Path(out_dir).expanduser().resolve()
    _check_replaceable(out)
    if sources:
        spec = spec.with_sources(sources)
    if key is None and not no_pseudonymise:
        raise ImportInputError(f"no pseudonymisation key: set {KEY_ENV} or give --key-file; "
                           "give --no-pseudonymise only for data already anonymised")
    use_key = None if no_pseudonymise else key
    out.parent.mkdir(parents=True, exist_ok=True)

    read = {name: read_source(s, _columns_needed(spec, name)) for name, s in spec.sources.items()}
    built = _build_tables(spec, read)
    _drop_records(built)
    _key_problems(built)
    q = _quarantine_frame(built, read, set(spec.drop_identifiers))
    counts = _counts(q)
    n_records = sum(len(s.frame) for s in read.values())
    n_quar = int(q[["source", "line"]].drop_duplicates().shape[0]) if len(q) else 0
    tables = {n: _finish(df, n, spec.pseudonymise, use_key) for n, df in built.tables.items()}
    if use_key is not None:
        tables = pseudonymise_tables(tables, spec.pseudonymise, use_key)
    rows = {n: len(df) for n, df in tables.items()}
    share = n_quar / n_records if n_records else 0.0
    manifest = {
        "spec": str(spec.path), "spec_name": spec.name,
        "spec_sha256": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
        "sources": {n: {"path": str(s.spec.path), "sha256": s.sha256, "records": len(s.frame)}
                    for n, s in read.items()},
        "rows": rows, "quarantined_records": n_quar,
        "pseudonymised": use_key is not None,
        "key_fingerprint": key_fingerprint(use_key) if use_key is not None else None,
        "imported_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }

    def result(published: bool, qpath: Path | None) -> ImportResult:
        return ImportResult(out, published, n_records, n_quar, spec.max_quarantine_share, rows,
                            counts, qpath, use_key is not None, manifest)

    if share > spec.max_quarantine_share:
        qpath = out.parent / f"{out.name}.quarantine.rejected.csv"
        q.to_csv(qpath, index=False)
        res = result(False, qpath)
        raise QuarantineThresholdError(
            f"{n_quar} of {n_records} records ({share:.2%}) quarantined, more than the spec's "
            f"quarantine.max_share {spec.max_quarantine_share:.2%}; nothing published, "
            f"{out} untouched.\n" + res.summary(), res)

    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for name, df in tables.items():
            df.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "_import.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if validate:
            _validate(tmp, spec, out)
        if dry_run:
            shutil.rmtree(tmp)
            qpath = out.parent / f"{out.name}.quarantine.dry-run.csv"
            q.to_csv(qpath, index=False)
            return result(False, qpath)
        qpath = out.parent / f"{out.name}.quarantine.csv"
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    q.to_csv(qpath, index=False)
    (out.parent / f"{out.name}.quarantine.rejected.csv").unlink(missing_ok=True)
    return result(True, qpath)


__all__ = ["ImportResult", "ImportValidationError", "QuarantineThresholdError", "run_import"]
