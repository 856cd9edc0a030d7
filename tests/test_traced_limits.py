"""A traced, exported or compiled layer accepts exactly the inputs that the eager layer accepts.

Reflection pads by less than the size of an axis, circular wrapping and the poles of spherical
padding by at most the size, and spherical padding across the poles needs an even width. The eager
layer raises a ``ValueError`` on an input its padding does not fit. A traced program computes its
padding from the input's size, and unchecked it reads the border through indices that wrap around
the axis once more and returns numbers. Each test runs a program at every size along one axis from
1 to past the smallest size the eager layer takes, and checks against the eager layer (the oracle)
that it refuses exactly the sizes eager refuses and matches eager at the others.

The cases cover every mode with a size limit (reflect, circular, spherical), per-axis tuples that
hold them, and CoordConv padding with them; fixed padding and ``'same'`` with a stride (whose
padding depends on the size); 1, 2 and 3 spatial axes; and asymmetric fixed padding (``'same'``
with an even kernel). torch takes every dynamic size to be at least 2, so a padding that only size
1 breaks (1 to reflect, 2 to wrap) gives ``torch.export`` nothing to refuse; those programs must
refuse size 1 when they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn
from torch.export import Dim

import padmods

from conftest import assert_close


@dataclass(frozen=True)
class Case:
    """A layer with a size limit along ``axis`` of an input like ``base``."""

    name: str
    build: Callable[[], nn.Module]
    base: tuple[int, ...]
    axis: int

    def __str__(self) -> str:
        return self.name


def _layer(mode: Any, kernel: int, dim: int = 2, **settings: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return padmods.create(mode, 2, 3, kernel, dim=dim, **settings)

    return build


def _coord(kernel: int, pad: Any, **settings: Any) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        torch.manual_seed(0)
        return padmods.CoordConv2d(2, 3, kernel, pad=pad, with_r=True, **settings)

    return build


SAME2 = {"padding": "same", "stride": 2}
B1, B2, B3 = (2, 2, 12), (2, 2, 12, 12), (2, 2, 6, 12, 12)

CASES = [
    Case("reflect-pad1", _layer("reflect", 3, padding=1), B2, 2),
    Case("reflect-pad3", _layer("reflect", 7, padding=3), B2, 3),
    Case("reflect-same-stride2", _layer("reflect", 3, **SAME2), B2, 2),
    Case("reflect-k7-same-stride2", _layer("reflect", 7, **SAME2), B2, 3),
    Case("reflect-k4-same", _layer("reflect", 4, padding="same"), B2, 2),  # (1, 2): asymmetric
    Case("circular-pad2", _layer("circular", 5, padding=2), B2, 2),
    Case("circular-k7-same-stride2", _layer("circular", 7, **SAME2), B2, 3),
    Case("spherical-pad2", _layer("spherical", 5, padding=2), B2, 2),
    Case("spherical-k7-same-stride2", _layer("spherical", 7, **SAME2), B2, 2),
    Case("spherical-width", _layer("spherical", 3, padding=1), B2, 3),  # odd widths too
    Case("reflect,zeros-pad1", _layer(("reflect", "zeros"), 3, padding=1), B2, 2),
    Case("zeros,circular-pad2", _layer(("zeros", "circular"), 5, padding=2), B2, 3),
    Case("reflect,circular-k2-same", _layer(("reflect", "circular"), 2, padding="same"), B2, 2),  # (0, 1)
    Case("symmetric,reflect-same-stride2", _layer(("symmetric", "reflect"), 5, **SAME2), B2, 3),
    Case("coord-reflect-pad1", _coord(3, "reflect", padding=1), B2, 2),
    Case("coord-spherical-pad2", _coord(5, "spherical", padding=2), B2, 2),
    Case("coord-zeros,circular-same-stride2", _coord(5, ("zeros", "circular"), **SAME2), B2, 3),
    Case("reflect-1d-pad1", _layer("reflect", 3, dim=1, padding=1), B1, 2),
    Case("circular-3d-pad2", _layer("circular", 5, dim=3, padding=2), B3, 2),
]

#: What the eager layer says about a size: the ``ValueError`` it raises, naming the padding.
EAGER_REFUSAL = r"padding .* must be (smaller than|at most) the input size|needs an even width"


def resized(case: Case, size: int) -> tuple[int, ...]:
    return tuple(size if axis == case.axis else n for axis, n in enumerate(case.base))


def eager_outcomes(layer: nn.Module, case: Case, sizes: range) -> dict[int, torch.Tensor | None]:
    """For each size, the eager layer's output on a fixed input, or ``None`` where it raises its ``ValueError``."""
    outcomes: dict[int, torch.Tensor | None] = {}
    for size in sizes:
        torch.manual_seed(size)
        x = torch.randn(resized(case, size))
        refusal = ""
        try:
            with torch.no_grad():
                outcomes[size] = layer(x)
        except ValueError as error:
            outcomes[size], refusal = None, str(error)
        if outcomes[size] is None:
            assert re.search(EAGER_REFUSAL, refusal), refusal
    return outcomes


