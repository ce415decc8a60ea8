"""Database plumbing shared by every stage's tables: the declarative base, column types,
the row-to-entity copy and engines tuned for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    text,
)
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


E = TypeVar("E")


def entity_from_row(cls: type[E], row: Base, /, **overrides: object) -> E:
    """Build the frozen dataclass ``cls`` from a storage row, field by field.

    Each field of ``cls`` takes the row's mapped attribute of the same name, unless
    ``overrides`` gives it: the place for conversions (JSON to a value object, a
    renamed column, a derived value). A ``dict`` or ``list`` read from a JSON column is
    copied (shallow), so the entity never shares a container with the session's row.
    Times need no conversion: ``UTCDateTime`` columns already return aware UTC values.

    Raises:
        TypeError: a field has neither a column of that name nor an override, or an
            override names no field of ``cls`` (both are mistakes in the caller).
    """
    fields = _init_fields(cls)
    unknown = sorted(overrides.keys() - set(fields))
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)} (overridden)")
    columns = _mapped_attributes(type(row))
    values: dict[str, object] = {}
    for name in fields:
        if name in overrides:
            values[name] = overrides[name]
        elif name in columns:
            values[name] = _copied(getattr(row, name))
        else:
            raise TypeError(
                f"{cls.__name__}.{name} has no column {type(row).__name__}.{name}; "
                "pass it as an override"
            )
    return cls(**values)


_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _init_fields(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} is not a dataclass")
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return names


@cache
def _mapped_attributes(row_type: type[Base]) -> frozenset[str]:
    # Mapped attributes only: ``metadata`` or ``registry`` on the class are not columns.
    return frozenset(inspect(row_type).attrs.keys())


def _copied(value: object) -> object:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


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
