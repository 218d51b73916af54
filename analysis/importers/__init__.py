"""Declarative import of real loan tapes into the data contract, pseudonymised."""

from analysis.importers.lendingclub import lendingclub_performance, scheduled_balance
from analysis.importers.spec import ColumnSpec, SpecError, load_spec
from analysis.importers.tape import (
    ImportValidationError,
    QuarantineThresholdError,
    pseudonymise,
    resolve_key,
    run_import,
)
from analysis.importers.transforms import build_column

__all__ = [
    "ColumnSpec",
    "ImportValidationError",
    "QuarantineThresholdError",
    "SpecError",
    "build_column",
    "lendingclub_performance",
    "load_spec",
    "pseudonymise",
    "resolve_key",
    "run_import",
    "scheduled_balance",
]
