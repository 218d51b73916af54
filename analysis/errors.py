"""Errors the suite raises for problems in its input, as opposed to bugs.

Every command-line entry turns an :class:`InputError` into a readable message on
stderr and exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a file, table, column, parameter or spec the user can fix."""

    exit_code = 2


class ParameterError(InputError):
    """An unknown, missing or ill-typed parameter (command line or notebook)."""
