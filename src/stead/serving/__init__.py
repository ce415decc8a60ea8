"""Serving: putting registered models in front of traffic.

- :mod:`.deploy`: the deployment control plane: endpoints and their revisions, the
  traffic policy and router, the gate every change passes, the watcher that follows
  revisions, the rollback drill;
- :mod:`.predict`: the request path: request types, the input contract at the edge,
  the compiled feature plan, the runner and its batch-invariance proof, the model pool
  and micro-batcher, the engine, idempotency, metrics;
- :mod:`.http`: the Starlette app, per-worker state, the raw-ASGI fast path, middleware,
  auth, the OpenAPI document, one module per protocol;
- :mod:`.batch`: batch scoring of files, locally or on Dask;
- :mod:`.explain` and :mod:`.shapley`: per-record explanations.

Every answer is written to the prediction log, a stage of its own (:mod:`stead.predictions`).
"""
