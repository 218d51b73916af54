"""Chunked generation of the synthetic book: chunks to tables, Parquet parts, truth files.

Used by :func:`analysis.synthetic.generate.generate_book` and :func:`analysis.synthetic.generate.simulate`.
Memory is bounded by one chunk of ``chunk_loans`` loans plus the per-episode truth
arrays (a few hundred bytes per episode).
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES, Definitions
from analysis.errors import ParameterError
from analysis.synthetic.chunk import ChunkOut, simulate_chunk
from analysis.synthetic.macro import Macro, make_macro
from analysis.synthetic.params import ARMS, INDUSTRIES, REASONS, REGIONS, SIGNALS, SynthParams
from analysis.synthetic.truth import true_effects, true_shares

CONTRACT_TABLES = ("loans", "performance", "relief", "signals", "reasons", "cause_map")
FOLDER_TABLES = ("performance", "signals")
PO_KEYS = ("p_cure", "p_default", "p_redefault", "exp_loss_rate", "exp_loss_rate_ultimate")
_PARAM_COLUMNS = {
    "deferral": "deferral_months", "instalment": "instalments",
    "rate_reduction": "rate_cut_bp", "counselling": "counselling_sessions",
}


def _ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill((numbers + 1).astype(str), 7)).astype(object)


def _day_in_month(month_ends: np.ndarray, t: np.ndarray, day: np.ndarray) -> np.ndarray:
    first = month_ends[t].astype("datetime64[M]").astype("datetime64[D]")
    return (first + (day - 1).astype("timedelta64[D]")).astype("datetime64[ns]")


def _draw_param(rng, probs: dict, n: int) -> np.ndarray:
    vals = np.array([float(k) for k in probs])
    w = np.array(list(probs.values()))
    return vals[rng.choice(len(vals), size=n, p=w / w.sum())]


def chunk_tables(c: ChunkOut, p: SynthParams, macro: Macro, chunk: int, offset: int,
                 seed: int) -> dict:
    """One simulated chunk as Arrow tables (``loans``, ``performance``, ``signals``,
    ``relief``, ``reasons``) plus its per-episode truth arrays (``episodes``, a dict).

    Loan IDs are numbered from ``offset``; relief parameters and reporting days are drawn
    from the chunk's own stream ``[seed, 2, chunk]``. ID and month columns of the
    loan-month tables are dictionary-encoded.
    """
    s = c.loans
    n = len(s["btype"])
    loan_ids = _ids("L", offset + np.arange(n))
    ends = macro.month_ends
    loans = pa.table({
        "loan_id": pa.array(loan_ids, pa.string()),
        "borrower_id": pa.array(_ids("B", offset + s["borrower"]), pa.string()),
        "borrower_type": pa.array(np.asarray(BORROWER_TYPES, dtype=object)[s["btype"]], pa.string()),
        "industry": pa.array(np.asarray(INDUSTRIES, dtype=object)[s["industry"]], pa.string()),
        "region": pa.array(np.asarray(REGIONS, dtype=object)[s["region"]], pa.string()),
        "origination_date": pa.array(_day_in_month(ends, s["orig"], s["due_day"])),
        "term_months": pa.array(s["term"].astype(np.int64)),
        "principal": pa.array(s["principal"].astype(np.float64)),
        "annual_rate": pa.array(s["rate"].astype(np.float64)),
        "credit_score": pa.array(s["score"].astype(np.float64)),
        "firm_age_years": pa.array(s["firm_age"].astype(np.float64)),
        "annual_revenue_cny": pa.array(s["revenue"].astype(np.float64)),
    })
    r = c.rows
    # dictionary-encoded IDs: no per-row strings; written as plain strings (store_schema off)
    id_col = pa.DictionaryArray.from_arrays(pa.array(r["loan"].astype(np.int32)),
                                            pa.array(loan_ids, pa.string()))
    month = pa.DictionaryArray.from_arrays(pa.array(r["t"].astype(np.int32)), pa.array(ends))
    perf = pa.table({
        "loan_id": id_col, "month": month,
        "balance": pa.array(np.round(r["balance"], 2)),
        "days_past_due": pa.array(r["dpd"]).cast(pa.int64()),
        "amount_due": pa.array(np.round(r["due"], 2)),
        "amount_paid": pa.array(np.round(r["paid"], 2)),
        "write_off": pa.array(np.round(r["wo"], 2)),
        "recovery": pa.array(np.round(r["rec"], 2)),
    })
    sig_cols = {"loan_id": id_col, "month": month}
    for name in SIGNALS:
        v = r[name]
        sig_cols[name] = pa.array(v).cast(pa.int8()) if name.endswith("_flag") else pa.array(v)
    signals = pa.table(sig_cols)

    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, chunk]))
    rl = c.relief
    measure = np.asarray(ARMS, dtype=object)[rl["measure"].astype(np.int64)]
    k = len(measure)
    relief_cols = {
        "loan_id": pa.array(loan_ids[rl["loan"].astype(np.int64)], pa.string()),
        "granted_date": pa.array(_day_in_month(ends, rl["t"].astype(np.int64),
                                               rng.integers(1, 29, size=k)), pa.timestamp("ns")),
        "measure": pa.array(measure, pa.string()),
    }
    for m, col in _PARAM_COLUMNS.items():
        vals = _draw_param(rng, getattr(p, col), k)
        mask = measure != m
        typ = pa.float64() if col == "rate_cut_bp" else pa.int64()
        relief_cols[col] = pa.array(vals if typ == pa.float64() else vals.astype(np.int64),
                                    typ, mask=mask)
    relief = pa.table(relief_cols)
    rs = c.reasons
    r_loan, r_t = rs["loan"].astype(np.int64), rs["t"].astype(np.int64)
    r_day = rng.integers(1, 29, size=len(r_loan))
    r_day = np.where(r_t == s["orig"][r_loan], np.maximum(r_day, s["due_day"][r_loan]), r_day)
    reasons = pa.table({
        "loan_id": pa.array(loan_ids[r_loan], pa.string()),
        "reported_date": pa.array(_day_in_month(ends, r_t, r_day), pa.timestamp("ns")),
        "reason_code": pa.array(rs["code"].astype(object) if len(rs["code"]) else [], pa.string()),
    })
    ep = c.episodes
    if ep:
        li = ep["loan"].astype(np.int64)
        ep_meta = {
            "loan_id": loan_ids[li], "t": ep["t"].astype(np.int64),
            "region": np.asarray(REGIONS, dtype=object)[s["region"][li]],
            "industry": np.asarray(INDUSTRIES, dtype=object)[s["industry"][li]],
        }
        ep = {**ep, **ep_meta}
    return {"loans": loans, "performance": perf, "signals": signals, "relief": relief,
            "reasons": reasons, "episodes": ep}


WRITE_OPTIONS = dict(store_schema=False, use_dictionary=["loan_id", "month", "measure",
                                                         "borrower_type", "industry", "region",
                                                         "reason_code", "borrower_id"],
                     write_statistics=["loan_id", "month"])


def _decode(tab: pa.Table) -> pa.Table:
    """Dictionary columns back to plain values (for the in-memory frames)."""
    for i, f in enumerate(tab.schema):
        if pa.types.is_dictionary(f.type):
            tab = tab.set_column(i, f.name, tab.column(i).cast(f.type.value_type))
    return tab


def _write_chunk(tabs: dict, out_dir: Path, chunk: int, folders: bool, writers: dict) -> None:
    for name in ("loans", "performance", "signals", "relief", "reasons"):
        tab = tabs[name]
        if name in FOLDER_TABLES:
            path = out_dir / name / f"part-{chunk:05d}.parquet" if folders else (
                out_dir / f"{name}.parquet")
            pq.write_table(tab, path, **WRITE_OPTIONS)
            continue
        if name not in writers:
            schema = pa.schema([pa.field(f.name, f.type.value_type)
                                if pa.types.is_dictionary(f.type) else f for f in tab.schema])
            writers[name] = pq.ParquetWriter(out_dir / f"{name}.parquet", schema, **WRITE_OPTIONS)
        writers[name].write_table(_decode(tab))


def clear_book(out: Path) -> None:
    """Remove the contract tables and ``truth/`` of an earlier book from ``out``."""
    for name in (*CONTRACT_TABLES, "measures"):
        for f in (out / f"{name}.parquet", out / f"{name}.csv"):
            if f.exists():
                f.unlink()
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    if (out / "truth").is_dir():
        shutil.rmtree(out / "truth")


def run(n_loans: int, seed: int, chunk_loans: int, p: SynthParams, out_dir: Path | None) -> dict:
    """Generate the book chunk by chunk: write it into ``out_dir`` (returns ``{}``), or
    with ``out_dir=None`` return the tables in memory (see
    :func:`analysis.synthetic.generate.simulate`)."""
    if int(n_loans) < 1 or int(chunk_loans) < 1:
        raise ParameterError(f"n_loans and chunk_loans must be >= 1 (got {n_loans}, {chunk_loans})")
    macro = make_macro(p, seed)
    n_chunks = -(-int(n_loans) // int(chunk_loans))
    folders = n_chunks > 1
    writers: dict[str, pq.ParquetWriter] = {}
    collected: dict[str, list] = {k: [] for k in ("loans", "performance", "signals", "relief",
                                                  "reasons")}
    episodes: list[dict] = []
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ParameterError(f"--out {out_dir}: exists and is not a directory")
        out_dir.mkdir(parents=True, exist_ok=True)
        clear_book(out_dir)
        for name in FOLDER_TABLES:
            if folders:
                (out_dir / name).mkdir()
    pool = ThreadPoolExecutor(max_workers=1)  # Parquet encoding overlaps the next chunk
    pending: list = []
    try:
        for chunk in range(n_chunks):
            offset = chunk * chunk_loans
            n = min(chunk_loans, n_loans - offset)
            c = simulate_chunk(p, macro, seed, chunk, n)
            tabs = chunk_tables(c, p, macro, chunk, offset, seed)
            del c
            if tabs["episodes"]:
                episodes.append(tabs["episodes"])
            if out_dir is None:
                for name in collected:
                    collected[name].append(tabs[name])
                continue
            for f in pending:
                f.result()  # at most one chunk in flight: bounded memory
            pending = [pool.submit(_write_chunk, tabs, out_dir, chunk, folders, writers)]
            del tabs
        for f in pending:
            f.result()
    finally:
        pool.shutdown(wait=True)
        for w in writers.values():
            w.close()
    truth = truth_tables(episodes, p, macro, seed, n_loans)
    if out_dir is None:
        out = {name: _decode(pa.concat_tables([_decode(x) for x in t])).to_pandas()
               for name, t in collected.items()}
        out["cause_map"] = cause_map()
        out.update({f"truth_{k}": v for k, v in truth.items()})
        return out
    write_truth(out_dir, truth, p, seed, n_loans, chunk_loans)
    return {}


def cause_map() -> pd.DataFrame:
    """Which signal column and reason code speaks for which cause family."""
    rows = [("signal", k, v) for k, v in SIGNALS.items()]
    rows += [("reason", k, v) for k, v in REASONS.items()]
    return pd.DataFrame(rows, columns=["source", "name", "family"])


def write_params(
    p: SynthParams, seed: int, n_loans: int, path: Path, chunk_loans: int | None = None
) -> None:
    """``truth/params.json``: seed, size, chunking (the draws depend on it) and parameters."""
    doc = {"seed": seed, "n_loans": n_loans, "chunk_loans": chunk_loans,
           "families": list(FAMILIES),
           "arms": list(ARMS), "borrower_types": list(BORROWER_TYPES),
           "measures": list(MEASURES), "params": p.as_dict()}
    path.write_text(json.dumps(doc, indent=1, default=list), encoding="utf-8")


def write_truth(out_dir: Path, truth: dict, p: SynthParams, seed: int, n_loans: int,
                chunk_loans: int | None = None) -> None:
    """Write ``cause_map`` and the ``truth/`` files of a generated book into ``out_dir``."""
    cause_map().to_parquet(out_dir / "cause_map.parquet", index=False)
    tdir = out_dir / "truth"
    tdir.mkdir(exist_ok=True)
    truth["episodes"].to_parquet(tdir / "episodes.parquet", index=False)
    truth["potential_outcomes"].to_parquet(tdir / "potential_outcomes.parquet", index=False)
    truth["effects"].to_csv(tdir / "effects.csv", index=False)
    truth["shares"].to_csv(tdir / "shares.csv", index=False)
    write_params(p, seed, n_loans, tdir / "params.json", chunk_loans=chunk_loans)


def truth_tables(episodes: list[dict], p: SynthParams, macro: Macro, seed: int,
                 n_loans: int) -> dict:
    """The truth of a book from the chunks' per-episode arrays: ``episodes``,
    ``potential_outcomes``, ``effects``, ``shares`` (frames) and ``params`` (a dict)."""
    d = Definitions()
    keys = set().union(*[e.keys() for e in episodes]) if episodes else set()
    ep = {k: np.concatenate([e[k] for e in episodes]) for k in keys}
    n_ep = len(ep.get("t", []))
    if n_ep == 0:
        ep = {"loan_id": np.zeros(0, dtype=object), "t": np.zeros(0, dtype=np.int64),
              "family": np.zeros(0, dtype=np.int64), "arm": np.zeros(0, dtype=np.int64),
              "btype": np.zeros(0, dtype=np.int64), "shares": np.zeros((0, 3)),
              "branch": np.zeros(0, dtype=np.int64), "prop": np.zeros((0, len(ARMS))), "redefault": np.zeros(0, dtype=bool),
              "region": np.zeros(0, dtype=object), "industry": np.zeros(0, dtype=object),
              **{k: np.zeros((0, len(ARMS))) for k in PO_KEYS}}
    order = np.lexsort((ep["t"], ep["loan_id"].astype(str)))
    ep = {k: v[order] for k, v in ep.items()}
    start = macro.month_ends[ep["t"]]
    fam_names = np.asarray(FAMILIES, dtype=object)[ep["family"]]
    btype = np.asarray(BORROWER_TYPES, dtype=object)[ep["btype"]]
    censored = ep["t"] + d.horizon_known_months > p.n_months - 1
    sustained_censored = ep["t"] + d.sustained_known_months > p.n_months - 1
    episodes_df = pd.DataFrame({
        "loan_id": ep["loan_id"].astype(object),
        "start_month": pd.to_datetime(start),
        "family": fam_names,
        "measure": np.asarray(ARMS, dtype=object)[ep["arm"]],
        "borrower_type": btype,
        **{f"p_true_{f}": ep["shares"][:, i] for i, f in enumerate(FAMILIES)},
        "is_censored": censored,
        "is_sustained_censored": sustained_censored,
        **{f"propensity_{a}": ep["prop"][:, i] for i, a in enumerate(ARMS)},
        "drawn_outcome": np.asarray(["cure", "default", "neither"], dtype=object)[ep["branch"]],
        "drawn_redefault": ep["redefault"].astype(bool),
    })
    n_arms = len(ARMS)
    po_long = pd.DataFrame({
        "loan_id": np.repeat(episodes_df["loan_id"].to_numpy(), n_arms),
        "start_month": np.repeat(episodes_df["start_month"].to_numpy(), n_arms),
        "arm": np.tile(np.asarray(ARMS, dtype=object), n_ep),
        **{k: ep[k].reshape(-1) for k in PO_KEYS},
    })
    po = {k: ep[k] for k in PO_KEYS}
    effects = true_effects(po, ep["arm"], ~censored,
                           {"cause_family": fam_names, "borrower_type": btype},
                           sustained_observed=~sustained_censored)
    month_lbl = pd.DatetimeIndex(start).strftime("%Y-%m").to_numpy()
    shares = true_shares(ep["family"], {"borrower_type": btype, "industry": ep["industry"],
                                        "region": ep["region"], "month": month_lbl})
    return {"episodes": episodes_df, "potential_outcomes": po_long, "effects": effects,
            "shares": shares, "params": {"seed": seed, "n_loans": n_loans, **p.as_dict()}}


__all__ = [
    "CONTRACT_TABLES",
    "WRITE_OPTIONS",
    "cause_map",
    "chunk_tables",
    "clear_book",
    "run",
    "truth_tables",
    "write_params",
    "write_truth",
]
