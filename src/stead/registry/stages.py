"""Moving versions between stages, one audited transaction per move.

At most one version of a name is in ``production``. Promoting another one there moves
the previous one, in the same transaction, to ``[registry] replaced_production_to``
(``staging`` by default: still loadable and ready to promote back for a rollback), with
its own stage change and audit event (``model.demote``, reason "replaced in production
by NAME@N"). So the history of what was live when is complete, and there is never a
moment with two production versions or an unexplained gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stead.core.audit import append_event
from stead.core.clock import utcnow
from stead.core.errors import Conflict
from stead.core.ids import new_id
from stead.registry.tables import ModelStageChangeRow, ModelVersionRow
from stead.registry.version import TRANSITIONS, ModelVersion, Stage, StageChange

if TYPE_CHECKING:
    from stead.core.context import Context


@dataclass(frozen=True)
class StageMove:
    """What a promotion or retirement did: the version moved, and any it replaced."""

    version: ModelVersion
    change: StageChange
    replaced: list[StageChange]

    @property
    def message(self) -> str:
        c = self.change
        text = f"{c.ref}: {c.from_stage} → {c.to_stage}"
        if c.override:
            text += f" (admin override of: {', '.join(c.overridden)})"
        for old in self.replaced:
            text += f"; {old.ref} moved {old.from_stage} → {old.to_stage}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "model": self.version.ref,
            "stage": self.version.stage,
            "change": self.change.to_dict(),
            "replaced": [r.to_dict() for r in self.replaced],
        }


def check_transition(version: ModelVersion, to: Stage) -> None:
    """Raise unless ``version`` may move from its stage to ``to``.

    Raises:
        Conflict: already there, or not an allowed move (retired is final).
    """
    if version.stage == to:
        raise Conflict(f"{version.ref} is already in {to}; nothing to do")
    allowed = TRANSITIONS[version.stage]
    if to not in allowed:
        if not allowed:
            raise Conflict(
                f"{version.ref} is retired, which is final: it keeps its artifacts and "
                "lineage, but to serve its run again register it anew "
                f"(`stead models register {version.run_id} --name {version.name}`)"
            )
        raise Conflict(
            f"{version.ref} is in {version.stage}; from there it may move to "
            f"{', '.join(allowed)}, not {to}"
        )


def move_stage(
    ctx: Context,
    version: ModelVersion,
    to: Stage,
    *,
    action: str,
    reason: str | None,
    expected_champion: str | None,
    replaced_to: Stage,
    override: bool = False,
    overridden: list[str] | None = None,
    checklist: dict[str, str] | None = None,
) -> StageMove:
    """Move ``version`` to ``to`` in one audited transaction.

    ``expected_champion`` is the id of the production version the checklist compared
    against (for a move into production): if another one got there meanwhile, the move
    is refused rather than promoted past an unchecked champion.

    Raises:
        Conflict: the version's stage or the production version changed concurrently.
    """
    replaced: list[StageChange] = []
    with ctx.store.change(action, f"model:{version.ref}", reason=reason) as change:
        session = change.session
        row = session.get(ModelVersionRow, version.id)
        assert row is not None
        if row.stage != version.stage:
            raise Conflict(
                f"{version.ref} moved to {row.stage} while this change was prepared; retry"
            )
        now = utcnow()
        if to == "production":
            current = session.scalars(
                select(ModelVersionRow).where(
                    ModelVersionRow.name == version.name,
                    ModelVersionRow.stage == "production",
                    ModelVersionRow.id != version.id,
                )
            ).all()
            ids = sorted(r.id for r in current)
            if ids != ([expected_champion] if expected_champion else []):
                raise Conflict(
                    f"the production version of {version.name} changed while {version.ref}'s "
                    "checklist was evaluated; retry so it is compared with the new one"
                )
            for old in current:
                note = f"replaced in production by {version.ref}"
                replaced.append(
                    _record(
                        session,
                        old,
                        replaced_to,
                        actor=change.actor,
                        reason=note,
                        at=now,
                        cause=f"replaced by {version.ref}",
                    )
                )
                # The replaced version gets its own audit event, in this same
                # transaction, so its subject's history is complete on its own.
                append_event(
                    session,
                    event_id=new_id("ev"),
                    ts=now,
                    actor=change.actor,
                    action="model.demote",
                    subject=f"model:{old.name}@{old.version}",
                    details={"from": "production", "to": replaced_to, "by": version.ref},
                    reason=note,
                )
        moved = _record(
            session,
            row,
            to,
            actor=change.actor,
            reason=reason,
            at=now,
            cause=action.removeprefix("model."),
            override=override,
            overridden=overridden or [],
            checklist=checklist or {},
        )
        change.details.update(
            {
                "version_id": version.id,
                "from": version.stage,
                "to": to,
                "override": override,
                "overridden": overridden or [],
                "checklist": checklist or {},
                "replaced": [r.ref for r in replaced],
            }
        )
        entity = row.to_entity()
    return StageMove(version=entity, change=moved, replaced=replaced)


def _record(
    session: Any,
    row: ModelVersionRow,
    to: Stage,
    *,
    actor: str,
    reason: str | None,
    at: datetime,
    cause: str,
    override: bool = False,
    overridden: list[str] | None = None,
    checklist: dict[str, str] | None = None,
) -> StageChange:
    change = ModelStageChangeRow(
        id=new_id("sc"),
        version_id=row.id,
        name=row.name,
        version=row.version,
        from_stage=row.stage,
        to_stage=to,
        actor=actor,
        reason=reason,
        at=at,
        override=override,
        overridden=list(overridden or []),
        checklist=dict(checklist or {}),
        cause=cause,
    )
    session.add(change)
    row.stage = to
    session.flush()
    return change.to_entity()


def order_key(change: StageChange) -> tuple[datetime, int, str]:
    """Chronological order; a replaced version's move comes before the promotion that
    caused it (both happen at the same instant)."""
    first = 0 if (change.cause or "").startswith("replaced by") else 1
    return (change.at, first, change.id)


def live_at(history: list[StageChange], when: datetime) -> str | None:
    """The version (``NAME@N``) that was in production at ``when``, per ``history``."""
    stages: dict[str, str] = {}
    for change in sorted(history, key=order_key):
        if change.at > when:
            break
        stages[change.ref] = change.to_stage
    live = [ref for ref, stage in stages.items() if stage == "production"]
    return live[0] if live else None
