"""The import arrows of the package: layers above the engine, and never the other way round."""

from __future__ import annotations

import ast
import pathlib

import pytest

import padmods

PACKAGE = pathlib.Path(padmods.__file__).parent
ENGINE = [
    "_axis_pad",
    "_border_pad",
    "_cache",
    "_checks",
    "_conv",
    "_coord",
    "_engine",
    "_geometry",
    "_masked",
    "_partial",
    "_trace",
    "_typing",
]


def imports_of(path: pathlib.Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` for every import statement in a source file, relative imports resolved to padmods."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


@pytest.mark.parametrize("module", ENGINE)
def test_engine_never_imports_layers_or_the_registry(module):
    for name, names in imports_of(PACKAGE / f"{module}.py"):
        targets = [name] + [f"{name}.{n}" for n in names]
        for target in targets:
            assert not target.startswith(("padmods.layers", "padmods.registry", "padmods.functional")), (
                f"{module} imports {target}"
            )
            assert target not in ("padmods.layers", "padmods.registry"), f"{module} imports {target}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "layers").glob("*.py")), ids=lambda p: p.name)
def test_layers_import_no_private_name_from_functional(path):
    for name, names in imports_of(path):
        if name == "padmods.functional":
            assert not [n for n in names if n.startswith("_")], f"{path.name} imports {names} from functional"
        if name == "padmods":
            assert "functional" not in names, f"{path.name} imports padmods.functional"


def test_public_classes_print_as_padmods_names():
    for name in padmods.__all__:
        obj = getattr(padmods, name)
        if isinstance(obj, type):
            assert obj.__module__ == "padmods", name
            assert repr(obj) == f"<class 'padmods.{name}'>"
