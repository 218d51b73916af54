"""One chunk of loans of the synthetic book: the month loop (vectorised over loans).

See :mod:`analysis.synthetic.generate` for the model. :func:`simulate_chunk` returns plain
numpy arrays (rows in loan, month order) that :mod:`analysis.synthetic.run` turns
into tables; no Python loop runs over loans or loan-months, only over calendar
months, arms and families.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES
from analysis.synthetic.macro import make_macro
from analysis.synthetic.models import (
    EpisodeCovariates,
    assignment_utilities,
    potential_outcomes,
    softmax_rows,
)
from analysis.synthetic.params import INDUSTRIES, REASONS, REGIONS, SIGNALS, SynthParams
from analysis.synthetic.paths import (
    CLEAN,
    CLEAN_FALSE,
    CURE,
    HOLD,
    K_MAX,
    POST,
    ROLL,
    WRITE_OFF,
    build_scripts,
)

PERF, EPIS, CLOSED = 1, 2, 3
ROW_DTYPES = {"balance": np.float64, "dpd": np.int32, "due": np.float64, "paid": np.float64,
              "wo": np.float64, "rec": np.float64}
SIGNAL_DTYPE = {k: (np.bool_ if k.endswith("_flag") else np.float32) for k in SIGNALS}
MIN_LEFT = 4  # instalments left for an onset


@dataclass
class ChunkOut:
    loans: dict
    rows: dict  # performance and signal columns, one entry per loan-month
    episodes: dict  # per-episode arrays
    relief: dict
    reasons: dict
    extra: dict = field(default_factory=dict)


def _vec(d: dict, keys) -> np.ndarray:
    return np.array([d[k] for k in keys], dtype=float)


def _choice(rng, weights: dict, size: int) -> np.ndarray:
    w = np.array(list(weights.values()), dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def _keys_int(d: dict) -> np.ndarray:
    return np.array([int(k) for k in d], dtype=np.int64)


def _sparse_events(rng, shape: tuple[int, int], rate: float) -> np.ndarray:
    """Rare independent events on an (n, months) grid, drawn sparsely."""
    out = np.zeros(shape, dtype=bool)
    k = rng.binomial(shape[0] * shape[1], rate)
    out.flat[rng.integers(0, shape[0] * shape[1], size=k)] = True
    return out


def _categorical(rng, probs: np.ndarray) -> np.ndarray:
    """One draw per row of an (e, k) probability matrix."""
    u = rng.random(len(probs))[:, None]
    return np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), probs.shape[1] - 1)


def _static(p: SynthParams, rng, n: int) -> dict:
    """Borrowers and loan attributes at origination."""
    n_b = max(1, int(round(n * (1 - p.repeat_borrower_share))))
    b_of_loan = np.concatenate([np.arange(n_b), rng.integers(0, n_b, n - n_b)])
    b_of_loan = b_of_loan[rng.permutation(n)]
    b_type = _choice(rng, p.borrower_type_shares, n_b)
    b_q = rng.normal(size=n_b)
    b_region = _choice(rng, p.region_weights, n_b)
    b_industry = _choice(rng, p.industry_weights, n_b)
    btype, q = b_type[b_of_loan], b_q[b_of_loan]
    growth = np.exp(p.origination_growth * np.arange(p.origination_months))
    orig = rng.choice(p.origination_months, size=n, p=growth / growth.sum())
    terms = _keys_int(p.term_months)[_choice(rng, p.term_months, n)]
    rho = p.score_quality_loading
    z = rho * q + np.sqrt(1 - rho**2) * rng.normal(size=n)
    score = np.clip(np.round(p.score_mean + p.score_sd * z), 350, 950)
    z = (score - p.score_mean) / p.score_sd
    med = _vec(p.principal_median_cny, BORROWER_TYPES)[btype]
    principal = np.round(med * np.exp(p.principal_sigma * rng.normal(size=n) + 0.1 * z), -2)
    principal = np.clip(principal, 3_000, 3_000_000)
    rate = p.rate_base + p.rate_per_score_sd * z + p.rate_noise_sd * rng.normal(size=n)
    rate = np.round(np.clip(rate, 0.04, 0.24), 4)
    age_mean = _vec(p.firm_age_mean_years, BORROWER_TYPES)[btype]
    firm_age = np.round(rng.gamma(2.0, age_mean / 2.0) * np.exp(0.15 * q), 1)
    rev_med = _vec(p.revenue_median_cny, BORROWER_TYPES)[btype]
    revenue = np.round(rev_med * np.exp(0.8 * rng.normal(size=n) + 0.2 * q), -3)
    due_day = rng.integers(5, 28, size=n)  # 5..27: a fresh miss shows 1..26 DPD
    r = rate / 12.0
    growth_f = (1 + r) ** terms
    instalment = principal * r * growth_f / (growth_f - 1)
    return dict(
        borrower=b_of_loan, btype=btype, q=q, region=b_region[b_of_loan],
        industry=b_industry[b_of_loan], orig=orig, term=terms, score=score, z=z,
        principal=principal, rate=rate, firm_age=firm_age, revenue=revenue, due_day=due_day,
        instalment=instalment, growth_f=growth_f, r=r, log1r=np.log1p(r),
    )


def _balance(s: dict, ix: np.ndarray, npaid: np.ndarray) -> np.ndarray:
    g = s["growth_f"][ix]
    return s["principal"][ix] * (g - np.exp(npaid * s["log1r"][ix])) / (g - 1)


class _Latent:
    """Latent states of a chunk, time-major ``(months, loans)`` for contiguous month slices."""

    def __init__(self, p: SynthParams, s: dict, macro, rng, n: int,
                 replay: tuple[int, np.random.Generator] | None = None):
        tx = len(macro.month_ends)
        self.n = n
        entry = np.clip(p.distress_entry * np.exp(p.distress_entry_quality * s["q"]), 0, 1)
        self.distress = np.zeros((tx, n), dtype=bool)
        for t in range(1, tx):
            u = rng.random(n)
            self.distress[t] = np.where(self.distress[t - 1], u < p.distress_stay, u < entry)
        self.med = _sparse_events(rng, (tx, n), p.medical_event_rate)
        self.fam = _sparse_events(rng, (tx, n), p.family_event_rate)
        self.original = None  # the states before a replay (what look-ahead reads)
        if replay is not None:  # the months from t0 on again, from another stream
            t0, other = replay
            self.original = (self.distress.copy(), self.med.copy(), self.fam.copy())
            for t in range(max(t0, 1), tx):
                u = other.random(n)
                self.distress[t] = np.where(self.distress[t - 1], u < p.distress_stay, u < entry)
            self.med[t0:] = _sparse_events(other, (tx - t0, n), p.medical_event_rate)
            self.fam[t0:] = _sparse_events(other, (tx - t0, n), p.family_event_rate)
        n_i = macro.demand.shape[1]
        self.cell = (s["region"] * n_i + s["industry"]).astype(np.int64)
        self.demand = macro.demand.reshape(-1, tx).T.copy()  # (tx, regions * industries)
        self.cost = macro.cost.T.copy()  # (tx, industries)
        self.industry = s["industry"]
        q = s["q"]
        lf = p.late_filing_logit
        self.vol_base = (p.volatility_log_mean + p.volatility_quality * q).astype(np.float32)
        self.lf0 = (1 / (1 + np.exp(-(lf[0] + lf[1] * q)))).astype(np.float32)
        self.lf1 = (1 / (1 + np.exp(-(lf[0] + lf[1] * q + lf[2])))).astype(np.float32)


class _Hazards:
    """Family hazards h_f(loan, month) computed on demand from latent states."""

    def __init__(self, p: SynthParams, s: dict, lat: _Latent):
        self.p, self.s, self.lat = p, s, lat
        bt = s["btype"]
        scale = np.exp(p.hazard_score_loading * s["z"])
        self.scale = scale
        self.b = np.stack(
            [_vec(p.base_hazard[f], BORROWER_TYPES)[bt] * scale for f in FAMILIES], axis=1
        )
        self.a_d = _vec(p.economic_demand_loading, BORROWER_TYPES)[bt]
        self.mq = np.exp(p.management_quality_loading * s["q"])

    def __call__(self, ix: np.ndarray, tt: np.ndarray) -> np.ndarray:
        p, lat = self.p, self.lat
        dem = lat.demand[tt, lat.cell[ix]]
        cost = lat.cost[tt, lat.industry[ix]]
        flat = tt * lat.n + ix
        flat_b = np.maximum(tt - 1, 0) * lat.n + ix
        h_e = self.b[ix, 0] * np.exp(self.a_d[ix] * dem + p.economic_cost_loading * cost)
        h_m = self.b[ix, 1] * self.mq[ix] + self.scale[ix] * (
            p.management_distress_hazard * lat.distress.ravel()[flat]
        )
        now = lat.med.ravel()[flat] | lat.fam.ravel()[flat]
        before = lat.med.ravel()[flat_b] | lat.fam.ravel()[flat_b]
        h_p = self.b[ix, 2] + self.scale[ix] * (
            p.personal_event_hazard * now + p.personal_after_hazard * before
        )
        return np.stack([h_e, h_m, h_p], axis=1)


def _signals(p: SynthParams, s, lat: _Latent, rng, ix, t) -> dict:
    n = len(ix)
    dem = lat.demand[t][lat.cell[ix]]
    cost = lat.cost[t][lat.industry[ix]]
    d = lat.distress[t][ix]
    tm = max(t - 1, 0)
    med_any = lat.med[t][ix] | lat.med[tm][ix]
    fam_any = lat.fam[t][ix] | lat.fam[tm][ix]
    f32 = np.float32
    out = {
        "demand_index_change": np.round(
            f32(p.demand_signal_scale) * dem.astype(f32)
            + rng.standard_normal(n, dtype=f32) * f32(p.demand_signal_noise), 2),
        "input_cost_change": np.round(
            f32(p.cost_signal_scale) * cost.astype(f32)
            + rng.standard_normal(n, dtype=f32) * f32(p.cost_signal_noise), 2),
        "revenue_volatility": np.round(np.exp(
            lat.vol_base[ix] + f32(p.volatility_distress) * d
            + rng.standard_normal(n, dtype=f32) * f32(p.volatility_noise)), 3),
        "late_filing_flag": rng.random(n, dtype=f32) < np.where(d, lat.lf1[ix], lat.lf0[ix]),
        "medical_claim_flag": rng.random(n, dtype=f32)
        < np.where(med_any, f32(p.medical_detect), f32(p.medical_background)),
        "family_event_flag": rng.random(n, dtype=f32)
        < np.where(fam_any, f32(p.family_detect), f32(p.family_background)),
    }
    assert tuple(out) == tuple(SIGNALS)
    return out


@dataclass
class _LoanState:
    """Per-loan state of the month loop, updated in place month by month."""

    status: np.ndarray  # PERF, EPIS, CLOSED (0 before origination)
    npaid: np.ndarray  # instalments paid
    arrears: np.ndarray  # instalments in arrears during an episode
    ep_t0: np.ndarray  # start month of the current episode
    block_until: np.ndarray  # no natural onset up to this month (after a cure)
    forced: np.ndarray  # month of a forced re-default onset, -1 = none
    sc_kind: np.ndarray  # (loans, K_MAX) the episode's DPD script: kind of each month
    sc_dpd: np.ndarray  # (loans, K_MAX) and its DPD
    sc_len: np.ndarray  # script length in months
    sc_closes: np.ndarray  # the script ends the loan
    sc_wo: np.ndarray  # write-off month offset in the script, -1 = none
    ead_now: np.ndarray  # EAD of the current episode
    rec_rate: np.ndarray  # recovery rate of the current episode


def _loan_state(n: int) -> _LoanState:
    return _LoanState(
        status=np.zeros(n, dtype=np.int8),
        npaid=np.zeros(n, dtype=np.int64),
        arrears=np.zeros(n, dtype=np.int64),
        ep_t0=np.full(n, -1, dtype=np.int64),
        block_until=np.full(n, -1, dtype=np.int64),
        forced=np.full(n, -1, dtype=np.int64),
        sc_kind=np.full((n, K_MAX), -1, dtype=np.int8),
        sc_dpd=np.zeros((n, K_MAX), dtype=np.int32),
        sc_len=np.zeros(n, dtype=np.int64),
        sc_closes=np.zeros(n, dtype=bool),
        sc_wo=np.full(n, -1, dtype=np.int64),
        ead_now=np.zeros(n),
        rec_rate=np.zeros(n),
    )


@dataclass
class _RowBuffers:
    """Output rows scattered straight into loan-major buffers: loan i owns the slots
    ``base[i] .. base[i] + cap[i] - 1``, one per possible month (monotone writes, no sort)."""

    cap: np.ndarray
    base: np.ndarray
    buf: dict
    valid: np.ndarray


def _row_buffers(s: dict, T: int) -> _RowBuffers:
    cap = T - s["orig"]
    base = np.r_[0, np.cumsum(cap)[:-1]]
    n_cap = int(cap.sum())
    buf = {k: np.zeros(n_cap, dtype=dt) for k, dt in ROW_DTYPES.items()}
    buf.update({k: np.zeros(n_cap, dtype=SIGNAL_DTYPE[k]) for k in SIGNALS})
    valid = np.zeros(n_cap, dtype=bool)
    return _RowBuffers(cap, base, buf, valid)


def _gather_rows(rows: _RowBuffers, n: int, orig: np.ndarray) -> dict:
    """The filled slots in loan, month order: ``loan``, ``t`` and every row column."""
    loan_of_slot = np.repeat(np.arange(n, dtype=np.int32), rows.cap)
    out_rows = {"loan": loan_of_slot[rows.valid]}
    del loan_of_slot
    slot = np.flatnonzero(rows.valid)
    out_rows["t"] = (slot - rows.base[out_rows["loan"]] + orig[out_rows["loan"]]).astype(np.int16)
    del slot
    for k in list(rows.buf):
        out_rows[k] = rows.buf.pop(k)[rows.valid]
    return out_rows


def simulate_chunk(p: SynthParams, macro, seed: int, chunk: int, n: int,
                   record_from: int | None = None, replay: int | None = None) -> ChunkOut:
    """Simulate ``n`` loans over the data window (calendar months 0..n_months-1).

    ``record_from``: also return, in ``extra["onset_prob"]`` (``(n, n_months -
    record_from, 3)``), every loan's probability of an onset of each family in the months
    from ``record_from`` on, given the path so far: ``min(H, max_hazard) * h_f / H`` for a
    candidate loan-month, the family shares ``h_f / H`` for a forced re-default, 0 when
    the loan cannot start an episode. Summed over loans it is the compensator of the
    onset counts (their expectation given the generator's world: calendar, latent states
    and signals). Recording draws no random numbers: the book is the same either way.

    ``replay`` (with ``record_from``): every random draw from month ``record_from`` on
    (latent spells and life events, signals, onsets, outcomes) comes from the stream
    ``[seed, 3, chunk, replay]`` instead: the same history, another future of it. Over
    replays, the future's randomness given the history.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, chunk]))
    future = None
    if replay is not None:
        if record_from is None:
            raise ValueError("replay needs record_from (the first month replayed)")
        future = np.random.default_rng(np.random.SeedSequence([seed, 3, chunk, replay]))
    T = p.n_months
    s = _static(p, rng, n)
    lat = _Latent(p, s, macro, rng, n, None if future is None else
                  (record_from, np.random.default_rng(np.random.SeedSequence([seed, 4, chunk, replay]))))
    hz = _Hazards(p, s, lat)
    t_fut, hz_hist = _history_view(p, s, lat, hz, seed,
                                   record_from if replay is not None else None)

    state = _loan_state(n)
    status, npaid, arrears, ep_t0 = state.status, state.npaid, state.arrears, state.ep_t0
    block_until, forced = state.block_until, state.forced
    rec_w = np.asarray(p.recovery_weights)
    lo, hi = p.redefault_window_months

    rows = _row_buffers(s, T)
    eps: dict[str, list] = {}
    relief = {k: [] for k in ("loan", "t", "measure", "late")}
    reasons = {k: [] for k in ("loan", "t", "code")}
    orig, term = s["orig"], s["term"]
    rec = None if record_from is None else np.zeros((n, max(T - record_from, 0), 3))

    for t in range(T):
        if future is not None and t == record_from:
            rng = future
        status[orig == t] = PERF
        act = np.flatnonzero((status == PERF) | (status == EPIS))
        sig = _signals(p, s, lat, rng, act, t)
        # --- onsets ---------------------------------------------------------------
        perf = act[(status[act] == PERF) & (orig[act] < t)]
        cand = perf[(t > block_until[perf]) & (forced[perf] < 0) & (term[perf] - npaid[perf] >= MIN_LEFT)]
        h_f = hz(cand, np.full(len(cand), t))
        h_c = h_f.sum(axis=1)
        natural = cand[rng.random(len(cand)) < np.minimum(h_c, p.max_hazard)]
        frc = perf[forced[perf] == t]
        if rec is not None and t >= record_from:
            rec[cand, t - record_from] = h_f * (np.minimum(h_c, p.max_hazard) / h_c)[:, None]
            h_frc = hz(frc, np.full(len(frc), t))
            rec[frc, t - record_from] = h_frc / h_frc.sum(axis=1, keepdims=True)
        ix = np.sort(np.concatenate([natural, frc]))
        forced[frc] = -1
        if len(ix):
            pos = np.searchsorted(act, ix)
            on_sig = {k: v[pos] for k, v in sig.items()}
            _onset(p, s, hz, hz if t >= t_fut else hz_hist, rng, t, ix, on_sig, npaid, eps,
                   relief, reasons, macro.days_in_month, T,
                   (state.sc_kind, state.sc_dpd, state.sc_len, state.sc_closes, state.sc_wo,
                    state.ead_now, state.rec_rate, block_until, forced, lo, hi))
            status[ix] = EPIS
            ep_t0[ix] = t
            arrears[ix] = 0
        _month_end(s, state, t, act, sig, rec_w, rows)

    episodes = {k: np.concatenate(v) for k, v in eps.items()} if eps else {}
    return ChunkOut(
        loans=s,
        rows=_gather_rows(rows, n, orig),
        episodes=episodes,
        relief={k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in relief.items()},
        reasons={k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in reasons.items()},
        extra={} if rec is None else {"onset_prob": rec},
    )


