"""Scale benchmark: pandas and Dask engines side by side, time and peak memory by book size.

Run on demand (not in CI)::

    .venv/bin/python benchmarks/bench_scale.py run --sizes 100000 1000000 --engines pandas dask
    .venv/bin/python benchmarks/bench_scale.py run --sizes 10000000 --engines dask
    .venv/bin/python benchmarks/bench_scale.py table     # markdown table + benchmarks/bench_scale.png

For each size the synthetic book is generated once (``synth``, chunks in parallel on a
local Dask cluster, :func:`analysis.dask.synth.synth_dask`) into
``--workdir/<size>/``; then each engine runs, each step in a fresh subprocess:

* ``validate``: :func:`analysis.data.validate.validate_book` / :func:`analysis.dask.validate.validate_book_dask`;
* ``episodes``: load the book and build the episode table (pandas: ``load_book`` +
  ``build_episodes``; Dask: ``load_book_dask`` + one pass of ``kpis_dask(what=episodes)``);
* ``report``: ``python -m analysis report --engine pandas|dask`` for the book's last
  month, every notebook, from the Parquet folders to the published pages (validation,
  the Dask pass or the pandas load, the five notebooks, HTML, privacy scan, publish);
  the runner's log (phase timestamps) is kept in ``--workdir`` and the notebook times
  from ``run.json`` go into ``note``;
* ``episodes+kpis``: load the book, build the episodes and the KPI tables of
  :func:`analysis.dask.kpis.kpis_dask` (overdue rates, roll rates by count and
  balance, 30+ and 90+ vintages, five categories; overall and by borrower type, industry
  and region): pandas = ``load_book`` + ``build_episodes`` + the :mod:`analysis.kpis`
  functions, Dask = ``load_book_dask`` + ``kpis_dask`` in one pass.

Peak memory is the largest sum of the resident set sizes of the step's process and all
its children, recursively (the Dask scheduler, nannies and workers, the notebook kernels),
sampled every 0.2 s with psutil; the 1-minute load average is sampled alongside (its
range during the step goes into ``note``: other work on the machine).
Results are appended to ``benchmarks/bench_scale.csv`` (one row per size, engine, step).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "bench_scale.csv"
PLOT = HERE / "bench_scale.png"
FIELDS = ["date", "machine", "n_loans", "loan_months", "engine", "step", "seconds",
          "cpu_seconds", "peak_rss_gib", "n_episodes", "status", "note"]
SEGMENTS = (None, "borrower_type", "industry", "region")


# ----------------------------------------------------------------------------- steps


def _step_synth(data: str, n_loans: int, chunk: int) -> dict:
    from analysis.dask.frames import client
    from analysis.dask.synth import synth_dask

    with client():
        synth_dask(n_loans, 7, data, chunk_loans=chunk)
    from analysis.data import table_size

    return {"loan_months": table_size(data)[0]}


def _step_pandas(data: str, what: str) -> dict:
    from analysis.data import load_book, validate_book
    from analysis.episodes import build_episodes

    if what == "validate":
        rep = validate_book(data)
        return {"ok": rep.ok, "loan_months": rep.counts.get("loan_months")}
    book = load_book(data)
    ep = build_episodes(book)
    if what == "episodes":
        return {"n_episodes": len(ep), "loan_months": len(book.performance)}
    kpi_tables(book)
    return {"n_episodes": len(ep), "loan_months": len(book.performance)}


def kpi_tables(book) -> None:
    """The KPI tables this benchmark times (also ``bench_memory.py``'s): overdue, roll
    (count and balance), 30+/90+ vintages and classification, overall and by SEGMENTS."""
    from analysis import kpis

    for s in SEGMENTS:
        kpis.overdue_rates(book, by=s)
        for w in ("count", "balance"):
            kpis.roll_rates(book, weight=w, by=s)
        for t in (30, 90):
            kpis.vintage_curves(book, dpd_threshold=t, by=s)
        kpis.loan_classification(book, by=s)


def _step_dask(data: str, what: str, scheduler: str | None) -> dict:
    from analysis.dask.frames import client, load_book_dask
    from analysis.data import table_size

    with client(scheduler):
        if what == "validate":
            from analysis.dask.validate import validate_book_dask

            rep = validate_book_dask(data)
            return {"ok": rep.ok, "loan_months": rep.counts.get("loan_months")}
        from analysis.dask.kpis import kpis_dask

        wanted = ("episodes",) if what == "episodes" else (
            "episodes", "overdue_rates", "roll_rates", "vintages", "classification")
        res = kpis_dask(load_book_dask(data), segments=SEGMENTS, what=wanted)
        return {"n_episodes": len(res.episodes), "loan_months": table_size(data)[0]}


# ----------------------------------------------------------------------------- harness


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


LOADS: list[float] = []  # 1-minute load averages sampled during the last measure()
LAST_ERR: list[str] = []  # stderr of the last measure() (the report runner's log)


def measure(cmd: list[str], timeout: float, err_path: Path | None = None
            ) -> tuple[float, float, int, str, float]:
    """Run ``cmd``; (wall seconds, peak RSS of its process tree in GiB, exit code, stdout,
    CPU seconds of the whole tree). CPU seconds (user + system, from ``getrusage`` of
    the reaped children) do not depend on what else the machine runs; wall time does.
    The load averages seen meanwhile are left in :data:`LOADS`; ``err_path``: stderr goes
    to that file as it is written (the report runner's progress log)."""
    import resource

    import psutil

    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    err_fh = open(err_path, "w") if err_path else None  # noqa: SIM115 - closed below
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_fh or subprocess.PIPE,
                         text=True)
    ps = psutil.Process(p.pid)
    peak = [0]
    done = threading.Event()

    LOADS.clear()

    def sample() -> None:
        i = 0
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(ps))
            if i % 50 == 0:
                LOADS.append(os.getloadavg()[0])
            i += 1
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        err = f"timeout after {timeout:.0f} s\n" + (err or "")
    done.set()
    th.join()
    if err_fh is not None:
        err_fh.close()
        err = Path(err_path).read_text()
    secs = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    LAST_ERR[:] = [err]
    if p.returncode != 0:
        sys.stderr.write(err[-3000:])
    return secs, peak[0] / 1024**3, p.returncode, out, cpu


