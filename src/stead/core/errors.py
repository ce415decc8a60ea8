"""The errors stead raises, with stable codes a user or a machine can act on.

Every error a user can meet is a :class:`SteadError`. Each class carries a stable
``code`` (for ``--json`` output and HTTP bodies), the HTTP status the server maps it to,
and the CLI exit code. Callers catch by class (``except NotFound``), never by code::

    SteadError
    ├── UsageError            (bad argument or input the user can fix)        2 / 400
    │   ├── SettingsError     (stead.toml or STEAD_* variable is wrong)
    │   ├── DataError         (a file or frame cannot become a snapshot)
    │   └── SpecError         (a training or feature spec is wrong)
    ├── NotFound              (no such dataset, run, model, endpoint ...)     3 / 404
    ├── Conflict              (already exists, concurrent change, bad state)  4 / 409
    ├── ContractViolation     (data does not satisfy its contract)            5 / 422
    ├── GateFailed            (a readiness checklist refused the change)      6 / 412
    ├── PermissionDenied      (the actor may not do this)                     7 / 403
    │   └── Unauthenticated   (no or bad credentials)                         7 / 401
    ├── IntegrityError        (stored bytes, signature or audit chain altered) 8 / 500
    └── ReproductionFailed    (a re-run did not give the recorded result)     9 / 409
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "ContractViolation",
    "DataError",
    "GateFailed",
    "IntegrityError",
    "NotFound",
    "PermissionDenied",
    "ReproductionFailed",
    "SettingsError",
    "SpecError",
    "SteadError",
    "Unauthenticated",
    "UsageError",
]


class SteadError(Exception):
    """Base of every error stead raises on purpose.

    Args:
        message: what went wrong, where, and how to fix it, in words a user can act on.
        details: structured facts for machines (``--json`` output, HTTP bodies).
    """

    code: ClassVar[str] = "stead_error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class UsageError(SteadError):
    code = "usage_error"
    http_status = 400
    exit_code = 2


class SettingsError(UsageError):
    code = "settings_error"


class DataError(UsageError):
    code = "data_error"


class SpecError(UsageError):
    code = "spec_error"


class NotFound(SteadError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(SteadError):
    code = "conflict"
    http_status = 409
    exit_code = 4


class ContractViolation(SteadError):
    code = "contract_violation"
    http_status = 422
    exit_code = 5


class GateFailed(SteadError):
    code = "gate_failed"
    http_status = 412
    exit_code = 6


class PermissionDenied(SteadError):
    code = "permission_denied"
    http_status = 403
    exit_code = 7


class Unauthenticated(PermissionDenied):
    code = "unauthenticated"
    http_status = 401


class IntegrityError(SteadError):
    code = "integrity_error"
    http_status = 500
    exit_code = 8


class ReproductionFailed(SteadError):
    code = "reproduction_failed"
    http_status = 409
    exit_code = 9
