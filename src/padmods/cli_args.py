"""What every ``padmods`` subcommand shares on the way in: the argument types, the parser and its one-line errors.

A bad argument raises :class:`UsageError`, which :func:`padmods.cli.main` prints as one line and
turns into exit status 2; :class:`Parser` makes argparse's own errors the same.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import NoReturn

import torch

import padmods

__all__ = [
    "JSON_HELP",
    "MAX_INT",
    "MODES_HELP",
    "PLOT_HELP",
    "PROG",
    "SEEDS",
    "Parser",
    "UsageError",
    "default_modes",
    "input_shape",
    "mode_list",
    "positive_float",
    "positive_int",
    "seed",
    "too_large",
]

PROG = "padmods"

#: The largest count or size an option takes: torch counts elements in 64-bit integers, and an
#: image or a number of steps this large is already more than any of these commands can hold.
MAX_INT = 2**31 - 1

#: The seeds :func:`torch.manual_seed` takes: any 64-bit integer, signed or unsigned.
SEEDS = range(-(2**63), 2**64)

MODES_HELP = "comma-separated padding modes (default: every available mode that can pad the image size)"
JSON_HELP = "print the results as JSON instead of a table"
PLOT_HELP = (
    "also save a figure to FILE: .png, .pdf, .svg, ... (PNG without a suffix; in a directory, "
    "padmods-COMMAND.png); needs matplotlib: pip install 'padmods[plot]'"
)


class UsageError(Exception):
    """A bad command-line argument; :func:`padmods.cli.main` prints it as one line and returns 2."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(f"{prog}: error: {' '.join(message.split())}")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, with no usage block and no ``sys.exit``."""

    def error(self, message: str) -> NoReturn:
        """Raise :class:`UsageError` with argparse's ``message``, instead of printing usage and exiting."""
        raise UsageError(self.prog, message)


def positive_int(text: str) -> int:
    """A count or size: an integer from 1 to :data:`MAX_INT`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value > MAX_INT:
        raise argparse.ArgumentTypeError(f"expected a positive integer of at most {MAX_INT}, got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed for :func:`torch.manual_seed`: an integer in :data:`SEEDS`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value not in SEEDS:
        raise argparse.ArgumentTypeError(
            f"expected an integer from {SEEDS.start} to {SEEDS.stop - 1} (a 64-bit seed), got {text!r}"
        )
    return value


def positive_float(text: str) -> float:
    """A finite positive number, e.g. a learning rate."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def mode_list(text: str) -> list[str]:
    """``--modes``: registered mode names, comma-separated, each once in the order given."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated mode names, got {text!r}")
    available = padmods.available()
    unknown = [name for name in names if name not in available]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown mode {unknown[0]!r}; available modes: {', '.join(available)}")
    return list(dict.fromkeys(names))


def input_shape(text: str) -> tuple[int, ...]:
    """``--input-shape``: ``N,C`` and at least one spatial size, all positive."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes such as 1,3,224,224, got {text!r}") from None
    if len(shape) < 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected N,C and at least one spatial size, all positive, got {text!r}")
    if max(shape) > MAX_INT:
        raise argparse.ArgumentTypeError(f"expected sizes of at most {MAX_INT}, got {text!r}")
    return shape


def default_modes(prog: str, size: int, kernel_size: int, padding: str) -> list[str]:
    """Every registered 2-D mode that can pad a ``size`` x ``size`` image; the others named on stderr.

    A mode the user asks for by name is run (and fails with its own message) as it is; only the
    default list leaves out what cannot work at this size, e.g. ``'spherical'`` on an odd width.
    """
    modes = []
    probe = torch.zeros(1, 1, size, size)
    for mode in padmods.available(dim=2):
        try:
            with torch.no_grad():
                padmods.create(mode, 1, 1, kernel_size, padding=padding)(probe)
        except ValueError as error:
            print(f"{prog}: leaving out {mode!r} at size {size}: {error}", file=sys.stderr)
            continue
        modes.append(mode)
    return modes


def too_large(error: BaseException) -> bool:
    """Whether torch refused the tensors of these settings: out of memory, or sizes past its 64-bit counts."""
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        phrase in text for phrase in ("can't allocate memory", "out of memory", "overflow")
    )