def _machine() -> str:
    import psutil

    mem = psutil.virtual_memory().total / 1024**3
    return f"{platform.machine()} {os.cpu_count()} cores {mem:.0f} GiB"


def _load() -> str:
    """Load during the last step: range of the 1-minute average sampled every 10 s
    (other work competing for the cores), else the 5-minute average now."""
    if LOADS:
        return f"load {min(LOADS):.1f}-{max(LOADS):.1f}"
    return f"load {os.getloadavg()[1]:.1f}"


def last_month(data: str) -> str:
    """``YYYY-MM`` of the latest ``performance.month`` (Parquet footer statistics)."""
    import pyarrow.parquet as pq

    from analysis.data.files import parquet_files, table_path

    best = None
    for f in parquet_files(table_path(data, "performance")):
        md = pq.ParquetFile(f).metadata
        col = md.schema.names.index("month")
        for rg in range(md.num_row_groups):
            st = md.row_group(rg).column(col).statistics
            if st is not None and st.has_min_max:
                best = st.max if best is None else max(best, st.max)
    return str(best)[:7]


def _report_cmd(data: str, engine: str, scheduler: str | None, workdir: Path) -> list[str]:
    cmd = [sys.executable, "-m", "analysis", "report", "--data", data, "--as-of",
           last_month(data), "--out", str(workdir / f"reports-{engine}"), "--engine", engine,
           "--cell-timeout", "7200", "--run-timeout", "10800", "--lock-timeout", "10"]
    return cmd + (["--scheduler", scheduler] if scheduler else [])


