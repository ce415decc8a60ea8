"""Idempotent predictions: a repeated ``Idempotency-Key`` (or client request id) gets the
stored response back, and the prediction is logged once.

Responses are kept in the metadata store (``stored_responses``), which every worker
process and every replica shares, for ``[serving] idempotency_ttl`` seconds. The first
request to *store* its response under a key wins: a concurrent duplicate that computed
its own answer meanwhile returns the winner's instead and logs nothing. A key reused with
a different request body is refused (409), since replaying an answer to another
question would be wrong.

These rows are not audited changes of state: the prediction log is the record of
predictions; this is a shared, bounded cache of responses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError
from sqlalchemy.orm import Session

from stead.core.clock import utcnow
from stead.core.errors import Conflict
from stead.core.store import MetadataStore
from stead.serving.deploy.tables import StoredResponseRow

PRUNE_EVERY = 1_000


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    request_id: str


def request_hash(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class ResponseStore:
    """Stored responses by (endpoint, client key).

    Args:
        store: the metadata store.
        ttl: seconds a response is replayed.
    """

    def __init__(self, store: MetadataStore, *, ttl: float) -> None:
        self._store = store
        self._ttl = timedelta(seconds=ttl)
        self._puts = 0

    @staticmethod
    def _key(endpoint: str, client_key: str) -> str:
        return hashlib.sha256(f"{endpoint}\x1f{client_key}".encode()).hexdigest()

    def get(self, endpoint: str, client_key: str, digest: str) -> StoredResponse | None:
        """The response stored under the key, if any and not expired.

        Raises:
            Conflict: the key was used for a different request.
        """
        with self._store.read() as session:
            row = session.get(StoredResponseRow, self._key(endpoint, client_key))
            if row is None or row.expires_at <= utcnow():
                return None
            return _checked(row, client_key, digest)

    def put(
        self, endpoint: str, client_key: str, digest: str, response: StoredResponse
    ) -> tuple[StoredResponse, bool]:
        """Store ``response`` unless another was stored first.

        Returns:
            The response to send, and whether it is ours (``False``: a concurrent
            duplicate stored first; send theirs, log nothing).

        Raises:
            Conflict: the key was used for a different request.
        """
        key = self._key(endpoint, client_key)
        now = utcnow()
        self._puts += 1
        with Session(self._store.engine) as session:
            try:
                with session.begin():
                    existing = session.get(StoredResponseRow, key)
                    if existing is not None and existing.expires_at > now:
                        return _checked(existing, client_key, digest), False
                    if existing is not None:
                        session.delete(existing)
                        session.flush()
                    session.add(
                        StoredResponseRow(
                            key=key,
                            endpoint=endpoint,
                            client_key=client_key,
                            request_hash=digest,
                            request_id=response.request_id,
                            status=response.status,
                            body=response.body,
                            created_at=now,
                            expires_at=now + self._ttl,
                        )
                    )
                    if self._puts % PRUNE_EVERY == 0:
                        session.execute(
                            delete(StoredResponseRow).where(StoredResponseRow.expires_at <= now)
                        )
            except DatabaseIntegrityError:
                # Another process inserted the same key between our read and write.
                with self._store.read() as reader:
                    row = reader.scalars(
                        select(StoredResponseRow).where(StoredResponseRow.key == key)
                    ).one()
                    return _checked(row, client_key, digest), False
        return response, True


def _checked(row: StoredResponseRow, client_key: str, digest: str) -> StoredResponse:
    if row.request_hash != digest:
        raise Conflict(
            f"idempotency key {client_key!r} was already used for a different request "
            f"(request id {row.request_id}); use a new key for a new request",
            details={"idempotency_key": client_key, "request_id": row.request_id},
        )
    return StoredResponse(status=row.status, body=row.body, request_id=row.request_id)
