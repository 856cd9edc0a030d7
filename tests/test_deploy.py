"""Every mode through torch's deployment paths: torch.export and torch.compile with dynamic sizes, jit.trace, FX.

The padding of ``'same'`` with a stride depends on the input size (TensorFlow's rule puts the odd
pixel after), and so do partial convolution's ratio map and CoordConv's coordinate term; a traced
graph must compute them from the input it gets, not keep the example's. Each test exports or
traces a layer at one size and runs it at others, batch 1 and odd sizes included, against eager.
Sizes reach above the eager fast-path thresholds (circular's Function at 4096 elements, the
1->1-channel depthwise fold at batch * H * W >= 16384), which traced graphs must leave out.

The ``deploy`` marker names the path for the docs table of what is verified (``tests_export``).
"""

from __future__ import annotations

import pickle
import re
import warnings

import pytest
import torch
from torch import nn
from torch.export import Dim

import padmods
from padmods import _conv
from padmods.layers.coord import CoordConvNd

from conftest import assert_close

MODES = [*padmods.available(), ("zeros", "circular")]


def mode_dims():
    for mode in MODES:
        for dims in (len(mode),) if isinstance(mode, tuple) else padmods.registry.dimensions(mode):
            if isinstance(mode, tuple) and dims != len(mode):
                continue
            yield pytest.param(mode, dims, id=f"{mode}-{dims}d")


MODE_DIMS = list(mode_dims())
MODES_2D = [pytest.param(mode, 2, id=f"{mode}-2d") for mode in MODES]

#: padding="same" with stride 2 (padding that depends on the size), and a fixed padding of 1.
SETTINGS = {"same-stride2": {"padding": "same", "stride": 2}, "pad1": {"padding": 1}}

#: (example size, other sizes) per number of spatial axes; the last axis stays even for spherical.
SIZES = {
    1: ((2, 2, 33), [(1, 2, 40), (3, 2, 17)]),
    2: ((2, 2, 34, 18), [(1, 2, 33, 18), (3, 2, 17, 40), (2, 2, 48, 48)]),  # 48x48: circular's Function
    3: ((2, 2, 9, 8, 10), [(1, 2, 7, 10, 6), (3, 2, 12, 9, 8)]),
}


def make(mode, dims, setting, seed=0):
    torch.manual_seed(seed)
    return padmods.create(mode, 2, 3, 3, dim=dims, **SETTINGS[setting])


def dynamic_shapes(mode, dims):
    """Dynamic batch and spatial sizes; spherical's width is even (half of it is the opposite meridian)."""
    shapes = {0: Dim("batch", min=1, max=64)}
    for axis in range(dims):
        shapes[2 + axis] = Dim(f"axis{axis}", min=4, max=256)
    if mode == "spherical":
        shapes[3] = 2 * Dim("half_width", min=2, max=128)
    return (shapes,)


def check_at_sizes(run, layer, sizes, grad=False):
    for size in sizes:
        x = torch.randn(*size, requires_grad=grad)
        out = run(x)
        with torch.no_grad():
            assert_close(out, layer(x))
        if grad:
            probe = torch.randn_like(out)
            (got,) = torch.autograd.grad((out * probe).sum(), x)
            (want,) = torch.autograd.grad((layer(x) * probe).sum(), x)
            assert_close(got, want)


# ---- torch.export --------------------------------------------------------------------------------


def export_cases():
    """2-D: both settings, strict and non-strict; 1-D and 3-D: the size-dependent setting, non-strict."""
    for param in MODE_DIMS:
        mode, dims = param.values
        for setting in SETTINGS if dims == 2 else ["same-stride2"]:
            for strict in (False, True) if dims == 2 else (False,):
                kind = "strict" if strict else "nonstrict"
                yield pytest.param(mode, dims, setting, strict, id=f"{param.id}-{setting}-{kind}")


@pytest.mark.deploy("torch.export")
@pytest.mark.parametrize(("mode", "dims", "setting", "strict"), list(export_cases()))
def test_export_with_dynamic_batch_and_sizes(mode, dims, setting, strict):
    layer = make(mode, dims, setting)
    example, others = SIZES[dims]
    program = torch.export.export(
        layer, (torch.randn(*example),), dynamic_shapes=dynamic_shapes(mode, dims), strict=strict
    )
    check_at_sizes(program.module(), layer, [example, *others])


