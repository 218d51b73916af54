"""The definitions every analysis shares: overdue, cure, probation, default, loss.

Sustained cure (the EBA notion of a cure that holds: after the probation period the
exposure must not fall back, see the probation rules for forborne exposures in the EBA
Q&A on ITS 680/2014 and EBA/GL/2016/07): an episode is a *sustained cure* when it is cured within
``horizon_months`` (the cure rule: ``probation_months`` clean month-ends from the return
month) **and** the loan does not start a new episode (re-default) in the
``redefault_months`` after the return month. It is defined over *all* episodes, so it is
a well-defined causal outcome (unlike re-default among the cured, which conditions on a
post-treatment event and stays a descriptive rate). It is known only when the data cover
the whole administrative window ``start .. start + horizon_months + probation_months - 1 +
redefault_months`` (see :func:`sustained_cure_months`): a calendar rule that never looks
at the outcome, as for ``is_cured``.

They live here once; ``episodes.py`` applies them and ``data/README.md`` documents
them. Notebooks and other modules take a :class:`Definitions` and never re-derive
a rule.

Units: months are calendar months between month-end observations; rates are
fractions (0.05 = 5 %); days past due (DPD) are days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from analysis.errors import ParameterError

BORROWER_TYPES: tuple[str, ...] = ("micro_enterprise", "sole_proprietor", "individual")
MEASURES: tuple[str, ...] = ("deferral", "instalment", "rate_reduction", "counselling")
NO_RELIEF = "none"
FAMILIES: tuple[str, ...] = ("economic", "management", "personal")
DPD_BUCKETS: tuple[str, ...] = ("current", "1-29", "30-59", "60-89", "90+", "written_off")
# The five categories of China's 商业银行金融资产风险分类办法 (2023), best to worst.
LOAN_CATEGORIES: tuple[str, ...] = ("normal", "special_mention", "substandard", "doubtful", "loss")


@dataclass(frozen=True)
class Definitions:
    """Parameters of the episode and outcome definitions.

    overdue_dpd: a month is overdue when DPD >= this (days).
    probation_months: consecutive non-overdue month-ends needed to call a cure
        (3 = the EU return-to-performing period; regulators ask up to 12 for
        restructured loans).
    horizon_months: the cure / default outcome window, counted from the start month.
    relief_window_months: relief granted from the start month to this many months
        later is attributed to the episode.
    default_dpd: DPD at which an episode counts as defaulted (90, CRR Art. 178).
    redefault_months: a new episode within this many months of a cure is a re-default.
    discount_rate: annual rate (fraction) discounting write-offs and recoveries to
        the default month for the realised loss (0 = undiscounted).
    """

    overdue_dpd: int = 1
    probation_months: int = 3
    horizon_months: int = 6
    relief_window_months: int = 1
    default_dpd: int = 90
    redefault_months: int = 12
    discount_rate: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "overdue_dpd": self.overdue_dpd >= 1,
            "probation_months": self.probation_months >= 1,
            "horizon_months": self.horizon_months >= 1,
            "relief_window_months": self.relief_window_months >= 0,
            "default_dpd": self.default_dpd > self.overdue_dpd,
            "redefault_months": self.redefault_months >= 1,
            "discount_rate": 0.0 <= self.discount_rate < 1.0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ParameterError(
                "invalid definition parameter(s): "
                + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
            )

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def horizon_known_months(self) -> int:
        """Months after the start the data must cover to know a horizon outcome (cure,
        default): ``horizon_months + probation_months - 1``."""
        return self.horizon_months + self.probation_months - 1

    @property
    def sustained_known_months(self) -> int:
        """Months after the start the data must cover to know a sustained cure:
        the horizon outcome's window plus ``redefault_months``."""
        return sustained_cure_months(self.horizon_months, self.probation_months,
                                     self.redefault_months)


def sustained_cure_months(horizon_months: int, probation_months: int,
                          redefault_months: int) -> int:
    """Months after an episode's start (calendar months) that the data must cover before
    its sustained cure is known: ``horizon + probation - 1 + redefault``.

    A cure can return as late as the horizon month and needs ``probation_months`` clean
    month-ends to count; its re-default window then runs ``redefault_months`` on. Using the
    fixed worst case for every episode keeps the rule calendar-only: an early cure is not
    "known" sooner than a late one, so which episodes enter never depends on the outcome.
    """
    return horizon_months + probation_months - 1 + redefault_months
