"""Lazy package exports: a stage's public names import their module on first use.

`smileynet --help` and `import smileynet` must not pay for torch, polars or img2dataset, so every
package `__init__` maps its public names to the submodules that define them, the same way, and
imports the same names under `TYPE_CHECKING` so that type checkers, which cannot follow a module
`__getattr__`, see each one with its type.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module `__getattr__` and `__dir__` for `package`, whose name `n` lives in `package.exports[n]`.

    A name may not be a submodule's name: once that submodule is imported, it would shadow the name."""
    clashes = sorted(name for name in exports if importlib.util.find_spec(f"{package}.{name}") is not None)
    if clashes:
        raise ValueError(f"{package}: lazy names shadowed by their own submodules: {clashes}")

    def __getattr__(name: str) -> object:
        if name in exports:
            return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