def test_export_same_stride2_pads_each_size_as_eager():
    """The issue's case: exported at 34x18, run at 33x17, 'same' with stride 2 gives 17x9 like eager.

    (The example batch is 2: torch specializes a dynamic dimension whose example size is 1.)
    """
    layer = padmods.ZeroPadConv2d(2, 3, 3, padding="same", stride=2)
    program = torch.export.export(layer, (torch.randn(2, 2, 34, 18),), dynamic_shapes=dynamic_shapes("zeros", 2))
    x = torch.randn(1, 2, 33, 17)
    assert program.module()(x).shape == (1, 3, 17, 9)
    assert_close(program.module()(x), layer(x))


@pytest.mark.parametrize("strict", [False, True], ids=["nonstrict", "strict"])
@pytest.mark.parametrize(
    ("mode", "smallest"),
    [("reflect", 4), ("circular", 3), ("spherical", 3), (("reflect", "zeros"), 4), (("zeros", "circular"), 1)],
    ids=str,
)
def test_export_refuses_sizes_the_padding_cannot_fit(mode, smallest, strict):
    """Padding 3 needs a height of at least 4 to reflect and 3 to wrap: the exported program knows it.

    A declared range that reaches below that is refused at export with torch's suggested fix, and
    the program exported with the right range refuses a smaller input at run time, as the eager
    layer does, instead of wrapping indices around.
    """
    layer = padmods.create(mode, 1, 1, 7, padding=3)
    example = torch.randn(2, 1, 16, 16)
    if mode == "spherical":  # and an even width, whatever the height
        with pytest.raises(torch._dynamo.exc.UserError, match="Constraints violated"):
            torch.export.export(layer, (example,), dynamic_shapes=({3: Dim("width", min=8, max=256)},), strict=strict)

    def export(low):
        width = 2 * Dim("half_width", min=4, max=128) if mode == "spherical" else Dim("width", min=8, max=256)
        shapes = {2: Dim("height", min=low, max=256), 3: width}
        return torch.export.export(layer, (example,), dynamic_shapes=(shapes,), strict=strict)

    if smallest > 2:
        with pytest.raises(torch._dynamo.exc.UserError, match=rf"Dim\('height', min={smallest}"):
            export(2)
    program = export(smallest).module()
    x = torch.randn(2, 1, smallest, 10)
    assert_close(program(x), layer(x))
    if smallest > 2:
        too_small = torch.randn(2, 1, smallest - 1, 10)
        with pytest.raises(ValueError, match="padding of \\(3, 3\\) along the height"):
            layer(too_small)
        with pytest.raises((AssertionError, RuntimeError), match="height|size"):
            program(too_small)


@pytest.mark.deploy("torch.export")
@pytest.mark.parametrize(("pad", "with_r"), [("partial", True), ("reflect", False), (("zeros", "circular"), True)])
def test_export_coord_variants_with_dynamic_sizes(pad, with_r):
    layer = padmods.CoordConv2d(2, 3, 3, padding="same", stride=2, pad=pad, with_r=with_r)
    example, others = SIZES[2]
    program = torch.export.export(layer, (torch.randn(*example),), dynamic_shapes=dynamic_shapes("coord", 2))
    check_at_sizes(program.module(), layer, [example, *others])


# ---- torch.compile(dynamic=True) -------------------------------------------------------------------


def compile_cases():
    """Every mode in 2-D with the size-dependent setting; 1-D and 3-D for the modes with maps (compiling is slow)."""
    for param in MODE_DIMS:
        mode, dims = param.values
        if dims == 2 or mode in ("partial", "coord"):
            yield pytest.param(mode, dims, "same-stride2", id=f"{param.id}-same-stride2")


@pytest.mark.deploy("torch.compile(dynamic=True), aot_eager")
@pytest.mark.parametrize(("mode", "dims", "setting"), list(compile_cases()))
def test_compile_dynamic_matches_eager_with_gradients(mode, dims, setting):
    torch._dynamo.reset()
    layer = make(mode, dims, setting)
    compiled = torch.compile(layer, dynamic=True, fullgraph=True, backend="aot_eager")
    example, others = SIZES[dims]
    check_at_sizes(compiled, layer, [example, *others], grad=True)


# ---- torch.compile(dynamic=True) with inductor -------------------------------------------------------