def _month_end(s: dict, state: _LoanState, t: int, act: np.ndarray, sig: dict,
               rec_w: np.ndarray, rows: _RowBuffers) -> None:
    """Month ``t``'s rows of the active loans ``act`` (balance, DPD, amounts due and paid,
    write-off, recovery, signals) into ``rows``; then instalments, arrears and status move
    on (repaid loans and loans whose episode script closes them are closed)."""
    status, npaid, arrears, ep_t0 = state.status, state.npaid, state.arrears, state.ep_t0
    sc_kind, sc_dpd, sc_len, sc_wo = state.sc_kind, state.sc_dpd, state.sc_len, state.sc_wo
    sc_closes, ead_now, rec_rate = state.sc_closes, state.ead_now, state.rec_rate
    orig, term, inst = s["orig"], s["term"], s["instalment"]
    bal = np.zeros(len(act))
    dpd = np.zeros(len(act), dtype=np.int64)
    due = np.zeros(len(act))
    paid = np.zeros(len(act))
    wo = np.zeros(len(act))
    rec = np.zeros(len(act))
    st = status[act]
    new = orig[act] == t
    bal[new] = s["principal"][act[new]]
    pm = (st == PERF) & ~new
    ip = act[pm]
    npaid[ip] += 1
    bal[pm] = _balance(s, ip, npaid[ip])
    due[pm] = paid[pm] = inst[ip]
    closing = ip[npaid[ip] >= term[ip]]
    bal[pm] = np.where(npaid[ip] >= term[ip], 0.0, bal[pm])
    em = st == EPIS
    ie = act[em]
    k = t - ep_t0[ie]
    kind = sc_kind[ie, k]
    dpd[em] = sc_dpd[ie, k]
    i_inst = inst[ie]
    owed = i_inst * (arrears[ie] + 1)
    clean = (kind == CLEAN) | (kind == CLEAN_FALSE)
    npaid[ie] += kind == CLEAN
    b_e = _balance(s, ie, npaid[ie])
    bal[em] = np.where((kind == WRITE_OFF) | (kind == POST), 0.0, b_e)
    due[em] = np.where(kind <= CLEAN, owed, 0.0)
    paid[em] = np.where(clean, owed, np.where(kind == HOLD, i_inst, 0.0))
    arrears[ie] = np.where(clean, 0, arrears[ie] + (kind == ROLL))
    wo[em] = np.where(kind == WRITE_OFF, ead_now[ie], 0.0)
    j = np.clip(k - sc_wo[ie] - 1, 0, len(rec_w) - 1)
    rec[em] = np.where(kind == POST, np.round(rec_rate[ie] * ead_now[ie] * rec_w[j], 2), 0.0)
    pos = rows.base[act] + (t - orig[act])
    rows.valid[pos] = True
    for name, arr in (("balance", bal), ("dpd", dpd), ("due", due), ("paid", paid),
                      ("wo", wo), ("rec", rec), *sig.items()):
        rows.buf[name][pos] = arr
    status[closing] = CLOSED
    ended = ie[k >= sc_len[ie] - 1]
    status[ended] = np.where(sc_closes[ended], CLOSED, PERF)


