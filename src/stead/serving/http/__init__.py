"""The HTTP server: a Starlette app over the serving engine (see :mod:`.app`)."""

from stead.serving.http.app import create_app

__all__ = ["create_app"]
