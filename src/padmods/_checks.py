"""Input checks that turn PyTorch's low-level errors into messages naming the layer and the values."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["check_conv_input", "check_padding_fits"]


def describe(where: object) -> str:
    """Name a caller in an error: a module as ``Name(settings)``, anything else as its ``str``.

    Layers pass themselves, so the description is built only when an error is raised.
    """
    if isinstance(where, torch.nn.Module):
        return f"{type(where).__name__}({where.extra_repr()})"
    return str(where)


def check_conv_input(input: torch.Tensor, in_channels: int, where: object) -> None:
    """Check rank, dtype and channel count of a convolution input.

    Raises:
        TypeError: The input is not a tensor or not floating point.
        ValueError: The input is not 3-D/4-D or has the wrong number of channels.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{describe(where)} expects a torch.Tensor input, got {type(input).__name__}")
    if input.dim() not in (3, 4):
        raise ValueError(
            f"{describe(where)} expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, "
            f"got a {input.dim()}-D input of shape {tuple(input.shape)}"
        )
    if not (input.is_floating_point() or input.is_complex()):
        raise TypeError(f"{describe(where)} expects a floating-point input, got dtype {input.dtype}")
    channels = input.shape[-3]
    if channels != in_channels:
        raise ValueError(
            f"{describe(where)} expects {in_channels} input channels, got {channels} (input shape {tuple(input.shape)})"
        )


def check_padding_fits(mode: str, pairs: Sequence[tuple[int, int]], sizes: Sequence[int], where: object) -> None:
    """Check that an explicit ``F.pad`` of ``mode`` can produce ``pairs`` on an input of ``sizes``.

    Reflection needs every pad smaller than its axis, circular wrapping at most the axis, and
    replication a non-empty axis.

    Raises:
        ValueError: The padding does not fit; the message names the layer, the padding and the size.
    """
    for axis, ((before, after), size) in enumerate(zip(pairs, sizes, strict=True)):
        largest = max(before, after)
        if mode == "reflect":
            fits, rule = largest < size, "smaller than"
        elif mode == "circular":
            fits, rule = largest <= size, "at most"
        elif mode == "replicate":
            fits, rule = size > 0 or largest == 0, "possible only on a non-empty input,"
        else:
            continue
        if not fits:
            names = ("height", "width") if len(sizes) == 2 else tuple(f"axis {i}" for i in range(len(sizes)))
            raise ValueError(
                f"{describe(where)}: {mode} padding of ({before}, {after}) along the {names[axis]} must be {rule} "
                f"the input size there ({size}); input spatial size is {tuple(sizes)}"
            )
