"""``entity_from_row``: how every stage's storage row becomes its frozen entity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stead.core.db import UTCDateTime, entity_from_row


class _Base(DeclarativeBase):
    """A base of its own, so this table stays out of stead's metadata and migrations."""


class ThingRow(_Base):
    __tablename__ = "things"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    tags: Mapped[list[str]] = mapped_column(JSON)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Thing:
    id: str
    size: int
    tags: list[str]
    extra: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Labelled:
    id: str
    label: str
    size: int = 0
    computed: str = field(init=False, default="")


def _row() -> ThingRow:
    return ThingRow(
        id="t1",
        size=3,
        tags=["a", "b"],
        extra={"k": 1},
        kind="big",
        created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    )


def test_fields_are_copied_from_columns_of_the_same_name() -> None:
    row = _row()
    assert entity_from_row(Thing, row) == Thing(
        id="t1",
        size=3,
        tags=["a", "b"],
        extra={"k": 1},
        created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
    )


def test_json_containers_are_copied_not_shared_with_the_row() -> None:
    row = _row()
    thing = entity_from_row(Thing, row)
    row.tags.append("c")
    row.extra["k"] = 2
    assert thing.tags == ["a", "b"]
    assert thing.extra == {"k": 1}


def test_overrides_win_over_columns_and_fill_fields_without_one() -> None:
    row = _row()
    assert entity_from_row(Thing, row, size=10) == Thing(
        id="t1", size=10, tags=["a", "b"], extra={"k": 1}, created_at=row.created_at
    )
    assert entity_from_row(Labelled, row, label=row.kind.upper()) == Labelled(
        id="t1", label="BIG", size=3
    )


def test_a_field_with_neither_column_nor_override_is_named_in_the_error() -> None:
    with pytest.raises(TypeError, match=r"Labelled\.label has no column ThingRow\.label"):
        entity_from_row(Labelled, _row())


def test_class_attributes_that_are_not_columns_do_not_count() -> None:
    @dataclass(frozen=True)
    class WithMetadata:
        id: str
        metadata: dict[str, Any]

    # ``ThingRow.metadata`` exists (the declarative base's), but it is not a column.
    with pytest.raises(TypeError, match=r"WithMetadata\.metadata has no column"):
        entity_from_row(WithMetadata, _row())


def test_an_override_that_names_no_field_is_an_error() -> None:
    with pytest.raises(TypeError, match="Thing has no field sizes"):
        entity_from_row(Thing, _row(), sizes=1)