#: The borders that inductor's backward fails for at a second size in torch 2.13: those built by
#: concatenating slices (circular, replicate and symmetric borders, spherical and per-axis ones).
INDUCTOR_STRIDE_BUG = ("circular", "replicate", "symmetric", "spherical", ("zeros", "circular"))

#: Sizes for inductor: the second has the first's parity, so the graph compiled for the first runs it.
INDUCTOR_SIZES = [(2, 2, 34, 18), (2, 2, 48, 48)]


class InductorStrideBug(Exception):
    """Inductor's stride check of a saved tensor failed (``expected size ... stride ...``): torch's bug."""


def check_compiled(run, layer, sizes):
    """:func:`check_at_sizes` with gradients, inductor's stride assertion told apart from a wrong result."""
    try:
        check_at_sizes(run, layer, sizes, grad=True)
    except AssertionError as error:
        if re.search(r"expected size \d+==\d+, stride \d+==\d+", str(error)):
            raise InductorStrideBug(str(error)) from error
        raise


@pytest.mark.slow
@pytest.mark.deploy("torch.compile(dynamic=True), inductor")
@pytest.mark.parametrize(("mode", "dims"), MODES_2D)
def test_inductor_dynamic_forward_and_backward_at_a_second_size(mode, dims, request):
    """inductor, forward and backward, 'same' with stride 2, at the example's size and a second one.

    For the borders of :data:`INDUCTOR_STRIDE_BUG` torch 2.13's inductor fails in the backward at the
    second size (layout optimization makes the saved padded input channels-last, with the strides of
    the first size); torch's own circular padding fails the same way
    (:func:`test_inductor_stride_bug_is_torchs`). The strict xfail turns into a failure the day torch
    fixes it, so that docs/export.rst and the table can be updated.
    """
    if mode in INDUCTOR_STRIDE_BUG:
        request.applymarker(pytest.mark.xfail(raises=InductorStrideBug, strict=True, reason="torch's inductor"))
    torch._dynamo.reset()
    layer = make(mode, dims, "same-stride2")
    check_compiled(torch.compile(layer, dynamic=True, fullgraph=True), layer, INDUCTOR_SIZES)


