"""The validation report: problems found in a data directory, collected pass by pass.

:class:`Report` collects one row per failed check (``file, table, column, check,
n_failures, examples``) while the passes of :mod:`analysis.data.validate` run;
:class:`ValidationReport` is the finished report and :class:`BookValidationError` the
error that carries it. :class:`Loaded` is one table as read, keeping the position of each
row in its source so that examples name the line (CSV) or part and row (Parquet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError

MAX_EXAMPLES = 5
REPORT_COLUMNS = ["file", "table", "column", "check", "n_failures", "examples"]


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """Outcome of validating a data directory.

    ``table`` has one row per failed check: ``file, table, column, check,
    n_failures, examples`` (up to 5 example rows as text, separated by `` | ``).
    ``counts`` holds sizes of the book (loans, loan-months, ...) for messages.
    """

    table: pd.DataFrame
    data_dir: Path
    counts: dict = field(default_factory=dict, compare=False)

    @property
    def ok(self) -> bool:
        return self.table.empty

    def summary(self) -> pd.DataFrame:
        """Failures per table and check (without examples)."""
        return self.table.drop(columns="examples")

    def message(self) -> str:
        """One line: ``valid: N loans, M loan-months, ...`` or the number of problems."""
        if not self.ok:
            return f"invalid: {len(self.table)} problem(s) in {self.data_dir}"
        c = self.counts
        parts = [f"{c.get('loans', 0)} loans", f"{c.get('loan_months', 0)} loan-months"]
        if c.get("first_month"):
            parts.append(f"months {c['first_month']} to {c['last_month']}")
        parts += [f"{c.get('relief', 0)} relief grants", f"{c.get('measures', 0)} measure codes"]
        parts.append(f"{c.get('signal_columns', 0)} signal columns")
        parts.append(f"{c.get('reasons', 0)} reasons")
        return "valid: " + ", ".join(parts)

    def format(self) -> str:
        """Human-readable report: one block per failed check."""
        if self.ok:
            return f"{self.data_dir}: {self.message()}"
        out = [f"{self.data_dir}: INVALID, {len(self.table)} problem(s)"]
        for r in self.table.itertuples(index=False):
            where = ", ".join(x for x in (f"table {r.table}" if r.table else "",
                                          f"column '{r.column}'" if r.column else "") if x)
            out.append(
                f"- {r.file}{f' ({where})' if where else ''}: check '{r.check}' failed"
                f" for {r.n_failures} row(s)"
            )
            out += [f"    {e}" for e in str(r.examples).split(" | ") if e]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        if self.ok:
            return f"<p>{self.message()}</p>"
        return f"<p>{self.message()}</p>" + self.table.to_html(index=False)


class BookValidationError(InputError):
    """The data directory breaks the contract.

    ``.report`` is the report DataFrame (``file, table, column, check,
    n_failures, examples``); ``.validation`` the full :class:`ValidationReport`.
    """

    def __init__(self, validation: ValidationReport):
        self.validation = validation
        self.report = validation.table
        super().__init__(validation.format())


@dataclass
class Loaded:
    """One table as read: ``df`` keeps the position in the source as its index."""

    table: str
    file: str
    fmt: str  # "csv" or "parquet"
    df: pd.DataFrame
    parts: tuple[tuple[str, int], ...] = ()  # (part name, first row) for Parquet folders

    def where(self, label: int) -> str:
        """Where the row labelled ``label`` is in the source: ``line N`` of a CSV file
        (after the header), ``<part> row N`` of a Parquet folder, ``row N`` of a file."""
        if self.fmt == "csv":
            return f"line {label + 2}"
        if self.parts:
            starts = [s for _, s in self.parts]
            i = int(np.searchsorted(starts, label, side="right")) - 1
            return f"{self.parts[i][0]} row {label - starts[i] + 1}"
        return f"row {label + 1}"


def format_value(v: object) -> str:
    """A value as an example shows it: text quoted, dates as ``YYYY-MM-DD``,
    missing as ``<missing>``."""
    if v is None or (not isinstance(v, str) and pd.api.types.is_scalar(v) and pd.isna(v)):
        return "<missing>"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d") if v == v.normalize() else str(v)
    if isinstance(v, str):
        return repr(v)
    return str(v)


class Report:
    """The report rows collected while validating ``data_dir`` (:meth:`result` finishes
    them into a :class:`ValidationReport`); at most :data:`MAX_EXAMPLES` examples each."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.rows: list[dict] = []

    def add(self, file: str, table: str, column: str, check: str, n: int, examples: list[str]):
        """One report row: ``n`` failures of ``check``, with example texts."""
        self.rows.append(
            dict(file=file, table=table, column=column, check=check, n_failures=int(n),
                 examples=" | ".join(examples[:MAX_EXAMPLES]))
        )

    def add_rows(self, ld: Loaded, column: str, check: str, labels, frame: pd.DataFrame,
                 cols: list[str], note=None) -> None:
        """Report ``labels`` (index labels of ``frame``) failing ``check``."""
        labels = np.asarray(labels)
        if len(labels) == 0:
            return
        ex = []
        for lab in labels[:MAX_EXAMPLES]:
            shown = [c for c in dict.fromkeys(cols) if c in frame.columns]
            text = ", ".join(f"{c}={format_value(frame.at[lab, c])}" for c in shown)
            extra = f" ({note(lab)})" if note else ""
            ex.append(f"{ld.where(int(lab))}: {text}{extra}")
        self.add(ld.file, ld.table, column, check, len(labels), ex)

    def add_mask(self, ld, column, check, mask, frame, cols, note=None) -> None:
        """Report the rows of ``frame`` where the boolean ``mask`` is set."""
        self.add_rows(ld, column, check, frame.index[np.asarray(mask, dtype=bool)], frame, cols,
                      note)

    def result(self, counts: dict | None = None) -> ValidationReport:
        """The finished report; ``counts`` are the book's sizes for its message."""
        table = pd.DataFrame(self.rows, columns=REPORT_COLUMNS)
        table["n_failures"] = table["n_failures"].astype("int64")
        return ValidationReport(table=table, data_dir=self.data_dir, counts=counts or {})


__all__ = ["MAX_EXAMPLES", "REPORT_COLUMNS", "BookValidationError", "Loaded", "Report",
           "ValidationReport", "format_value"]
