"""The eager fast paths against their simple forms, forward and backward, in 1, 2 and 3 dimensions.

A plain eager call decides once, at the top of the layer, that no tracer or transform watches
(``PaddedConvNd._conv_forward``), and then takes forms that a traced call does not:

- the layer's padding worked out once per setting (``_EagerPlan``), and invalidated when a setting
  changes;
- every border but zeros through ``padmods._border_pad.border_pad``: one buffer for symmetric,
  spherical and per-axis borders, and a backward that folds the border back in one pass;
- CoordConv without weight-sized copies: the coordinate channels appended to a small input in
  training (``_coord.appends_coordinates``), and in inference the input taps and the coordinate
  term of each input size kept between calls.

The simple forms here are written without the engine: ``numpy.pad`` indices gathered by torch
and the sphere written row by row (``tests/_reference.py``), ``torch.cat`` of coordinate channels,
and the same layer's traced path where a tracer's form is the reference.
"""

from __future__ import annotations

import pickle

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import padmods
from padmods import _conv, _coord
from padmods._border_pad import border_pad

from _reference import NUMPY_MODES, reference_layer_conv, reference_pad, spherical_reference
from conftest import assert_same_function


@st.composite
def one_pass_cases(draw):
    """1-3 padded axes, a mode per axis, pads that fit one pass, and a size above or below the tiny limit."""
    axes = draw(st.integers(1, 3))
    modes, sizes, pairs = [], [], []
    for _ in range(axes):
        mode = draw(st.sampled_from(list(NUMPY_MODES)))
        size = draw(st.integers(2, 7))
        limit = {"reflect": size - 1}.get(mode, size)
        modes.append(mode)
        sizes.append(size)
        pairs.append((draw(st.integers(0, limit)), draw(st.integers(0, limit))))
    lead = [draw(st.integers(1, 2)), draw(st.integers(1, 3))]
    return tuple(modes), [*lead, *sizes], tuple(pairs)


@given(case=one_pass_cases())
def test_border_pad_equals_numpy_pad_values_and_gradients(case):
    modes, shape, pairs = case
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    out, expected = border_pad(x, pairs, modes), reference_pad(x, pairs, modes)
    assert torch.equal(out, expected)
    probe = torch.randn_like(expected)
    (grad,) = torch.autograd.grad(out, x, probe)
    (expected_grad,) = torch.autograd.grad(expected, x, probe)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        assert torch.equal(border_pad(x, pairs, modes), expected)


@pytest.mark.parametrize("modes", [("symmetric", "symmetric"), ("zeros", "circular"), ("reflect", "symmetric")])
def test_border_pad_second_derivatives(modes):
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    pairs = ((2, 3), (3, 1))
    assert torch.autograd.gradcheck(lambda t: border_pad(t, pairs, modes), (x,))
    assert torch.autograd.gradgradcheck(lambda t: border_pad(t, pairs, modes), (x,))


@pytest.mark.parametrize("pairs", [((1, 1), (1, 1)), ((3, 2), (2, 4)), ((0, 2), (3, 0))])
def test_border_pad_spherical_equals_the_sphere(pairs):
    x = torch.randn(2, 3, 5, 8, dtype=torch.float64, requires_grad=True)
    out, expected = border_pad(x, pairs, "spherical"), spherical_reference(x, pairs)
    assert torch.equal(out, expected)
    probe = torch.randn_like(expected)
    torch.testing.assert_close(torch.autograd.grad(out, x, probe)[0], torch.autograd.grad(expected, x, probe)[0])
    assert torch.autograd.gradgradcheck(lambda t: border_pad(t, pairs, "spherical"), (x,))


