"""The metrics history: ``reports/history.sqlite``, append-only.

Three tables:

``runs``
    one row per run: ``run_id`` (primary key), ``as_of`` (YYYY-MM), ``status``
    (``ok`` / ``failed``), ``started_at`` / ``ended_at`` (UTC ISO 8601),
    ``duration_s``, ``fingerprint`` (SHA-256 of the input files), ``parameters``
    (JSON), ``segment``, ``language``, ``version``, ``message`` (failure reason).
``metrics``
    the headline KPIs of each successful run: ``run_id``, ``as_of``, ``metric``,
    ``segment_type``, ``segment``, ``value`` (NULL when suppressed), ``n``.
``degraded``
    the sections a run could not estimate (a model that could not be fitted, too little
    data; the run still published): ``run_id``, ``as_of``, ``notebook``, ``section``,
    ``reason`` (in the report language). A history written before this table existed
    gains it, empty, on the next connection.
``estimates``
    the headline relief-effect estimates of each successful run (so a page can draw how
    they move as data accumulate): ``run_id``, ``as_of``, ``outcome`` (``cure``,
    ``loss_rate``), ``measure``, ``segment_type`` (``all``, ``cause_family``),
    ``segment``, ``estimate``, ``ci_low``, ``ci_high`` (risk differences, fractions;
    NULL when suppressed), ``n`` (treated episodes). Older histories gain it, empty.

A month published twice (a refresh after late data, a forced re-run) keeps both runs;
readers take the latest, and :func:`republished_months` says which months were
published more than once and whether their figures changed.

Each run writes its rows in one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``):
both tables change together or not at all. Nothing is updated or deleted; triggers
refuse UPDATE and DELETE so a bug cannot rewrite history. Readers take the latest
successful run per month.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

HISTORY_FILE = "history.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    as_of TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    duration_s REAL NOT NULL,
    fingerprint TEXT,
    parameters TEXT NOT NULL,
    segment TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en',
    version TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    as_of TEXT NOT NULL,
    metric TEXT NOT NULL,
    segment_type TEXT NOT NULL,
    segment TEXT NOT NULL,
    value REAL,
    n INTEGER
);
CREATE INDEX IF NOT EXISTS metrics_as_of ON metrics (as_of, metric);
CREATE TABLE IF NOT EXISTS degraded (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    as_of TEXT NOT NULL,
    notebook TEXT NOT NULL,
    section TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS estimates (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    as_of TEXT NOT NULL,
    outcome TEXT NOT NULL,
    measure TEXT NOT NULL,
    segment_type TEXT NOT NULL,
    segment TEXT NOT NULL,
    estimate REAL,
    ci_low REAL,
    ci_high REAL,
    n INTEGER
);
"""
# Every table is append-only: an update or delete aborts (triggers, so that any SQLite
# client is held to it, not only this module).
APPEND_ONLY_TABLES: tuple[str, ...] = ("runs", "metrics", "degraded", "estimates")
_SCHEMA += "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op} BEFORE {op.upper()} ON {t}\n"
    "BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;\n"
    for t in APPEND_ONLY_TABLES for op in ("update", "delete"))
METRIC_COLUMNS = ("metric", "segment_type", "segment", "value", "n")
ESTIMATE_COLUMNS = ("outcome", "measure", "segment_type", "segment", "estimate", "ci_low",
                    "ci_high", "n")
# The effect estimates kept in the history: doubly robust, average effect, whole book and
# by cause family, on cure and on loss rate (``tables/effects.csv`` of notebook 03).
HEADLINE_METHOD, HEADLINE_ESTIMAND = "aipw", "ATE"
HEADLINE_OUTCOMES = ("sustained_cure", "cure", "loss_rate")
HEADLINE_SEGMENTS = ("all", "cause_family")