@pytest.mark.slow
@pytest.mark.xfail(raises=InductorStrideBug, strict=True, reason="torch's inductor")
def test_inductor_stride_bug_is_torchs():
    """torch's own circular padding, by TensorFlow's 'same' for the size, before a stride-2 convolution.

    It fails as the padmods borders do: the bug is torch's, not the way padmods pads.
    """

    class TorchCircular(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, stride=2)

        def forward(self, x):
            height, width = 1 + (-x.shape[-2]) % 2, 1 + (-x.shape[-1]) % 2  # 'same' for a 3x3 kernel, stride 2
            pads = (width // 2, width - width // 2, height // 2, height - height // 2)
            return self.conv(torch.nn.functional.pad(x, pads, mode="circular"))

    torch._dynamo.reset()
    torch.manual_seed(0)
    layer = TorchCircular()
    check_compiled(torch.compile(layer, dynamic=True, fullgraph=True), layer, INDUCTOR_SIZES)


@pytest.mark.slow
@pytest.mark.parametrize("mode", INDUCTOR_STRIDE_BUG, ids=str)
def test_inductor_without_layout_optimization_compiles_the_border(mode):
    """The workaround of docs/export.rst: with ``layout_optimization`` off, the border compiles."""
    torch._dynamo.reset()
    layer = make(mode, 2, "same-stride2")
    with torch._inductor.config.patch(layout_optimization=False):
        check_compiled(torch.compile(layer, dynamic=True, fullgraph=True), layer, INDUCTOR_SIZES)


# ---- torch.jit.trace -------------------------------------------------------------------------------

jit_deprecation = pytest.mark.filterwarnings("ignore:`torch.jit.trace.*` is deprecated:DeprecationWarning")


@jit_deprecation
@pytest.mark.deploy("torch.jit.trace")
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(("mode", "dims"), MODE_DIMS)
def test_jit_trace_is_right_at_other_sizes(mode, dims, setting):
    """Traced with gradients on (the tracer checks its graph twice), without any TracerWarning (warnings are errors)."""
    layer = make(mode, dims, setting)
    example, others = SIZES[dims]
    traced = torch.jit.trace(layer, (torch.randn(*example, requires_grad=True),))
    check_at_sizes(traced, layer, [example, *others], grad=True)


@jit_deprecation
@pytest.mark.parametrize("mode", ["zeros", "circular", "partial", "coord"])
def test_jit_trace_leaves_the_batch_fold_out(mode):
    """A 1->1-channel layer at batch * H * W >= 16384 is folded into a depthwise conv in eager only."""
    layer = padmods.create(mode, 1, 1, 3, padding=1)
    x = torch.randn(4, 1, 64, 64, requires_grad=True)
    assert _conv._runs_depthwise(x, layer.weight[:, :1], 1)
    traced = torch.jit.trace(layer, (x,))
    assert "groups=4" not in str(traced.graph)
    check_at_sizes(traced, layer, [(4, 1, 64, 64), (3, 1, 64, 64), (1, 1, 20, 30)], grad=True)


@jit_deprecation
def test_jit_trace_circular_function_stays_out_with_grad():
    """Above 4096 elements eager circular padding is a custom Function; the trace keeps aten ops, and checks."""
    layer = padmods.CircularPadConv2d(4, 4, 3, padding=1)
    x = torch.randn(2, 4, 40, 40, requires_grad=True)
    traced = torch.jit.trace(layer, (x,), check_trace=True)
    assert "PythonOp" not in str(traced.graph)
    check_at_sizes(traced, layer, [(2, 4, 40, 40), (1, 4, 33, 17)], grad=True)


# ---- torch.fx ----------------------------------------------------------------------------------------


def small_model(mode, dims):
    torch.manual_seed(0)
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    model = nn.Sequential(conv(2, 4, 3, padding=1), nn.ReLU(), conv(4, 3, 3, padding=1, stride=2))
    converted = padmods.convert(model, mode)
    if mode == "coord":  # nonzero coordinate taps, so that the coordinate term is in the output
        with torch.no_grad():
            for layer in converted.modules():
                if isinstance(layer, CoordConvNd):
                    layer.weight[:, layer.in_channels :].normal_()
    return converted


@pytest.mark.deploy("torch.fx.symbolic_trace")
@pytest.mark.parametrize(("mode", "dims"), MODE_DIMS)
def test_fx_symbolic_trace_of_a_converted_model(mode, dims):
    model = small_model(mode, dims)
    graph_module = torch.fx.symbolic_trace(model)
    nodes = list(graph_module.graph.nodes)
    assert [node.target for node in nodes if node.op == "call_module"] == ["1"]  # the ReLU only
    assert len([node for node in nodes if node.op == "call_function"]) == 2  # one per padmods layer
    example, others = SIZES[dims]
    check_at_sizes(graph_module, model, [example, *others], grad=True)


@pytest.mark.deploy("torch.fx.symbolic_trace")
@pytest.mark.parametrize("mode", ["reflect", "partial", "coord"])
def test_fx_feature_extraction(mode):
    """Cut the traced graph after the ReLU: the intermediate features, as torchvision's feature extractor does."""
    model = small_model(mode, 2)
    graph_module = torch.fx.symbolic_trace(model)
    graph = graph_module.graph
    relu = next(node for node in graph.nodes if node.op == "call_module" and node.target == "1")
    output = next(node for node in graph.nodes if node.op == "output")
    output.args = (relu,)
    graph.eliminate_dead_code()
    graph_module.recompile()
    x = torch.randn(2, 2, 11, 12)
    assert_close(graph_module(x), model[:2](x))


@pytest.mark.deploy("torch.fx.symbolic_trace")
@pytest.mark.parametrize(("mode", "dims"), MODE_DIMS)
def test_fx_graph_modules_pickle_and_save(mode, dims, tmp_path, monkeypatch):
    """A GraphModule of a converted model, and of a layer traced on its own, survive pickle and torch.save.

    As one of torch's own convolutions does: the node's target is a function importable by name.
    (A partial layer on its own is traced with ``concrete_args``; loading such a GraphModule leaves
    an entry in torch.fx's table of wrapped functions that breaks every later trace, with torch's
    modules as with padmods', so the table is restored after the test.)
    """
    symbolic_trace = torch.fx._symbolic_trace
    wrapped = dict(symbolic_trace._wrapped_fns_to_patch)
    layer = padmods.create(mode, 2, 3, 3, dim=dims, padding="same", stride=2)
    concrete = {"mask": None} if mode == "partial" else None  # layer(input, mask) is not recorded
    example, others = SIZES[dims]
    path = tmp_path / "graph_module.pt"
    for original, graph_module in (
        (small_model(mode, dims), torch.fx.symbolic_trace(small_model(mode, dims))),
        (layer, torch.fx.symbolic_trace(layer, concrete_args=concrete)),
    ):
        torch.save(graph_module, path)
        pickled = pickle.dumps(graph_module)
        for load in (pickle.loads, lambda _: torch.load(path, weights_only=False)):
            monkeypatch.setattr(symbolic_trace, "_wrapped_fns_to_patch", dict(wrapped))
            check_at_sizes(load(pickled), original, [example, *others])


def test_fx_graph_module_of_a_layer_holds_it_once():
    """Traced on its own, the layer is the GraphModule's submodule ``_fx_layer``, sharing its parameters."""
    layer = padmods.ReflectPadConv2d(2, 3, 3, padding=1)
    graph_module = torch.fx.symbolic_trace(layer)
    assert graph_module._fx_layer is layer
    assert graph_module.weight is layer.weight
    conv = nn.Conv2d(2, 3, 3, padding=1)  # what torch's own convolution gives, for comparison
    assert isinstance(pickle.loads(pickle.dumps(torch.fx.symbolic_trace(conv))), torch.fx.GraphModule)


# ---- CoordConv over any border: no TracerWarning ---------------------------------------------------


def coord_pads():
    for pad in [*(mode for mode in padmods.available() if mode != "coord"), ("zeros", "circular")]:
        for with_r in (False, True):
            yield pytest.param(pad, with_r, id=f"{pad}-{'with_r' if with_r else 'xy'}")


@jit_deprecation
@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize(("pad", "with_r"), list(coord_pads()))
def test_jit_trace_of_coord_over_any_border_emits_no_tracer_warning(pad, with_r, setting):
    """Every pad CoordConv takes, spherical among them (a border it convolves as a coordinate image).

    Warnings are errors in this suite, so a TracerWarning fails the trace.
    """
    torch.manual_seed(0)
    layer = padmods.CoordConv2d(2, 3, 3, pad=pad, with_r=with_r, **SETTINGS[setting])
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(layer, (torch.randn(*SIZES[2][0], requires_grad=True),))
    check_at_sizes(traced, layer, [SIZES[2][0], *SIZES[2][1]], grad=True)


@jit_deprecation
def test_jit_trace_of_coord_over_a_plugin_border(clean_registry):
    """A border of a class that implements pad() itself: its coordinate image is traced without warnings."""

    @padmods.register("wrapped")
    class Wrapped(padmods.PaddedConv2d):
        @classmethod
        def pad(cls, input, pairs):
            (top, bottom), (left, right) = pairs
            return torch.nn.functional.pad(input, (left, right, top, bottom), mode="circular")

    torch.manual_seed(0)
    layer = padmods.CoordConv2d(2, 3, 3, pad="wrapped", padding="same", stride=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)
        traced = torch.jit.trace(layer, (torch.randn(*SIZES[2][0]),))
    check_at_sizes(traced, layer, [SIZES[2][0], *SIZES[2][1]])


@jit_deprecation
@pytest.mark.parametrize("path", ["export-nonstrict", "export-strict", "jit.trace"])
def test_partial_conv_with_holes_exports_and_traces(path):
    """``layer(input, mask)``: the counts come from a convolution of the mask, so they follow its size."""
    torch.manual_seed(0)
    layer = padmods.PartialConv2d(2, 3, 3, padding="same", stride=2)
    x, mask = torch.randn(2, 2, 34, 18), (torch.rand(2, 1, 34, 18) > 0.3).float()
    if path == "jit.trace":
        run = torch.jit.trace(layer, (x, mask))
    else:
        dims = dynamic_shapes("partial", 2)[0]
        run = torch.export.export(
            layer, (x, mask), dynamic_shapes=(dims, dims), strict=path == "export-strict"
        ).module()
    for size in [(2, 2, 34, 18), (1, 2, 33, 17), (3, 2, 17, 40)]:
        y, y_mask = torch.randn(*size), (torch.rand(size[0], 1, *size[2:]) > 0.3).float()
        out, new_mask = run(y, y_mask)
        with torch.no_grad():
            want, want_mask = layer(y, y_mask)
        assert_close(out, want)
        assert torch.equal(new_mask, want_mask)
