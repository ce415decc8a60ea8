"""The HTTP server: a Starlette app over the serving engine (:mod:`.app` builds it, every
operation is declared once in :mod:`.api`)."""