def smallest_accepted(layer: nn.Module, case: Case) -> int:
    outcomes = eager_outcomes(layer, case, range(1, 16))
    return min(size for size, out in outcomes.items() if out is not None)


def check_program(
    run: Callable[[torch.Tensor], torch.Tensor], layer: nn.Module, case: Case, refusal: Any, declared: int = 1
) -> None:
    """``run`` refuses (raising ``refusal``) exactly the sizes eager refuses, from 1 to past the smallest it takes.

    Sizes below a ``declared`` minimum (an exported program's range) are refused whatever eager says.
    """
    smallest = smallest_accepted(layer, case)
    outcomes = eager_outcomes(layer, case, range(1, max(smallest, declared) + 4))
    assert any(out is None for out in outcomes.values()), "the case must reach below the limit"
    for size, want in outcomes.items():
        torch.manual_seed(size)
        x = torch.randn(resized(case, size))
        if want is None or size < declared:
            with pytest.raises(refusal):
                run(x)
        else:
            with torch.no_grad():
                assert_close(run(x), want)


# ---- torch.jit.trace -------------------------------------------------------------------------------

jit_deprecation = pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:DeprecationWarning")


@jit_deprecation
@pytest.mark.parametrize("case", CASES, ids=str)
def test_jit_trace_refuses_what_eager_refuses(case):
    """The trace's gathers point a position the padding cannot reach past the axis: the program fails there."""
    layer = case.build()
    traced = torch.jit.trace(layer, (torch.randn(case.base),))
    # the TorchScript interpreter reports the failed gather, or torch's own reflect/circular check
    check_program(traced, layer, case, RuntimeError)


@jit_deprecation
@pytest.mark.parametrize("case", [CASES[0], CASES[7], CASES[9]], ids=str)
def test_jit_trace_of_an_example_too_small_raises_the_eager_error(case):
    """Tracing checks the example as eager checks it, with the layer's message."""
    layer = case.build()
    too_small = resized(case, 1)
    with pytest.raises(ValueError, match=EAGER_REFUSAL):
        layer(torch.randn(too_small))
    with pytest.raises(ValueError, match=rf"{type(layer).__name__}\(.*\): .*({EAGER_REFUSAL})"):
        torch.jit.trace(layer, (torch.randn(too_small),))


# ---- torch.export -----------------------------------------------------------------------------------


def export(layer: nn.Module, case: Case, low: int, strict: bool) -> torch.export.ExportedProgram:
    """Export with the batch and ``case.axis`` dynamic, ``case.axis`` declared from ``low``."""
    shapes: dict[int, Any] = {0: Dim("batch", min=1, max=16), case.axis: Dim("n", min=low, max=64)}
    if "spherical" in case.name and case.axis != len(case.base) - 1:  # an even width
        shapes[len(case.base) - 1] = 2 * Dim("half_width", min=2, max=32)
    return torch.export.export(layer, (torch.randn(case.base),), dynamic_shapes=(shapes,), strict=strict)


