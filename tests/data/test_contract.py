from __future__ import annotations

import numpy as np
import pandas as pd

from stead.core.settings import ColumnRoles, ValidationSettings
from stead.data.contract import Contract, validate
from stead.data.schema import infer_schema

from .frames import small_frame


def contract_for(frame: pd.DataFrame) -> Contract:
    return Contract.from_schema(infer_schema(frame, roles=ColumnRoles(), max_levels=50))


def kinds(report: object) -> dict[str, tuple[str, int, list[int]]]:
    return {f"{v.column}:{v.kind}": (v.severity, v.count, v.rows) for v in report.violations}  # type: ignore[attr-defined]


def test_the_reference_data_satisfies_its_own_contract() -> None:
    frame = small_frame()
    report = validate(frame, contract_for(frame))
    assert report.ok and report.violations == []


def test_every_violation_is_reported_with_column_count_and_rows() -> None:
    frame = small_frame()
    contract = contract_for(frame)
    bad = frame.drop(columns=["email"]).assign(extra=1)
    bad["age"] = bad["age"].astype(float)
    bad.loc[[3, 7], "age"] = np.nan
    bad.loc[[5], "age"] = 200.0
    bad.loc[[9], "age"] = 30.5
    bad.loc[[1, 2], "region"] = "mars"
    bad["income"] = bad["income"].astype(str)
    bad.loc[4, "income"] = "lots"
    report = validate(bad, contract, policy=ValidationSettings(max_out_of_range_rate=0.0))
    found = kinds(report)
    assert found["email:missing_column"][0] == "error"
    assert found["extra:unexpected_column"][0] == "error"
    assert found["age:null_values"] == ("error", 2, [3, 7])
    assert found["age:out_of_range"] == ("error", 1, [5])
    assert found["age:wrong_type"] == ("error", 1, [9])
    assert found["region:unseen_category"] == ("error", 2, [1, 2])
    assert found["income:wrong_type"] == ("error", 1, [4])
    assert not report.ok
    assert (
        "column 'region' has 2 values not seen in the reference (rows 1, 2): 'mars'"
        in report.summary()
    )


def test_the_tolerance_policy_widens_ranges_and_tolerates_a_small_rate() -> None:
    frame = pd.DataFrame({"x": np.arange(0.0, 100.0)})
    contract = contract_for(frame)
    slightly_out = frame.assign(x=frame["x"] + 5)  # 5 values above 99
    assert not validate(slightly_out, contract).ok
    assert validate(slightly_out, contract, policy=ValidationSettings(range_tolerance=0.1)).ok
    lenient = validate(
        slightly_out, contract, policy=ValidationSettings(max_out_of_range_rate=0.05)
    )
    assert lenient.ok and [v.severity for v in lenient.violations] == ["warning"]


def test_unseen_categories_can_be_a_warning() -> None:
    frame = small_frame()
    report = validate(
        frame.assign(region="mars"),
        contract_for(frame),
        policy=ValidationSettings(unseen_categories="warn"),
    )
    assert report.ok and report.warnings[0].count == 200


def test_booleans_and_text_of_the_wrong_kind_are_wrong_types() -> None:
    frame = small_frame()
    report = validate(frame.assign(defaulted="yes", region=1), contract_for(frame))
    found = kinds(report)
    assert found["defaulted:wrong_type"][1] == 200
    assert found["region:wrong_type"][1] == 200


def test_contract_round_trips_through_json() -> None:
    contract = contract_for(small_frame())
    assert Contract.from_dict(contract.to_dict()) == contract
