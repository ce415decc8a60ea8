"""The Parquet layout: typed columns per input and output, however the records were chunked."""

from __future__ import annotations

import pyarrow as pa

from stead.predictions.layout import METADATA, combine, encode

from .records import make_record


def test_inputs_and_outputs_become_typed_columns() -> None:
    table = encode([make_record(0), make_record(1)])
    types = {name: str(table.schema.field(name).type) for name in table.column_names}
    assert types["timestamp"] == "timestamp[us, tz=UTC]"
    assert types["inputs.age"] == "int64"
    assert types["inputs.income"] == "double"
    assert types["inputs.city"] == "string"
    assert types["outputs.prediction"] == "string"
    assert types["outputs.probabilities.yes"] == "double"
    assert "endpoint" not in types  # in the path, not repeated in every row


def test_chunks_joined_have_the_layout_of_one_encoding() -> None:
    records = [make_record(i) for i in range(25)]
    joined = combine([encode(records[:10]), encode(records[10:20]), encode(records[20:])])
    whole = encode(records)
    assert joined.equals(whole)
    assert joined.schema.metadata == METADATA


def test_kinds_that_differ_between_chunks_become_text_for_the_whole_batch() -> None:
    numbers = encode([make_record(i, inputs={"zip": 75001, "age": 30}) for i in range(3)])
    text = encode([make_record(3, inputs={"zip": "SW1A 1AA", "income": 2.5})])
    table = combine([numbers, text])
    assert table.schema.field("inputs.zip").type == pa.string()
    assert table["inputs.zip"].to_pylist()[-2:] == ["75001", "SW1A 1AA"]
    # Columns only one chunk has are nulls in the others; the format tag is kept.
    assert table["inputs.age"].to_pylist() == [30, 30, 30, None]
    assert table["inputs.income"].to_pylist() == [None, None, None, 2.5]
    assert table.schema.metadata == METADATA


def test_rows_without_a_field_hold_nulls_there() -> None:
    table = encode(
        [
            make_record(0, inputs={"age": 1}),
            make_record(1, inputs={"income": 2.5}, outputs={"value": 3.0}),
        ]
    )
    assert table["inputs.age"].to_pylist() == [1, None]
    assert table["inputs.income"].to_pylist() == [None, 2.5]
    assert table["outputs.value"].to_pylist() == [None, 3.0]
