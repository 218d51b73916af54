"""Parameters of the synthetic book (see :mod:`analysis.synthetic.generate` for the model).

Every number the simulation uses lives in :class:`SynthParams`, is written to
``truth/params.json`` and is documented in ``data/README.md`` section 4. Units:
months are calendar months, amounts CNY, rates fractions per year, hazards
probabilities per loan-month, ``*_logodds`` shifts on the log-odds scale.

Calibration (sources in the module docstring of :mod:`analysis.synthetic.generate`):
- no-relief outcomes of an episode within 6 months: about half cure, a fifth
  default (90+ DPD), the rest stay overdue and cure or default later;
- re-default within 12 months of a cure about 42 % without relief and near 48 %
  after deferral (Haughwout, Okah and Tracy 2016: 56 % after US modifications);
- counselling about doubles the odds of cure for management problems (Urban
  Institute evaluation of counselled mortgage borrowers: about twice as likely
  to cure) and lowers the re-default odds (by a factor 0.58 for management problems,
  0.78 otherwise; the evaluation reports relapse about 1.5 times less likely);
- recovery rates after write-off 20-35 % (loss given default 65-80 %, above the
  45 % supervisory LGD of the Basel foundation IRB approach for senior unsecured
  claims, as expected for small unsecured loans).

Non-linear terms (issue #15; the "non-linear terms" block below): thresholds and
interactions that a main-effects GLM on the episode table cannot represent, so that
ground-truth tests can catch a misspecified nuisance model. Each moves a cure or relief
probability by a few percentage points in part of the book:
- ``cure_score_step`` / ``cure_dpd_step``: a step in the cure log-odds at a credit score
  (700) and a DPD at start (20 days) threshold, in every arm;
- ``effect_cure_ead_step``: payment relief (deferral, instalment plans) helps large
  balances (EAD >= 100,000 CNY) more, a step in the measure's effect;
- ``effect_cure_family_type``: cause family x measure x borrower type (a deferral helps
  micro enterprises hit by an economic shock more than its two main effects say);
- ``effect_cure_signal_type``: an observed signal x measure x borrower type (instalment
  plans help individuals with a medical claim);
- ``cure_region_ead``, ``effect_cure_region_ead`` and ``assign_region_ead``: in the
  coastal provinces (:data:`EAST`) large balances (EAD >= 100,000 CNY) cure more often
  whatever the relief (demand there came back faster), a little more again after a
  deferral, and get a deferral more often: the same region x EAD-threshold pocket in the
  outcome and in the propensity, a non-linear confounder. A doubly robust estimator is biased only
  when both nuisance models miss something, and only through the product of their
  errors; one pocket that both miss is what makes a main-effects GLM's AIPW visibly
  biased at the standard errors of a 1M-loan book;
- ``assign_score_step``, ``assign_ead_step``, ``assign_dpd_step``: steps in a measure's
  propensity at a score, EAD and DPD-at-start threshold, aligned with the cure steps.
Set a term to zero (or an empty dict) to remove it; the defaults are the calibration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from analysis.definitions import BORROWER_TYPES, FAMILIES, MEASURES

ARMS: tuple[str, ...] = ("none", *MEASURES)
REGIONS: tuple[str, ...] = (
    "zhejiang", "guangdong", "jiangsu", "shanghai", "shandong", "hubei", "sichuan", "henan",
)
EAST: tuple[str, ...] = ("zhejiang", "guangdong", "jiangsu", "shanghai")  # coastal provinces
INDUSTRIES: tuple[str, ...] = (
    "retail", "catering", "wholesale", "manufacturing", "logistics", "agriculture",
    "services", "construction",
)
SIGNALS: dict[str, str] = {
    "demand_index_change": "economic",
    "input_cost_change": "economic",
    "revenue_volatility": "management",
    "late_filing_flag": "management",
    "medical_claim_flag": "personal",
    "family_event_flag": "personal",
}
REASONS: dict[str, str] = {
    "sales_decline": "economic",
    "input_cost_rise": "economic",
    "customer_payment_delay": "economic",
    "poor_cash_planning": "management",
    "over_expansion": "management",
    "partner_dispute": "management",
    "illness": "personal",
    "family_emergency": "personal",
    "accident": "personal",
}


def _by_type(micro: float, sole: float, individual: float) -> dict[str, float]:
    return dict(zip(BORROWER_TYPES, (micro, sole, individual), strict=True))


def _by_family(economic: float, management: float, personal: float) -> dict[str, float]:
    return dict(zip(FAMILIES, (economic, management, personal), strict=True))


def _f(x):
    return field(default_factory=lambda: x)


@dataclass(frozen=True)
class SynthParams:
    """All parameters of the simulation (defaults = the documented calibration)."""

    # --- calendar and portfolio ------------------------------------------------------
    data_start: str = "2021-01"  # first month-end of the data
    n_months: int = 48  # months of data (2021-01 .. 2024-12)
    origination_months: int = 27  # loans originate in the first this-many months
    origination_growth: float = 0.02  # monthly growth of origination volume
    extra_months: int = 24  # latent processes run this far past the data end (>= 22)
    borrower_type_shares: dict = _f(_by_type(0.30, 0.50, 0.20))
    repeat_borrower_share: float = 0.08  # loans taken by a borrower with another loan
    region_weights: dict = _f(dict(zip(REGIONS, (0.18, 0.17, 0.14, 0.08, 0.12, 0.09, 0.11, 0.11),
                                       strict=True)))
    industry_weights: dict = _f(dict(zip(INDUSTRIES, (0.24, 0.14, 0.14, 0.10, 0.08, 0.08, 0.16,
                                                      0.06), strict=True)))
    term_months: dict = _f({"6": 0.05, "12": 0.20, "24": 0.40, "36": 0.35})
    principal_median_cny: dict = _f(_by_type(120_000.0, 50_000.0, 20_000.0))
    principal_sigma: float = 0.7  # lognormal sd of principal
    rate_base: float = 0.12  # annual rate at the mean credit score
    rate_per_score_sd: float = -0.025  # annual rate change per score sd
    rate_noise_sd: float = 0.015
    score_mean: float = 650.0  # credit score scale 350-950
    score_sd: float = 70.0
    score_quality_loading: float = 0.6  # corr(score, latent quality)
    firm_age_mean_years: dict = _f(_by_type(6.0, 5.0, 8.0))
    revenue_median_cny: dict = _f(_by_type(1_500_000.0, 400_000.0, 120_000.0))
    # --- economic mechanism: region x industry demand shocks, industry input costs -----
    demand_sensitivity: dict = _f(dict(zip(INDUSTRIES, (1.2, 1.5, 0.9, 0.8, 1.0, 0.5, 1.0, 0.7),
                                           strict=True)))
    cost_sensitivity: dict = _f(dict(zip(INDUSTRIES, (0.4, 1.0, 0.6, 1.2, 1.1, 0.9, 0.3, 1.0),
                                         strict=True)))
    common_cycle_ar: float = 0.7
    common_cycle_sd: float = 0.2
    regional_shock_rate: float = 0.03  # per region-month
    regional_shock_size: tuple = (1.2, 2.6)  # uniform range
    regional_shock_persistence: float = 0.55  # share of a shock left the next month
    scheduled_shocks: tuple = (("shanghai", "2022-04", 2, 3.0), ("all", "2022-11", 2, 1.0))
    # From this month ("YYYY-MM") on, the calendar processes stop drawing new randomness and
    # cycle through their values of the ``hold_macro_window`` months before it (the
    # "level" economy of a scenario forecast); scheduled shocks from then on still add.
    hold_macro_from: str | None = None
    hold_macro_window: int = 3
    # First month of a continuation (analysis.synthetic.forward): episode scripts drawn
    # before it look ahead in the world without the continuation's changes.
    future_from: str | None = None
    demand_noise_sd: float = 0.15  # region x industry idiosyncratic stress
    cost_ar: float = 0.8
    cost_sd: float = 0.35
    cost_threshold: float = 0.6  # cost stress = sensitivity * max(0, AR(1) - this)
    # --- management mechanism: latent quality and distress spells ------------------------
    distress_entry: float = 0.013  # monthly entry at quality 0
    distress_entry_quality: float = -0.8  # log-entry per quality sd
    distress_stay: float = 0.6  # monthly probability a spell continues
    # --- personal mechanism: rare events lasting the event month and the next --------------
    medical_event_rate: float = 0.0035
    family_event_rate: float = 0.0025
    # --- onset hazards (per loan-month, summed over families) ------------------------------
    # b_f: background hazards; spikes add on top (distress, events) or multiply (stress)
    base_hazard: dict = _f({
        "economic": _by_type(0.0007, 0.0007, 0.0004),
        "management": _by_type(0.0004, 0.0004, 0.0004),
        "personal": _by_type(0.0002, 0.0002, 0.0003),
    })
    hazard_score_loading: float = -0.25  # log-hazard per credit-score sd (all families)
    economic_demand_loading: dict = _f(_by_type(1.7, 1.7, 1.0))  # log-hazard per unit stress
    economic_cost_loading: float = 1.2
    management_quality_loading: float = -0.4  # log-hazard per quality sd
    management_distress_hazard: float = 0.08  # added in a distress spell
    personal_event_hazard: float = 0.20  # added in the event month
    personal_after_hazard: float = 0.08  # ... and the month after
    max_hazard: float = 0.6
    # --- signals (observed, noisy) --------------------------------------------------------
    demand_signal_scale: float = -5.0  # percentage points per unit demand stress
    demand_signal_noise: float = 2.5
    cost_signal_scale: float = 4.0  # percentage points per unit cost stress
    cost_signal_noise: float = 2.0
    volatility_log_mean: float = -1.2  # log coefficient of variation of monthly revenue
    volatility_quality: float = -0.15
    volatility_distress: float = 0.9
    volatility_noise: float = 0.3
    late_filing_logit: tuple = (-3.2, -0.5, 2.8)  # intercept, per quality sd, in distress
    medical_detect: float = 0.85  # P(flag | medical event this or last month)
    medical_background: float = 0.004
    family_detect: float = 0.75
    family_background: float = 0.006
    # --- reported reasons ----------------------------------------------------------------
    report_rate: dict = _f(_by_family(0.40, 0.35, 0.45))
    report_family_confusion: dict = _f({  # P(reported family | true family)
        "economic": _by_family(0.90, 0.07, 0.03),
        "management": _by_family(0.15, 0.82, 0.03),
        "personal": _by_family(0.05, 0.03, 0.92),
    })
    report_month_offsets: dict = _f({"-1": 0.1, "0": 0.5, "1": 0.3, "2": 0.1})
    # --- relief assignment: multinomial logit on observed covariates (ref: none) -----------
    assign_intercept: dict = _f({"deferral": -1.7, "instalment": -2.0, "rate_reduction": -2.2,
                                 "counselling": -2.1})
    assign_score: dict = _f({"deferral": 0.65, "instalment": 0.55, "rate_reduction": 0.6,
                             "counselling": 0.55})  # per score sd
    assign_type: dict = _f({
        "deferral": _by_type(0.3, 0.0, -0.3), "instalment": _by_type(0.0, 0.0, 0.3),
        "rate_reduction": _by_type(0.0, 0.0, 0.2), "counselling": _by_type(0.3, 0.0, -0.2)})
    assign_ead: dict = _f({"deferral": 0.08, "instalment": 0.1, "rate_reduction": 0.1,
                           "counselling": -0.05})  # per 100,000 CNY
    assign_dpd: dict = _f({"deferral": -0.4, "instalment": -0.4, "rate_reduction": -0.4,
                           "counselling": -0.2})  # per 30 days
    assign_reported: dict = _f({
        "deferral": _by_family(1.0, 0.0, 0.3), "instalment": _by_family(0.3, 0.3, 0.9),
        "rate_reduction": _by_family(0.0, 0.0, 0.7), "counselling": _by_family(0.0, 1.1, 0.0)})
    assign_signal: dict = _f({
        "deferral": {"demand_index_change": -0.04},
        "instalment": {"medical_claim_flag": 0.5, "family_event_flag": 0.3},
        "rate_reduction": {"medical_claim_flag": 0.5},
        "counselling": {"revenue_volatility": 0.8, "late_filing_flag": 0.4}})
    grant_in_start_month: float = 0.7  # else the month after (still in the window)
    late_relief_rate: float = 0.12  # none-arm episodes still overdue get relief 2-3 months in
    deferral_months: dict = _f({"1": 0.3, "2": 0.3, "3": 0.4})
    instalments: dict = _f({"3": 0.2, "6": 0.35, "12": 0.35, "24": 0.1})
    rate_cut_bp: dict = _f({"100": 0.3, "200": 0.35, "300": 0.25, "500": 0.1})
    counselling_sessions: dict = _f({"1": 0.3, "2": 0.4, "3": 0.2, "4": 0.1})
    # --- potential outcomes: 3-category logit (cure / default / neither, ref neither) ------
    cure_intercept: dict = _f(_by_type(1.0, 0.95, 0.9))
    cure_family: dict = _f(_by_family(0.15, -0.35, 0.0))
    cure_score: float = 0.55  # per score sd
    cure_quality: float = 0.45  # per latent quality sd
    cure_dpd: float = -0.5  # per 30 days at start
    cure_firm_age: float = 0.03  # per year above 5
    default_intercept: dict = _f(_by_type(-1.6, -1.5, -1.4))
    default_family: dict = _f(_by_family(-0.1, 0.35, -0.2))
    default_score: float = -0.55
    default_quality: float = -0.45
    default_dpd: float = 0.5
    default_ead: float = 0.05  # per 100,000 CNY
    effect_cure_family: dict = _f({  # log-odds shift of cure vs neither, by true family
        "deferral": _by_family(0.85, 0.05, 0.35), "instalment": _by_family(0.35, 0.15, 0.75),
        "rate_reduction": _by_family(0.25, 0.05, 0.60), "counselling": _by_family(0.10, 0.70, 0.15)})
    effect_cure_type: dict = _f({
        "deferral": _by_type(0.15, 0.0, -0.15), "instalment": _by_type(-0.1, 0.0, 0.15),
        "rate_reduction": _by_type(-0.1, 0.0, 0.2), "counselling": _by_type(0.2, 0.1, -0.25)})
    effect_default_family: dict = _f({
        "deferral": _by_family(-0.55, 0.15, -0.20), "instalment": _by_family(-0.30, -0.10, -0.55),
        "rate_reduction": _by_family(-0.20, -0.05, -0.45),
        "counselling": _by_family(0.0, -0.40, -0.05)})
    redefault_intercept: float = 0.35
    redefault_family: dict = _f(_by_family(-0.1, 0.25, -0.1))
    redefault_score: float = -0.35
    redefault_quality: float = -0.35
    effect_redefault_family: dict = _f({
        "deferral": _by_family(0.30, 0.30, 0.30), "instalment": _by_family(-0.10, -0.10, -0.15),
        "rate_reduction": _by_family(-0.20, -0.20, -0.25),
        "counselling": _by_family(-0.25, -0.55, -0.25)})
    # --- non-linear terms (see the module docstring; thresholds in score points, DPD
    # days and CNY; shifts on the log-odds scale) -----------------------------------------
    cure_score_step: tuple = (700.0, 0.35)  # (score threshold, cure shift at or above it)
    cure_dpd_step: tuple = (20, -0.30)  # (DPD at start threshold, cure shift at or above)
    effect_cure_ead_step: dict = _f({  # measure: (EAD threshold CNY, extra cure shift)
        "deferral": (100_000.0, 0.50), "instalment": (100_000.0, 0.30)})
    effect_cure_family_type: dict = _f({  # measure: {borrower type: {true family: shift}}
        "deferral": {"micro_enterprise": {"economic": 0.35}},
        "instalment": {"individual": {"personal": 0.40}},
        "rate_reduction": {"individual": {"economic": -0.30}},
        "counselling": {"sole_proprietor": {"management": 0.35}}})
    effect_cure_signal_type: dict = _f({  # measure: {borrower type: {signal: shift}}
        "instalment": {"individual": {"medical_claim_flag": 0.50}},
        "counselling": {"micro_enterprise": {"late_filing_flag": 0.40}}})
    cure_region_ead: tuple = (EAST, 100_000.0, 0.60)  # (regions, EAD CNY, cure shift), all arms
    effect_cure_region_ead: dict = _f({  # measure: (regions, EAD threshold CNY, cure shift)
        "deferral": (EAST, 100_000.0, 0.50)})
    assign_region_ead: dict = _f({  # measure: (regions, EAD threshold CNY, utility shift)
        "deferral": (EAST, 100_000.0, 1.20)})
    assign_score_step: dict = _f({  # measure: (score threshold, utility shift at or above)
        "deferral": (700.0, 0.60), "rate_reduction": (700.0, 0.70),
        "counselling": (580.0, -0.60)})
    assign_ead_step: dict = _f({  # measure: (EAD threshold CNY, utility shift at or above)
        "deferral": (100_000.0, 0.50), "instalment": (100_000.0, 0.50)})
    assign_dpd_step: dict = _f({  # measure: (DPD at start threshold, utility shift at or above)
        "deferral": (20, -0.50), "instalment": (20, -0.50), "rate_reduction": (20, -0.50),
        "counselling": (20, -0.50)})
    redefault_window_months: tuple = (3, 12)  # new episode this many months after the return
    # --- realised paths --------------------------------------------------------------------
    cure_month_probs: dict = _f({"1": 0.32, "2": 0.24, "3": 0.16, "4": 0.12, "5": 0.09, "6": 0.07})
    false_cure_rate: float = 0.18  # cure paths of >= 3 months with a relapse in probation
    roll_rate: float = 0.45  # P(missed payment) per overdue month of a cure path
    default_month_probs: dict = _f({"3": 0.5, "4": 0.25, "5": 0.15, "6": 0.10})
    late_default_share: float = 0.4  # of 'neither' episodes; the rest cure late
    late_default_month_probs: dict = _f({"7": 0.5, "8": 0.3, "9": 0.2})
    late_cure_month_probs: dict = _f({"7": 0.35, "8": 0.3, "9": 0.2, "10": 0.15})
    late_false_cure_rate: float = 0.3
    writeoff_after_default_months: int = 3  # write-off at about 180 DPD
    recovery_weights: tuple = (0.30, 0.25, 0.18, 0.12, 0.09, 0.06)  # months after write-off
    recovery_mean: dict = _f(_by_type(0.33, 0.28, 0.22))
    recovery_quality: float = 0.04  # per quality sd
    recovery_concentration: float = 6.0  # Beta(a, b) with a + b = this

    def as_dict(self) -> dict:
        return asdict(self)


ARM_INDEX = {a: i for i, a in enumerate(ARMS)}
FAMILY_INDEX = {f: i for i, f in enumerate(FAMILIES)}
TYPE_INDEX = {t: i for i, t in enumerate(BORROWER_TYPES)}
