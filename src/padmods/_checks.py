"""Every argument and input check of padmods, with messages that name the caller and the values.

Layers, the function twins and the analysis tools all check through here, so one kind of mistake
gets one kind of message wherever it is made.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from padmods import _geometry
from padmods._trace import is_plain_eager
from padmods._typing import Pairs

__all__ = [
    "AXIS_NAMES",
    "BORDERS_WITH_LIMITS",
    "as_tuple",
    "check_axis_modes",
    "check_conv_input",
    "check_count",
    "check_float",
    "check_int",
    "check_mask",
    "check_mode",
    "check_operands",
    "check_padding_fits",
    "check_spatial_dims",
    "describe",
    "integer",
    "parse_padding",
]

#: The strings that ``padding`` accepts besides ints.
PADDING_STRINGS = ("same", "valid", "full")

#: The borders whose padding is limited by the input size (zero borders fit any padding).
BORDERS_WITH_LIMITS = ("reflect", "replicate", "circular", "symmetric", "spherical")

#: How errors name the spatial axes of a 1-D, 2-D and 3-D input.
AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def describe(where: object) -> str:
    """Name a caller in an error: a module as ``Name(settings)``, anything else as its ``str``.

    Layers pass themselves, so the description is built only when an error is raised. While
    dynamo traces (``torch.compile(fullgraph=True)`` reports the error it meets), the class name only.
    """
    if isinstance(where, torch.nn.Module):
        if torch.compiler.is_dynamo_compiling():  # dynamo cannot trace extra_repr's string methods
            return type(where).__name__
        return f"{type(where).__name__}({where.extra_repr()})"
    return str(where)


def integer(value: Any) -> int | None:
    """``value`` as a Python int if it is an integer, else ``None``.

    An integer is anything :func:`operator.index` accepts, as torch's convolutions take it: ``int``,
    NumPy's integer scalars, a one-element integer tensor. Booleans are not integers here (``True``
    as a kernel size is a mistake), nor are floats, even whole ones (``3.0``).
    """
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer of at least ``minimum``, else raise ``ValueError``."""
    number = integer(value)
    if number is None or number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return number


def check_count(name: str, value: Any) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ``ValueError``."""
    number = integer(value)
    if number is None or number < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return number


def check_float(name: str, value: Any) -> float:
    """Return ``value`` as a float if it is a finite real number above 0, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_spatial_dims(dims: int, where: object) -> int:
    """Return ``dims`` if padmods has an engine for that many spatial axes (1, 2 or 3)."""
    if dims not in AXIS_NAMES:
        raise ValueError(f"{describe(where)} works on 1, 2 or 3 spatial axes, got {dims}")
    return dims


