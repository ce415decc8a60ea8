"""Package exports imported on first use (PEP 562 module ``__getattr__``).

A package's ``__init__`` runs whenever any of its submodules is imported, so one whose
exports pull in pandas, SciPy or scikit-learn would make every light import heavy (the
CLI's, the settings checks at workspace open). Such a package names its exports here and
imports them only when they are first looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose ``exports`` map each
    exported name to the module defining it.

    Example::

        __getattr__, __dir__ = lazy_exports(globals(), {"Workspace": "stead.workspace"})
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__