def _history_view(p: SynthParams, s: dict, lat: _Latent, hz: _Hazards, seed: int,
                  replay_from: int | None) -> tuple[int, _Hazards]:
    """The first month a continuation may change (``SynthParams.future_from``, a replay's
    first month) and the hazards of the world without its changes (the economy as drawn,
    without the hold and the shocks from then on; the latent states before the replay);
    ``hz`` itself, from a month past every other, when nothing is continued.

    An episode's script looks ahead (a re-default's month follows the hazards of the
    months after the cure); scripts drawn before the continuation read this view, so
    that every continuation of a history (held, shocked, replayed) keeps it exactly."""
    t_fut = (pd.Period(p.future_from, "M") - pd.Period(p.data_start, "M")).n \
        if p.future_from else None
    if replay_from is not None:
        t_fut = replay_from if t_fut is None else min(t_fut, replay_from)
    if t_fut is None:
        return len(lat.demand), hz
    hist = copy.copy(lat)
    if lat.original is not None:
        hist.distress, hist.med, hist.fam = lat.original
    start = pd.Period(p.data_start, "M")
    keep = tuple(sh for sh in p.scheduled_shocks if (pd.Period(sh[1], "M") - start).n < t_fut)
    m = make_macro(replace(p, hold_macro_from=None, future_from=None, scheduled_shocks=keep), seed)
    hist.demand = m.demand.reshape(-1, m.demand.shape[-1]).T.copy()
    hist.cost = m.cost.T.copy()
    return t_fut, _Hazards(p, s, hist)


