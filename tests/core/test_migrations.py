from __future__ import annotations

from pathlib import Path

from stead.core.migrate import current_revision, head_revision, upgrade
from stead.core.store import MetadataStore
from stead.workspace import Workspace


def test_opening_an_older_workspace_migrates_it_once_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "old"
    Workspace.init(root)
    db = root / ".stead" / "stead.db"
    db.unlink()
    # Lay down the schema as the first release left it.
    store = MetadataStore(f"sqlite:///{db}", actor="tester")
    upgrade(store.engine, "0001")
    assert current_revision(store.engine) == "0001"
    store.dispose()

    with Workspace.open(root) as ws:
        assert ws.notices == [
            f"migrated the metadata schema from revision 0001 to {head_revision()}"
        ]
        assert current_revision(ws.store.engine) == head_revision()
    with Workspace.open(root) as ws:
        assert ws.notices == []


def test_init_twice_changes_nothing_and_says_so(tmp_path: Path) -> None:
    first = Workspace.init(tmp_path / "w")
    settings = (tmp_path / "w" / "stead.toml").read_text()
    second = Workspace.init(tmp_path / "w")
    assert first.created and not second.created
    assert "nothing changed" in second.message
    assert (tmp_path / "w" / "stead.toml").read_text() == settings
    with Workspace.open(tmp_path / "w") as ws:
        assert [e.action for e in ws.audit.events()] == ["workspace.create"]


def test_the_numbered_files_are_the_chain_alembic_sees() -> None:
    # Opening a current store reads the head from the file names, without Alembic: each
    # file must be its revision, following the one before it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from stead.core.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    chain = list(reversed(list(script.walk_revisions())))
    files = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    assert [r.revision for r in chain] == [name.split("_", 1)[0] for name in files]
    assert [r.down_revision for r in chain] == [None, *[r.revision for r in chain[:-1]]]
    assert script.get_current_head() == head_revision()
