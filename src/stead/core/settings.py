"""Settings: ``stead.toml`` plus ``STEAD_*`` environment variables, parsed once, here.

Each table of ``stead.toml`` is a frozen dataclass below. :func:`load_settings` reads the
file, applies environment overrides and validates every value against the dataclass
field types, so that a wrong setting is reported with its key, its bad value and what
is allowed, before anything runs.

Environment overrides are named after the key: ``[store] url`` is ``STEAD_STORE_URL``,
``[serving] max_records`` is ``STEAD_SERVING_MAX_RECORDS``. Values are parsed as TOML
literals when they can be (``5``, ``true``, ``["a", "b"]``) and taken as strings otherwise.
A value of the wrong type is reported with the variable's name, its value and what is
allowed. The tables of later stages (``[training]``, ``[registry]``, ``[monitoring]`` ...)
are read through :func:`stage_table`, so they honour the environment the same way.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from stead.core.errors import SettingsError

T = TypeVar("T")

SETTINGS_FILE = "stead.toml"
STATE_DIR = ".stead"


@dataclass(frozen=True, kw_only=True)
class WorkspaceSettings:
    """``[workspace]``: what this workspace is called."""

    name: str = "stead"


@dataclass(frozen=True, kw_only=True)
class StoreSettings:
    """``[store]``: the metadata database (SQLite by default, PostgreSQL at scale)."""

    url: str = f"sqlite:///{STATE_DIR}/stead.db"
    # Seconds a writer waits for another writer before giving up with a Conflict.
    lock_timeout: float = 30.0

    def __post_init__(self) -> None:
        at_least("lock_timeout", self.lock_timeout, 0.0)


@dataclass(frozen=True, kw_only=True)
class ArtifactSettings:
    """``[artifacts]``: where content-addressed artifacts live (any fsspec URL)."""

    url: str = f"{STATE_DIR}/artifacts"


@dataclass(frozen=True, kw_only=True)
class SigningSettings:
    """``[signing]``: the Ed25519 key that signs model manifests."""

    key_path: str = f"{STATE_DIR}/signing_key.pem"


@dataclass(frozen=True, kw_only=True)
class ColumnRoles:
    """``[columns]``: what some columns mean; used by schemas, features, logs and drift."""

    id: str | None = None
    time: str | None = None
    target: str | None = None
    pii: list[str] = field(default_factory=list)
    # Columns known only after the prediction is made (never usable as features).
    post_prediction: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DataSettings:
    """``[data]``: how snapshots are inferred and profiled."""

    # A text column with more distinct values than this is not treated as categorical.
    max_levels: int = 50
    # Number of quantile bins kept per numeric column for drift (PSI) later.
    profile_bins: int = 20
    # Snapshots store [columns] pii as keyed hashes; true keeps the raw values (then
    # [retention] raw_pii says how long).
    keep_raw_pii: bool = False

    def __post_init__(self) -> None:
        at_least("max_levels", self.max_levels, 1)
        at_least("profile_bins", self.profile_bins, 2)


@dataclass(frozen=True, kw_only=True)
class ValidationSettings:
    """``[validation]``: the tolerance policy for contract checks."""

    # Range widening, as a fraction of the reference span, before a value is out of range.
    range_tolerance: float = 0.0
    # Out-of-range rows up to this fraction are a warning, above it an error: a few
    # extreme values in a batch are news, a systematic shift is a failure.
    max_out_of_range_rate: float = 0.01
    # Text values never seen in the reference: "error" refuses them, "warn" reports them.
    unseen_categories: Literal["error", "warn"] = "error"

    def __post_init__(self) -> None:
        at_least("range_tolerance", self.range_tolerance, 0.0)
        between("max_out_of_range_rate", self.max_out_of_range_rate, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every setting of one workspace; ``root`` is the directory holding ``stead.toml``."""

    root: Path
    workspace: WorkspaceSettings = field(default_factory=WorkspaceSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    artifacts: ArtifactSettings = field(default_factory=ArtifactSettings)
    signing: SigningSettings = field(default_factory=SigningSettings)
    columns: ColumnRoles = field(default_factory=ColumnRoles)
    data: DataSettings = field(default_factory=DataSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    # Tables this version does not model are kept raw for the stages that read them.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def resolve_path(self, value: str) -> Path:
        """A path setting, relative to the workspace root unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def store_url(self) -> str:
        """The store URL with a relative SQLite path made absolute against the root."""
        url = self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve_path(url[len(prefix) :]))
        return url

    @property
    def artifacts_url(self) -> str:
        url = self.artifacts.url
        return url if "://" in url else str(self.resolve_path(url))


_TABLES: dict[str, type] = {
    name: hint
    for name, hint in typing.get_type_hints(Settings).items()
    if name not in {"root", "extra"}
}


def core_tables() -> dict[str, type]:
    """The tables parsed here, by name, with their settings classes."""
    return dict(_TABLES)


# Tables owned by later stages: accepted and kept raw until their stage parses them.
_PASS_THROUGH = {
    "audit",
    "project",
    "features",
    "training",
    "registry",
    "serving",
    "monitoring",
    "alerts",
    "retention",
    "auth",
    "teams",
    "checklist",
    "kpis",
    "policy",
    "retraining",
}


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` that holds ``stead.toml``.

    Raises:
        SettingsError: when no ``stead.toml`` exists up to the filesystem root.
    """
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SETTINGS_FILE).is_file():
            return candidate
    raise SettingsError(
        f"no {SETTINGS_FILE} found in {here} or any parent directory; "
        "run `stead init` to create a workspace, or pass the workspace directory"
    )


def load_settings(root: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``root/stead.toml``, apply ``STEAD_*`` overrides and validate everything.

    Raises:
        SettingsError: naming the key, the bad value and what is allowed.
    """
    env = os.environ if env is None else env
    path = root / SETTINGS_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(f"{path} does not exist; run `stead init {root}`") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path} is not UTF-8 text: {exc}") from exc
    return settings_from_mapping(root, raw, env=env, source=str(path))


def settings_from_mapping(
    root: Path,
    raw: Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    source: str = SETTINGS_FILE,
) -> Settings:
    """Validate an already-parsed settings mapping (used by tests and by the loader)."""
    merged: dict[str, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    for table, value in raw.items():
        if table in _TABLES:
            if not isinstance(value, dict):
                raise SettingsError(f"{source}: [{table}] must be a table, got {value!r}")
            merged[table] = dict(value)
        elif table in _PASS_THROUGH:
            extra[table] = value
        else:
            allowed = ", ".join(sorted([*_TABLES, *_PASS_THROUGH]))
            raise SettingsError(f"{source}: unknown table [{table}]; allowed tables: {allowed}")
    for table, cls in _TABLES.items():
        overridden = with_env_overrides(
            cls, merged.get(table, {}), f"STEAD_{table}", env or {}, where=f"{source} [{table}]"
        )
        if overridden:
            merged[table] = overridden
    values = {
        table: build_dataclass(cls, merged.get(table, {}), where=f"{source} [{table}]")
        for table, cls in _TABLES.items()
    }
    return Settings(root=root, extra=extra, **values)


def with_env_overrides(
    cls: type, table: Mapping[str, Any], prefix: str, env: Mapping[str, str], *, where: str
) -> dict[str, Any]:
    """``table`` with the ``PREFIX_KEY`` environment variables of ``cls``'s fields applied.

    Nested tables recurse (``[serving.log] mode`` is ``STEAD_SERVING_LOG_MODE``). Stages
    read their tables with :func:`stage_table`, which calls this, so every table honours
    the environment the same way.

    Raises:
        SettingsError: a nested table is not a table, or a variable's value has the wrong
            type (naming the variable, its value and what is allowed).
    """
    return _with_env(cls, table, prefix, env, where=where, applied=[])


def unknown_variables(env: Mapping[str, str], tables: Mapping[str, type | None]) -> list[str]:
    """What each ``STEAD_<TABLE>_...`` variable that names no setting means to a user.

    A misspelt override (``STEAD_TRAINING_SEEED``) would otherwise be ignored without a
    word. ``tables`` maps every table name to its settings dataclass, or to ``None`` for a
    table read from ``stead.toml`` only (``[teams]``, ``[kpis.NAME]``). Variables that
    name no table (``STEAD_NOW``, ``STEAD_ACTOR``) are not settings and are left alone.

    Returns:
        One message per such variable, with the closest valid name when there is one.
    """
    messages = []
    for name in sorted(env):
        table = _table_of_variable(name, tables)
        if table is None:
            continue
        cls = tables[table]
        if cls is None:
            messages.append(
                f"{name} is ignored: [{table}] is read from stead.toml only (its tables are "
                "named by you, so a variable cannot spell them)"
            )
            continue
        valid = _variable_names(cls, f"STEAD_{table}".upper())
        if name in valid:
            continue
        close = difflib.get_close_matches(name, sorted(valid), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        messages.append(f"{name} is ignored: it names no setting of [{table}]{hint}")
    return messages


def _table_of_variable(name: str, tables: Mapping[str, type | None]) -> str | None:
    # The longest table name whose prefix the variable carries.
    matches = [t for t in tables if name.startswith(f"STEAD_{t}_".upper())]
    return max(matches, key=len) if matches else None


def _variable_names(cls: type, prefix: str) -> set[str]:
    names: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{prefix}_{f.name}".upper()
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            names |= _variable_names(hint, name)  # type: ignore[arg-type]
        else:
            names.add(name)
    return names


def _with_env(
    cls: type,
    table: Mapping[str, Any],
    prefix: str,
    env: Mapping[str, str],
    *,
    where: str,
    applied: list[str],
) -> dict[str, Any]:
    result = dict(table)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = f"{prefix}_{f.name}".upper()
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            sub = result.get(f.name, {})
            if not isinstance(sub, dict):
                raise SettingsError(f"{where} {f.name} must be a table, got {sub!r}")
            nested: type = hint  # type: ignore[assignment]
            sub = _with_env(nested, sub, name, env, where=f"{where}.{f.name}", applied=applied)
            if sub:
                result[f.name] = sub
        elif name in env:
            value = _parse_env(env[name], name=name)
            # Checked here so that a wrong type names the variable, not the file.
            _check(value, hint, where=name)
            result[f.name] = value
            applied.append(name)
    return result


@overload
def stage_table(
    settings: Settings,
    name: str,
    cls: type[T],
    *,
    env: Mapping[str, str] | None = None,
    optional: Literal[False] = False,
) -> T: ...


@overload
def stage_table(
    settings: Settings,
    name: str,
    cls: type[T],
    *,
    env: Mapping[str, str] | None = None,
    optional: Literal[True],
) -> T | None: ...


def stage_table(
    settings: Settings,
    name: str,
    cls: type[T],
    *,
    env: Mapping[str, str] | None = None,
    optional: bool = False,
) -> T | None:
    """The stage-owned table ``[name]`` as a validated ``cls``, with ``STEAD_<NAME>_*`` applied.

    Every stage reads its table this way: the file's values, overridden key by key by the
    environment (``[training] seed`` is ``STEAD_TRAINING_SEED``, nested tables recurse),
    then checked with :func:`build_dataclass`.

    An ``optional`` table is one whose absence means "not configured" (``[training]``,
    ``[project]``, ``[features]``): it is ``None`` when ``stead.toml`` lacks it and no
    variable targets it. A variable alone does configure it, as it would any other table,
    so ``STEAD_TRAINING_SEED`` without ``[training]`` fails loudly for the missing keys
    instead of being silently ignored; the error names the variable.

    Args:
        settings: the workspace's settings; the raw table is ``settings.extra[name]``.
        name: the table's name in ``stead.toml``.
        cls: the frozen settings dataclass the table becomes.
        env: the environment; ``os.environ`` when ``None``.
        optional: return ``None`` for an absent table (otherwise its defaults apply).

    Raises:
        SettingsError: naming the file, the table (and the variables applied), the key,
            the bad value and what is allowed.
    """
    found = stage_values(settings, name, cls, env=env, optional=optional)
    if found is None:
        return None
    values, where = found
    result: T = build_dataclass(cls, values, where=where)
    return result


def stage_values(
    settings: Settings,
    name: str,
    cls: type,
    *,
    env: Mapping[str, str] | None = None,
    optional: bool = False,
) -> tuple[dict[str, Any], str] | None:
    """``[name]`` with ``STEAD_<NAME>_*`` applied but not yet built, and where it came from.

    For a stage that checks the raw table before building it (``[project]``'s required
    keys, ``[monitoring.drift]``); everything else should use :func:`stage_table`.
    ``None`` when ``optional`` and neither the file nor the environment gives the table.

    Raises:
        SettingsError: the value in the file is not a table, or an override is wrong.
    """
    env = os.environ if env is None else env
    where = f"{settings.root / SETTINGS_FILE} [{name}]"
    raw = settings.extra.get(name)
    if raw is not None and not isinstance(raw, dict):
        raise SettingsError(f"{where} must be a table, got {raw!r}")
    applied: list[str] = []
    values = _with_env(cls, raw or {}, f"STEAD_{name}", env, where=where, applied=applied)
    if raw is None and optional and not applied:
        return None
    if applied:
        where = f"{where} (with {', '.join(applied)} from the environment)"
    return values, where


def _parse_env(text: str, *, name: str) -> Any:
    """A variable's value as TOML (``{max_iter = 200}``, ``[1, 2]``, ``0.5``), or JSON
    (``{"max_iter": 200}``) when it is not TOML; anything else is a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as toml_error:
        if not text.lstrip().startswith(("{", "[")):
            return text
        try:
            return json.loads(text)
        except ValueError as json_error:
            raise SettingsError(
                f"{name}={text!r} is neither a TOML value ({toml_error}) nor JSON "
                f"({json_error}); write a table as {{max_iter = 200}} or "
                '{"max_iter": 200}, a list as [1, 2]'
            ) from None


def build_dataclass(cls: type, table: Mapping[str, Any], *, where: str) -> Any:
    """Build a frozen settings dataclass from a TOML table, checking keys and types.

    Later stages call this for the tables they own (``[training]``, ``[serving]`` ...),
    so that every setting is validated the same way.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys: {', '.join(sorted(known))}"
        )
    kwargs = {
        key: _check(value, hints[key], where=f"{where} {key}") for key, value in table.items()
    }
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from exc


def _check(value: Any, hint: Any, *, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check(value, arg, where=where)
            except SettingsError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else _bad(value, _describe(hint), where)
    if origin is Literal:
        if value not in args:
            raise _bad(value, "one of " + ", ".join(repr(a) for a in args), where)
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            item = "" if args[0] is Any else f" of {_describe(args[0])}"
            raise _bad(value, f"a list{item}", where)
        items = [_check(v, args[0], where=f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise _bad(value, "a table", where)
        return {str(k): _check(v, args[1], where=f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise _bad(value, "a table", where)
        return build_dataclass(hint, value, where=where)  # type: ignore[arg-type]
    if hint is bool:
        if not isinstance(value, bool):
            raise _bad(value, "true or false", where)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(value, "a whole number", where)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(value, "a number", where)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _bad(value, "a string", where)
        return value
    raise TypeError(f"settings field {where} has an unsupported type {hint!r}")


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if args:
        return " or ".join(_describe(a) for a in args)
    return getattr(hint, "__name__", str(hint))


def _bad(value: Any, allowed: str, where: str) -> SettingsError:
    return SettingsError(f"{where} = {value!r} is not allowed; expected {allowed}")


def at_least(key: str, value: float, minimum: float) -> None:
    """Range check for a settings dataclass's ``__post_init__``; the loader adds where."""
    if value < minimum:
        raise ValueError(f"{key} = {value!r} is not allowed; expected at least {minimum}")


def between(key: str, value: float, low: float, high: float) -> None:
    """Range check for a settings dataclass's ``__post_init__``; the loader adds where."""
    if not low <= value <= high:
        raise ValueError(f"{key} = {value!r} is not allowed; expected {low} to {high}")