EXPORT_CASES = [case for case in CASES if case.name != "spherical-width"]  # an odd width: see test_compile


def export_cases():
    for case in EXPORT_CASES:
        yield pytest.param(case, False, id=f"{case}-nonstrict")
        if case.name in ("reflect-pad1", "circular-pad2", "zeros,circular-pad2", "reflect-same-stride2"):
            yield pytest.param(case, True, id=f"{case}-strict")


#: How an exported program refuses: padmods' assert (size 1, which torch assumes away), or torch's
#: check of the declared range (any other size below it).
EXPORT_REFUSAL = r"too small along the|Guard failed|to be >="


@pytest.mark.parametrize(("case", "strict"), list(export_cases()))
def test_export_refuses_what_eager_refuses(case, strict):
    """A declared minimum below what the padding needs is refused at export, or the program refuses at run time.

    torch refuses a range it cannot prove the padding fits (suggesting the ``Dim`` that does, for a
    fixed padding), so a minimum below a limit above 2 never exports. Below a limit of 2, torch
    sees nothing wrong (it assumes size 1 away), and the program must refuse size 1 itself.
    Exported from the smallest minimum that torch accepts, the program matches eager everywhere else.
    """
    layer = case.build()
    smallest = smallest_accepted(layer, case)
    for low in (1, 2):
        if smallest > 2:
            with pytest.raises(torch._dynamo.exc.UserError, match="Constraints violated"):
                export(layer, case, low, strict)
            continue
        try:
            program = export(layer, case, low, strict)
        except torch._dynamo.exc.UserError:  # 'same' with a stride: torch cannot always prove the fit
            continue
        check_program(program.module(), layer, case, (RuntimeError, AssertionError))
        with pytest.raises(RuntimeError, match="too small along the"):
            program.module()(torch.randn(resized(case, 1)))
    for low in range(smallest, smallest + 6):
        try:
            program = export(layer, case, low, strict)
        except torch._dynamo.exc.UserError:
            continue
        break
    else:
        pytest.fail(f"export refuses every minimum from {smallest}, the smallest size eager takes, to {low}")
    check_program(program.module(), layer, case, (RuntimeError, AssertionError), declared=low)


def test_export_names_the_dim_that_fits():
    """A fixed padding of 3 to reflect: export suggests the minimum of 4."""
    layer = padmods.ReflectPadConv2d(2, 3, 7, padding=3)
    case = CASES[1]
    with pytest.raises(torch._dynamo.exc.UserError, match=r"Dim\('n', min=4"):
        export(layer, case, 2, strict=False)


# ---- torch.compile(dynamic=True) ----------------------------------------------------------------------

COMPILE_CASES = [CASES[0], CASES[2], CASES[5], CASES[9], CASES[12], CASES[15]]


@pytest.mark.parametrize("case", COMPILE_CASES, ids=str)
def test_compile_refuses_what_eager_refuses(case):
    """Compiled with dynamic sizes, the layer is traced again for a size its guards do not cover, and checked.

    With ``fullgraph=True`` dynamo reports the layer's ``ValueError`` as an error it met while tracing.
    """
    torch._dynamo.reset()
    layer = case.build()
    compiled = torch.compile(layer, dynamic=True, fullgraph=True, backend="aot_eager")
    compiled(torch.randn(case.base))
    refusal = (ValueError, torch._dynamo.exc.Unsupported)
    check_program(compiled, layer, case, refusal)
    with pytest.raises(refusal, match=rf"{type(layer).__name__}: .*({EAGER_REFUSAL})"):
        compiled(torch.randn(resized(case, 1)))
