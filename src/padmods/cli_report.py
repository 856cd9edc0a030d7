"""``padmods report``: the padding report of a model named on the command line.

Usage::

    padmods report torchvision.models:resnet50() --input-shape 1,3,224,224 [--suggest 3] [--json]

``MODEL`` is ``module:attribute`` (a model object) or ``module:factory()`` (called with no
arguments); the current directory is importable, as for ``python -m``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import Any

from torch import nn

from padmods.analysis import padding_report, suggest_sizes
from padmods.cli_args import JSON_HELP, input_shape, positive_int

__all__ = ["add_parser", "load_model", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``report`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "report",
        help="which padding each convolution of a model reads, and which it drops",
        description="Run MODEL once on zeros of --input-shape and list each convolution's padding: "
        "what its outputs read, and what they never read (a blind spot).",
    )
    parser.add_argument("model", metavar="MODEL", help="module:attribute or module:factory()")
    parser.add_argument("--input-shape", type=input_shape, required=True, metavar="N,C,H,W", help="the input's shape")
    parser.add_argument(
        "--suggest", type=positive_int, metavar="N", help="also name the N nearest sizes per axis that drop no padding"
    )
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    parser.set_defaults(run=run)


def load_model(spec: str) -> nn.Module:
    """The model that ``module:attribute`` or ``module:factory()`` names.

    Raises:
        ValueError: The text is not of that form, or what it names is not an ``nn.Module``.
        ImportError: The module cannot be imported.
    """
    module_name, _, attribute = spec.partition(":")
    call = attribute.endswith("()")
    attribute = attribute[:-2] if call else attribute
    if not module_name or not attribute:
        raise ValueError(f"MODEL is module:attribute or module:factory(), got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r} (from MODEL {spec!r})")
        target = getattr(target, part)
    model = target() if call else target
    if not isinstance(model, nn.Module):
        raise ValueError(f"MODEL {spec!r} is a {type(model).__name__}, not an nn.Module")
    return model


def run(args: argparse.Namespace) -> int:
    """Print the padding report (and suggested sizes) of ``args.model``."""
    try:
        model = load_model(args.model)
    except ImportError as error:
        raise ValueError(f"cannot import the module of MODEL {args.model!r}: {error}") from None
    try:
        report = padding_report(model, args.input_shape)
    except RuntimeError as error:  # the model cannot run on this shape: a user error, said in one line
        shape = ",".join(map(str, args.input_shape))
        raise ValueError(f"MODEL {args.model!r} failed on an input of shape {shape}: {error}") from None
    sizes = suggest_sizes(model, args.input_shape, count=args.suggest) if args.suggest else None
    if args.json:
        payload = report.to_dict()
        if sizes is not None:
            payload["suggested_sizes"] = [list(axis) for axis in sizes]
        print(json.dumps(payload, indent=2, allow_nan=False))
        return 0
    print(report)
    if sizes is not None:
        for axis, found in enumerate(sizes):
            listed = ", ".join(map(str, found)) or f"none within 64 of {args.input_shape[2 + axis]}"
            print(f"spatial axis {axis}: no padding dropped at {listed}")
    return 0
