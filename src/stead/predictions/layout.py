"""The prediction log's Parquet layout: one row per prediction, inputs as columns.

Layout on disk::

    <log dir>/endpoint=<name>/date=YYYY-MM-DD/part-<id>.parquet

Each file holds one batch of one endpoint and one UTC day. Columns:

- the record's scalar fields: ``request_id``, ``timestamp`` (microseconds, UTC),
  ``revision``, ``model_version``, ``role``, ``feature_set_version``, ``snapshot``,
  ``latency_ms``, ``error``, ``entity_key``. ``endpoint`` and the date are in the path
  (Hive partitioning), not repeated in the file.
- one column per input field, ``inputs.<name>`` (the name verbatim), typed from its
  values: bool, int64, float64 (ints and floats mixed), string; anything else (nested
  values, mixed kinds) is stored as JSON text.
- one column per output, ``outputs.<key>``; a dict-valued output is spread one level
  further, ``outputs.probabilities.<class>``, so the score of a class is a float column.
- explanations likewise, ``explanation.<feature>`` (or ``explanation.<key>.<feature>``).
- a request the server refused at the edge (role ``rejected``) gets no ``inputs.``
  columns: what it carried is one JSON text, ``refused_inputs``, cut to
  ``REFUSED_INPUT_CHARS`` characters (PII fields hashed or dropped first). Whatever it
  carried (50,000 extra keys, a text where a number belongs) cannot widen the day's
  files or change the type of an input column the accepted traffic is read from.
- an answered record served with inputs outside the training range names those fields
  in ``out_of_range`` (a list of text; null when all were in range). The column is
  written only in files that hold such a record, so files from before it existed and
  files without one read alike: a missing column is null, "nothing flagged".

Why flattened columns rather than one JSON text column for inputs and outputs: the log
is written once and read by monitors over and over. Drift of one feature over a window
then reads one compressed column of numbers (Parquet is columnar) instead of parsing
every row's whole JSON document; a schema check reads the types from the file footers
without touching the data; a latency p50/p99 reads ``latency_ms`` alone. Different
model versions may log different inputs: absent columns read back as nulls, and the
reader unifies column types across files (int64 and float64 become float64; anything
irreconcilable becomes text).

A null input and an absent input both read back as null: the log does not distinguish
them, and :func:`decode` omits them from the rebuilt dictionaries.

Compacted files (``part-c-<id>.parquet``, see :mod:`stead.predictions.compaction`) hold
the rows of many part files of one day and name those files in their footer
(``stead.prediction_log.replaces``). Every reader lists a day with
:func:`live_part_files`, which leaves out the files a compacted file replaces, so a row
is never read twice while the replaced files wait to be deleted.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from stead.data.sanitize import NO_PII, Sanitizer
from stead.predictions.record import PredictionRecord

FORMAT_VERSION = "1"
INPUTS = "inputs."
OUTPUTS = "outputs."
EXPLANATION = "explanation."
PREFIXES = (INPUTS, OUTPUTS, EXPLANATION)
PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
COMPACTED_PREFIX = PART_PREFIX + "c-"
REPLACES_KEY = b"stead.prediction_log.replaces"

TIMESTAMP = pa.timestamp("us", tz="UTC")
BASE_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("timestamp", TIMESTAMP),
        ("revision", pa.int64()),
        ("model_version", pa.string()),
        ("role", pa.string()),
        ("feature_set_version", pa.string()),
        ("snapshot", pa.string()),
        ("latency_ms", pa.float64()),
        ("error", pa.string()),
        ("entity_key", pa.string()),
    ]
)
METADATA = {b"stead.prediction_log.format": FORMAT_VERSION.encode()}
REFUSED_INPUTS = "refused_inputs"
OUT_OF_RANGE = "out_of_range"
REFUSED_INPUT_CHARS = 4_096
# The inputs of a refused record that are already its bounded text (the journal's form).
REFUSED_KEY = "\x00refused"

_BOOL = frozenset({bool, np.bool_})
_INT = frozenset({int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32})
_NUMBER = _INT | {float, np.float16, np.float32, np.float64}


def partition_dir(directory: Path, endpoint: str, day: date) -> Path:
    """Where the files of one endpoint and one UTC day live."""
    return directory / f"endpoint={endpoint}" / f"date={day.isoformat()}"


def logged_endpoints(directory: Path) -> list[str]:
    """The endpoints that have an ``endpoint=`` directory in the log, sorted."""
    try:
        with os.scandir(directory) as entries:
            return sorted(
                e.name[len("endpoint=") :]
                for e in entries
                if e.is_dir() and e.name.startswith("endpoint=")
            )
    except FileNotFoundError:
        return []


def logged_days(directory: Path, endpoint: str) -> list[tuple[date, Path]]:
    """Each ``date=`` directory of ``endpoint`` with its day, oldest first."""
    try:
        with os.scandir(directory / f"endpoint={endpoint}") as entries:
            found = [
                (day, Path(e.path))
                for e in entries
                if e.is_dir() and (day := _day_of(e.name)) is not None
            ]
    except FileNotFoundError:
        return []
    return sorted(found)


def _day_of(name: str) -> date | None:
    if not name.startswith("date="):
        return None
    try:
        return date.fromisoformat(name[len("date=") :])
    except ValueError:
        return None


def encode(records: Sequence[PredictionRecord], sanitizer: Sanitizer = NO_PII) -> pa.Table:
    """Records (of one partition) as one Arrow table in the layout above, PII sanitized.

    Arrow holds the GIL for the whole conversion: the writer calls this on chunks of a
    few hundred records and joins them with :func:`combine`.
    """
    errors = [r.error for r in records]
    entity_keys = [r.entity_key for r in records]
    if sanitizer.active:
        errors = [
            e if e is None else _redact(r, e, sanitizer)
            for r, e in zip(records, errors, strict=True)
        ]
        entity_keys = [sanitizer.entity_key(k) for k in entity_keys]
    names = list(BASE_SCHEMA.names)
    arrays: list[pa.Array] = [
        pa.array([r.request_id for r in records], pa.string()),
        pa.array([r.timestamp for r in records], TIMESTAMP),
        pa.array([r.revision for r in records], pa.int64()),
        pa.array([r.model_version for r in records], pa.string()),
        pa.array([r.role for r in records], pa.string()),
        pa.array([r.feature_set_version for r in records], pa.string()),
        pa.array([r.snapshot for r in records], pa.string()),
        pa.array([r.latency_ms for r in records], pa.float64()),
        pa.array(errors, pa.string()),
        pa.array(entity_keys, pa.string()),
    ]
    refused = [r.role == "rejected" for r in records]
    if any(refused):
        names.append(REFUSED_INPUTS)
        arrays.append(
            pa.array(
                [
                    refused_text(r.inputs, sanitizer) if no else None
                    for r, no in zip(records, refused, strict=True)
                ],
                pa.string(),
            )
        )
    if any(r.out_of_range for r in records):
        names.append(OUT_OF_RANGE)
        arrays.append(
            pa.array([list(r.out_of_range) or None for r in records], pa.list_(pa.string()))
        )
    groups = (
        (INPUTS, [None if no else r.inputs for r, no in zip(records, refused, strict=True)], False),
        (OUTPUTS, [r.outputs for r in records], True),
        (EXPLANATION, [r.explanation for r in records], True),
    )
    for prefix, dicts, nested in groups:
        for name, array in columns_of(dicts, nested=nested):
            if prefix == INPUTS and sanitizer.is_pii(name):
                hashed = sanitizer.column(array.to_pylist())
                if hashed is None:
                    continue
                array = pa.array(hashed, pa.string())
            names.append(prefix + name)
            arrays.append(array)
    return pa.Table.from_arrays(arrays, names=names).replace_schema_metadata(METADATA)


def refused_text(inputs: Any, sanitizer: Sanitizer = NO_PII) -> str:
    """What a refused request carried, as JSON text of at most ``REFUSED_INPUT_CHARS``.

    PII fields are hashed or dropped; a text cut short ends with ``…`` and says how many
    characters it had, so nobody mistakes it for the whole request.
    """
    if isinstance(inputs, dict) and len(inputs) == 1 and REFUSED_KEY in inputs:
        return str(inputs[REFUSED_KEY])[: REFUSED_INPUT_CHARS + 40]
    if isinstance(inputs, dict) and sanitizer.active:
        kept = {}
        for name, value in inputs.items():
            if not sanitizer.is_pii(str(name)):
                kept[name] = value
            elif sanitizer.mode == "hash" and value is not None:
                try:
                    kept[name] = sanitizer.hash_value(value)
                except UnicodeError:  # text UTF-8 cannot hold: hash its escaped form
                    kept[name] = sanitizer.hash_value(json.dumps(value))
        inputs = kept
    # ASCII JSON: any text fits, a lone surrogate too.
    text = json.dumps(inputs, default=str)
    if len(text) <= REFUSED_INPUT_CHARS:
        return text
    return f"{text[: REFUSED_INPUT_CHARS - 40]}… ({len(text)} characters in all)"


def combine(tables: Sequence[pa.Table]) -> pa.Table:
    """Encoded chunks of one partition as one table.

    A column whose kinds differ between chunks (number here, text there) is unified the
    way the reader unifies files: numbers widen, anything else becomes text.
    """
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        schema = unify_schemas([t.schema for t in tables])
    return pa.concat_tables([conform(t, schema) for t in tables]).replace_schema_metadata(METADATA)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, in its order: cast, or null where it had none."""
    return pa.Table.from_arrays(
        [
            table.column(f.name).cast(f.type)
            if f.name in table.column_names
            else pa.nulls(table.num_rows, f.type)
            for f in schema
        ],
        schema=schema,
    )


