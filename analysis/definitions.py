"""The definitions every analysis shares: overdue, cure, probation, default, loss.

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
