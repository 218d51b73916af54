"""Month arithmetic, in one place: every table keys its months by month-end dates, and
every computation over months works on integer month numbers.

A month number is the count of months since 1970-01 (``int64``); a month-end date and
every other date of its month map to the same number, and a missing date maps to
:data:`NAT_MONTH`. Differences of month numbers are durations in months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import ParameterError

#: The month number of a missing date (``NaT``): the smallest ``int64``.
NAT_MONTH = np.iinfo(np.int64).min


def month_index(values: pd.Series | np.ndarray) -> np.ndarray:
    """Months since 1970-01 as ``int64`` (:data:`NAT_MONTH` where missing)."""
    arr = np.asarray(values, dtype="datetime64[ns]")
    if arr.size > 10_000:  # few distinct months: convert each once
        codes, uniques = pd.factorize(arr.view(np.int64))
        months = uniques.view("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
        return months[codes]
    return arr.astype("datetime64[M]").astype(np.int64)


def month_number(value: pd.Timestamp) -> int:
    """The month number of one date (see :func:`month_index`)."""
    return int(month_index(np.array([pd.Timestamp(value).to_datetime64()]))[0])


def month_end(index: np.ndarray) -> pd.DatetimeIndex:
    """Month-ends (``datetime64[ns]``) of month numbers, the inverse of :func:`month_index`:
    the day before the next month's first (numpy day arithmetic; a pandas ``MonthEnd``
    offset per row is much slower). :data:`NAT_MONTH` maps back to ``NaT``."""
    index = np.asarray(index, dtype=np.int64)
    following = (index + 1).astype("datetime64[M]")
    days = (following.astype("datetime64[D]") - np.timedelta64(1, "D")).astype("datetime64[ns]")
    nat = index == NAT_MONTH
    if nat.any():
        days[nat] = np.datetime64("NaT")
    return pd.DatetimeIndex(days)


def parse_month(value: str | pd.Timestamp, name: str = "as_of") -> pd.Timestamp:
    """The month-end of ``value`` (``YYYY-MM``, a date or a timestamp); a
    :class:`~analysis.errors.ParameterError` naming ``name`` when it is not a month."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{name}={value!r} is not a month (YYYY-MM)") from exc
    if ts is pd.NaT:
        raise ParameterError(f"{name}={value!r} is not a month (YYYY-MM)")
    return ts + pd.offsets.MonthEnd(0)


__all__ = ["NAT_MONTH", "month_end", "month_index", "month_number", "parse_month"]