@contextmanager
def connect(out_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open (creating if needed) ``out_dir/history.sqlite``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(out_dir / HISTORY_FILE, timeout=60, isolation_level=None)
    try:
        con.executescript(_SCHEMA)
        if "provenance" not in {r[1] for r in con.execute("PRAGMA table_info(runs)")}:
            # history files written before runs carried their code and library versions
            con.execute("ALTER TABLE runs ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}'")
        yield con
    finally:
        con.close()


def record_run(
    out_dir: Path,
    *,
    run_id: str,
    as_of: str,
    status: str,
    started_at: str,
    ended_at: str,
    duration_s: float,
    fingerprint: str | None,
    parameters: dict,
    version: str,
    message: str = "",
    metrics: pd.DataFrame | None = None,
    degraded: Sequence[dict[str, str]] = (),
    estimates: pd.DataFrame | None = None,
    provenance: dict | None = None,
) -> None:
    """Append one run, its metrics, its degraded sections (``{"notebook", "section",
    "reason"}``) and its headline effect estimates (:data:`ESTIMATE_COLUMNS`, e.g.
    :func:`headline_estimates`) in a single transaction. ``provenance``: the code and
    library versions that produced it (:func:`analysis.report.provenance.provenance`)."""
    rows = []
    if metrics is not None and len(metrics):
        missing = [c for c in METRIC_COLUMNS if c not in metrics.columns]
        if missing:
            raise ValueError(f"kpis table lacks columns {missing}")
        m = metrics.loc[:, list(METRIC_COLUMNS)]
        for rec in m.itertuples(index=False):
            value = None if pd.isna(rec.value) else float(rec.value)
            n = None if pd.isna(rec.n) else int(rec.n)
            rows.append((run_id, as_of, str(rec.metric), str(rec.segment_type),
                         str(rec.segment), value, n))
    est_rows = _estimate_rows(run_id, as_of, estimates)
    with connect(out_dir) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "INSERT INTO runs (run_id, as_of, status, started_at, ended_at, duration_s, "
                "fingerprint, parameters, segment, language, version, message, provenance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, as_of, status, started_at, ended_at, float(duration_s), fingerprint,
                 json.dumps(parameters, sort_keys=True, default=str),
                 str(parameters.get("segment", "")), str(parameters.get("language", "en")),
                 version, message[:4000],
                 json.dumps(provenance or {}, sort_keys=True, default=str)),
            )
            con.executemany(
                "INSERT INTO metrics (run_id, as_of, metric, segment_type, segment, value, n) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            con.executemany(
                "INSERT INTO degraded (run_id, as_of, notebook, section, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, as_of, str(d.get("notebook", "")), str(d.get("section", "")),
                  str(d.get("reason", ""))[:4000]) for d in degraded],
            )
            con.executemany(
                "INSERT INTO estimates (run_id, as_of, outcome, measure, segment_type, segment, "
                "estimate, ci_low, ci_high, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                est_rows,
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def runs(out_dir: Path) -> pd.DataFrame:
    """All runs, oldest first (empty frame when there is no history yet)."""
    if not (out_dir / HISTORY_FILE).exists():
        return pd.DataFrame(columns=["run_id", "as_of", "status", "started_at", "ended_at",
                                     "duration_s", "fingerprint", "parameters", "segment",
                                     "language", "version", "message"])
    with connect(out_dir) as con:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY started_at, run_id", con)


def degraded_sections(out_dir: Path) -> pd.DataFrame:
    """Every degraded section of every run, oldest run first: ``run_id``, ``as_of``,
    ``status``, ``notebook``, ``section``, ``reason`` (empty frame without a history)."""
    columns = ["run_id", "as_of", "status", "notebook", "section", "reason"]
    if not (out_dir / HISTORY_FILE).exists():
        return pd.DataFrame(columns=columns)
    with connect(out_dir) as con:
        return pd.read_sql_query(
            "SELECT d.run_id, d.as_of, r.status, d.notebook, d.section, d.reason "
            "FROM degraded d JOIN runs r ON r.run_id = d.run_id "
            "ORDER BY r.started_at, d.run_id, d.rowid", con)


def _optional(v: object, kind: type) -> object:
    return None if v is None or pd.isna(v) else kind(v)


def _estimate_rows(run_id: str, as_of: str, estimates: pd.DataFrame | None) -> list[tuple]:
    """The ``estimates`` rows of one run (none for None or an empty table)."""
    if estimates is None or not len(estimates):
        return []
    missing = [c for c in ESTIMATE_COLUMNS if c not in estimates.columns]
    if missing:
        raise ValueError(f"estimates table lacks columns {missing}")
    e = estimates.loc[:, list(ESTIMATE_COLUMNS)]
    return [(run_id, as_of, str(r.outcome), str(r.measure), str(r.segment_type), str(r.segment),
             _optional(r.estimate, float), _optional(r.ci_low, float),
             _optional(r.ci_high, float), _optional(r.n, int))
            for r in e.itertuples(index=False)]  # a few dozen rows per run


def headline_estimates(effects: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of an effects table (``tables/effects.csv``) the history keeps: doubly
    robust (``aipw``) average effects (``ATE``) on sustained cure, cure and loss rate, whole book and by
    cause family (:data:`ESTIMATE_COLUMNS`; ``n`` = treated episodes). Empty for None."""
    if effects is None or not len(effects) or "method" not in effects.columns:
        return pd.DataFrame(columns=list(ESTIMATE_COLUMNS))
    keep = (effects["method"].eq(HEADLINE_METHOD) & effects["estimand"].eq(HEADLINE_ESTIMAND)
            & effects["outcome"].isin(HEADLINE_OUTCOMES)
            & effects["segment_type"].isin(HEADLINE_SEGMENTS))
    out = effects.loc[keep].rename(columns={"n_treated": "n"})
    return out.loc[:, list(ESTIMATE_COLUMNS)].reset_index(drop=True)


def run_estimates(tables_dir: Path) -> pd.DataFrame | None:
    """:func:`headline_estimates` of ``<tables_dir>/effects.csv``, None without that table
    (what the runner passes to :func:`record_run` as ``estimates``)."""
    path = Path(tables_dir) / "effects.csv"
    return headline_estimates(pd.read_csv(path)) if path.exists() else None


def _latest(out_dir: Path, table: str, columns: Sequence[str], where: str = "",
            args: tuple = ()) -> pd.DataFrame:
    """Rows of ``table`` from the latest successful run of each month and report segment,
    with ``as_of``, ``run_id`` and ``report_segment`` first."""
    if not (out_dir / HISTORY_FILE).exists():
        return pd.DataFrame(columns=["as_of", "run_id", "report_segment", *columns])
    cols = ", ".join(f"x.{c}" for c in columns)
    query = f"""
        WITH latest AS (
            SELECT as_of, segment, MAX(started_at || ' ' || run_id) AS k
            FROM runs WHERE status = 'ok' GROUP BY as_of, segment
        )
        SELECT x.as_of, x.run_id, r.segment AS report_segment, {cols}
        FROM {table} x
        JOIN runs r ON r.run_id = x.run_id
        JOIN latest l ON l.as_of = r.as_of AND l.segment = r.segment
             AND l.k = r.started_at || ' ' || r.run_id
        {where}
        ORDER BY x.as_of, x.rowid
    """
    with connect(out_dir) as con:
        return pd.read_sql_query(query, con, params=args)


def latest_metrics(out_dir: Path, segment_type: str | None = "all") -> pd.DataFrame:
    """Metrics of the latest successful run of each month (per report segment/language).

    Columns: ``as_of``, ``run_id``, ``report_segment``, ``metric``, ``segment_type``,
    ``segment``, ``value``, ``n``; only ``segment_type`` rows when given.
    """
    if segment_type is None:
        out = _latest(out_dir, "metrics", METRIC_COLUMNS)
    else:
        out = _latest(out_dir, "metrics", METRIC_COLUMNS, "WHERE x.segment_type = ?",
                      (segment_type,))
    return out.sort_values(["as_of", "metric", "segment"], kind="stable").reset_index(drop=True)


def latest_estimates(out_dir: Path) -> pd.DataFrame:
    """Headline effect estimates of the latest successful run of each month: ``as_of``,
    ``run_id``, ``report_segment`` and :data:`ESTIMATE_COLUMNS` (empty without a history,
    or for a history written before the ``estimates`` table existed)."""
    return _latest(out_dir, "estimates", ESTIMATE_COLUMNS)


def republished_months(out_dir: Path, report_segment: str = "",
                       tolerance: float = 1e-9) -> pd.DataFrame:
    """Months published by more than one successful run of ``report_segment``, and
    whether the latest run changed their figures (late data, new definitions).

    Columns: ``as_of``, ``n_runs``, ``changed`` (some whole-book metric differs between the
    last two runs by more than ``tolerance``, or appeared or vanished), ``metrics`` (the
    changed metric names, comma-separated). Empty when no month was published twice.
    """
    columns = ["as_of", "n_runs", "changed", "metrics"]
    hist = runs(out_dir)
    ok = hist[(hist["status"] == "ok") & (hist["segment"] == report_segment)]
    counts = ok.groupby("as_of").size()
    twice = counts[counts > 1]
    if twice.empty:
        return pd.DataFrame(columns=columns)
    with connect(out_dir) as con:
        m = pd.read_sql_query(
            "SELECT run_id, metric, value FROM metrics WHERE segment_type = 'all'", con)
    rows = []
    for month, n in twice.items():  # a few months
        last_two = ok[ok["as_of"] == month].sort_values(["started_at", "run_id"])["run_id"].tail(2)
        prev, last = (m[m["run_id"] == r].set_index("metric")["value"] for r in last_two)
        both = pd.concat([prev.rename("prev"), last.rename("last")], axis=1)
        diff = ~(((both["prev"] - both["last"]).abs() <= tolerance)
                 | (both["prev"].isna() & both["last"].isna()))
        names = sorted(both.index[diff])
        rows.append({"as_of": month, "n_runs": int(n), "changed": bool(names),
                     "metrics": ",".join(names)})
    return pd.DataFrame(rows, columns=columns)


__all__ = ["ESTIMATE_COLUMNS", "HISTORY_FILE", "METRIC_COLUMNS", "connect", "degraded_sections",
           "headline_estimates", "latest_estimates", "latest_metrics", "record_run",
           "republished_months", "run_estimates", "runs"]
