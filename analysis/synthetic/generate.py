"""A synthetic loan book with known causes and known relief effects.

The book imitates an online lender to small businesses in China (MYbank-style:
micro enterprises, sole proprietors, individuals; CNY; 6-36 month amortising
loans), as a *structural simulation*: every overdue episode has a true cause and
a potential outcome under every relief arm, written to ``DIR/truth/`` so that
the cause-attribution, relief-effects and targeting estimators can be tested
against exact answers. Parameters live in :class:`analysis.synthetic.params.SynthParams`
(all written to ``truth/params.json``); the full description is in
``data/README.md`` section 4. This module is the front door (:func:`simulate`,
:func:`generate_book`); the calendar processes are in :mod:`analysis.synthetic.macro`, a
chunk's month loop in :mod:`analysis.synthetic.chunk`, the tables and truth files in
:mod:`analysis.synthetic.run`.

Model
-----
1. **Portfolio.** Loans originate over the first 27 of 48 months (2021-01 to
   2024-12), growing 2 % a month; borrower type, region, industry, term (6-36
   months), principal (lognormal by type), credit score (350-950, correlated 0.6
   with a latent *management quality* ``q`` ~ N(0, 1) per borrower), annual rate
   (falls with the score), firm age and annual revenue. Equal instalments; the
   instalment is due on a fixed day of each month.
2. **Three cause mechanisms**, never observed directly:
   economic — region x industry demand stress (a common AR(1) cycle, random
   regional shocks, a Shanghai lockdown in 2022-04/05 and a nationwide dip in
   2022-11/12, scaled by industry sensitivity) and industry input-cost stress;
   management — latent quality ``q`` and *distress spells* (monthly entry
   ``0.010 * exp(-0.8 q)``, continuing with probability 0.6);
   personal — rare medical and family events (about 0.2 % a month each).
3. **Onset.** A performing loan-month (at least 4 instalments left) starts an
   episode with hazard ``h_E + h_M + h_P``, each scaled by ``exp(-0.25 z_score)``:
   ``h_E = b_E * exp(a_D * demand + a_C * cost)``, ``h_M = b_M * exp(-0.4 q) + 0.08 *
   distress``, ``h_P = b_P + 0.20 * event this month + 0.08 * event last month``, with
   small background hazards ``b_f`` (0.02-0.07 % a month), so that most onsets happen in
   a spike of one family. The episode's **true family** is drawn with probabilities
   ``h_f / sum h`` (written to ``truth/episodes.parquet`` as ``p_true_*``: no method can
   beat their maximum, on average about 0.88).
4. **Signals** (observed monthly for every loan): ``demand_index_change`` and
   ``input_cost_change`` (economic stress plus noise), ``revenue_volatility`` and
   ``late_filing_flag`` (quality and distress plus noise), ``medical_claim_flag`` and
   ``family_event_flag`` (an event this or last month, detected with probability 0.85 /
   0.75, false alarms 0.4 % / 0.6 %). **Reasons**: 35-45 % of episodes report a reason
   code one month before to two months after the start, with some noise: 8-18 % name
   another family (management problems are most often passed off as economic, 15 %).
5. **Relief** is a multinomial logit on observed covariates only (credit score,
   borrower type, region, EAD, DPD at start, reported reason family, signals in the
   start month; with threshold and region x EAD terms), so unconfoundedness given those covariates holds by construction; every
   arm keeps positive probability (overlap). Relief goes more to better scores and
   earlier-contacted borrowers, who cure more anyway: the naive comparison is biased
   upward. It is granted in the start month (70 %) or the month after; 12 % of
   episodes without relief that are still overdue get a measure 2-3 months in,
   outside the attribution window, with no effect on outcomes.
6. **Potential outcomes** per episode and arm: a 3-category logit for cure / default
   / neither within the 6-month horizon, depending on borrower type, true family,
   score, latent quality, DPD at start, firm age and EAD, with arm effects by true
   family and borrower type (deferral helps economic shocks most, counselling
   management problems, instalment plans and rate cuts personal events); a logit for
   re-default within 12 months of a cure; the expected loss rate follows from the
   default probabilities, the write-off timing and the expected recovery rate.
   Thresholds and interactions a main-effects GLM cannot represent are added on purpose
   (issue #15; :class:`~analysis.synthetic.params.SynthParams` "non-linear terms"): cure
   steps at a score and a DPD threshold, a larger payment-relief effect above an EAD
   threshold, cause family x measure x borrower type and signal x measure x borrower
   type terms, and in the relief logit a region x EAD-threshold term and score steps.
   The realised outcome is drawn from the *assigned* arm's probabilities, and
   :mod:`analysis.synthetic.paths` writes a DPD path that realises it under the rules
   of :mod:`analysis.episodes` (false cures, rolls to 90+, write-off about 180 DPD,
   recoveries over 6 months, late cures, re-defaults 3-12 months after a return).

Calibration sources (orders of magnitude; see ``/work/shared/DOMAIN.md``)
------------------------------------------------------------------------------
- Re-default about 56 % within 12 months of a US mortgage modification, falling with
  larger payment cuts (Haughwout, Okah and Tracy 2016): re-default here is 40-55 %
  by arm (a new episode within a year, a wider net than 60+ DPD).
- Counselled mortgage borrowers about twice as likely to cure, about 1.5 times less
  likely to relapse (Urban Institute evaluation, observational): counselling doubles
  the cure odds for management problems, lowers re-default odds by 0.25-0.55.
- Payment relief matters more than rate cuts with unchanged payments (Ganong and
  Noel 2020); interest write-downs help (Dobbie and Song); a grace period can raise
  default for weak businesses (Field et al.), a repayment-flexibility option lower it
  (Battaglia et al.): deferral raises default slightly for management problems and
  raises re-default after it ends.
- Default at 90 DPD (CRR Art. 178); write-off at about 180 DPD; realised LGD after
  recoveries (EBA/GL/2017/16) of 65-80 %, above the 45 % foundation-IRB LGD for senior
  unsecured claims, as expected for small unsecured loans.
- Deferrals of 1-3 months, instalment plans over 3-24 months and rate cuts of
  100-500 bp mirror the 2020 programmes of MYbank (a month interest-free, rate cut by
  a fifth) and WeBank (3-month deferral, 24 instalments) and 银发〔2020〕122号.
- No-relief episode outcomes (about 50 % cure and 20 % default within 6 months) are
  assumptions for early-stage delinquency on unsecured small-business credit, not a
  published figure.

Truth (``DIR/truth/``)
----------------------
``episodes.parquet`` (loan_id, start_month, family, measure, borrower_type, plus
``p_true_*``, ``is_censored``, ``is_sustained_censored``); ``potential_outcomes.parquet`` (long: loan_id,
start_month, arm, p_cure, p_default, p_redefault, exp_loss_rate,
exp_loss_rate_ultimate); ``effects.csv`` (true ATE/ATT in the effects-table columns,
over episodes whose data cover start + horizon + probation - 1; for ``sustained_cure``
start + horizon + probation - 1 + redefault_months); ``shares.csv``;
``params.json``. See :mod:`analysis.synthetic.truth`.

Assumptions and known drawbacks
-------------------------------
Relief parameters (deferral months, instalments, basis points, sessions) do not
change outcomes; LGD given default does not depend on the arm (relief acts through
the probabilities of cure and default); cure and default within the horizon are
exclusive; amounts paid are illustrative (payments in arrears go to interest and
penalties first, so the balance stays at EAD until the return month or write-off).
Non-cured re-default is not modelled beyond the natural hazard. Loans never start an
episode with fewer than 4 instalments left. Determinism holds for a (seed,
``chunk_loans``) pair: chunks draw from their own seeded streams.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.synthetic.params import SynthParams
from analysis.synthetic.run import run

__all__ = ["generate_book", "simulate", "SynthParams"]


def simulate(
    n_loans: int, seed: int, chunk_loans: int = 200_000, params: SynthParams | None = None
) -> dict[str, pd.DataFrame | dict]:
    """The whole book in memory: contract tables plus ``truth_*`` frames.

    Keys: ``loans, performance, relief, signals, reasons, cause_map`` and
    ``truth_episodes, truth_potential_outcomes, truth_effects, truth_shares``; ``params``
    is in ``truth_params`` (a dict). Same content as :func:`generate_book` writes.
    """
    return run(n_loans, seed, chunk_loans, params or SynthParams(), out_dir=None)


def generate_book(
    n_loans: int,
    seed: int,
    out_dir: str | Path,
    chunk_loans: int = 200_000,
    params: SynthParams | None = None,
) -> Path:
    """Write the book as Parquet into ``out_dir`` (created) and return the path.

    ``n_loans`` loans are generated ``chunk_loans`` at a time (bounded memory). With one
    chunk every table is one ``<table>.parquet``; with several, ``performance`` and
    ``signals`` are folders of parts written chunk by chunk, the smaller tables single
    files. Truth goes to ``out_dir/truth/``.
    """
    out = Path(out_dir)
    run(n_loans, seed, chunk_loans, params or SynthParams(), out_dir=out)
    return out