def test_symmetric_pad_of_one_is_replication():
    """[a b c] mirrored by one element, edge included, is [a a b c c]: worked out by hand."""
    x = torch.tensor([[[1.0, 2.0, 3.0]]])
    assert border_pad(x, ((1, 1),), "symmetric").flatten().tolist() == [1.0, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("modes", [("symmetric", "symmetric"), ("zeros", "circular"), ("circular", "circular")])
def test_border_pad_keeps_the_layout(layout, modes):
    x = torch.randn(2, 3, 6, 7).to(memory_format=layout).requires_grad_()
    out = border_pad(x, ((2, 2), (2, 2)), modes)
    assert out.is_contiguous(memory_format=layout)
    assert torch.equal(out, reference_pad(x.detach(), ((2, 2), (2, 2)), modes))
    (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
    (expected,) = torch.autograd.grad(reference_pad(x, ((2, 2), (2, 2)), modes), x, torch.ones_like(out))
    torch.testing.assert_close(grad, expected)


# ---- eager_pad routes: tiny and large inputs, with and without autograd --------------------------

#: Below _BORDER_PAD_MIN_ELEMENTS, between it and _FOLD_MIN_ELEMENTS, and above both.
ROUTE_SHAPES = {"tiny": (1, 2, 5, 6), "large": (2, 8, 24, 26), "huge": (1, 4, 256, 260)}


def test_the_route_shapes_sit_on_every_side_of_the_thresholds():
    sizes = {name: torch.Size(shape).numel() for name, shape in ROUTE_SHAPES.items()}
    assert sizes["tiny"] < _conv._BORDER_PAD_MIN_ELEMENTS <= sizes["large"] < _conv._FOLD_MIN_ELEMENTS <= sizes["huge"]


@pytest.mark.parametrize("size", list(ROUTE_SHAPES))
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize(
    ("mode", "pairs"),
    [
        ("reflect", ((2, 1), (1, 3))),
        ("replicate", ((2, 2), (1, 1))),
        ("circular", ((3, 1), (2, 2))),
        ("symmetric", ((1, 1), (1, 1))),
        ("symmetric", ((4, 2), (3, 5))),
        ("symmetric", ((9, 1), (1, 8))),  # mirrors more than once: concatenation
        (("zeros", "circular"), ((1, 2), (2, 1))),
        (("reflect", "replicate"), ((2, 2), (3, 3))),
    ],
)
def test_eager_pad_equals_reference_pad(size, grad, mode, pairs):
    x = torch.randn(ROUTE_SHAPES[size], dtype=torch.float64, requires_grad=grad)
    modes = mode if isinstance(mode, tuple) else (mode, mode)
    out, expected = _conv.eager_pad(x, pairs, mode), reference_pad(x, pairs, modes)
    assert torch.equal(out, expected)
    if grad:
        probe = torch.randn_like(expected)
        torch.testing.assert_close(torch.autograd.grad(out, x, probe)[0], torch.autograd.grad(expected, x, probe)[0])


@pytest.mark.parametrize("size", list(ROUTE_SHAPES))
def test_eager_pad_spherical(size):
    shape = ROUTE_SHAPES[size]
    x = torch.randn(*shape[:-1], shape[-1] + shape[-1] % 2, dtype=torch.float64, requires_grad=True)
    pairs = ((2, 1), (1, 2))
    out, expected = _conv.eager_pad(x, pairs, "spherical"), spherical_reference(x, pairs)
    assert torch.equal(out, expected)
    probe = torch.randn_like(expected)
    torch.testing.assert_close(torch.autograd.grad(out, x, probe)[0], torch.autograd.grad(expected, x, probe)[0])


# ---- every layer: the eager path against the traced one ------------------------------------------

LAYER_MODES = ["zeros", "reflect", "replicate", "circular", "symmetric", "partial", "coord", "spherical", "per-axis"]
SPATIAL = {1: (11,), 2: (9, 10), 3: (5, 6, 7)}


def make_layer(mode, dims, padding, stride, seed=0):
    torch.manual_seed(seed)
    if mode == "per-axis":
        mode = ("zeros", "circular", "reflect")[:dims] if dims > 1 else ("symmetric",)
    if mode == "spherical" and dims != 2:
        pytest.skip("spherical layers are 2-D only")  # pragma: no cover - filtered by the parametrize below
    return padmods.create(mode, 3, 4, 3, dim=dims, stride=stride, padding=padding).double()


def layer_cases():
    for mode in LAYER_MODES:
        for dims in (1, 2, 3):
            if mode == "spherical" and dims != 2:
                continue
            for padding, stride in ((1, 1), ("same", 2), (2, 1), ("full", 1)):
                yield pytest.param(mode, dims, padding, stride, id=f"{mode}-{dims}d-{padding}-s{stride}")


@pytest.mark.parametrize(("mode", "dims", "padding", "stride"), list(layer_cases()))
def test_eager_path_equals_traced_path(mode, dims, padding, stride):
    """Values, input and parameter gradients of the two paths of one layer, to float rounding."""
    layer = make_layer(mode, dims, padding, stride)
    x = torch.randn(2, 3, *SPATIAL[dims], dtype=torch.float64, requires_grad=True)
    eager = layer(x)
    traced = layer._traced_forward(x, layer.weight, layer.bias)
    assert_same_function(eager, traced, [x, layer.weight, layer.bias], atol=1e-10)


def test_plan_follows_changed_settings():
    """A forward, then new padding and stride: the layer computes what a fresh layer with them computes."""
    layer = padmods.ReflectPadConv2d(2, 3, 3, padding=1).double()
    x = torch.randn(1, 2, 9, 9, dtype=torch.float64)
    layer(x)
    layer.padding, layer.stride = 2, 2
    fresh = padmods.ReflectPadConv2d(2, 3, 3, padding=2, stride=2).double()
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(layer(x), fresh(x))
    layer.padding = 4  # reflection needs more than 4 rows; the eager check must see the new padding
    with pytest.raises(ValueError, match=r"reflect padding of \(4, 4\) along the height must be smaller"):
        layer(torch.randn(1, 2, 4, 9, dtype=torch.float64))


@pytest.mark.parametrize("mode", ["reflect", "circular", "spherical", "per-axis"])
def test_eager_path_refuses_what_the_layer_refuses(mode):
    layer = padmods.create(("zeros", "circular") if mode == "per-axis" else mode, 1, 1, 5, padding=2)
    too_small = torch.randn(1, 1, 1, 1)
    with pytest.raises(ValueError, match="padding"):
        layer(too_small)


# ---- CoordConv without weight-sized copies -------------------------------------------------------


def coord_reference(layer, x):
    """``torch.cat([x, coordinate channels])`` convolved over the layer's border, written without the engine."""
    sizes = x.shape[2:]
    axes = [torch.linspace(-1, 1, n, dtype=x.dtype) if n > 1 else torch.full((1,), -1.0, dtype=x.dtype) for n in sizes]
    grids = torch.meshgrid(*axes, indexing="ij")
    channels = list(reversed(grids))
    if layer.with_r:
        channels.append(torch.sqrt(sum(g**2 for g in grids) / len(sizes)))
    coords = torch.stack(channels).expand(x.shape[0], -1, *sizes)
    stacked = torch.cat([x, coords], dim=1)
    pairs = [(p, p) for p in layer.padding]
    modes = (layer.pad_mode,) * len(sizes)
    return reference_layer_conv(layer, stacked, pairs, modes)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("pad", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("with_r", [False, True])
def test_coord_appending_route_equals_concatenation(dims, pad, with_r):
    """Many channels on a small map: training appends the coordinate channels to the input."""
    torch.manual_seed(1)
    layer = padmods.create("coord", 16, 8, 3, dim=dims, padding=1, pad=pad, with_r=with_r).double()
    x = torch.randn(1, 16, *[3] * dims, dtype=torch.float64, requires_grad=True)
    assert _coord.appends_coordinates(x, layer.weight)
    assert_same_function(layer(x), coord_reference(layer, x), [x, layer.weight, layer.bias], atol=1e-10)


def test_coord_appending_route_with_partial_border():
    torch.manual_seed(2)
    layer = padmods.CoordConv2d(16, 8, 3, padding=1, pad="partial").double()
    x = torch.randn(2, 16, 3, 4, dtype=torch.float64, requires_grad=True)
    assert _coord.appends_coordinates(x, layer.weight)
    with torch.no_grad():
        split = layer.eval()(x)  # inference: the split form with kept taps
    layer.train()
    assert_same_function(layer(x), layer._traced_forward(x, layer.weight, layer.bias), [x, layer.weight], atol=1e-10)
    torch.testing.assert_close(layer(x).detach(), split, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("pad", ["zeros", "reflect", "circular", "symmetric"])
@pytest.mark.parametrize("with_r", [False, True])
def test_coord_kept_term_equals_concatenation(context, dims, pad, with_r):
    """In inference the layer convolves the input's own channels and adds the coordinate term it
    keeps for each input size; every call, first or repeated, batch of one or more, and with the
    stride that shrinks the output, equals the concatenation."""
    torch.manual_seed(4)
    layer = padmods.create("coord", 3, 5, 3, dim=dims, padding=1, stride=2, pad=pad, with_r=with_r).double().eval()
    for batch, size in [(2, 6), (2, 6), (1, 7), (3, 5), (1, 6)]:
        x = torch.randn(batch, 3, *[size] * dims, dtype=torch.float64)
        with context():
            out = layer(x)
        torch.testing.assert_close(out, coord_reference(layer, x).detach(), rtol=1e-12, atol=1e-12)
    assert len(layer.__dict__["_kept"][2][1]) == 3  # one term per input size


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_coord_kept_term_of_a_partial_border_equals_the_traced_form(context):
    torch.manual_seed(5)
    layer = padmods.CoordConv2d(3, 4, 3, padding=1, pad="partial", with_r=True).double().eval()
    for size in (5, 6, 5):
        x = torch.randn(2, 3, size, size + 1, dtype=torch.float64)
        with context():
            out = layer(x)
        expected = layer._traced_forward(x, layer.weight, layer.bias).detach()
        torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_coord_kept_terms_are_bounded_and_stay_right_past_the_bound():
    layer = padmods.CoordConv2d(2, 3, 3, padding=1).double().eval()
    with torch.no_grad():
        for size in range(3, 3 + 2 * _coord.KEPT_TERMS):
            x = torch.randn(1, 2, size, 4, dtype=torch.float64)
            torch.testing.assert_close(layer(x), coord_reference(layer, x), rtol=1e-12, atol=1e-12)
            assert len(layer.__dict__["_kept"][2][1]) <= _coord.KEPT_TERMS


def test_coord_kept_term_follows_the_output_dtype_under_autocast():
    """A term kept for bfloat16 outputs (autocast) is not added to a float32 output, nor the other way round."""
    torch.manual_seed(6)
    layer = padmods.CoordConv2d(3, 4, 3, padding=1).eval()
    x = torch.randn(2, 3, 8, 8)
    layer.weight.data[:, 3:] = torch.randn(4, 2, 3, 3)  # coordinate taps that matter
    expected = coord_reference(layer, x).detach()
    with torch.no_grad():
        plain = layer(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = layer(x)
        again = layer(x)
    assert low.dtype == torch.bfloat16
    assert plain.dtype == again.dtype == torch.float32
    torch.testing.assert_close(plain, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(low.float(), expected, rtol=0.05, atol=0.1)


def test_coord_kept_term_is_not_recomputed(monkeypatch):
    """The second call of a size adds the kept term: the coordinates' closed form is not evaluated."""
    layer = padmods.CoordConv2d(2, 3, 3, padding=1).eval()
    x = torch.randn(2, 2, 6, 6)
    calls = []
    original = _coord.coord_term
    monkeypatch.setattr(_coord, "coord_term", lambda *a: calls.append(1) or original(*a))
    with torch.no_grad():
        first, second = layer(x), layer(x)
    assert len(calls) == 1
    assert torch.equal(first, second)


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_coord_parametrized_inference_appends_where_the_output_is_wider(context, dims):
    """A pointwise layer that widens the channels, with a weight it cannot keep (parametrized): the
    stack of input and coordinates is smaller than the output, so it is convolved, and equals the
    concatenation."""
    torch.manual_seed(4)
    layer = padmods.create("coord", 4, 24, 1, dim=dims, with_r=dims == 2).double().eval()
    torch.nn.utils.parametrizations.weight_norm(layer)
    x = torch.randn(2, 4, *[5] * dims, dtype=torch.float64)
    with context():
        assert _coord.appends_coordinates(x, layer.weight, layer.stride)
        out = layer(x)
    torch.testing.assert_close(out, coord_reference(layer, x).detach(), rtol=1e-12, atol=1e-12)
    assert "_kept" not in layer.__dict__
    narrowing = padmods.create("coord", 24, 4, 1, dim=dims)
    with context():  # the output is the smaller one: the coordinates' term is added to it instead
        assert not _coord.appends_coordinates(x.new_empty(2, 24, *[5] * dims).float(), narrowing.weight)


def test_coord_large_maps_split_the_weight():
    layer = padmods.CoordConv2d(2, 3, 3, padding=1)
    assert not _coord.appends_coordinates(torch.randn(4, 2, 32, 32), layer.weight)
    with torch.no_grad():
        assert not _coord.appends_coordinates(torch.randn(1, 2, 2, 2), layer.weight)  # no autograd: kept taps


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_coord_kept_taps_follow_every_change_of_the_weight(context):
    """The taps kept in eval are made again after an optimizer step, load_state_dict and .data replacement."""
    torch.manual_seed(3)
    layer = padmods.CoordConv2d(3, 4, 3, padding=1).double().eval()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)

    def check():
        with context():
            out = layer(x)
        torch.testing.assert_close(out, coord_reference(layer, x).detach(), rtol=1e-12, atol=1e-12)

    check()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer(x).sum().backward()  # a training step between two eval calls
    optimizer.step()
    check()
    state = {k: torch.randn_like(v) for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    check()
    layer.weight.data = torch.randn_like(layer.weight)
    check()
    with torch.no_grad():
        layer.weight[:, :3] *= 2.0  # in place, outside any optimizer
    check()


def test_coord_kept_taps_survive_a_switch_between_inference_mode_and_autograd():
    layer = padmods.CoordConv2d(3, 4, 3, padding=1).double().eval()
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    with torch.inference_mode():
        layer(x)
    out = layer.train()(x.requires_grad_())
    out.sum().backward()  # would fail on an inference tensor saved for backward
    assert layer.weight.grad is not None
    with torch.no_grad():
        torch.testing.assert_close(layer.eval()(x), coord_reference(layer, x), rtol=1e-12, atol=1e-12)


def test_coord_kept_taps_stay_out_of_state_dict_and_pickle():
    layer = padmods.CoordConv2d(3, 4, 3, padding=1).eval()
    with torch.no_grad():
        layer(torch.randn(1, 3, 5, 5))
    assert "_kept" in layer.__dict__
    assert set(layer.state_dict()) == {"weight", "bias"}
    clone = pickle.loads(pickle.dumps(layer))
    assert "_kept" not in clone.__dict__
    x = torch.randn(1, 3, 5, 5)
    with torch.no_grad():
        assert torch.equal(clone(x), layer(x))


def test_coord_parametrized_weight_is_never_kept():
    """A parametrized weight is a new tensor every call, so nothing is kept and a change shows at once."""
    layer = padmods.CoordConv2d(2, 3, 3, padding=1).double().eval()
    torch.nn.utils.parametrizations.weight_norm(layer)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    with torch.no_grad():
        before = layer(x)
        layer.parametrizations.weight.original0.mul_(3.0)
        after = layer(x)
    assert "_kept" not in layer.__dict__
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("mode", LAYER_MODES)
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("size", [6, 40])  # below and above the one-pass threshold (8 x 40 x 40 elements)
def test_channels_last_stays_channels_last(mode, grad, size):
    torch.manual_seed(4)
    modes = ("zeros", "circular") if mode == "per-axis" else mode
    layer = padmods.create(modes, 8, 4, 3, padding=1).double().to(memory_format=torch.channels_last)
    x = torch.randn(1, 8, size, size, dtype=torch.float64).to(memory_format=torch.channels_last)
    x.requires_grad_(grad)
    with torch.set_grad_enabled(grad):
        out = layer(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    contiguous = layer._traced_forward(x.contiguous(), layer.weight, layer.bias)
    torch.testing.assert_close(out, contiguous, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", [*padmods.available(2), ("zeros", "circular")])
def test_a_layer_made_under_inference_mode_runs_and_follows_in_place_edits(mode):
    """Parameters made under ``torch.inference_mode()`` are inference tensors: no version counter
    says when they change, so nothing is kept of them; an in-place edit shows in the next call."""
    torch.manual_seed(15)
    extra = {"pad": "reflect"} if mode == "coord" else {}
    with torch.inference_mode():
        layer = padmods.create(mode, 3, 4, 3, padding=1, **extra).eval()
        x = torch.randn(2, 3, 8, 10)
        first = layer(x)
        layer.weight.mul_(2)
        if layer.bias is not None:
            layer.bias.mul_(2)
        second = layer(x)
    torch.testing.assert_close(second, 2 * first, rtol=1e-5, atol=1e-5)