def _report_info(workdir: Path, engine: str) -> dict:
    """Notebook seconds of the last published run (``run.json``)."""
    runs = sorted((workdir / f"reports-{engine}").glob("*/run.json"),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        return {}
    info = json.loads(runs[-1].read_text())
    nbs = info.get("notebook_durations_s", {})
    return {"note": " ".join(f"{k[:2]}:{v:.0f}s" for k, v in nbs.items())}


def _record(row: dict) -> None:
    new = not RESULTS.exists()
    with open(RESULTS, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            w.writeheader()
        w.writerow({k: row.get(k, "") for k in FIELDS})
    print(json.dumps(row), flush=True)


def run(args: argparse.Namespace) -> int:
    me = [sys.executable, str(Path(__file__).resolve())]
    for n in args.sizes:
        data = str(Path(args.workdir) / str(n))
        base = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": _machine(), "n_loans": n}
        lm = ""
        if not (Path(data) / "performance").exists() or args.regenerate:
            secs, peak, rc, out, cpu = measure([*me, "step", "synth", data, "--n", str(n),
                                                "--chunk", str(args.chunk)], args.timeout)
            info = json.loads(out.strip().splitlines()[-1]) if rc == 0 else {}
            lm = info.get("loan_months", "")
            _record({**base, "loan_months": lm, "engine": "dask", "step": "synth",
                     "seconds": round(secs, 1), "cpu_seconds": round(cpu, 1),
                     "peak_rss_gib": round(peak, 2), "note": _load(),
                     "status": "ok" if rc == 0 else f"exit {rc}"})
            if rc != 0:
                continue
        for engine in args.engines:
            for step in args.steps:
                cmd = [*me, "step", f"{engine}-{step}", data]
                if args.scheduler:
                    cmd += ["--scheduler", args.scheduler]
                if step == "report":
                    cmd = _report_cmd(data, engine, args.scheduler, Path(args.workdir) / str(n))
                log = Path(args.workdir) / str(n) / f"{step}-{engine}.log"
                secs, peak, rc, out, cpu = measure(cmd, args.timeout, log)
                if step == "report":
                    info = _report_info(Path(args.workdir) / str(n), engine) if rc == 0 else {}
                    info["note"] = f"{_load()}; {info.get('note', out.strip()[-200:])}"
                else:
                    info = json.loads(out.strip().splitlines()[-1]) if rc == 0 and out.strip() else {}
                _record({**base, "loan_months": info.get("loan_months", lm), "engine": engine,
                         "step": step, "seconds": round(secs, 1), "cpu_seconds": round(cpu, 1),
                         "peak_rss_gib": round(peak, 2), "n_episodes": info.get("n_episodes", ""),
                         "note": info.get("note", _load()),
                         "status": "ok" if rc == 0 else f"exit {rc}"})
    return 0


def step(args: argparse.Namespace) -> int:
    name = args.name
    if name == "synth":
        info = _step_synth(args.data, args.n, args.chunk)
    elif name.startswith("pandas-"):
        info = _step_pandas(args.data, name.split("-", 1)[1])
    elif name.startswith("dask-"):
        info = _step_dask(args.data, name.split("-", 1)[1], args.scheduler)
    else:
        raise SystemExit(f"unknown step {name}")
    print(json.dumps(info, default=str))
    return 0


def _markdown(df) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join("" if str(v) == "nan" else str(v) for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def table(args: argparse.Namespace) -> int:
    """Markdown table of the latest result per (size, engine, step) and the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(RESULTS)
    df = df.drop_duplicates(["n_loans", "engine", "step"], keep="last")
    df = df.sort_values(["step", "engine", "n_loans"])
    cols = ["step", "engine", "n_loans", "loan_months", "seconds", "cpu_seconds",
            "peak_rss_gib", "n_episodes", "status", "date", "note"]
    cols = [c for c in cols if c in df.columns]
    show = df[cols].copy()
    show["n_loans"] = show["n_loans"].map("{:,}".format)
    show["loan_months"] = pd.to_numeric(show["loan_months"], errors="coerce").map(
        lambda v: "" if pd.isna(v) else f"{int(v):,}")
    show["n_episodes"] = pd.to_numeric(show["n_episodes"], errors="coerce").map(
        lambda v: "" if pd.isna(v) else f"{int(v):,}")
    print(_markdown(show))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    ok = df[df["status"] == "ok"]
    for ax, col, label in ((axes[0], "seconds", "wall time, seconds (load in the table)"),
                           (axes[1], "cpu_seconds", "CPU seconds, whole process tree")):
        for (step_name, engine), g in ok.groupby(["step", "engine"]):
            ax.plot(g["n_loans"], g[col], marker="o", label=f"{step_name} ({engine})",
                    linestyle="-" if engine == "dask" else "--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("loans (about 24 monthly rows each)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"Time against book size ({df['machine'].iloc[-1]}, n = one run per point)")
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)
    print(f"\nwrote {PLOT}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="benchmark the given sizes and engines")
    r.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    r.add_argument("--engines", nargs="+", default=["pandas", "dask"],
                   choices=["pandas", "dask"])
    r.add_argument("--steps", nargs="+", default=["validate", "episodes", "episodes+kpis"],
                   choices=["validate", "episodes", "episodes+kpis", "report"])
    r.add_argument("--workdir", default="/tmp/overdue-relief-bench")
    r.add_argument("--chunk", type=int, default=200_000, help="loans per synthetic chunk")
    r.add_argument("--scheduler", default=None, help="existing Dask cluster address")
    r.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per step")
    r.add_argument("--regenerate", action="store_true", help="regenerate existing books")
    r.set_defaults(func=run)
    s = sub.add_parser("step", help="(internal) one measured step")
    s.add_argument("name")
    s.add_argument("data")
    s.add_argument("--n", type=int, default=0)
    s.add_argument("--chunk", type=int, default=200_000)
    s.add_argument("--scheduler", default=None)
    s.set_defaults(func=step)
    t = sub.add_parser("table", help="print the markdown table and write the plot")
    t.set_defaults(func=table)
    args = p.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
