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


def module_name(path: pathlib.Path) -> str:
    """The dotted name of a source file of the package: ``padmods.layers.base``, ``padmods.layers``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def padmods_imports(name: str) -> set[str]:
    """The padmods modules that module ``name`` imports, at any depth of its code (function bodies too).

    ``from padmods import _checks`` imports the submodule ``padmods._checks``, not the package; a
    name that is not a submodule (``from padmods.layers import CoordConv2d``) imports its package.
    """
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {target for target in found if target in MODULES and target != name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


def test_import_cycles_finds_a_circle_through_a_function_body():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_itself_in_a_circle():
    graph = {name: padmods_imports(name) for name in MODULES}
    assert import_cycles(graph) == []


def test_the_registry_holds_names_and_imports_no_layer():
    assert not [target for target in padmods_imports("padmods.registry") if target.startswith("padmods.layers")]


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name.startswith("padmods.analysis.")))
def test_analysis_needs_no_layer_class(module):
    assert not [target for target in padmods_imports(module) if target.startswith("padmods.layers")]


def test_public_classes_print_as_padmods_names():
    for name in padmods.__all__:
        obj = getattr(padmods, name)
        if isinstance(obj, type):
            assert obj.__module__ == "padmods", name
            assert repr(obj) == f"<class 'padmods.{name}'>"
