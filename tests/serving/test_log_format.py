"""The Parquet layout: typed columns per input and output, whatever the batch size."""

from __future__ import annotations

import pyarrow as pa

from stead.serving.log_format import CHUNK_ROWS, encode

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


def test_a_large_batch_has_the_layout_of_a_small_one() -> None:
    records = [make_record(i) for i in range(2 * CHUNK_ROWS + 5)]
    large, small = encode(records), encode(records[:2])
    assert large.num_rows == len(records)
    assert large.schema == small.schema
    assert large["request_id"].to_pylist() == [r.request_id for r in records]


def test_kinds_that_differ_between_chunks_become_text_for_the_whole_batch() -> None:
    records = [make_record(i, inputs={"zip": 75001}) for i in range(CHUNK_ROWS)]
    records.append(make_record(CHUNK_ROWS, inputs={"zip": "SW1A 1AA"}))
    table = encode(records)
    assert table.schema.field("inputs.zip").type == pa.string()
    assert table["inputs.zip"].to_pylist()[-2:] == ["75001", "SW1A 1AA"]


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
