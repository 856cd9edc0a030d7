"""The ``padmods`` command line: list the padding modes, run the two padding experiments, report a model's padding.

Usage::

    padmods modes
    padmods position [--modes zeros,circular] [--size 10] [--seed 0] [--json] [--plot FILE.png]
    padmods impact [--modes zeros,reflect] [--size 28] [--layers 5] [--padding same] [--json] [--plot FILE.png]
    padmods report MODULE:MODEL --input-shape 1,3,224,224 [--suggest 3] [--json]

Each subcommand is a module of its own (``cli_modes.py``, ``cli_position.py``, ``cli_impact.py``,
``cli_report.py``, ``cli_neurons.py``) with two functions: ``add_parser(commands)`` adds its parser and sets
``run``, the function that runs it; :data:`SUBCOMMANDS` lists them. What they share lives in
``cli_args.py`` (argument types, one-line errors) and ``cli_output.py`` (strict JSON, ``--plot``).
This module parses the arguments and turns every outcome into an exit status.

Bad arguments end the program with exit status 2 and one line on stderr. ``--plot`` needs
matplotlib (``pip install 'padmods[plot]'``), imported only when ``--plot`` is given.

The experiments are many tiny tensor operations, which intra-op threads only slow down (several
times over on a busy machine), so the commands run torch on one thread unless ``OMP_NUM_THREADS``
is set; :func:`main` restores torch's thread count when it returns.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import torch

import padmods
from padmods import cli_impact, cli_modes, cli_neurons, cli_position, cli_report
from padmods.cli_args import PROG, Parser, UsageError, too_large

__all__ = ["SUBCOMMANDS", "main"]

#: The subcommands, in the order ``padmods --help`` lists them: modules with ``add_parser(commands)``.
SUBCOMMANDS = (cli_modes, cli_position, cli_impact, cli_report, cli_neurons)


def _build_parser() -> Parser:
    parser = Parser(prog=PROG, description="Padding modes for convolutions: list them and run the experiments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {padmods.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands)
    return parser


def _allocation_text(error: BaseException) -> str:
    """The useful part of torch's allocation error, e.g. 'you tried to allocate 128000000000000 bytes'."""
    text = " ".join(str(error).split())
    start = text.find("you tried to allocate")
    if start >= 0:
        return text[start:].split(".")[0]
    return text.split(" Exception raised from ")[0] or type(error).__name__


def _sizes_given(args: argparse.Namespace | None) -> str:
    """The options that set a size or a count, as given: ``--size 5000, --kernel-size 3, --steps 150``."""
    options = ("size", "layers", "kernel_size", "steps", "input_shape", "suggest")
    given = [(name, getattr(args, name, None)) for name in options]
    return ", ".join(
        f"--{name.replace('_', '-')} {','.join(map(str, value)) if isinstance(value, tuple) else value}"
        for name, value in given
        if value is not None
    )


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that Python's flush at exit does not meet the closed pipe again."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a stand-in for stdout, e.g. a test's capture
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``padmods`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Args:
        argv: The arguments after the program name.

    Returns:
        The exit status: 0 on success; 1, quietly, when the reader of the output closed it early
        (``padmods impact --json | head``); 2 for bad arguments, after one line on stderr.
    """
    parser = _build_parser()
    args: argparse.Namespace | None = None
    threads = torch.get_num_threads()
    prog = PROG
    try:
        try:
            args = parser.parse_args(argv)
            prog = f"{PROG} {args.command}"
            if "OMP_NUM_THREADS" not in os.environ:
                torch.set_num_threads(1)
            status: int = args.run(args)
        finally:
            sys.stdout.flush()  # here, where a closed pipe can still be answered
        return status
    except BrokenPipeError:  # e.g. `| head`: the reader has all it wants
        _quiet_stdout()
        return 1
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help and --version
        return exit_.code if isinstance(exit_.code, int) else 0
    except (ValueError, MemoryError, RuntimeError, TypeError) as error:
        if not too_large(error):
            if isinstance(error, ValueError):  # a setting the library refuses, e.g. padding that does not fit
                print(UsageError(prog, str(error)), file=sys.stderr)
                return 2
            raise
        print(  # sizes whose tensors cannot exist
            UsageError(
                prog,
                f"not enough memory for these settings ({_sizes_given(args)}): {_allocation_text(error)}; "
                "use smaller sizes",
            ),
            file=sys.stderr,
        )
        return 2
    finally:
        torch.set_num_threads(threads)
