"""Import paths in specs: ``module:attribute`` (or ``package.module.Attribute``)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from stead.core.errors import SpecError


@dataclass(frozen=True)
class ImportPath:
    """A reference to a Python object by module and attribute name."""

    module: str
    attribute: str

    @classmethod
    def parse(cls, text: str, *, where: str, colon: bool = False) -> ImportPath:
        """Parse ``pkg.mod:attr``, or ``pkg.mod.Attr`` unless ``colon`` is required.

        Raises:
            SpecError: naming ``where`` the text came from and the expected form.
        """
        value = text.strip()
        if ":" in value:
            module, _, attribute = value.partition(":")
        elif colon:
            module, attribute = "", ""
        else:
            module, _, attribute = value.rpartition(".")
        parts = [*module.split("."), *attribute.split(".")]
        if not module or not attribute or not all(p.isidentifier() for p in parts):
            raise SpecError(
                f"{where} = {text!r} is not an import path; write 'module:name' "
                "(e.g. 'features:build' or 'sklearn.ensemble:HistGradientBoostingClassifier')"
            )
        return cls(module, attribute)

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}"

    def resolve(self, *, where: str) -> Any:
        """Import the module and return the attribute.

        Raises:
            SpecError: the module does not import (with the reason), or lacks the name.
        """
        try:
            module = importlib.import_module(self.module)
        except ImportError as exc:
            raise SpecError(
                f"{where} = {str(self)!r}: module {self.module!r} does not import: {exc}; "
                "check the spelling, install the package, or put the module in the "
                "workspace directory"
            ) from exc
        except Exception as exc:
            raise SpecError(
                f"{where} = {str(self)!r}: importing module {self.module!r} raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        target: Any = module
        for name in self.attribute.split("."):
            if not hasattr(target, name):
                raise SpecError(f"{where} = {str(self)!r}: module {self.module!r} has no {name!r}")
            target = getattr(target, name)
        return target
