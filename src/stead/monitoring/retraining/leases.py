"""Leases on retrain triggers: who is processing a trigger, and until when.

Processing a trigger starts by *claiming* it (``pending`` → ``processing``), which takes a
lease: a fresh id (a fencing token), the actor, the host and process, and an expiry
``[retraining] lease`` ahead (default one hour). The process renews the lease at every
step and from a background thread while a long step (training) runs. A claim is a
check-and-set under the store's write lock, so two processes never both hold a trigger.

A process that dies (``kill -9``, out of memory, a reboot) stops renewing; once its lease
has expired the next ``stead retrain`` reclaims the trigger (audited as
``retrain.reclaim``, naming the previous holder) and processes it from the start. The
steps are safe to repeat: the same inputs give the same snapshot, run and candidate.
A holder that was only slow finds its lease gone at its next step and stops
(:class:`LeaseLost`) instead of overwriting the new holder's work.

A trigger carries its claim (:class:`~stead.monitoring.records.RetrainTrigger`'s
``holder`` ... ``expires_at``, and ``lease_state(at)``); the holder alone has the
:class:`Lease` handle. An operator sees leases with ``stead retrain list`` and hands a
stuck trigger back with ``stead retrain release TRIGGER --reason '...'`` (refused while
the lease is live, unless ``--force``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from stead.core.clock import to_utc, utcnow
from stead.core.errors import Conflict, NotFound, UsageError
from stead.core.ids import new_id
from stead.monitoring.records import RetrainTrigger
from stead.monitoring.tables import RetrainTriggerRow
from stead.training.liveness import current_process

if TYPE_CHECKING:
    from stead.core.context import Context
    from stead.core.store import Change


class LeaseLost(Conflict):
    """This process's claim on a trigger lapsed and another process reclaimed it (or an
    operator released it): stop, and leave the trigger to its new holder."""

    code = "lease_lost"


@dataclass(frozen=True)
class Lease:
    """The holder's handle on its claim; pass it back to renew, step and finish.

    Attributes:
        trigger_id: the claimed trigger.
        lease_id: the fencing token: a step with a lease id the trigger no longer carries
            is refused (:class:`LeaseLost`).
        reclaimed_from: the previous holder, when this claim took over an expired one.
    """

    trigger_id: str
    lease_id: str
    reclaimed_from: str | None = None


class TriggerLeases:
    """Claims on the retrain triggers of a workspace (``ws.monitors.leases``).

    Args:
        context: the workspace.
        length: how long a claim lasts unless renewed (``[retraining] lease``).
    """

    def __init__(self, context: Context, *, length: timedelta) -> None:
        self._ctx = context
        self.length = length

    # -- holding ----------------------------------------------------------------------

    def claim(self, trigger_id: str) -> tuple[RetrainTrigger, Lease]:
        """Claim a pending trigger, or reclaim one whose lease has expired.

        Returns:
            The trigger as claimed, and the handle to renew, step and finish with.

        Raises:
            NotFound: no such trigger.
            Conflict: it is processed already, or another holder's lease is live.
        """
        with self._ctx.store.change("retrain.start", f"trigger:{trigger_id}") as change:
            row = _row(change, trigger_id)
            now = utcnow()
            previous: dict[str, Any] | None = None
            if row.status == "processing":
                held = row.to_entity()
                if held.lease_state(now) == "live":
                    raise Conflict(
                        f"retrain trigger {trigger_id} is being processed by "
                        f"{held.describe_holder()} until {_iso(held.expires_at)}"
                        f"{_alive_hint(held)}; a live lease is not taken over",
                        details={"trigger_id": trigger_id, **held.lease_summary(now)},
                    )
                previous = {
                    "previous_holder": held.holder,
                    "previous_host": held.host,
                    "previous_pid": held.pid,
                    "previous_lease_until": _iso(held.expires_at),
                    "previous_holder_alive": held.holder_alive,
                }
                change.action = "retrain.reclaim"
                change.reason = (
                    f"the lease of {held.describe_holder()} expired "
                    f"({_iso(held.expires_at) or 'no expiry recorded'})"
                )
            elif row.status != "pending":
                raise Conflict(
                    f"retrain trigger {trigger_id} is {row.status}; a trigger is processed once",
                    details={"trigger_id": trigger_id, "status": row.status},
                )
            process = current_process()
            row.status = "processing"
            row.lease_id = new_id("lease")
            row.claimed_by = change.actor
            row.claimed_at = now
            row.lease_host = process.host
            row.lease_pid = process.pid
            row.lease_process_start = process.started
            row.lease_until = now + self.length
            row.claims = (row.claims or 0) + 1
            change.details.update(
                {
                    "endpoint": row.endpoint,
                    "kind": row.kind,
                    "lease_until": _iso(row.lease_until),
                    "host": process.host,
                    "pid": process.pid,
                    "claims": row.claims,
                    **(previous or {}),
                }
            )
            handle = Lease(
                trigger_id=row.id,
                lease_id=row.lease_id,
                reclaimed_from=None if previous is None else previous["previous_holder"],
            )
            return row.to_entity(), handle

    def renew(self, lease: Lease) -> datetime:
        """Push the lease's expiry ``length`` ahead of now; returns the new expiry.

        Raises:
            LeaseLost: the trigger is no longer held with this lease.
        """
        with self._ctx.store.change("retrain.renew", f"trigger:{lease.trigger_id}") as change:
            until = self._extend(change, lease)
            change.details.update({"lease_until": _iso(until)})
        return until

    def step(
        self,
        lease: Lease,
        step: str,
        details: dict[str, Any],
        *,
        evidence: dict[str, Any] | None = None,
    ) -> None:
        """Audit one step of processing (``retrain.<step>``), renewing the lease; with
        ``evidence``, merge it into the trigger's evidence.

        Raises:
            LeaseLost: the trigger is no longer held with this lease.
        """
        subject = f"trigger:{lease.trigger_id}"
        with self._ctx.store.change(f"retrain.{step}", subject) as change:
            self._extend(change, lease)
            if evidence:
                row = _row(change, lease.trigger_id)
                row.evidence = {**(row.evidence or {}), **evidence}
            change.details.update(details)

    def finish(
        self,
        lease: Lease,
        status: str,
        outcome: dict[str, Any],
        error: str | None = None,
    ) -> RetrainTrigger:
        """Record the end of processing and let go of the lease.

        Raises:
            LeaseLost: the trigger is no longer held with this lease.
        """
        with self._ctx.store.change("retrain.finish", f"trigger:{lease.trigger_id}") as change:
            row = self._held(change, lease)
            now = utcnow()
            row.status = status
            row.outcome = outcome
            row.error = error
            row.processed_at = now
            row.lease_until = now
            keys = ("snapshot", "run", "candidate", "comparison", "canary", "promoted", "message")
            change.details.update(
                {
                    "status": status,
                    "error": error,
                    **{k: outcome[k] for k in keys if k in outcome},
                }
            )
            return row.to_entity()

    @contextmanager
    def kept(self, lease: Lease, *, every: timedelta | None = None) -> Iterator[LeaseKeeper]:
        """Renew ``lease`` from a background thread (every third of its length) while the
        body runs, so that a long step does not let it lapse."""
        keeper = LeaseKeeper(self, lease, every=every or self.length / 3)
        keeper.start()
        try:
            yield keeper
        finally:
            keeper.stop()

    # -- operating ----------------------------------------------------------------------

    def release(self, trigger_id: str, *, reason: str, force: bool = False) -> RetrainTrigger:
        """Hand a processing trigger back (``pending``) so that the next run takes it.

        Returns:
            The trigger, pending, still naming the holder it was taken from.

        Raises:
            UsageError: no reason.
            NotFound: no such trigger.
            Conflict: it is not being processed, or its lease is live and not ``force``.
        """
        if not reason.strip():
            raise UsageError("say why: --reason '...' (it is recorded in the audit trail)")
        subject = f"trigger:{trigger_id}"
        with self._ctx.store.change("retrain.release", subject, reason=reason) as change:
            row = _row(change, trigger_id)
            now = utcnow()
            held = row.to_entity()
            state = held.lease_state(now)
            if row.status != "processing":
                raise Conflict(
                    f"retrain trigger {trigger_id} is {row.status}, not processing: there is "
                    "no claim to release",
                    details={"trigger_id": trigger_id, "status": row.status},
                )
            if state == "live" and not force:
                raise Conflict(
                    f"retrain trigger {trigger_id} is held by {held.describe_holder()} until "
                    f"{_iso(held.expires_at)}{_alive_hint(held)}; wait for the lease to "
                    "expire, or pass --force if you know that process is gone",
                    details={"trigger_id": trigger_id, **held.lease_summary(now)},
                )
            change.details.update(
                {
                    "endpoint": row.endpoint,
                    "previous_holder": held.holder,
                    "previous_host": held.host,
                    "previous_pid": held.pid,
                    "previous_lease_until": _iso(held.expires_at),
                    "previous_holder_alive": held.holder_alive,
                    "lease_state": state,
                    "forced": force,
                }
            )
            row.status = "pending"
            row.lease_id = None
            row.lease_until = None
            return row.to_entity()

    # -- reading ------------------------------------------------------------------------

    def get(self, trigger_id: str) -> RetrainTrigger:
        """One trigger with its claim (listing them is ``ws.monitors.triggers``).

        Raises:
            NotFound: no such trigger.
        """
        with self._ctx.store.read() as session:
            row = session.get(RetrainTriggerRow, trigger_id)
            if row is None:
                raise NotFound(f"no retrain trigger {trigger_id}; `stead retrain list` lists them")
            return row.to_entity()

    def takeable(self, endpoint: str) -> list[RetrainTrigger]:
        """Pending triggers and processing ones whose lease expired, oldest first."""
        now = utcnow()
        query = (
            select(RetrainTriggerRow)
            .where(
                RetrainTriggerRow.endpoint == endpoint,
                or_(
                    RetrainTriggerRow.status == "pending",
                    (RetrainTriggerRow.status == "processing")
                    & or_(
                        RetrainTriggerRow.lease_until.is_(None),
                        RetrainTriggerRow.lease_until <= now,
                    ),
                ),
            )
            .order_by(RetrainTriggerRow.created_at, RetrainTriggerRow.id)
        )
        with self._ctx.store.read() as session:
            return [row.to_entity() for row in session.scalars(query)]

    # -- inside a change ----------------------------------------------------------------

    def _held(self, change: Change, lease: Lease) -> RetrainTriggerRow:
        row = _row(change, lease.trigger_id)
        if row.status != "processing" or row.lease_id != lease.lease_id:
            holder = row.to_entity()
            raise LeaseLost(
                f"this process no longer holds retrain trigger {lease.trigger_id}: it is "
                f"{row.status}"
                + (f", claimed by {holder.describe_holder()}" if row.lease_id else "")
                + "; stopping without touching it",
                details={"trigger_id": lease.trigger_id, "status": row.status},
            )
        return row

    def _extend(self, change: Change, lease: Lease) -> datetime:
        row = self._held(change, lease)
        row.lease_until = utcnow() + self.length
        return row.lease_until


class LeaseKeeper:
    """A daemon thread renewing one lease every ``every`` until stopped. A lost lease
    ends it (``lost`` holds the error); the holder's next step raises it too."""

    def __init__(self, leases: TriggerLeases, lease: Lease, *, every: timedelta) -> None:
        self._leases = leases
        self._lease = lease
        self._every = max(every.total_seconds(), 0.01)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"lease-{lease.trigger_id}", daemon=True
        )
        self.renewals = 0
        self.lost: LeaseLost | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._leases.renew(self._lease)
                self.renewals += 1
            except LeaseLost as lost:
                self.lost = lost
                return
            except Exception:  # a busy store now is no reason to stop renewing later
                continue


def _row(change: Change, trigger_id: str) -> RetrainTriggerRow:
    row = change.session.get(RetrainTriggerRow, trigger_id)
    if row is None:
        raise NotFound(f"no retrain trigger {trigger_id}; `stead retrain list` lists them")
    return row


def _alive_hint(trigger: RetrainTrigger) -> str:
    alive = trigger.holder_alive
    if alive is False:
        return " (that process is gone)"
    if alive is True:
        return " (that process is still running)"
    return ""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_utc(value).isoformat()
