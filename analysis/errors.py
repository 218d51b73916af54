"""Errors the suite raises for problems in its input, as opposed to bugs.

Every command-line entry turns an :class:`InputError` into a readable message on
stderr and exit status 2; anything else is a bug and keeps its traceback.

A model that cannot be estimated on the data it was given (no event at all, an
information matrix singular even after the fallbacks of :mod:`analysis.models`) raises
:class:`EstimationError`, an :class:`InputError`: the data, not the code, are at fault.
:data:`FIT_ERRORS` names every numerical or data-shape failure of a model fit that a
report section may survive (show what could not be estimated and go on); programming
errors (``KeyError``, ``TypeError``, a wrong column name) are not in it and must fail
the run.
"""

from __future__ import annotations

import numpy as np
from statsmodels.tools.sm_exceptions import PerfectSeparationError  # ~0.2 s, no model code


class InputError(Exception):
    """Bad input: a file, table, column, parameter or spec the user can fix."""

    exit_code = 2


class ParameterError(InputError):
    """An unknown, missing or ill-typed parameter (command line or notebook)."""


class EstimationError(InputError):
    """This model cannot be estimated on these data (no events, a degenerate design that
    even a penalised fit cannot handle). The message says which model and why."""


#: The failures of a model fit that a report section may survive: our own
#: :class:`EstimationError` (every analysis entry point converts the numerical failures
#: it can name into it), and, as a safety net for a fit that does not, numpy's
#: ``LinAlgError`` (a singular matrix) and statsmodels' ``PerfectSeparationError``.
FIT_ERRORS: tuple[type[Exception], ...] = (EstimationError, np.linalg.LinAlgError,
                                           PerfectSeparationError)
