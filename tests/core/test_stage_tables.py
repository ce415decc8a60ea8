"""``stage_table``: how every stage-owned table reads the file and the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.core.settings import at_least, settings_from_mapping, stage_table


@dataclass(frozen=True, kw_only=True)
class Inner:
    mode: str = "a"


@dataclass(frozen=True, kw_only=True)
class Table:
    size: int = 1
    names: list[str] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        at_least("size", self.size, 1)


def test_the_environment_overrides_the_file_key_by_key(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"training": {"size": 2, "names": ["x"]}})
    env = {"STEAD_TRAINING_SIZE": "5", "STEAD_TRAINING_INNER_MODE": "b"}
    table = stage_table(settings, "training", Table, env=env)
    assert table == Table(size=5, names=["x"], inner=Inner(mode="b"))


def test_an_absent_optional_table_is_none_unless_a_variable_targets_it(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {})
    assert stage_table(settings, "training", Table, env={}, optional=True) is None
    # Variables of other tables, or unrelated ones, do not configure it.
    env = {"STEAD_SERVING_PORT": "9000", "STEAD_TRAININGS": "1"}
    assert stage_table(settings, "training", Table, env=env, optional=True) is None
    # A variable alone configures the table, as it does any other table.
    table = stage_table(
        settings, "training", Table, env={"STEAD_TRAINING_SIZE": "3"}, optional=True
    )
    assert table == Table(size=3)


def test_an_absent_table_that_is_not_optional_has_its_defaults(tmp_path: Path) -> None:
    assert stage_table(settings_from_mapping(tmp_path, {}), "registry", Table, env={}) == Table()


def test_a_wrong_type_in_a_variable_names_the_variable_value_and_what_is_allowed(
    tmp_path: Path,
) -> None:
    settings = settings_from_mapping(tmp_path, {"training": {"size": 2}})
    with pytest.raises(SettingsError) as caught:
        stage_table(settings, "training", Table, env={"STEAD_TRAINING_SIZE": "many"})
    assert caught.value.message == (
        "STEAD_TRAINING_SIZE = 'many' is not allowed; expected a whole number"
    )


def test_a_range_error_from_a_variable_names_the_variable(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"training": {"size": 2}})
    with pytest.raises(SettingsError) as caught:
        stage_table(settings, "training", Table, env={"STEAD_TRAINING_SIZE": "0"})
    message = caught.value.message
    assert "with STEAD_TRAINING_SIZE from the environment" in message
    assert "size = 0 is not allowed; expected at least 1" in message


def test_a_table_that_is_not_a_table_names_the_file_and_the_table(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {"training": "fast"})
    with pytest.raises(SettingsError) as caught:
        stage_table(settings, "training", Table, env={})
    assert caught.value.message == (
        f"{tmp_path / 'stead.toml'} [training] must be a table, got 'fast'"
    )


def test_core_tables_report_a_wrong_variable_by_its_name(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_from_mapping(tmp_path, {}, env={"STEAD_DATA_MAX_LEVELS": "lots"})
    assert "STEAD_DATA_MAX_LEVELS = 'lots' is not allowed; expected a whole number" in str(
        caught.value
    )


def test_every_table_core_passes_through_has_one_check_and_nothing_else_does() -> None:
    from stead.core.settings import _PASS_THROUGH
    from stead.settings_tables import STAGE_TABLES

    names = [table.name for table in STAGE_TABLES]
    assert len(names) == len(set(names))
    assert set(names) == set(_PASS_THROUGH)


@pytest.mark.parametrize(
    ("table", "line", "named"),
    [
        ("serving", 'max_batch = "lots"', "[serving] max_batch = 'lots' is not allowed"),
        ("registry", "bogus_key = 1", "[registry]: unknown key 'bogus_key'"),
        ("checklist", 'baseline_margin = "x"', "[checklist] baseline_margin = 'x' is not allowed"),
        ("retention", "bogus = 1", "[retention]: unknown key 'bogus'"),
        ("audit", "checkpoint_every = 0", "checkpoint_every = 0 is not allowed"),
        ("alerts", 'sinks = "nowhere"', "[alerts]"),
    ],
)
def test_a_wrong_key_in_any_stage_table_fails_when_the_workspace_opens(
    ws_dir: Path, table: str, line: str, named: str
) -> None:
    from stead.workspace import Workspace

    # The one table alone: every other table has its defaults.
    (ws_dir / "stead.toml").write_text(f"[{table}]\n{line}\n")
    with pytest.raises(SettingsError) as caught:
        Workspace.open(ws_dir)
    assert named in caught.value.message
