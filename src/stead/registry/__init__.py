"""The governed model registry: versions, stages, signed manifests, model cards, lineage
and the production-readiness checklist that gates deployment (see docs/registry.md)."""
