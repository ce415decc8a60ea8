"""Contracts at the edge: every problem of a request, with its field and record index."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stead.core.errors import ContractViolation, UsageError
from stead.core.settings import ValidationSettings
from stead.data.contract import ColumnContract, Contract, validate
from stead.serving.predict.contract import EdgeContract

CONTRACT = Contract(
    columns=[
        ColumnContract("income", "float", nullable=False, min=0.0, max=100.0),
        ColumnContract("age", "int", nullable=True, min=18.0, max=80.0),
        ColumnContract("region", "string", nullable=False, levels=["east", "north", "south"]),
        ColumnContract("member", "bool", nullable=True),
    ]
)
GOOD = {"income": 41.5, "age": 33, "region": "south", "member": True}


def edge(**kwargs: Any) -> EdgeContract:
    policy = kwargs.pop("policy", ValidationSettings())
    return EdgeContract(CONTRACT, policy=policy, extra=("customer_id",), model="credit@1", **kwargs)


def violations(records: list[Any]) -> list[tuple[str, str, list[int]]]:
    with pytest.raises(ContractViolation) as refused:
        edge().check_records(records)
    assert refused.value.code == "contract_violation" and refused.value.http_status == 422
    return [(v["column"], v["kind"], v["rows"]) for v in refused.value.details["violations"]]


def test_valid_records_become_typed_columns() -> None:
    batch = edge().check_records([GOOD, {**GOOD, "age": None, "customer_id": 7}])
    assert batch.rows == 2 and not batch.warnings
    assert batch.arrays["income"].dtype == np.float64
    assert np.isnan(batch.arrays["age"][1]) and batch.arrays["age"][0] == 33.0
    assert list(batch.arrays["region"]) == ["south", "south"]
    assert batch.records()[1]["customer_id"] == 7
    frame = batch.frame(["income", "region"])
    assert list(frame.columns) == ["income", "region"] and len(frame) == 2


def test_every_problem_is_reported_with_field_and_record() -> None:
    found = violations(
        [
            GOOD,
            {**GOOD, "income": "41.5", "age": 30.5},
            {**GOOD, "income": None, "region": "west"},
            {**GOOD, "age": 120, "member": "yes"},
            {**GOOD, "age": True},
        ]
    )
    assert found == [
        ("income", "wrong_type", [1]),
        ("age", "wrong_type", [4]),
        ("income", "null_values", [2]),
        ("age", "wrong_type", [1]),
        ("age", "out_of_range", [3]),
        ("region", "unseen_category", [2]),
        ("member", "wrong_type", [3]),
    ]


def test_missing_and_unknown_fields_name_the_records() -> None:
    found = violations([GOOD, {k: v for k, v in GOOD.items() if k != "age"}, {**GOOD, "zip": 1}])
    assert found == [("age", "missing_column", [1]), ("zip", "unexpected_column", [2])]
    with pytest.raises(UsageError, match="record 0 is not a JSON object"):
        edge().check_records([[1, 2, 3]])


def test_the_message_says_what_and_where() -> None:
    with pytest.raises(ContractViolation) as refused:
        edge(out_of_range="error").check_records([{**GOOD, "income": 250.0}])
    assert (
        "field 'income' is above the training range [0, 100] in record 0: 250"
        in refused.value.message
    )
    assert refused.value.details["model_version"] == "credit@1"


def test_infinity_and_nan_are_refused_where_nulls_are() -> None:
    found = violations([{**GOOD, "income": float("inf")}, {**GOOD, "income": float("nan")}])
    assert found == [("income", "null_values", [1]), ("income", "wrong_type", [0])]


def test_infinity_is_malformed_even_when_out_of_range_is_served() -> None:
    with pytest.raises(ContractViolation, match="'income' expects finite numbers in record 0"):
        edge(out_of_range="warn").check_records([{**GOOD, "income": float("-inf")}])


def test_out_of_range_is_served_by_default_and_flagged_per_record_and_side() -> None:
    batch = edge().check_records(
        [GOOD, {**GOOD, "age": 99}, {**GOOD, "income": -5.0, "age": 17}, GOOD]
    )
    assert batch.rows == 4 and batch.arrays["age"][1] == 99.0
    assert batch.out_of_range == {1: ["age"], 2: ["income", "age"]}
    assert [(w.column, w.severity, w.rows, w.message) for w in batch.warnings] == [
        (
            "income",
            "warning",
            [2],
            "field 'income' is below the training range [0, 100] in record 2: -5",
        ),
        ("age", "warning", [2], "field 'age' is below the training range [18, 80] in record 2: 17"),
        ("age", "warning", [1], "field 'age' is above the training range [18, 80] in record 1: 99"),
    ]


def test_out_of_range_error_refuses() -> None:
    with pytest.raises(ContractViolation) as refused:
        edge(out_of_range="error").check_records([GOOD, {**GOOD, "age": 99}])
    [violation] = refused.value.details["violations"]
    assert (violation["kind"], violation["rows"], violation["severity"]) == (
        "out_of_range",
        [1],
        "error",
    )


def test_warn_policies_answer_and_report() -> None:
    lenient = edge(policy=ValidationSettings(unseen_categories="warn")).check_records(
        [{**GOOD, "age": 99, "region": "west"}]
    )
    assert [(w.column, w.kind, w.severity) for w in lenient.warnings] == [
        ("age", "out_of_range", "warning"),
        ("region", "unseen_category", "warning"),
    ]
    widened = edge(
        out_of_range="error", policy=ValidationSettings(range_tolerance=0.5)
    ).check_records([{**GOOD, "age": 99}])
    assert widened.arrays["age"][0] == 99.0 and not widened.out_of_range
    tolerant = edge(policy=ValidationSettings(range_tolerance=0.1)).check_records(
        [{**GOOD, "age": 99}]
    )
    assert "[18, 80] (accepted: [11.8, 86.2])" in tolerant.warnings[0].message


def test_the_columnar_form_is_checked_the_same_way() -> None:
    columns = {k: [v, v] for k, v in GOOD.items()}
    assert edge().check_columns(columns).rows == 2
    with pytest.raises(ContractViolation) as refused:
        edge().check_columns({**columns, "age": [33, "x"]}, positions=[4, 9])
    [violation] = refused.value.details["violations"]
    assert (violation["column"], violation["rows"]) == ("age", [9])
    with pytest.raises(UsageError, match="same length"):
        edge().check_columns({**columns, "age": [33]})
    with pytest.raises(ContractViolation, match="field 'member' is missing"):
        edge().check_columns({k: v for k, v in columns.items() if k != "member"})


def test_the_edge_agrees_with_the_data_contract_on_a_frame() -> None:
    records = [GOOD, {**GOOD, "income": 150.0}, {**GOOD, "region": "west"}]
    with pytest.raises(ContractViolation) as refused:
        edge().check_records(records)
    at_edge = {(v["column"], v["kind"]) for v in refused.value.details["violations"]}
    # One out-of-range row in three is an error for the data contract too (over 1 %).
    report = validate(pd.DataFrame(records), CONTRACT)
    assert {(v.column, v.kind) for v in report.errors} == at_edge


def test_a_number_beyond_float64_is_a_wrong_type_not_a_crash() -> None:
    huge = 10**400
    assert violations([GOOD, {**GOOD, "income": huge}]) == [("income", "wrong_type", [1])]
    with pytest.raises(ContractViolation) as refused:
        edge().check_columns({k: [v, huge if k == "age" else v] for k, v in GOOD.items()})
    message = refused.value.message
    assert "field 'age' expects whole numbers (int) in record 1" in message
    assert str(huge) not in message and "(401 characters)" in message
