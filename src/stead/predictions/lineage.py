"""Lineage from one prediction: request id → prediction → model version → run → data,
features, code and environment.

A :class:`~stead.registry.lineage.LineageQuery` start: given a request id it finds the
logged prediction(s) (:mod:`stead.predictions.lookup` keeps that from reading all of
history) and puts a ``prediction`` node, with what the log recorded and any feedback,
above the registry's tree of the model version that answered. A request answered by
more than one version (a shadow copy, a fallback), or a request of several records
looked up by the id its client got back, gives a ``request`` node with one prediction
node per answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stead.core.errors import NotFound
from stead.predictions.layout import decode
from stead.predictions.lookup import find_request
from stead.predictions.record import PredictionRecord
from stead.registry.lineage import LineageNode

if TYPE_CHECKING:
    from stead.predictions.feedback import FeedbackService
    from stead.predictions.service import PredictionService
    from stead.registry.service import ModelRegistry

START_DESCRIPTION = "a request id (a logged prediction)"


class RequestLineage:
    """Builds the lineage tree of a request id from the workspace's prediction log."""

    def __init__(
        self, *, models: ModelRegistry, predictions: PredictionService, feedback: FeedbackService
    ) -> None:
        self._models = models
        self._predictions = predictions
        self._feedback = feedback
        self._trees: dict[str, LineageNode] = {}

    def records(self, request_id: str) -> list[PredictionRecord]:
        """Every logged prediction of ``request_id``, in time order: the request's own
        record, or each record of a multi-record request (``ID.0``, ``ID.1``, ...)."""
        table = find_request(self._predictions.directory, request_id)
        return decode(table) if table.num_rows else []

    def start(self, target: str) -> LineageNode | None:
        """The tree of ``target`` as a request id, or ``None`` when none was logged."""
        records = self.records(target.strip())
        if not records:
            return None
        nodes = tuple(self._prediction_node(r) for r in records)
        if len(nodes) == 1:
            return nodes[0]
        return LineageNode(
            "request",
            target,
            f"request {target} ({len(nodes)} predictions)",
            {"endpoints": sorted({r.endpoint for r in records})},
            nodes,
        )

    def __call__(self, request_id: str) -> LineageNode:
        """The tree of ``request_id``.

        Raises:
            NotFound: no prediction with this request id is in the log.
        """
        node = self.start(request_id)
        if node is None:
            raise NotFound(
                f"no prediction with request id {request_id!r} is in the prediction log "
                f"({self._predictions.directory}); check the id, or whether retention "
                "removed its day"
            )
        return node

    def _prediction_node(self, record: PredictionRecord) -> LineageNode:
        facts: dict[str, Any] = {
            "endpoint": record.endpoint,
            "revision": record.revision if record.revision is not None else "none (batch)",
            "role": record.role,
            "time": f"{record.timestamp:%Y-%m-%d %H:%M:%S.%f} UTC",
            "model_version": record.model_version,
            "feature_set_version": record.feature_set_version,
            "snapshot": record.snapshot,
            "latency_ms": round(record.latency_ms, 3),
            "inputs": record.inputs,
            "outputs": record.outputs,
            "error": record.error,
            "entity_key": record.entity_key,
        }
        history = self._feedback.history(record.endpoint, record.request_id)
        if history:
            latest = history[-1]
            facts["feedback"] = {"label": latest["label"], **latest["kpis"]}
            facts["feedback_at"] = latest["recorded_at"]
        children: tuple[LineageNode, ...] = ()
        try:
            children = (self._model_tree(record.model_version),)
        except NotFound as error:
            facts["model"] = f"not in the registry: {error.message}"
        return LineageNode(
            "prediction",
            record.request_id,
            f"prediction {record.request_id} on endpoint {record.endpoint} "
            f"({record.role}, {record.model_version}, {record.timestamp:%Y-%m-%d %H:%M:%S} UTC)",
            facts,
            children,
        )

    def _model_tree(self, ref: str) -> LineageNode:
        tree = self._trees.get(ref)
        if tree is None:
            tree = self._trees[ref] = self._models.lineage(ref)
        return tree
