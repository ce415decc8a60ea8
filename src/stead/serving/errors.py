"""Errors only the server meets, in the same :class:`~stead.core.errors.SteadError`
hierarchy (so HTTP maps them like every other)::

    UsageError
    ├── PayloadTooLarge       (body or record count over the limits)   2 / 413
    ├── MethodNotAllowed      (a path that does not take this method)  2 / 405
    ├── UnstorableText        (text no log or store can keep)          2 / 422
    └── Unprocessable         (of the schema, but not servable)        2 / 422
    SteadError
    ├── PredictionFailed      (the model and its fallback both failed)  1 / 503
    ├── NotReady              (the server is still loading)             1 / 503
    └── InternalError         (a bug: the server log has the details)   1 / 500
"""

from __future__ import annotations

from stead.core.errors import SteadError, UsageError


class PayloadTooLarge(UsageError):
    code = "payload_too_large"
    http_status = 413


class MethodNotAllowed(UsageError):
    code = "method_not_allowed"
    http_status = 405


class UnstorableText(UsageError):
    """A string that cannot be encoded as UTF-8 (a lone UTF-16 surrogate such as
    ``"\\ud800"``): refused before it reaches the prediction log or a store."""

    code = "unstorable_text"
    http_status = 422


class Unprocessable(UsageError):
    """A body of its operation's schema that still cannot be served: tensor shapes that
    disagree with their data, columns of different lengths, rows of the wrong width.
    (400 is kept for bodies that break the schema itself.)"""

    code = "unprocessable"
    http_status = 422


class PredictionFailed(SteadError):
    code = "prediction_failed"
    http_status = 503


class NotReady(SteadError):
    code = "not_ready"
    http_status = 503


class InternalError(SteadError):
    code = "internal_error"
    http_status = 500
