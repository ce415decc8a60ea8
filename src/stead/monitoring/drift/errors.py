"""The error drift checks raise when asked for something they cannot compare."""

from __future__ import annotations

from stead.core.errors import UsageError


class DriftInputError(UsageError):
    """A requested column is not in the reference profile or has no drift statistics."""

    code = "drift_input_error"
