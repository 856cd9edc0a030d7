"""``padmods modes``: the registered padding modes, built-in and from plugins, with their dimensions."""

from __future__ import annotations

import argparse
import re
from typing import Any

import padmods

__all__ = ["add_parser", "run"]

#: The dimension a class's summary starts with ("2D convolution over ..."): the row says the dimensions.
_DIMENSION_PREFIX = re.compile(r"^[123]-?D\s+(?=\w)")


def add_parser(commands: Any) -> None:
    """Add the ``modes`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "modes",
        help="list the padding modes, built-in and from plugins",
        description="List each padding mode with the dimensions it has layers for, its classes and what it does.",
    )
    parser.set_defaults(run=run)


def _summary(cls: type) -> str:
    """The first line of the class's docstring, without the dimension it starts with."""
    doc = (cls.__doc__ or "").strip()
    line = doc.splitlines()[0].strip() if doc else ""
    rest = _DIMENSION_PREFIX.sub("", line)
    return rest[:1].upper() + rest[1:] if rest != line else line


def _classes(classes: list[type]) -> str:
    """``padmods.ReflectPadConv{1,2,3}d`` for a family named by dimension, else each qualified name."""
    names = [f"{cls.__module__}.{cls.__qualname__}" for cls in classes]
    stems = {re.sub(r"[123]d$", "", name) for name in names}
    if len(names) > 1 and len(stems) == 1 and all(re.search(r"[123]d$", name) for name in names):
        return f"{stems.pop()}{{{','.join(name[-2] for name in names)}}}d"
    return ", ".join(names)


def run(args: argparse.Namespace) -> int:
    """Print one row per mode: its name, its dimensions, its classes and what its layers do."""
    rows = [("mode", "dimensions", "classes", "summary")]
    for name in padmods.available():
        dims = padmods.registry.dimensions(name)
        classes = [padmods.get(name, dim) for dim in dims]
        summary = _summary(classes[dims.index(2)] if 2 in dims else classes[0])
        rows.append((name, " ".join(f"{dim}-D" for dim in dims), _classes(classes), summary))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, dims_text, classes_text, summary in rows:
        print(f"{name:<{widths[0]}}  {dims_text:<{widths[1]}}  {classes_text:<{widths[2]}}  {summary}".rstrip())
    return 0
