"""Errors only the server meets, in the same :class:`~stead.core.errors.SteadError`
hierarchy (so HTTP maps them like every other)::

    UsageError
    └── PayloadTooLarge       (body or record count over the limits)   2 / 413
    SteadError
    ├── PredictionFailed      (the model and its fallback both failed)  1 / 503
    ├── NotReady              (the server is still loading)             1 / 503
    └── NotImplementedYet     (a feature this build cannot serve)       1 / 501
"""

from __future__ import annotations

from stead.core.errors import SteadError, UsageError


class PayloadTooLarge(UsageError):
    code = "payload_too_large"
    http_status = 413


class PredictionFailed(SteadError):
    code = "prediction_failed"
    http_status = 503


class NotReady(SteadError):
    code = "not_ready"
    http_status = 503


class NotImplementedYet(SteadError):
    code = "not_implemented"
    http_status = 501
