"""``padmods modes``: the registered padding modes, built-in and from plugins."""

from __future__ import annotations

import argparse
from typing import Any

import padmods

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``modes`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser("modes", help="list the padding modes, built-in and from plugins")
    parser.set_defaults(run=run)


def _first_doc_line(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def run(args: argparse.Namespace) -> int:
    """Print one row per mode: its name, its 2-D class (else its first), its dimensions and its summary."""
    rows = []
    for name in padmods.available():
        dims = padmods.registry.dimensions(name)
        cls = padmods.get(name, 2 if 2 in dims else dims[0])
        rows.append(
            (name, f"{cls.__module__}.{cls.__qualname__}", " ".join(f"{d}-D" for d in dims), _first_doc_line(cls))
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for name, qualname, dims_text, doc in rows:
        print(f"{name:<{widths[0]}}  {qualname:<{widths[1]}}  {dims_text:<{widths[2]}}  {doc}".rstrip())
    return 0
