"""Database plumbing shared by every stage's tables: the declarative base, column types
and engines tuned for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from stead.core.clock import to_utc
from stead.core.errors import SettingsError


class Base(DeclarativeBase):
    """Every stage's tables derive from this one base, so one migration chain covers all."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else to_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else to_utc(value)


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (psycopg2 is not a dependency)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engines(url: str, *, lock_timeout: float) -> tuple[Engine, Engine]:
    """Two engines on one database: one for reads, one for writes.

    On SQLite every write transaction starts with ``BEGIN IMMEDIATE``, which takes the
    database's write lock up front; together with WAL mode this serialises writers
    (across processes too) while readers never wait. On PostgreSQL both are the same
    engine and writers serialise on an advisory lock (see ``MetadataStore.change``).
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise SettingsError(
            f"[store] url = {url!r} is not a database URL; expected sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return (
            _sqlite_engine(url, begin="BEGIN", lock_timeout=lock_timeout),
            _sqlite_engine(url, begin="BEGIN IMMEDIATE", lock_timeout=lock_timeout),
        )
    if parsed.get_backend_name() != "postgresql":
        raise SettingsError(
            f"[store] url = {url!r} uses {parsed.get_backend_name()!r}; "
            "stead supports sqlite:/// and postgresql+psycopg:// URLs"
        )
    engine = create_engine(url, pool_pre_ping=True, json_serializer=_dumps)
    return engine, engine


def _sqlite_engine(url: str, *, begin: str, lock_timeout: float) -> Engine:
    # NullPool: a connection per use, so forked workers and subprocesses never share one.
    engine = create_engine(
        url,
        poolclass=NullPool,
        json_serializer=_dumps,
        connect_args={"timeout": lock_timeout},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


# Key of the PostgreSQL advisory lock that serialises writers (any constant works,
# as long as every stead process uses the same one).
_WRITE_LOCK_KEY = 0x5733AD


def lock_writers(connection: Connection, *, timeout: float | None) -> None:
    """Take the store-wide write lock for the current transaction.

    SQLite write transactions already hold it (``BEGIN IMMEDIATE``); PostgreSQL takes a
    transaction-scoped advisory lock, waiting at most ``timeout`` seconds.
    """
    if connection.dialect.name != "postgresql":
        return
    if timeout is not None:
        connection.execute(text(f"SET LOCAL lock_timeout = {int(timeout * 1000)}"))
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY})


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
