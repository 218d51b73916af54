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
CREATE TRIGGER IF NOT EXISTS degraded_no_update BEFORE UPDATE ON degraded
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS degraded_no_delete BEFORE DELETE ON degraded
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS runs_no_update BEFORE UPDATE ON runs
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS runs_no_delete BEFORE DELETE ON runs
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS metrics_no_update BEFORE UPDATE ON metrics
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS metrics_no_delete BEFORE DELETE ON metrics
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
"""
METRIC_COLUMNS = ("metric", "segment_type", "segment", "value", "n")


@contextmanager
def connect(out_dir: Path) -> Iterator[sqlite3.Connection]:
    """Open (creating if needed) ``out_dir/history.sqlite``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(out_dir / HISTORY_FILE, timeout=60, isolation_level=None)
    try:
        con.executescript(_SCHEMA)
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
) -> None:
    """Append one run, its metrics and its degraded sections (``{"notebook", "section",
    "reason"}``) in a single transaction."""
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
    with connect(out_dir) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "INSERT INTO runs (run_id, as_of, status, started_at, ended_at, duration_s, "
                "fingerprint, parameters, segment, language, version, message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, as_of, status, started_at, ended_at, float(duration_s), fingerprint,
                 json.dumps(parameters, sort_keys=True, default=str),
                 str(parameters.get("segment", "")), str(parameters.get("language", "en")),
                 version, message[:4000]),
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


def latest_metrics(out_dir: Path, segment_type: str | None = "all") -> pd.DataFrame:
    """Metrics of the latest successful run of each month (per report segment/language).

    Columns: ``as_of``, ``run_id``, ``report_segment``, ``metric``, ``segment_type``,
    ``segment``, ``value``, ``n``; only ``segment_type`` rows when given.
    """
    if not (out_dir / HISTORY_FILE).exists():
        return pd.DataFrame(columns=["as_of", "run_id", "report_segment", *METRIC_COLUMNS])
    query = """
        WITH latest AS (
            SELECT as_of, segment, MAX(started_at || ' ' || run_id) AS k
            FROM runs WHERE status = 'ok' GROUP BY as_of, segment
        )
        SELECT m.as_of, m.run_id, r.segment AS report_segment, m.metric, m.segment_type,
               m.segment, m.value, m.n
        FROM metrics m
        JOIN runs r ON r.run_id = m.run_id
        JOIN latest l ON l.as_of = r.as_of AND l.segment = r.segment
             AND l.k = r.started_at || ' ' || r.run_id
    """
    args: tuple = ()
    if segment_type is not None:
        query += " WHERE m.segment_type = ?"
        args = (segment_type,)
    query += " ORDER BY m.as_of, m.metric, m.segment"
    with connect(out_dir) as con:
        return pd.read_sql_query(query, con, params=args)
