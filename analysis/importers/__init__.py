"""Declarative import of real loan tapes into the data contract, pseudonymised."""

from analysis.importers.derive import Derived, register
from analysis.importers.keys import pseudonymise, resolve_key
from analysis.importers.lendingclub import lendingclub_performance, scheduled_balance
from analysis.importers.spec import ColumnSpec, ImportInputError, SpecError, load_spec
from analysis.importers.tape import (
    ImportResult,
    ImportValidationError,
    QuarantineThresholdError,
    run_import,
)
from analysis.importers.transforms import build_column

__all__ = [
    "ColumnSpec",
    "Derived",
    "ImportInputError",
    "ImportResult",
    "ImportValidationError",
    "QuarantineThresholdError",
    "SpecError",
    "build_column",
    "lendingclub_performance",
    "load_spec",
    "pseudonymise",
    "register",
    "resolve_key",
    "run_import",
    "scheduled_balance",
]
