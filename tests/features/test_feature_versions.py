from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stead.core.errors import NotFound
from stead.features.sources import SourceBundle, collect_sources, importing
from stead.workspace import Workspace

from ..training.projects import set_tables


def current_version(root: Path) -> str:
    with Workspace.open(root) as ws:
        return ws.features.current().version


def test_unchanged_code_keeps_its_version(pws: Workspace, project: Path) -> None:
    first = pws.features.current()
    assert first.ref == f"credit@{first.version}" and len(first.version) == 12
    assert pws.features.current().version == first.version
    # Touching files without changing them, or editing unrelated files, changes nothing.
    (project / "features.py").write_bytes((project / "features.py").read_bytes())
    (project / "notes.py").write_text("print('not imported by the features')\n")
    assert current_version(project) == first.version


def test_any_change_to_the_definition_or_what_it_imports_is_a_new_version(
    pws: Workspace, project: Path
) -> None:
    original = pws.features.current()
    assert set(original.sources.files) == {"features.py", "columns.py"}

    (project / "columns.py").write_text('NUMERIC = ["income"]\n')
    imported_changed = current_version(project)
    (project / "features.py").write_text(
        (project / "features.py").read_text() + "\n# a comment is a change too\n"
    )
    definition_changed = current_version(project)
    set_tables(project, {"features": {"definition": "features:build", "params": {"scale": False}}})
    params_changed = current_version(project)

    versions = [original.version, imported_changed, definition_changed, params_changed]
    assert len(set(versions)) == 4


def test_the_version_covers_the_scikit_learn_version(pws: Workspace) -> None:
    from dataclasses import replace

    current = pws.features.current()
    other = replace(current, sklearn_version="0.24.2")
    assert other.version != current.version


def test_a_run_records_the_feature_set_with_its_sources_once(pws: Workspace, project: Path) -> None:
    run = pws.runs.train().run
    pws.runs.train(seed=99)
    (recorded,) = pws.features.list()
    assert run.feature_set_ref == recorded.ref == pws.features.current().ref
    assert pws.features.get(recorded.ref).id == recorded.id
    assert pws.features.get(f"credit@{recorded.version[:6]}").id == recorded.id
    stored = pws.features.sources(recorded)
    assert stored.files["features.py"] == (project / "features.py").read_bytes()
    assert recorded.sources == stored.file_hashes()
    with pytest.raises(NotFound):
        pws.features.get("credit@ffffff")


def test_project_local_packages_and_relative_imports_are_collected(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .steps import scaler\n")
    (tmp_path / "pkg" / "steps.py").write_text(
        "from sklearn.preprocessing import StandardScaler\n"
        "from . import util\n\n"
        "def scaler():\n    return StandardScaler(with_mean=util.CENTER)\n"
    )
    (tmp_path / "pkg" / "util.py").write_text("CENTER = True\n")
    (tmp_path / "defs.py").write_text("import pkg\n\ndef build():\n    return pkg.scaler()\n")
    (tmp_path / "unused.py").write_text("X = 1\n")

    bundle = collect_sources(tmp_path, ["defs"])
    assert set(bundle.files) == {"defs.py", "pkg/__init__.py", "pkg/steps.py", "pkg/util.py"}
    assert bundle.modules["pkg"] == "pkg/__init__.py"
    # Numpy/sklearn are installed packages: versioned through the environment instead.
    assert not any("sklearn" in m for m in bundle.modules)


def test_bundled_modules_run_from_memory_and_leave_sys_modules_as_they_were(
    tmp_path: Path,
) -> None:
    (tmp_path / "defs.py").write_text("VALUE = 'stored'\n")
    stored = collect_sources(tmp_path, ["defs"])
    (tmp_path / "defs.py").write_text("VALUE = 'edited on disk'\n")
    assert "defs" not in sys.modules
    with importing(stored, root=tmp_path):
        import defs  # type: ignore[import-not-found]

        assert defs.VALUE == "stored"
    assert "defs" not in sys.modules
    # Round trip through the stored artifact format.
    assert SourceBundle.from_bytes(stored.to_bytes()).digest == stored.digest
