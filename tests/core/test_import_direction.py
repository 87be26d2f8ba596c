"""Imports point one way: the core (vocabulary, metrics, data, model, contracts, images, files...)
never imports a stage, the model never imports inference, and data never imports the model.
Read from the source with `ast`, so an import inside a function or under TYPE_CHECKING counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import smileynet

PACKAGE = Path(smileynet.__file__).parent
STAGES = {
    "collect", "sample", "download", "train", "inference", "transfer", "report", "serve", "demo", "listen", "publish",
}  # fmt: skip
# the top-level package, the CLI and `smileynet.load` (a model dir, an .onnx file or a hub id) wire the stages together
ENTRY_POINTS = {"__init__", "__main__", "cli", "cli_common", "loading"}


def imported_modules(path: Path) -> set[str]:
    """Every `smileynet...` module the file imports, resolved to absolute names."""
    return imports_of(path.read_text("utf-8"), ["smileynet", *path.relative_to(PACKAGE).parent.parts])


def imports_of(source: str, package: list[str]) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return {n for n in names if n == "smileynet" or n.startswith("smileynet.")}


def part(module: str) -> str:
    """The package or top-level module a name belongs to: smileynet.data.layout -> data."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def core_files() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if part("smileynet." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) not in STAGES
        and not (p.parent == PACKAGE and p.stem in ENTRY_POINTS)
    )


def test_the_core_is_found():
    names = {p.relative_to(PACKAGE).as_posix() for p in core_files()}
    assert {"contracts.py", "vocab.py", "metrics.py", "images.py", "files.py", "data/layout.py"} <= names
    assert {"model/factory.py", "data/release.py"} <= names and "sample/stats.py" not in names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_core_never_imports_a_stage(path):
    stages = {m for m in imported_modules(path) if part(m) in STAGES}
    assert not stages, f"{path.relative_to(PACKAGE)} imports the stage modules {sorted(stages)}"
    assert "smileynet" not in imported_modules(path), "the top-level package lazily reaches every stage"


def test_model_never_imports_inference_and_data_never_imports_model():
    for path in (PACKAGE / "model").rglob("*.py"):
        assert not {m for m in imported_modules(path) if part(m) in ("inference", "")}, path
    for path in (PACKAGE / "data").rglob("*.py"):
        assert not {m for m in imported_modules(path) if part(m) == "model"}, path


def test_the_check_sees_imports_in_functions_and_relative_ones():
    source = "def f():\n    import smileynet\n    from ..inference import predict\n    from . import factory\n"
    assert imports_of(source, ["smileynet", "model"]) == {
        "smileynet",
        "smileynet.inference",
        "smileynet.inference.predict",
        "smileynet.model",
        "smileynet.model.factory",
    }
    assert "smileynet.data.transforms" in imported_modules(PACKAGE / "model" / "factory.py")


def test_every_lazy_name_is_visible_to_type_checkers():
    """Each package `__init__` that exports names lazily also imports them under TYPE_CHECKING."""
    inits = [p for p in PACKAGE.rglob("__init__.py") if "lazy_exports(" in p.read_text("utf-8")]
    assert len(inits) >= 8
    for init in inits:
        tree = ast.parse(init.read_text("utf-8"))
        exports = next(
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "_EXPORTS"
        )
        checked = set()
        for node in tree.body:
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                for imp in node.body:
                    assert isinstance(imp, ast.ImportFrom)
                    checked.update((imp.module or "", a.name) for a in imp.names if a.asname == a.name)
        package = ".".join(["smileynet", *init.relative_to(PACKAGE).parent.parts])
        assert {(f"{package}.{module}", name) for name, module in exports.items()} <= checked, init
    assert (PACKAGE / "py.typed").is_file()
