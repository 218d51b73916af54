"""Month-by-month DPD scripts that realise an episode's drawn outcome exactly.

Used by :mod:`analysis.synthetic.chunk`. An episode's outcome branch is drawn first
(cure within the horizon, default within the horizon, or neither); this module
writes the path of month-end states from the start month (offset 0) on, so that
the rules of :mod:`analysis.episodes` (with the default definitions) read the
drawn branch back:

* ``cure``: overdue for ``m`` = 1..6 months, then ``probation`` (3) clean
  month-ends starting with the return month ``m``. Paths of 3+ months may hold a
  *false cure*: one clean month ``j`` <= ``m`` - 2 followed by a relapse (a fresh
  missed payment), which the rules fold into the same episode.
* ``default``: 90+ DPD at offset ``k`` = 3..6 (holds first, then three missed
  payments), write-off ``writeoff_after_default_months`` later (about 180 DPD),
  recoveries in the 6 months after the write-off, then the loan closes.
* ``neither``: either a late default (90+ DPD at offset 7..9, no write-off
  within the horizon) or a late cure (return at offset 7..10, possibly after a
  false cure inside the horizon).

DPD arithmetic: a fresh missed payment due on day ``due_day`` shows
``days_in_month - due_day`` (1..26) DPD at month end; a further missed month adds
that month's days (a *roll*); paying the current instalment only keeps DPD where
it was (a *hold*). At most two rolls follow a fresh miss on cure and late-cure
paths, so they never reach 90 DPD (26 + 31 + 31 = 88); three rolls always do
(1 + 28 + 31 + 30 = 90).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# kinds of month in a script
ROLL, HOLD, CLEAN_FALSE, CLEAN, WRITE_OFF, POST = 0, 1, 2, 3, 4, 5
_OVERDUE = 9  # placeholder resolved to ROLL or HOLD
K_MAX = 20  # longest script: late default at 9 + 3 to write-off + 6 recovery months + 1
CURE, DEFAULT, NEITHER = 0, 1, 2
PROBATION = 3


@dataclass
class Scripts:
    """Scripts of ``e`` episodes starting in the same calendar month."""

    kind: np.ndarray  # (e, K_MAX) int8, -1 past the end
    dpd: np.ndarray  # (e, K_MAX) int32
    length: np.ndarray  # (e,) months in the script
    return_offset: np.ndarray  # (e,) offset of the final return month, -1 if none
    writeoff_offset: np.ndarray  # (e,) offset of the write-off, -1 if none
    closes: np.ndarray  # (e,) bool: the loan closes at the script's end


def _draw(rng: np.random.Generator, probs: dict, size: int) -> np.ndarray:
    values = np.array([int(k) for k in probs], dtype=np.int64)
    p = np.array(list(probs.values()), dtype=float)
    return values[rng.choice(len(values), size=size, p=p / p.sum())]


def build_scripts(
    branch: np.ndarray,
    t0: int,
    due_day: np.ndarray,
    days_in_month: np.ndarray,
    rng: np.random.Generator,
    p,
) -> Scripts:
    """Scripts for episodes starting in calendar month ``t0`` (index into ``days_in_month``)."""
    e = len(branch)
    k = np.arange(K_MAX)[None, :]
    kind = np.full((e, K_MAX), -1, dtype=np.int8)
    ret = np.full(e, -1, dtype=np.int64)
    wo = np.full(e, -1, dtype=np.int64)

    is_cure = branch == CURE
    is_neither = branch == NEITHER
    late_def = is_neither & (rng.random(e) < p.late_default_share)
    late_cure = is_neither & ~late_def
    is_def = branch == DEFAULT

    # default-type paths: holds, three rolls to 90+, write-off, recoveries
    kd = np.zeros(e, dtype=np.int64)
    kd[is_def] = _draw(rng, p.default_month_probs, int(is_def.sum()))
    kd[late_def] = _draw(rng, p.late_default_month_probs, int(late_def.sum()))
    dflt = is_def | late_def
    w = kd + p.writeoff_after_default_months
    n_rec = len(p.recovery_weights)
    kd_, w_ = kd[:, None], w[:, None]
    dk = np.where(k < w_, ROLL, np.where(k == w_, WRITE_OFF, np.where(k <= w_ + n_rec, POST, -1)))
    dk = np.where((k >= 1) & (k <= kd_ - 3), HOLD, dk)
    kind[dflt] = dk[dflt]
    wo[dflt] = w[dflt]

    # cure-type paths: overdue months, optional false cure, probation
    m = np.zeros(e, dtype=np.int64)
    m[is_cure] = _draw(rng, p.cure_month_probs, int(is_cure.sum()))
    m[late_cure] = _draw(rng, p.late_cure_month_probs, int(late_cure.sum()))
    cur = is_cure | late_cure
    fc_rate = np.where(is_cure, p.false_cure_rate, p.late_false_cure_rate)
    fc = cur & (m >= 3) & (rng.random(e) < fc_rate)
    j_hi = np.where(is_cure, m - 2, np.minimum(m - 2, 6))  # late cures: false return in horizon
    j = 1 + np.floor(rng.random(e) * np.maximum(j_hi, 1)).astype(np.int64)
    m_ = m[:, None]
    ck = np.where(k < m_, _OVERDUE, np.where(k < m_ + PROBATION, CLEAN, -1))
    ck = np.where(fc[:, None] & (k == j[:, None]), CLEAN_FALSE, ck)
    kind[cur] = ck[cur]
    ret[cur] = m[cur]

    # resolve overdue placeholders: a fresh miss, then at most two rolls per segment
    rolls = np.zeros(e, dtype=np.int64)
    dpd = np.zeros((e, K_MAX), dtype=np.int32)
    prev = np.zeros(e, dtype=np.int64)
    dims = days_in_month[t0 : t0 + K_MAX]
    for kk in range(K_MAX):
        col = kind[:, kk]
        if kk == 0:
            fresh = col >= 0  # every path starts with a fresh missed payment
        else:
            fresh = (col == _OVERDUE) & (kind[:, kk - 1] == CLEAN_FALSE)  # relapse
        od = (col == _OVERDUE) & ~fresh
        roll = od & (rng.random(e) < p.roll_rate) & (rolls < 2)
        col = np.where(fresh | roll, np.where(col == _OVERDUE, ROLL, col), np.where(od, HOLD, col))
        kind[:, kk] = col
        rolls = np.where(fresh, 0, rolls + roll)
        d = np.where(
            fresh,
            dims[kk] - due_day,
            np.where(
                (col == ROLL) | (col == WRITE_OFF) | (col == POST),
                prev + dims[kk],
                np.where(col == HOLD, prev, 0),
            ),
        )
        d = np.where(col < 0, 0, d)
        dpd[:, kk] = d
        prev = d
    length = (kind >= 0).sum(axis=1)
    return Scripts(kind, dpd, length, ret, wo, closes=dflt)