def unify_schemas(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """One schema for tables of different versions: widen numbers, text when nothing fits."""
    try:
        unified = pa.unify_schemas([BASE_SCHEMA, *schemas], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        types: dict[str, list[pa.DataType]] = {f.name: [f.type] for f in BASE_SCHEMA}
        for schema in schemas:
            for f in schema:
                types.setdefault(f.name, []).append(f.type)
        unified = pa.schema([pa.field(name, _unify_type(name, ts)) for name, ts in types.items()])
    return unified.remove_metadata()


def _unify_type(name: str, types: list[pa.DataType]) -> pa.DataType:
    try:
        merged = pa.unify_schemas(
            [pa.schema([(name, t)]) for t in types], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.string()
    return merged.field(0).type


def _redact(record: PredictionRecord, error: str, sanitizer: Sanitizer) -> str:
    raw = [v for k, v in record.inputs.items() if sanitizer.is_pii(str(k))]
    if sanitizer.entity_key_is_pii:
        raw.append(record.entity_key)
    return sanitizer.redact(error, raw)


def columns_of(
    dicts: Sequence[dict[str, Any] | None], *, nested: bool
) -> list[tuple[str, pa.Array]]:
    """Row dicts as typed columns; a key missing from a row is null there.

    ``nested`` spreads dict values one level (``probabilities.yes``); deeper values,
    lists and values of mixed kinds are stored as JSON text.
    """
    if not any(dicts):
        return []
    try:
        # Arrow transposes and types the whole batch in C; it refuses mixed kinds,
        # non-text keys and huge ints, which the Python path below handles.
        struct = pa.array(dicts)
    except (pa.ArrowException, OverflowError):
        struct = None
    if struct is not None and pa.types.is_struct(struct.type):
        return _spread(struct, nested=nested)
    columns = _gather(dicts, len(dicts), nested=nested)
    return [(name, _array(values)) for name, values in columns.items()]


def _spread(struct: pa.StructArray, *, nested: bool) -> list[tuple[str, pa.Array]]:
    columns: list[tuple[str, pa.Array]] = []
    # flatten() folds the null rows (a record without outputs) into every child.
    for field, child in zip(struct.type, struct.flatten(), strict=True):
        if pa.types.is_struct(child.type) and nested:
            columns.extend((f"{field.name}.{sub}", a) for sub, a in _spread(child, nested=False))
        else:
            columns.append((field.name, _normalize(child)))
    return columns


def _normalize(array: pa.Array) -> pa.Array:
    # The kinds the Python path produces, so files agree whichever path wrote them.
    kind = array.type
    try:
        if pa.types.is_integer(kind):
            return array if kind == pa.int64() else array.cast(pa.int64())
        if pa.types.is_floating(kind):
            return array if kind == pa.float64() else array.cast(pa.float64())
    except pa.ArrowException:
        pass  # e.g. a uint64 beyond int64
    if kind in (pa.bool_(), pa.string(), pa.null()):
        return array
    return pa.array([None if v is None else _json(v) for v in array.to_pylist()], pa.string())


def _gather(
    dicts: Sequence[dict[str, Any] | None], n: int, *, nested: bool
) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {}
    for i, row in enumerate(dicts):
        if not row:
            continue
        for key, value in row.items():
            if nested and type(value) is dict:
                for sub, sub_value in value.items():
                    _set(columns, f"{_name(key)}.{_name(sub)}", n, i, sub_value)
            else:
                _set(columns, _name(key), n, i, value)
    return columns


def _set(columns: dict[str, list[Any]], name: str, n: int, i: int, value: Any) -> None:
    column = columns.get(name)
    if column is None:
        column = columns[name] = [None] * n
    column[i] = value


def _name(key: Any) -> str:
    return key if type(key) is str else str(key)


def _array(values: list[Any]) -> pa.Array:
    kinds = set(map(type, values))
    kinds.discard(type(None))
    try:
        if not kinds:
            return pa.nulls(len(values))
        if kinds <= _BOOL:
            return pa.array(values, pa.bool_())
        if kinds <= _INT:
            return pa.array(values, pa.int64())
        if kinds <= _NUMBER:
            return pa.array(values, pa.float64())
        if kinds == {str}:
            return pa.array(values, pa.string())
    except (OverflowError, pa.ArrowException):
        pass  # e.g. an int beyond int64: keep it exactly, as text
    return pa.array([v if v is None or type(v) is str else _json(v) for v in values], pa.string())


def _json(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return json.dumps(value, default=str, ensure_ascii=False)


def decode(table: pa.Table, *, endpoint: str | None = None) -> list[PredictionRecord]:
    """Rebuild records from a table read from the log (with or without ``endpoint``).

    Nulls are omitted from ``inputs``, ``outputs`` and ``explanation``; dict-valued
    outputs come back with text keys (``{"probabilities": {"1": 0.8}}`` for class 1).
    """
    if endpoint is None and "endpoint" not in table.column_names:
        raise ValueError("decode needs the endpoint: the table has no 'endpoint' column")
    records = []
    for row in table.to_pylist():
        groups: dict[str, dict[str, Any]] = {INPUTS: {}, OUTPUTS: {}, EXPLANATION: {}}
        fields: dict[str, Any] = {}
        for name, value in row.items():
            prefix = _prefix_of(name)
            if prefix is None:
                fields[name] = value
            elif value is not None:
                key = name[len(prefix) :]
                if prefix == INPUTS or "." not in key:
                    groups[prefix][key] = value
                else:
                    outer, inner = key.split(".", 1)
                    groups[prefix].setdefault(outer, {})[inner] = value
        records.append(
            PredictionRecord(
                request_id=fields["request_id"],
                timestamp=fields["timestamp"],
                endpoint=str(fields.get("endpoint") or endpoint),
                revision=fields.get("revision"),
                model_version=fields["model_version"],
                role=fields["role"],
                feature_set_version=fields.get("feature_set_version"),
                snapshot=fields.get("snapshot"),
                inputs=groups[INPUTS],
                outputs=groups[OUTPUTS],
                latency_ms=fields["latency_ms"],
                error=fields.get("error"),
                entity_key=fields.get("entity_key"),
                explanation=groups[EXPLANATION] or None,
                out_of_range=tuple(fields.get(OUT_OF_RANGE) or ()),
            )
        )
    return records


def _prefix_of(name: str) -> str | None:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return prefix
    return None


def is_part_file(name: str) -> bool:
    """A finished data file (temporary files start with a dot and are never read)."""
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


def live_part_files(day_dir: str | os.PathLike[str]) -> list[str]:
    """The part files of one day's directory that a reader reads, in name order.

    Every finished part file, except those a compacted file in the same directory
    replaces. A compacted file that vanished since the listing was itself replaced (or
    its day removed) and is left out too.
    """
    try:
        with os.scandir(day_dir) as entries:
            names = sorted(e.name for e in entries if is_part_file(e.name))
    except FileNotFoundError:
        return []
    replaced: set[str] = set()
    for name in names:
        if name.startswith(COMPACTED_PREFIX):
            try:
                replaced.update(replaced_by(Path(day_dir) / name))
            except FileNotFoundError:
                replaced.add(name)
    return [name for name in names if name not in replaced]


def day_size(day_dir: Path) -> tuple[int, int]:
    """How many live part files one day's directory has, and the rows they hold."""
    rows = 0
    names = live_part_files(day_dir)
    for name in names:
        try:
            rows += pq.read_metadata(day_dir / name).num_rows
        except (OSError, ValueError):
            continue  # removed meanwhile, or damaged: nothing to count
    return len(names), rows


def replaced_by(path: Path) -> list[str]:
    """The names of the part files a compacted file replaces (from its footer)."""
    metadata = pq.read_schema(path).metadata or {}
    return [n for n in metadata.get(REPLACES_KEY, b"").decode().split("\n") if n]
