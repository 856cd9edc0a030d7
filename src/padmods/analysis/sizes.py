"""The input sizes nearest to a given one at which no layer drops padding or pads one side only.

:func:`suggest_sizes` probes sizes around the given one, one spatial axis at a time, and reads the
padding of every convolution and padded pooling layer at each (see
:func:`padmods.analysis.padding_report`). Only shapes matter, so it probes a twin of the model on
the meta device (:mod:`padmods.analysis._probe`), about a millisecond a layer per size; a model
that cannot run there is probed with real forward passes, and a :class:`ShapeProbeWarning` says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Optional

import torch
from torch import nn

from padmods import _checks
from padmods._warnings import user_stacklevel
from padmods.analysis._probe import meta_twin
from padmods.analysis.padding_report import LayerPadding, Recorder, checked_shape, eval_mode, padding_report

__all__ = ["ShapeProbeWarning", "suggest_sizes"]

#: ``progress(done, most)``: called after each probed size with the number done and the most there can be.
Progress = Callable[[int, int], None]


class ShapeProbeWarning(UserWarning):
    """:func:`suggest_sizes` could not probe the model on the meta device and runs it for real, which is slower."""


class _Prober:
    """The padding rows of ``model`` at any input shape: from a meta twin while it can run there, else for real."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.twin = meta_twin(model)
        self.twin_ran = False
        if self.twin is None:
            self._fall_back("it cannot be copied onto the meta device")
        else:
            self.recorder = Recorder(self.twin)
            self.recorder.attach()  # the twin is padmods' own: its hooks stay on

    def _fall_back(self, why: str) -> None:
        self.twin = None
        warnings.warn(
            f"suggest_sizes: {type(self.model).__name__} cannot run on the meta device ({why}); it probes each "
            "size with a real forward pass instead, which takes longer (pass progress= to follow it)",
            ShapeProbeWarning,
            stacklevel=user_stacklevel(),
        )

    def rows(self, shape: tuple[int, ...]) -> Optional[tuple[LayerPadding, ...]]:
        """The rows at ``shape``, or ``None`` where the model fails at that shape."""
        if self.twin is not None:
            self.recorder.reset()
            try:
                with torch.no_grad():
                    self.twin(torch.empty(shape, device="meta"))
            except Exception as error:
                if self.twin_ran:  # the twin runs this model: the size itself does not
                    return None
                real = self._real_rows(shape)
                if real is not None:  # the model runs for real but not on meta
                    self._fall_back(f"{type(error).__name__}: {' '.join(str(error).split())[:200]}")
                return real
            self.twin_ran = True
            return tuple(self.recorder.rows)
        return self._real_rows(shape)

    def _real_rows(self, shape: tuple[int, ...]) -> Optional[tuple[LayerPadding, ...]]:
        try:
            with eval_mode(self.model):
                return padding_report(self.model, shape).layers
        except (RuntimeError, ValueError):
            return None


def _clean(rows: Sequence[LayerPadding], axis: int, spatial: int, symmetric: bool) -> bool:
    """Whether no row of a ``spatial``-axis input drops padding on ``axis`` (nor, ``symmetric``, pads one side more)."""
    for row in rows:
        if len(row.input_size) != spatial:
            continue
        if row.unused[axis] != (0, 0):
            return False
        before, after = row.used[axis]
        if symmetric and before != after:
            return False
    return True


def suggest_sizes(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    count: int = 3,
    max_distance: int = 64,
    symmetric: bool = True,
    progress: Optional[Progress] = None,
) -> tuple[tuple[int, ...], ...]:
    """The input sizes nearest to ``input_shape`` at which every layer pads cleanly, axis by axis.

    A size is clean on an axis when no convolution and no max- or average-pooling layer with
    padding drops padding there (every padding element is read by some output), and, with
    ``symmetric=True``, when each of them reads as much padding before as after (TensorFlow's
    ``'same'`` at an even size pads the bottom and right only). Each spatial axis is searched on
    its own, the other sizes kept: sizes at distance 0, 1, 2, ... (the smaller first on a tie), up
    to ``max_distance``. A size at which the model fails (a U-Net whose skips no longer match) does
    not count; layers whose padding is unknown (see :func:`padding_report`) are not counted.

    For a ResNet-50 at 224, whose 7x7 stem, stride-2 max-pool and stride-2 stages drop padding at
    even sizes, the answer is ``225``, then ``193`` and ``257``: the sizes :math:`32 k + 1`, odd at
    every stage. Counting the convolutions alone would give ``227`` and ``195`` next, at which the
    max-pool drops a row and a column.

    Only shapes matter, so the sizes are probed on a copy of the model on the meta device, which
    holds no values and computes nothing (a ResNet-50 answers in about a second). A model that
    cannot run there (it reads values in ``forward``, or makes tensors on another device) is
    probed with real forward passes on zeros, and a :class:`ShapeProbeWarning` says so. The model
    itself is left as it was; its hooks do not run on the copy.

    Args:
        model: The model.
        input_shape: The input's shape, ``(N, C, *spatial)``.
        count: How many sizes to name per axis. Default: 3
        max_distance: How far from the given size to search. Default: 64
        symmetric: Also require every layer to read as much padding on both sides of the axis; a
            layer that pads asymmetrically at every size (an even kernel with ``'same'``) then
            leaves no size clean. Default: ``True``
        progress: ``progress(done, most)`` after each size probed: how many sizes were probed and
            the most that can be. Default: none

    Returns:
        One tuple per spatial axis: up to ``count`` sizes, nearest first.

    Examples:
        >>> stage = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, stride=2, padding=1))
        >>> suggest_sizes(stage, (1, 3, 224, 224), count=2)
        ((225, 221), (225, 221))
    """
    count = _checks.check_count("count", count)
    max_distance = _checks.check_int("max_distance", max_distance, 0)
    shape = checked_shape(input_shape)
    if not isinstance(model, nn.Module):
        raise TypeError(f"suggest_sizes expects an nn.Module, got {type(model).__name__}")
    spatial = len(shape) - 2
    prober = _Prober(model)
    most, done = spatial * (2 * max_distance + 1), 0
    suggestions = []
    for axis in range(spatial):
        found: list[int] = []
        for distance in range(max_distance + 1):
            for size in dict.fromkeys((shape[2 + axis] - distance, shape[2 + axis] + distance)):
                if size < 1 or len(found) >= count:
                    continue
                probe = (*shape[: 2 + axis], size, *shape[3 + axis :])
                rows = prober.rows(probe)
                if rows is not None and _clean(rows, axis, spatial, symmetric):
                    found.append(size)
                done += 1
                if progress is not None:
                    progress(done, most)
            if len(found) >= count:
                break
        suggestions.append(tuple(found))
    return tuple(suggestions)
