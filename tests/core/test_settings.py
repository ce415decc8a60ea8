from __future__ import annotations

from pathlib import Path

import pytest

from stead.core.errors import SettingsError
from stead.core.settings import find_root, load_settings, settings_from_mapping


def test_defaults_put_the_store_and_artifacts_under_the_workspace(tmp_path: Path) -> None:
    settings = settings_from_mapping(tmp_path, {})
    assert settings.store_url == f"sqlite:///{tmp_path}/.stead/stead.db"
    assert settings.artifacts_url == f"{tmp_path}/.stead/artifacts"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        tmp_path,
        {"store": {"url": "sqlite:///a.db"}, "data": {"max_levels": 7}},
        env={"STEAD_STORE_URL": "postgresql://db/x", "STEAD_DATA_MAX_LEVELS": "12"},
    )
    assert settings.store.url == "postgresql://db/x"
    assert settings.data.max_levels == 12


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"data": {"max_levels": "many"}},
            "[data] max_levels = 'many' is not allowed; expected a whole number",
        ),
        ({"data": {"max_levels": 0}}, "max_levels = 0 is not allowed; expected at least 1"),
        ({"validation": {"unseen_categories": "ignore"}}, "expected one of 'error', 'warn'"),
        ({"validation": {"max_out_of_range_rate": 2}}, "expected 0.0 to 1.0"),
        ({"columns": {"pii": "email"}}, "[columns] pii = 'email' is not allowed; expected a list"),
        ({"stroe": {"url": "x"}}, "unknown table [stroe]"),
        ({"store": {"uri": "x"}}, "unknown key 'uri'; allowed keys: lock_timeout, url"),
    ],
)
def test_a_wrong_setting_names_key_value_and_what_is_allowed(
    tmp_path: Path, raw: dict[str, object], expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_mapping(tmp_path, raw)
    assert expected in str(info.value)


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "stead.toml").write_text("[store\nurl = 1")
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings(tmp_path)


def test_the_workspace_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "stead.toml").write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == tmp_path.resolve()


def test_no_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="run `stead init`"):
        find_root(tmp_path)