def _onset(p, s, hz, hz_ahead, rng, t, ix, sig, npaid, eps, relief, reasons, dim, T, state):
    (sc_kind, sc_dpd, sc_len, sc_closes, sc_wo, ead_now, rec_rate,
     block_until, forced, lo, hi) = state
    e = len(ix)
    h = hz(ix, np.full(e, t))
    shares = h / h.sum(axis=1, keepdims=True)
    family = _categorical(rng, shares)
    btype = s["btype"][ix]
    n_start = npaid[ix]
    ead = _balance(s, ix, n_start)
    dpd0 = dim[t] - s["due_day"][ix]
    # reported reason (noisy), clipped to the data window
    fams = list(FAMILIES)
    reports = rng.random(e) < _vec(p.report_rate, fams)[family]
    conf = np.stack([_vec(p.report_family_confusion[f], fams) for f in fams])
    rep_fam = _categorical(rng, conf[family])
    codes = np.array(list(REASONS))
    code_fam = np.array([fams.index(REASONS[c]) for c in codes])
    pick = rng.random(e)
    code = np.empty(e, dtype=object)
    for fi in range(len(fams)):
        cand = codes[code_fam == fi]
        sel = rep_fam == fi
        code[sel] = cand[np.minimum((pick[sel] * len(cand)).astype(int), len(cand) - 1)]
    off = _keys_int(p.report_month_offsets)[_choice(rng, p.report_month_offsets, e)]
    r_month = np.clip(t + off, s["orig"][ix], T - 1)
    reported = np.where(reports, rep_fam, -1)
    # recovery and re-default window
    mu = np.clip(_vec(p.recovery_mean, BORROWER_TYPES)[btype] + p.recovery_quality * s["q"][ix],
                 0.05, 0.7)
    j_max = np.minimum(hi, s["term"][ix] - MIN_LEFT - n_start)
    avail = np.clip(j_max - lo + 1, 0, hi - lo + 1)
    cov = EpisodeCovariates(
        btype=btype, family=family, z_score=s["z"][ix], quality=s["q"][ix], dpd0=dpd0,
        ead=ead, firm_age=s["firm_age"][ix], reported=reported, signals=sig,
        start=np.full(e, t), redefault_avail=avail, recovery_mean=mu, region=s["region"][ix],
    )
    prop = softmax_rows(assignment_utilities(p, cov))
    arm = _categorical(rng, prop)
    po = potential_outcomes(p, cov, T)
    rows = np.arange(e)
    pc, pdf = po["p_cure"][rows, arm], po["p_default"][rows, arm]
    u = rng.random(e)
    branch = np.where(u < pc, CURE, np.where(u < pc + pdf, 1, 2))
    redef = (branch == CURE) & (rng.random(e) < po["p_redefault"][rows, arm])
    sc = build_scripts(branch, t, s["due_day"][ix], dim, rng, p)
    sc_kind[ix], sc_dpd[ix], sc_len[ix] = sc.kind, sc.dpd, sc.length
    sc_closes[ix], sc_wo[ix] = sc.closes, sc.writeoff_offset
    ead_now[ix] = ead
    a_b = p.recovery_concentration
    rec_rate[ix] = rng.beta(mu * a_b, (1 - mu) * a_b)
    # after a cure within the horizon: no natural onset for 12 months; a re-default
    # is forced into the window, at a month drawn in proportion to the hazard
    cm = t + sc.return_offset
    cured = branch == CURE
    block_until[ix] = np.where(cured, cm + hi, -1)
    forced[ix] = -1
    ri = np.flatnonzero(redef)
    if len(ri):
        jj = np.arange(lo, hi + 1)
        months = cm[ri][:, None] + jj[None, :]
        w = np.stack([hz_ahead(ix[ri], months[:, c]).sum(axis=1) for c in range(len(jj))],
                     axis=1)
        w = np.where(jj[None, :] <= j_max[ri][:, None], w, 0.0)
        w = w / w.sum(axis=1, keepdims=True)
        forced[ix[ri]] = cm[ri] + jj[_categorical(rng, w)]
    # relief: assigned arm in the window; some late relief outside it
    treated = arm > 0
    g_t = np.where(rng.random(e) < p.grant_in_start_month, t, t + 1)
    g_t = np.minimum(g_t, T - 1)
    late_off = 2 + (rng.random(e) < 0.5)
    late_kind = sc.kind[rows, late_off]
    late = (~treated & (rng.random(e) < p.late_relief_rate) & ((late_kind == ROLL) | (late_kind == HOLD))
            & (t + late_off <= T - 1))
    late_arm = 1 + _categorical(rng, prop[:, 1:] / prop[:, 1:].sum(axis=1, keepdims=True))
    give = treated | late
    relief["loan"].append(ix[give])
    relief["t"].append(np.where(treated, g_t, t + late_off)[give])
    relief["measure"].append(np.where(treated, arm, late_arm)[give])
    relief["late"].append(late[give])
    reasons["loan"].append(ix[reports])
    reasons["t"].append(r_month[reports])
    reasons["code"].append(code[reports])
    rec = {
        "loan": ix, "t": np.full(e, t), "family": family, "arm": arm, "btype": btype,
        "shares": shares, "branch": branch, "redefault": redef, "dpd0": dpd0, "ead": ead,
        "reported": reported, "prop": prop,
        **{k: v for k, v in po.items()},
    }
    for k, v in rec.items():
        eps.setdefault(k, []).append(v)


def measure_names() -> np.ndarray:
    return np.array(["none", *MEASURES], dtype=object)


def region_names() -> np.ndarray:
    return np.array(REGIONS, dtype=object)


def industry_names() -> np.ndarray:
    return np.array(INDUSTRIES, dtype=object)
