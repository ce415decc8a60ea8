"""The HTTP server: a Starlette app over the serving engine (see :mod:`.app`)."""

from __future__ import annotations

from stead.serving.http.app import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
