"""``[audit]``: where the checkpoint key lives, how often the head is signed, the export.

::

    [audit]
    key_path = ".stead/audit.key"   # HMAC key for signed checkpoints; keep it off the DB host
    checkpoint_every = 1            # sign the head every N events (1: at every change)
    export = "/var/log/stead/audit.jsonl"   # append-only copy of every event (optional)

Each key can be overridden by ``STEAD_AUDIT_<KEY>`` (``STEAD_AUDIT_KEY_PATH=/etc/stead/key``).
Relative paths are relative to the workspace root.
"""

from __future__ import annotations

from dataclasses import dataclass

from stead.core.audit import AuditLog
from stead.core.settings import STATE_DIR, Settings, at_least, stage_table


@dataclass(frozen=True, kw_only=True)
class AuditSettings:
    """``[audit]``."""

    key_path: str = f"{STATE_DIR}/audit.key"
    checkpoint_every: int = 1
    export: str = ""

    def __post_init__(self) -> None:
        at_least("checkpoint_every", self.checkpoint_every, 1)


def audit_log(settings: Settings) -> AuditLog:
    """The :class:`AuditLog` a workspace's store appends through.

    Raises:
        SettingsError: a key of ``[audit]`` is wrong.
    """
    audit = stage_table(settings, "audit", AuditSettings)
    return AuditLog(
        key_path=settings.resolve_path(audit.key_path),
        checkpoint_every=audit.checkpoint_every,
        export_path=settings.resolve_path(audit.export) if audit.export else None,
    )
