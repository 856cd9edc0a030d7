"""torch.compile and torch.export trace every layer, caches included, and match eager."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padmods
from padmods._axis_pad import concat_pad

from conftest import assert_close

MODES = ["zeros", "reflect", "replicate", "circular", "symmetric", "spherical", "partial", "coord"]


def check_against_eager(compiled, eager, sizes, batch=2, channels=2):
    for size in sizes:
        x = torch.randn(batch, channels, *size, requires_grad=True)
        out = compiled(x)
        assert_close(out, eager(x))
        (grad,) = torch.autograd.grad(out.sum(), x)
        (expected,) = torch.autograd.grad(eager(x).sum(), x)
        assert_close(grad, expected)


@pytest.mark.parametrize("mode", MODES)
def test_compile_traces_without_graph_breaks(mode):
    """Dynamo and AOTAutograd capture the whole layer; a second size recompiles with new cached maps."""
    torch._dynamo.reset()
    layer = padmods.create(mode, 2, 3, 3, padding="same", stride=2)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    check_against_eager(compiled, layer, [(9, 10), (12, 12)])


def test_compile_traces_coord_on_a_single_image():
    """Eager CoordConv adds its coordinate term straight into a single image's output; traced graphs match it."""
    torch._dynamo.reset()
    layer = padmods.CoordConv2d(2, 3, 3, padding="same", stride=2)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    check_against_eager(compiled, layer, [(9, 10)], batch=1)


@pytest.mark.slow
def test_inductor_compiles_every_mode():
    """One inductor compile (the slow part) of a model that chains every built-in mode."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = nn.Sequential(*(padmods.create(mode, 2, 2, 3, padding="same") for mode in MODES))
    check_against_eager(torch.compile(model, fullgraph=True), model, [(9, 10)])


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_export_succeeds_and_matches_eager(mode, batch):
    layer = padmods.create(mode, 2, 3, 3, padding="same", stride=2)
    x = torch.randn(batch, 2, 9, 10)
    program = torch.export.export(layer, (x,))
    assert_close(program.module()(x), layer(x))
    assert {name for name, _ in program.named_parameters()} == {"weight", "bias"}


@pytest.mark.parametrize("pairs", [((0, 0), (0, 0)), ((1, 2), (3, 0)), ((4, 4), (5, 6))])
def test_compiled_replicate_padding_equals_f_pad(pairs):
    x = torch.randn(2, 3, 4, 5)
    (top, bottom), (left, right) = pairs
    assert torch.equal(
        concat_pad(x, pairs, ("replicate", "replicate")), F.pad(x, (left, right, top, bottom), mode="replicate")
    )


def test_large_circular_input_traces_aten_ops():
    """Eager CPU circular padding of large inputs has its own autograd Function; traced graphs gather with aten ops.

    (Traced graphs pad every copying border by a gather of computed indices, so that the amount
    can follow a dynamic size; see test_deploy.py.)
    """
    layer = padmods.CircularPadConv2d(4, 5, 3, padding=1)
    x = torch.randn(2, 4, 64, 65)
    program = torch.export.export(layer, (x,))
    targets = {node.target for node in program.graph.nodes}
    assert torch.ops.aten.index_select.default in targets
    assert all(isinstance(target, (str, torch._ops.OpOverload)) for target in targets)
    assert_close(program.module()(x), layer(x))
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    check_against_eager(compiled, layer, [(64, 65)], channels=4)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("strict", [False, True])
def test_export_coord_on_large_maps(batch, strict):
    """The coordinate term holds no value computed from tensors, so large maps export too."""
    layer = padmods.CoordConv2d(3, 8, 7, stride=2, padding=3, with_r=batch == 2)
    x = torch.randn(batch, 3, 96, 80)
    program = torch.export.export(layer, (x,), strict=strict)
    assert_close(program.module()(x), layer(x))


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("pad", ["zeros", "reflect", "partial"])
def test_coord_under_cpu_autocast(batch, pad):
    """bfloat16 autocast: the coordinate term follows the convolution's dtype, on one large image too."""
    layer = padmods.CoordConv2d(3, 64, 7, stride=2, padding=3, pad=pad)
    x = torch.randn(batch, 3, 224, 224, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), layer(x), rtol=0.05, atol=0.05)
    (grad,) = torch.autograd.grad(out.float().sum(), x)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("modes", [("zeros", "circular"), ("symmetric", "reflect")])
def test_per_axis_layers_compile_and_export(modes):
    layer = padmods.create(modes, 2, 3, 3, padding="same", stride=2)
    torch._dynamo.reset()
    check_against_eager(torch.compile(layer, fullgraph=True, backend="aot_eager"), layer, [(9, 10)])
    x = torch.randn(2, 2, 9, 10)
    assert_close(torch.export.export(layer, (x,)).module()(x), layer(x))


@pytest.mark.parametrize("dims", [1, 3])
@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular", "symmetric", "partial", "coord"])
def test_1d_and_3d_layers_compile_and_export(mode, dims):
    layer = padmods.create(mode, 2, 3, 3, dim=dims, padding="same", stride=2)
    sizes = (9, 7, 6)[:dims]
    torch._dynamo.reset()
    check_against_eager(torch.compile(layer, fullgraph=True, backend="aot_eager"), layer, [sizes])
    x = torch.randn(2, 2, *sizes)
    assert_close(torch.export.export(layer, (x,)).module()(x), layer(x))