def as_tuple(name: str, value: Any, dims: int, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as one int per spatial axis: an int is repeated, a sequence must have ``dims`` ints.

    Raises:
        ValueError: ``value`` is neither, or an int is below ``minimum``.
    """
    single = integer(value)
    values = (single,) * dims if single is not None else tuple(value) if isinstance(value, (tuple, list)) else None
    numbers = None if values is None else tuple(integer(v) for v in values)
    if numbers is None or len(numbers) != dims or not all(n is not None and n >= minimum for n in numbers):
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{name} must be a {bound} int or {_several(dims)} {bound} ints, got {value!r}")
    return tuple(int(n) for n in numbers)  # type: ignore[arg-type]


def _several(dims: int) -> str:
    return {1: "a tuple of 1", 2: "a pair of"}.get(dims, f"a tuple of {dims}")


def parse_padding(padding: Any, dims: int) -> tuple[int, ...] | str:
    """``padding`` as ``'same'``, ``'valid'`` or one non-negative int per spatial axis."""
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            hint = f" (lowercase, as in torch: {padding.lower()!r})" if padding.lower() in PADDING_STRINGS else ""
            raise ValueError(
                f"padding must be an int, {_several(dims)} ints, 'same', 'valid' or 'full'{hint}, "
                f"got the string {padding!r}"
            )
        return padding
    return as_tuple("padding", padding, dims, minimum=0)


def check_mode(mode: Any, allowed: Sequence[str], where: object) -> str:
    """Return ``mode`` if it is one of ``allowed``, else raise ``ValueError`` listing them."""
    if mode not in allowed:
        raise ValueError(f"{describe(where)}: mode must be one of {tuple(allowed)}, got {mode!r}")
    return str(mode)


def check_axis_modes(modes: Any, allowed: Sequence[str], dims: int, where: object) -> tuple[str, ...]:
    """Return ``modes`` as a tuple if it names one of ``allowed`` for each of ``dims`` spatial axes."""
    if not isinstance(modes, (tuple, list)) or len(modes) != dims or any(m not in allowed for m in modes):
        names = ", ".join(AXIS_NAMES.get(dims, ()))
        raise ValueError(
            f"{describe(where)}: per-axis modes are one of {tuple(allowed)} for each of the {dims} spatial "
            f"axes ({names}), got {modes!r}"
        )
    return tuple(str(m) for m in modes)


def check_conv_input(input: Any, in_channels: int, dims: int, where: object) -> None:
    """Check type, rank, dtype and channel count of a convolution input with ``dims`` spatial axes.

    Raises:
        TypeError: The input is not a tensor or not floating point.
        ValueError: The input has the wrong rank or the wrong number of channels.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{describe(where)} expects a torch.Tensor input, got {type(input).__name__}")
    if input.dim() not in (dims + 1, dims + 2):
        names = ", ".join(name[0].upper() for name in AXIS_NAMES[dims])
        raise ValueError(
            f"{describe(where)} expects a {dims + 1}-D (C, {names}) or {dims + 2}-D (N, C, {names}) input, "
            f"got a {input.dim()}-D input of shape {tuple(input.shape)}"
        )
    if not (input.is_floating_point() or input.is_complex()):
        raise TypeError(f"{describe(where)} expects a floating-point input, got dtype {input.dtype}")
    channels = input.shape[-dims - 1]
    if channels != in_channels:
        raise ValueError(
            f"{describe(where)} expects {in_channels} input channels, got {channels} (input shape {tuple(input.shape)})"
        )
    batch = input.shape[0] if input.dim() == dims + 2 else 1
    empty = [name for name, size in zip(AXIS_NAMES[dims], input.shape[-dims:], strict=True) if size == 0]
    if batch and empty:  # torch refuses these too, with a message about kernel and padded sizes
        raise ValueError(
            f"{describe(where)} got an input of shape {tuple(input.shape)}, empty along the {empty[0]}: as in "
            f"torch.nn.Conv{dims}d, every spatial axis must be non-empty unless the batch is empty"
        )


def check_operands(input: Tensor, weight: Tensor, bias: Tensor | None, where: object) -> None:
    """Check that a checked ``input`` and the ``weight`` and ``bias`` it meets share a dtype and a device.

    Torch's convolutions need both; without this check a mismatch surfaces as torch's own message
    about scalar types, deep inside padding or rescaling. Under autocast torch casts the operands
    itself, so the dtypes are not compared there.

    Raises:
        TypeError: The dtypes differ (outside autocast).
        ValueError: The devices differ.
    """
    layer = isinstance(where, torch.nn.Module)
    for name, tensor in (("weight", weight), ("bias", bias)):
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{describe(where)} expects {name} to be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.device != input.device:
            if layer:
                raise ValueError(
                    f"{describe(where)} has its parameters on {tensor.device}, got an input on {input.device}; "
                    f"move one of them, e.g. layer.to({str(input.device)!r})"
                )
            raise ValueError(f"{where} expects {name} on the input's device {input.device}, got {tensor.device}")
        if tensor.dtype != input.dtype and not torch.is_autocast_enabled(input.device.type):
            if layer:
                raise TypeError(
                    f"{describe(where)} has {tensor.dtype} parameters, got a {input.dtype} input; convert one "
                    f"of them, e.g. layer.to({input.dtype}) or input.to({tensor.dtype})"
                )
            raise TypeError(f"{where} expects {name} of the input's dtype {input.dtype}, got {tensor.dtype}")


def check_padding_fits(mode: str | tuple[str, ...], pairs: Pairs, sizes: Sequence[int], where: object) -> None:
    """Check that a border of ``mode`` (or of one mode per axis) can pad an input of ``sizes`` by ``pairs``.

    Reflection needs every pad smaller than its axis, circular wrapping at most the axis, and
    replication and symmetric mirroring a non-empty axis. Zero borders always fit. A spherical
    border wraps the width (even, at most the width) and mirrors the height across the poles (at
    most the height).

    Raises:
        ValueError: The padding does not fit; the message names the caller, the padding and the size.
    """
    if not _geometry.is_static((pairs, tuple(sizes))):
        _check_fits_at_run_time(mode, pairs, sizes, where)
        return
    if mode == "spherical":
        if sizes[-1] % 2 and any(pairs[0]):  # only rows past a pole need the opposite meridian
            raise ValueError(
                f"{describe(where)}: spherical padding shifts the rows past a pole by half the width, so it needs "
                f"an even width; input spatial size is {tuple(sizes)}"
            )
    modes = mode if isinstance(mode, tuple) else (mode,) * len(sizes)
    names = AXIS_NAMES.get(len(sizes), tuple(f"axis {i}" for i in range(len(sizes))))
    for axis, ((before, after), size, mode) in enumerate(zip(pairs, sizes, modes, strict=True)):
        largest = max(before, after)
        if mode not in BORDERS_WITH_LIMITS or largest == 0:
            continue
        if size == 0:  # every copying border reads the input's own pixels, and there are none
            raise ValueError(
                f"{describe(where)}: {mode} padding fills the border with pixels of the input, but the input is "
                f"empty along the {names[axis]} (input spatial size {tuple(sizes)}), so it cannot pad "
                f"({before}, {after}) there; use padding 0 along the {names[axis]}, or a non-empty input"
            )
        if mode == "reflect":
            fits, rule = largest < size, "smaller than"
        elif mode in ("circular", "spherical"):  # spherical: each pole mirrors at most the whole height
            fits, rule = largest <= size, "at most"
        else:  # replicate and symmetric pad any non-empty axis by any amount
            continue
        if not fits:
            raise ValueError(
                f"{describe(where)}: {mode} padding of ({before}, {after}) along the {names[axis]} must be {rule} "
                f"the input size there ({size}); input spatial size is {tuple(sizes)}"
            )


def check_mask(mask: Any, input: Tensor, dims: int, where: object) -> None:
    """Check a mask of valid pixels against a checked ``input`` with ``dims`` spatial axes.

    The mask holds 0s and 1s (float or bool), on the input's device, of shape :math:`(N, 1, *)` or
    :math:`(N, C_{in}, *)` for an input :math:`(N, C_{in}, *)`, and :math:`(1, *)` or
    :math:`(C_{in}, *)` for an unbatched input :math:`(C_{in}, *)`.

    The values are checked in eager mode only: :func:`torch.compile` traces the call without the
    check, which would break the graph (the shape, dtype and device checks stay).

    Raises:
        TypeError: ``mask`` is not a tensor, or neither floating point nor bool.
        ValueError: ``mask`` has the wrong shape or device, or a value other than 0 and 1.
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"{describe(where)} expects the mask to be a torch.Tensor, got {type(mask).__name__}")
    if not (mask.dtype == torch.bool or mask.is_floating_point()):
        raise TypeError(f"{describe(where)} expects a floating-point or bool mask of 0s and 1s, got dtype {mask.dtype}")
    lead = tuple(input.shape[: input.dim() - dims - 1])  # (N,) or ()
    channels, spatial = input.shape[-dims - 1], tuple(input.shape[-dims:])
    shape = tuple(mask.shape)
    if not (
        len(shape) == input.dim()
        and shape[: len(lead)] == lead
        and shape[len(lead)] in (1, channels)
        and shape[len(lead) + 1 :] == spatial
    ):
        axes = ", ".join(name[0].upper() for name in AXIS_NAMES[dims])
        layout = f"(N, 1, {axes}) or (N, C, {axes})" if lead else f"(1, {axes}) or (C, {axes})"
        hint = ""
        if lead and len(shape) == input.dim() and shape[0] != lead[0]:
            hint = f"; its batch size is {shape[0]}, the input's {lead[0]}"
        raise ValueError(
            f"{describe(where)} expects a mask of shape {layout}, i.e. {(*lead, 1, *spatial)} or "
            f"{(*lead, channels, *spatial)} for its input of shape {tuple(input.shape)}, got a mask of shape "
            f"{shape}{hint}"
        )
    if mask.device != input.device:
        raise ValueError(f"{describe(where)} expects the mask on the input's device {input.device}, got {mask.device}")
    # data-dependent: checked in plain eager calls only (no graph break, no vmap or tracer error)
    if mask.dtype != torch.bool and is_plain_eager():
        wrong = (mask != 0) & (mask != 1)  # NaN included
        if bool(wrong.any()):
            raise ValueError(
                f"{describe(where)} expects a mask of 0s and 1s (1 marks a valid pixel), "
                f"got the value {mask[wrong].flatten()[0].item()!r} among others"
            )


def _check_fits_at_run_time(mode: str | tuple[str, ...], pairs: Pairs, sizes: Sequence[Any], where: object) -> None:
    """:func:`check_padding_fits` for a tracer's symbolic sizes: ``torch._check`` puts each rule in the graph.

    ``torch.export`` then refuses a declared size range that reaches below what the padding needs
    (suggesting the ``Dim`` that fits), and the exported program refuses a smaller input at run
    time, as the eager layer does, instead of wrapping indices around. The rules kept are those
    that tell a wrong result from a right one: reflection smaller than the axis, circular and
    spherical wrapping at most the axis, and spherical's even width.

    torch takes every dynamic size to be at least 2, so a rule that only size 1 breaks (a pad of
    1 to reflect, 2 to wrap) is true for it and leaves nothing in the graph. For those, an exported
    program also gets an assert on the size as a tensor, with a message that names the layer; a
    ``torch.jit.trace`` drops such asserts, and there (and in ONNX) the gathers of
    :mod:`padmods._axis_pad` refuse the index instead (:func:`padmods._axis_pad.refuse_beyond_reach`).
    """
    if mode == "spherical" and not (_geometry.is_static(pairs[0]) and not any(pairs[0])):
        torch._check(sizes[-1] % 2 == 0)  # rows past a pole take the opposite meridian: half the width away
    modes = mode if isinstance(mode, tuple) else (mode,) * len(sizes)
    names = AXIS_NAMES.get(len(sizes), tuple(f"axis {i}" for i in range(len(sizes))))
    for (before, after), size, axis_mode, name in zip(pairs, sizes, modes, names, strict=True):
        if axis_mode not in ("reflect", "circular", "spherical"):
            continue
        largest = torch.sym_max(before, after)
        room = size - largest  # > 0 to reflect, >= 0 to wrap
        torch._check(room > 0 if axis_mode == "reflect" else room >= 0)
        # strict export (dynamo) cannot tell a dynamic size from a static one: every such axis gets the assert
        if _geometry.is_exporting() and (isinstance(size, torch.SymInt) or torch.compiler.is_dynamo_compiling()):
            rule = "smaller than" if axis_mode == "reflect" else "at most"
            plain = type(before) is int and type(after) is int and not torch.compiler.is_dynamo_compiling()
            padding = f" of ({before}, {after})" if plain else ""  # 'same' with a stride: symbolic
            caller = type(where).__name__ if isinstance(where, torch.nn.Module) else str(where)
            torch._assert_async(  # on the CPU, whatever the input's device: a check that raises, not a device assert
                torch.scalar_tensor(room, dtype=torch.int64, device="cpu") >= (1 if axis_mode == "reflect" else 0),
                f"{caller}: {axis_mode} padding{padding} along the {name} must be {rule} the input size there; "
                f"the input is too small along the {name}",
            )
