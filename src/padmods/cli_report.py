"""``padmods report``: the padding report of a model named on the command line.

Usage::

    padmods report torchvision.models:resnet50() --input-shape 1,3,224,224 [--suggest 3] [--json]

``MODEL`` is ``module:attribute`` (a model object) or ``module:factory()`` (called with no
arguments); the current directory is importable, as for ``python -m``. The module may also be a
file, ``path/to/model.py:attribute``, whose folder is then importable, as for
``python path/to/model.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torch import nn

from padmods.analysis import ShapeProbeWarning, padding_report, suggest_sizes
from padmods.cli_args import JSON_HELP, PROG, input_shape, positive_int, too_large

__all__ = ["add_parser", "load_model", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``report`` subcommand to ``commands`` (argparse's subparsers)."""
    parser = commands.add_parser(
        "report",
        help="which padding each convolution of a model reads, and which it drops",
        description="Run MODEL once on zeros of --input-shape and list each convolution's padding: "
        "what its outputs read, and what they never read (a blind spot).",
    )
    parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("--input-shape", type=input_shape, required=True, metavar="N,C,H,W", help="the input's shape")
    parser.add_argument(
        "--suggest",
        type=positive_int,
        metavar="N",
        help="also name the N nearest sizes per axis at which no layer drops padding or pads one side only",
    )
    parser.add_argument("--json", action="store_true", help=JSON_HELP)
    parser.set_defaults(run=run)


#: What ``MODEL`` may be: the commands' ``--help``, and the message for a text of another form.
MODEL_HELP = "module:attribute, module:factory(), or path/to/model.py:attribute"


def load_model(spec: str) -> nn.Module:
    """The model that ``module:attribute``, ``module:factory()`` or ``path/to/file.py:attribute`` names.

    A module part that ends in ``.py`` is a file, imported under its own name with its folder
    importable (its sibling modules import as they do when the file runs as a script); any other
    module part is imported from the current directory or the installed packages. Every way the
    text can fail to give a model is a ``ValueError`` that says which part failed and what to
    change: a text of another form, a file that does not exist, a module that cannot be imported
    (or raises while it is), an attribute that is missing (or raises when read), ``()`` after
    something that is not a factory (a model object, or a value that cannot be called), a factory
    that raises, and anything that is not an ``nn.Module`` in the end.

    Raises:
        ValueError: What went wrong, naming ``spec``.
    """
    module_name, _, attribute = spec.rpartition(":")  # the last colon: a Windows path has one of its own
    call = attribute.endswith("()")
    attribute = attribute[:-2] if call else attribute
    if not module_name or not attribute:
        raise ValueError(f"MODEL is {MODEL_HELP}; got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    target: Any = _import_file(module_name, spec) if module_name.endswith(".py") else _import(module_name, spec)
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r} (from MODEL {spec!r})") from None
        except Exception as error:
            raise ValueError(f"MODEL {spec!r}: reading {part!r} raised {_error_text(error)}") from None
    if call:
        target = _call_factory(target, attribute, spec)
    if not isinstance(target, nn.Module):
        hint = "; add () to call it" if callable(target) and not call else ""
        raise ValueError(f"MODEL {spec!r} is a {type(target).__name__}, not an nn.Module{hint}")
    return target


@contextlib.contextmanager
def _import_errors(spec: str) -> Iterator[None]:
    """Turn what importing the module of ``spec`` raises into a ``ValueError`` that says so, in one line."""
    try:
        yield
    except ImportError as error:
        raise ValueError(f"cannot import the module of MODEL {spec!r}: {error}") from None
    except (Exception, SystemExit) as error:  # the module's own code failed (or called sys.exit) on import
        raise ValueError(f"importing the module of MODEL {spec!r} raised {_error_text(error)}") from None


def _import(module_name: str, spec: str) -> Any:
    with _import_errors(spec):
        return importlib.import_module(module_name)


def _import_file(path_text: str, spec: str) -> Any:
    """The module in the file ``path_text``, its folder first on the path as when the file runs as a script.

    It is imported under the file's stem, unless a module of that name from another file is
    already imported (``json.py`` beside the model does not replace the standard library's).
    """
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ValueError(
            f"MODEL {spec!r}: there is no file {path_text!r} (from {os.getcwd()}); a module part ending "
            "in .py names a file"
        )
    path = path.resolve()
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        loaded_file = getattr(loaded, "__file__", None)
        if loaded_file and Path(loaded_file).resolve() == path:
            return loaded
        name = f"_padmods_model_{name}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"MODEL {spec!r}: {path_text!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # as an import does: the module's own classes and pickles find it
    with _import_errors(spec):
        try:
            module_spec.loader.exec_module(module)
        except BaseException:  # as a failed import does, leave no half-made module behind
            del sys.modules[name]
            raise
    return module


def _call_factory(factory: Any, attribute: str, spec: str) -> Any:
    """What ``factory()`` returns; ``()`` after a model or a value that cannot be called is an error."""
    if isinstance(factory, nn.Module):
        raise ValueError(
            f"MODEL {spec!r}: {attribute!r} is a model ({type(factory).__name__}), not a factory; drop the () to "
            f"use it as it is: {spec[:-2]!r}"
        )
    if not callable(factory):
        raise ValueError(
            f"MODEL {spec!r}: {attribute!r} is a {type(factory).__name__}, which cannot be called; name a "
            "factory, or drop the ()"
        )
    try:
        return factory()
    except (Exception, SystemExit) as error:
        raise ValueError(
            f"MODEL {spec!r}: {attribute}() raised {_error_text(error)}; MODEL calls the factory with no "
            "arguments, so name one that needs none"
        ) from None


def _error_text(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit({error.code!r})"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def run(args: argparse.Namespace) -> int:
    """Print the padding report (and suggested sizes) of ``args.model``."""
    model = load_model(args.model)
    try:
        report = padding_report(model, args.input_shape)
    except Exception as error:  # the model cannot run on this shape: a user error, said in one line
        if too_large(error):
            raise  # main says that the input is too large for memory
        shape = ",".join(map(str, args.input_shape))
        raise ValueError(f"MODEL {args.model!r} failed on an input of shape {shape}: {_error_text(error)}") from None
    sizes = _suggest(model, args) if args.suggest else None
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
            print(f"spatial axis {axis}: no padding dropped or read on one side only at {listed}")
    return 0


def _suggest(model: nn.Module, args: argparse.Namespace) -> tuple[tuple[int, ...], ...]:
    """``suggest_sizes``, its warning said on one line, and its progress on a terminal when it takes a while."""
    progress = _Progress(f"{PROG} report")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShapeProbeWarning)
        try:
            sizes = suggest_sizes(model, args.input_shape, count=args.suggest, progress=progress)
        finally:
            progress.finish()
    for warning in caught:
        if issubclass(warning.category, ShapeProbeWarning):
            print(f"{PROG} report: note: {' '.join(str(warning.message).split())}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return sizes


class _Progress:
    """``probing sizes 12/258`` on one stderr line that rewrites itself, once probing has taken a second.

    Only on a terminal: a pipe or a file gets nothing, so output that a script reads stays clean.
    """

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, most: int) -> None:
        if not sys.stderr.isatty() or time.monotonic() - self.start < 1.0:
            return
        sys.stderr.write(f"\r{self.prog}: probing sizes {done}/{most} (at most)")
        sys.stderr.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
