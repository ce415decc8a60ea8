"""Project sources: the user's Python modules a feature set or a run is built from.

stead versions user code by *content*. Starting from the modules a spec names
(``[features] definition = "features:build"``, a project-local estimator), it follows
their ``import`` statements and collects every module that lives under the workspace
root (the directory holding ``stead.toml``). Installed packages are not collected: their
versions are part of the recorded environment instead.

The collected :class:`SourceBundle` is what gets hashed, stored as an artifact, and
*executed*: :func:`importing` serves the bundle's modules from memory, ahead of
``sys.path``, so the code that runs is byte for byte the code that was hashed (no stale
``.pyc``, no file edited between hashing and importing), and ``stead reproduce`` runs the
stored copy rather than whatever is on disk today.

Imports are found statically (``import x``, ``from x import y``, relative imports).
A module imported dynamically (``importlib.import_module``) is not collected and, since
the workspace root is not put on ``sys.path``, fails to import: that is deliberate, so
that nothing unversioned runs.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import linecache
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from stead.core.errors import IntegrityError, SpecError

BUNDLE_FORMAT = "stead.sources/1"

_SourceLookup = Callable[[str], "tuple[str, bytes] | None"]
_Exists = Callable[[str], bool]

# Serialises imports from bundles within one process: sys.modules and sys.meta_path are
# process-wide, so two bundles defining a module ``features`` must not be active at once.
_IMPORT_LOCK = threading.RLock()


@dataclass(frozen=True)
class SourceBundle:
    """Project-local module sources, keyed by path relative to the workspace root.

    Attributes:
        files: ``{"features.py": b"..."}`` in path order.
        modules: module name → the path of its source (``"pkg"`` → ``"pkg/__init__.py"``).
    """

    files: Mapping[str, bytes]
    modules: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """SHA-256 over every file's path and content hash, independent of the root."""
        digest = hashlib.sha256()
        for path, sha in sorted(self.file_hashes().items()):
            digest.update(f"{path}\0{sha}\n".encode())
        return digest.hexdigest()

    def file_hashes(self) -> dict[str, str]:
        return {path: hashlib.sha256(data).hexdigest() for path, data in sorted(self.files.items())}

    def merged(self, other: SourceBundle) -> SourceBundle:
        return SourceBundle(
            files=dict(sorted({**self.files, **other.files}.items())),
            modules=dict(sorted({**self.modules, **other.modules}.items())),
        )

    def subset(self, roots: Iterable[str]) -> SourceBundle:
        """The modules reachable from ``roots`` (module names) through their imports."""
        wanted = _closure(roots, self._module_source, self.modules.__contains__)
        return SourceBundle(
            files={self.modules[m]: self.files[self.modules[m]] for m in sorted(wanted)},
            modules={m: self.modules[m] for m in sorted(wanted)},
        )

    def _module_source(self, name: str) -> tuple[str, bytes] | None:
        path = self.modules.get(name)
        return None if path is None else (path, self.files[path])

    def to_bytes(self) -> bytes:
        """A canonical JSON document: the same sources always give the same bytes."""
        body = {
            "format": BUNDLE_FORMAT,
            "modules": dict(sorted(self.modules.items())),
            "files": {path: data.decode("utf-8") for path, data in sorted(self.files.items())},
        }
        return json.dumps(body, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, *, label: str = "stored sources") -> SourceBundle:
        try:
            body = json.loads(data.decode("utf-8"))
            if body.get("format") != BUNDLE_FORMAT:
                raise ValueError(f"format {body.get('format')!r}")
            files = {str(p): str(t).encode("utf-8") for p, t in body["files"].items()}
            modules = {str(m): str(p) for m, p in body["modules"].items()}
        except (ValueError, KeyError, AttributeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{label} are not a stead source bundle: {exc}") from exc
        return cls(files=files, modules=modules)

    def diff(self, other: SourceBundle) -> SourceDiff:
        """What changed from ``self`` to ``other``, file by file."""
        mine, theirs = self.file_hashes(), other.file_hashes()
        return SourceDiff(
            added=sorted(set(theirs) - set(mine)),
            removed=sorted(set(mine) - set(theirs)),
            changed=sorted(p for p in set(mine) & set(theirs) if mine[p] != theirs[p]),
        )


@dataclass(frozen=True)
class SourceDiff:
    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    def describe(self) -> str:
        if self.empty:
            return "no differences"
        parts = [f"{label}: {', '.join(v)}" for label, v in self.to_dict().items() if v]
        return "; ".join(parts)


def module_path(root: Path, name: str) -> tuple[str, bool] | None:
    """The path (relative to ``root``) of module ``name`` and whether it is a package."""
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    base = root.joinpath(*parts)
    package = base / "__init__.py"
    if package.is_file():
        return package.relative_to(root).as_posix(), True
    plain = base.with_suffix(".py")
    if plain.is_file():
        return plain.relative_to(root).as_posix(), False
    return None


def collect_sources(root: Path, modules: Sequence[str]) -> SourceBundle:
    """Collect ``modules`` and every project-local module they import, from ``root``.

    Raises:
        SpecError: a named module is not a file under ``root``, or is not UTF-8 text.
    """
    root = root.resolve()
    for name in modules:
        if module_path(root, name) is None:
            raise SpecError(
                f"no module {name!r} in the workspace {root} (looked for "
                f"{name.replace('.', '/')}.py and {name.replace('.', '/')}/__init__.py); "
                "stead imports feature and estimator code from the workspace root"
            )
    files: dict[str, bytes] = {}
    found: dict[str, str] = {}

    def source(name: str) -> tuple[str, bytes] | None:
        hit = module_path(root, name)
        if hit is None:
            return None
        path = hit[0]
        data = (root / path).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{root / path} is not UTF-8 text: {exc}") from exc
        files[path] = data
        found[name] = path
        return path, data

    _closure(modules, source, lambda name: module_path(root, name) is not None)
    return SourceBundle(files=dict(sorted(files.items())), modules=dict(sorted(found.items())))


def _closure(
    roots: Iterable[str],
    source: _SourceLookup,
    exists: _Exists,
) -> set[str]:
    """Module names reachable from ``roots``, including the packages that contain them."""
    seen: set[str] = set()
    queue = list(roots)
    while queue:
        name = queue.pop()
        if name in seen or not exists(name):
            continue
        seen.add(name)
        # Importing a.b.c imports a and a.b first.
        parts = name.split(".")
        queue.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        hit = source(name)
        if hit is None:
            continue
        path, data = hit
        is_package = path.endswith("__init__.py")
        queue.extend(imported_names(data, module=name, is_package=is_package))
    return seen


def imported_names(data: bytes, *, module: str, is_package: bool) -> list[str]:
    """Every module name an ``import`` statement in this source could load.

    ``from x import y`` yields both ``x`` and ``x.y`` (``y`` may be a submodule); names
    that are not modules are discarded later by the existence check.
    """
    try:
        tree = ast.parse(data, filename=module)
    except SyntaxError as exc:
        raise SpecError(f"module {module!r} has a syntax error: {exc}") from exc
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                keep = len(parts) - (node.level - 1)
                if keep < 0:
                    continue
                base = ".".join(parts[:keep])
                target = ".".join(p for p in (base, node.module or "") if p)
            else:
                target = node.module or ""
            if target:
                names.append(target)
            names.extend(f"{target}.{a.name}" if target else a.name for a in node.names)
    return names


class _BundleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves a bundle's modules from memory; everything else falls through."""

    def __init__(self, bundle: SourceBundle, root: Path) -> None:
        self.bundle = bundle
        self.root = root

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        relative = self.bundle.modules.get(fullname)
        if relative is None:
            prefix = fullname + "."
            if any(m.startswith(prefix) for m in self.bundle.modules):
                # A directory without __init__.py that holds bundle modules: a namespace.
                namespace = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                directory = self.root.joinpath(*fullname.split("."))
                namespace.submodule_search_locations = [str(directory)]
                return namespace
            return None
        is_package = relative.endswith("__init__.py")
        origin = str(self.root / relative)
        spec = importlib.util.spec_from_loader(fullname, self, origin=origin, is_package=is_package)
        if spec is not None:
            spec.has_location = True
            if is_package:
                spec.submodule_search_locations = [str((self.root / relative).parent)]
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        relative = self.bundle.modules[module.__name__]
        text = self.bundle.files[relative].decode("utf-8")
        filename = str(self.root / relative)
        # Tracebacks show the executed (possibly stored) lines, not today's file.
        lines = text.splitlines(keepends=True)
        linecache.cache[filename] = (len(text), None, lines, filename)
        module.__file__ = filename
        code = compile(text, filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)


@contextmanager
def importing(bundle: SourceBundle, *, root: Path) -> Iterator[None]:
    """Make ``bundle``'s modules importable (and only those), then restore ``sys.modules``.

    Modules of the same names imported earlier (the user's own session, another bundle)
    are set aside and put back afterwards, so each bundle runs in isolation. Objects
    created inside keep working afterwards; their classes stay referenced.
    """
    tops = {name.split(".")[0] for name in bundle.modules}
    with _IMPORT_LOCK:
        saved = {
            name: module for name, module in list(sys.modules.items()) if name.split(".")[0] in tops
        }
        for name in saved:
            del sys.modules[name]
        finder = _BundleImporter(bundle, root)
        sys.meta_path.insert(0, finder)
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.meta_path.remove(finder)
            for name in [n for n in sys.modules if n.split(".")[0] in tops]:
                del sys.modules[name]
            sys.modules.update(saved)
