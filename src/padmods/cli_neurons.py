"""``padmods neurons``: the padding-aware neurons of a model named on the command line.

Usage::

    padmods neurons torchvision.models:resnet50() --inputs images.pt [--threshold 0.9] [--batch-size 32]
                    [--intervene circular] [--no-progress] [--json]

``MODEL`` is given as for ``padmods report`` (``module:attribute``, ``module:factory()`` or
``path/to/model.py:attribute``).
``--inputs`` is a file saved with :func:`torch.save`: a tensor of samples, split into batches of
``--batch-size``, or a list of tensors, one batch each.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from padmods.analysis.neurons import DEFAULT_THRESHOLD, padding_neurons
from padmods.cli_args import JSON_HELP, positive_int
from padmods.cli_report import MODEL_HELP, load_model

__all__ = ["add_parser", "load_inputs", "run"]


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not math.isfinite(value) or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def add_parser(commands: Any) -> None:
    """Add the ``neurons`` subcommand to ``commands`` (argparse's subparsers)."""
    neurons = commands.add_parser(
        "neurons",
        help="which channels of a model respond on the border of their feature map (padding-aware neurons)",
        description="Run MODEL on the samples in --inputs and list the channels whose mean response on a "
        "side of the border lies well above their interior response (Garcia-Gasulla et al., 2023).",
    )
    neurons.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    neurons.add_argument(
        "--inputs",
        required=True,
        metavar="FILE.pt",
        help="samples saved with torch.save: a tensor (N, C, ...) or a list of such batches",
    )
    neurons.add_argument(
        "--threshold",
        type=_threshold,
        default=DEFAULT_THRESHOLD,
        metavar="T",
        help=f"the score from which a channel counts, in (0, 1) (default: {DEFAULT_THRESHOLD})",
    )
    neurons.add_argument(
        "--batch-size", type=positive_int, default=32, metavar="N", help="samples per batch of a tensor (default: 32)"
    )
    neurons.add_argument(
        "--intervene",
        nargs="?",
        const="circular",
        metavar="MODE",
        help="also switch the padding of the neurons' layers to MODE (default: circular) and report the change",
    )
    neurons.add_argument("--no-progress", action="store_true", help="no progress bar (shown when tqdm is installed)")
    neurons.add_argument("--json", action="store_true", help=JSON_HELP)
    neurons.set_defaults(run=run)


def load_inputs(path: str, batch_size: int) -> list[Tensor]:
    """The batches in the file ``path``: a saved tensor split into ``batch_size`` samples, or a saved list of them.

    Raises:
        ValueError: The file cannot be read, or holds something else.
    """
    file = Path(path).expanduser()
    try:
        loaded = torch.load(file, map_location="cpu", weights_only=True)
    except OSError as error:
        raise ValueError(f"cannot read --inputs {path!r}: {error.strerror or error}") from None
    except Exception as error:  # torch.load raises whatever unpickling raises
        message = " ".join(str(error).split())[:200]
        raise ValueError(f"--inputs {path!r} is not a file saved with torch.save: {message}") from None
    if isinstance(loaded, Tensor):
        if loaded.dim() == 0:
            raise ValueError(f"--inputs {path!r} holds a 0-dim tensor; expected samples (N, C, ...)")
        return list(loaded.split(batch_size))
    kind = f"a {type(loaded).__name__}"
    if isinstance(loaded, (list, tuple)):
        odd = [(index, item) for index, item in enumerate(loaded) if not isinstance(item, Tensor)]
        if loaded and not odd:
            return list(loaded)
        kind = (
            f"an empty {type(loaded).__name__}"
            if not loaded
            else f"{kind} with a {type(odd[0][1]).__name__} at {odd[0][0]}"
        )
    raise ValueError(f"--inputs {path!r} holds {kind}; expected a tensor of samples or a list of tensors")


def run(args: argparse.Namespace) -> int:
    """Print the padding-aware neurons of ``args.model`` on the samples of ``args.inputs``."""
    model = load_model(args.model)
    batches = load_inputs(args.inputs, args.batch_size)
    report = padding_neurons(
        model,
        batches,
        threshold=args.threshold,
        intervene=args.intervene if args.intervene is not None else False,
        progress=not args.no_progress,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print(report)
    return 0
