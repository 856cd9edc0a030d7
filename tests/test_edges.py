"""The edges of every layer: settings changed after construction, NumPy integers, empty inputs, dtypes.

Each edge is checked for every registered mode in 1, 2 and 3 dimensions (and the per-axis layers),
against ``torch.nn.Conv1d``/``2d``/``3d`` where torch defines the behaviour, or against a layer built
with the same settings from the start.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

import padmods

TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
#: Every layer class with the constructor arguments it needs besides nn.ConvNd's.
LAYERS = [
    pytest.param(dims, mode, {}, id=f"{mode}-{dims}d")
    for dims in (1, 2, 3)
    for mode in ("circular", "coord", "partial", "reflect", "replicate", "spherical", "symmetric", "zeros")
    if not (mode == "spherical" and dims != 2)
] + [
    pytest.param(dims, "per-axis", {"borders": ("reflect", "zeros", "circular")[:dims]}, id=f"per-axis-{dims}d")
    for dims in (1, 2, 3)
]
COPYING_MODES = ("reflect", "replicate", "circular", "symmetric", "spherical")


def build(dims, mode, extra, *args, **kwargs):
    if mode == "per-axis":
        return padmods.create(extra["borders"], *args, dim=dims, **kwargs)
    return padmods.create(mode, *args, dim=dims, **kwargs, **extra)


def sample(dims, batch=2, channels=2, size=8):
    return torch.randn(
        batch, channels, *(size,) * dims, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )


def test_every_registered_mode_is_covered():
    covered = {(p.values[0], p.values[1]) for p in LAYERS}
    for dims in (1, 2, 3):
        for mode in padmods.available(dim=dims):
            assert (dims, mode) in covered


# ---- settings changed after construction (issue 15) -------------------------------------------
CHANGES = [
    pytest.param({"padding": 2}, id="padding=2"),
    pytest.param({"padding": 1, "stride": 2}, id="padding=1,stride=2"),
    pytest.param({"stride": 2}, id="stride=2"),
    pytest.param({"dilation": 2, "padding": 1}, id="dilation=2,padding=1"),
    pytest.param({"padding": "same"}, id="padding=same"),
    pytest.param({"padding": "same", "stride": 2}, id="padding=same,stride=2"),
    pytest.param({"padding": "valid"}, id="padding=valid"),
    pytest.param({"padding": "full"}, id="padding=full"),
    pytest.param({"kernel_size": 3}, id="kernel_size=3"),
    pytest.param({"padding": [1, 2, 0]}, id="padding=list"),
    pytest.param({"stride": np.int64(2), "padding": np.int32(1)}, id="numpy"),
]


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_setting_after_construction_equals_a_layer_built_with_it(dims, mode, extra, change):
    change = {k: v[:dims] if isinstance(v, list) else v for k, v in change.items()}
    layer = build(dims, mode, extra, 2, 3, 3, padding=1, dtype=torch.float64)
    for name, value in change.items():
        setattr(layer, name, value)
    fresh = build(dims, mode, extra, 2, 3, **{"kernel_size": 3, "padding": 1, **change}, dtype=torch.float64)
    fresh.load_state_dict(layer.state_dict())
    x = sample(dims)
    torch.testing.assert_close(layer(x), fresh(x), rtol=0, atol=0)
    assert repr(layer) == repr(fresh)
    for name in ("kernel_size", "stride", "padding", "dilation"):
        assert getattr(layer, name) == getattr(fresh, name)
    assert all(type(v) is int for v in layer.stride + layer.dilation + layer.kernel_size)
    clone = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(clone(x), fresh(x), rtol=0, atol=0)


TORCH_CHANGES = [  # torch has no 'full', and no 'same' with stride > 1
    change for change in CHANGES if not any(key in change.id for key in ("full", "same,stride", "list"))
]


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("change", TORCH_CHANGES)
def test_zero_padded_layer_follows_nn_conv_after_a_change(dims, change):
    """The oracle is torch itself: nn.ConvNd honours these settings when they change after construction."""
    layer = padmods.create("zeros", 2, 3, 3, dim=dims, padding=1, dtype=torch.float64)
    conv = TORCH_CONV[dims](2, 3, 3, padding=1, dtype=torch.float64)
    conv.load_state_dict(layer.state_dict())
    for name, value in change.items():
        setattr(layer, name, value)
        setattr(conv, name, value)
    x = sample(dims)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("padding", -1, "padding must be a non-negative int or .* non-negative ints, got -1"),
        ("padding", 1.5, "padding must be a non-negative int or .*, got 1.5"),
        ("padding", "SAME", r"'same', 'valid' or 'full' \(lowercase, as in torch: 'same'\), got the string 'SAME'"),
        ("stride", 0, "stride must be a positive int or .*, got 0"),
        ("stride", True, "stride must be a positive int or .*, got True"),
        ("dilation", (1, 1, 1, 1), r"dilation must be a positive int or .*, got \(1, 1, 1, 1\)"),
        ("kernel_size", 2.0, "kernel_size must be a positive int or .*, got 2.0"),
        ("groups", 0, "groups must be a positive int, got 0"),
        ("in_channels", np.float64(2), r"in_channels must be a positive int, got np.float64\(2.0\)"),
    ],
)
def test_a_bad_setting_is_refused_when_it_is_set(dims, mode, extra, name, value, message):
    layer = build(dims, mode, extra, 2, 3, 3, padding=1)
    before = getattr(layer, name)
    with pytest.raises(ValueError, match=message):
        setattr(layer, name, value)
    assert getattr(layer, name) == before


@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_kernel_size_that_disagrees_with_the_weight_is_named_in_forward(dims, mode, extra):
    layer = build(dims, mode, extra, 2, 3, 3, padding=1)
    layer.kernel_size = 5  # nn.ConvNd ignores it: the weight decides the kernel
    with pytest.raises(ValueError, match=rf"kernel_size \({', '.join(['5'] * dims)},?\) does not match the kernel"):
        layer(sample(dims).float())


@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_padding_mode_cannot_change_after_construction(dims, mode, extra):
    layer = build(dims, mode, extra, 2, 3, 3, padding=1)
    layer.padding_mode = layer.padding_mode  # the same value is fine
    other = "circular" if layer.padding_mode != "circular" else "zeros"
    with pytest.raises(
        ValueError, match=f"the class is the padding mode, so padding_mode cannot change .* to '{other}'"
    ):
        layer.padding_mode = other


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_coord_refuses_groups_set_later(dims):
    layer = padmods.create("coord", 2, 2, 3, dim=dims)
    with pytest.raises(ValueError, match=r"CoordConv\dd supports groups=1 only, got groups=2"):
        layer.groups = 2
    layer.groups = np.int64(1)
    assert layer.groups == 1


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("pad", ["reflect", "partial", "symmetric", ["circular", "zeros", "replicate"]], ids=str)
def test_coord_pad_set_later_equals_a_layer_built_with_it(dims, pad):
    pad = pad[:dims] if isinstance(pad, list) else pad
    layer = padmods.create("coord", 2, 3, 3, dim=dims, padding=1, with_r=True, dtype=torch.float64)
    layer.pad_mode = pad
    fresh = padmods.create("coord", 2, 3, 3, dim=dims, padding=1, with_r=True, pad=pad, dtype=torch.float64)
    fresh.load_state_dict(layer.state_dict())
    x = sample(dims)
    torch.testing.assert_close(layer(x), fresh(x), rtol=0, atol=0)
    assert repr(layer) == repr(fresh)
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), fresh(x), rtol=0, atol=0)


def test_coord_pad_and_with_r_that_cannot_be_set_later_leave_the_layer_as_it_was():
    layer = padmods.CoordConv2d(2, 3, 3, padding=1)
    with pytest.raises(ValueError, match="unknown padding mode 'mirror'"):
        layer.pad_mode = "mirror"
    with pytest.raises(ValueError, match="other than 'coord'"):
        layer.pad_mode = "coord"
    with pytest.raises(ValueError, match=r"per-axis modes are one of .* got \('zeros',\)"):
        layer.pad_mode = ("zeros",)
    with pytest.raises(
        ValueError, match=r"with_r decides how many coordinate channels the weight has, so it cannot change from False"
    ):
        layer.with_r = True
    layer.with_r = False  # unchanged: fine
    assert layer.pad_mode == "zeros"
    x = torch.randn(1, 2, 5, 5)
    fresh = padmods.CoordConv2d(2, 3, 3, padding=1)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), fresh(x), rtol=0, atol=0)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_per_axis_borders_set_later_are_checked_and_used(dims):
    borders = ("reflect", "circular", "symmetric")[:dims]
    layer = padmods.create(("zeros",) * dims, 2, 3, 3, dim=dims, padding=1, dtype=torch.float64)
    layer.borders = list(borders)
    assert layer.borders == borders
    fresh = padmods.create(borders, 2, 3, 3, dim=dims, padding=1, dtype=torch.float64)
    fresh.load_state_dict(layer.state_dict())
    x = sample(dims)
    torch.testing.assert_close(layer(x), fresh(x), rtol=0, atol=0)
    with pytest.raises(ValueError, match="per-axis modes are one of"):
        layer.borders = ("partial",) * dims
    assert layer.borders == borders


@pytest.mark.parametrize("mode", ["zeros", "reflect", "partial", "coord", "symmetric"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_convert_takes_an_nn_conv_whose_settings_changed_later(dims, mode):
    conv = TORCH_CONV[dims](2, 3, 3, dtype=torch.float64)
    conv.padding, conv.stride, conv.dilation = 2, 2, 2  # ints, as nn.ConvNd allows
    layer = padmods.convert(nn.Sequential(conv), mode)[0]
    assert (layer.padding, layer.stride, layer.dilation) == ((2,) * dims, (2,) * dims, (2,) * dims)
    if mode == "zeros":
        x = sample(dims, size=9)
        torch.testing.assert_close(layer(x), conv(x), rtol=1e-12, atol=1e-12)


# ---- NumPy and other integer types (issue 15) -------------------------------------------------
INTEGERS = [np.int64, np.int32, np.int16, np.uint8, lambda n: torch.tensor(n)]


@pytest.mark.parametrize("integer", INTEGERS, ids=["int64", "int32", "int16", "uint8", "tensor"])
@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_numpy_integers_build_the_same_layer_as_ints(dims, mode, extra, integer):
    groups = 1 if mode == "coord" else 2
    plain = build(dims, mode, extra, 4, 6, 3, stride=2, padding=1, dilation=1, groups=groups)
    numpy_layer = build(
        dims,
        mode,
        extra,
        integer(4),
        integer(6),
        integer(3),
        stride=(integer(2),) * dims,
        padding=integer(1),
        dilation=integer(1),
        groups=integer(groups),
    )
    assert repr(numpy_layer) == repr(plain)
    for name in ("in_channels", "out_channels", "groups"):
        assert type(getattr(numpy_layer, name)) is int
    numpy_layer.load_state_dict(plain.state_dict())
    x = sample(dims, channels=4).float()
    torch.testing.assert_close(numpy_layer(x), plain(x), rtol=0, atol=0)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_nn_conv_takes_numpy_integers_too(dims):
    """The reason for accepting them: torch's own convolutions do."""
    conv = TORCH_CONV[dims](np.int64(2), np.int64(3), np.int64(3), stride=np.int32(1), groups=np.int64(1))
    assert conv(sample(dims).float()).shape[1] == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("in_channels", True),
        ("in_channels", np.bool_(True)),
        ("in_channels", torch.tensor(True)),
        ("out_channels", 2.0),
        ("out_channels", np.float32(2)),
        ("kernel_size", True),
        ("kernel_size", (3, np.float64(3))),
        ("groups", False),
        ("stride", torch.tensor(1.0)),
    ],
    ids=str,
)
@pytest.mark.parametrize("mode", ["zeros", "partial", "coord"])
def test_bools_and_floats_are_not_integers(mode, name, value):
    arguments = {"in_channels": 2, "out_channels": 2, "kernel_size": 3, name: value}
    with pytest.raises(ValueError, match=rf"{name} must be a positive int"):
        padmods.create(mode, **arguments)


def test_registry_and_analysis_take_numpy_integers():
    assert padmods.get("reflect", dim=np.int64(3)) is padmods.ReflectPadConv3d
    assert padmods.available(dim=np.int32(1)) == padmods.available(dim=1)
    stack = padmods.analysis.conv_stack("zeros", layers=np.int64(2), kernel_size=np.int64(3), channels=np.int8(1))
    impact = padmods.analysis.impact_map(stack, (np.int64(1), np.int64(4), 4), batch_size=np.int64(5))
    assert impact.shape == (4, 4)
    result = padmods.analysis.position_leak(
        "zeros", size=np.int64(4), kernel_size=np.int64(3), steps=np.int64(2), seed=np.int64(0), lr=np.float32(0.1)
    )
    assert result.settings["size"] == 4
    assert all(type(value) is not np.int64 for value in result.settings.values())
    with pytest.raises(ValueError, match="dim must be 1, 2 or 3"):
        padmods.get("zeros", dim=True)


# ---- the functional API (issue 15) ------------------------------------------------------------
F = padmods.functional
X = torch.zeros(1, 1, 6, 6)
W = torch.zeros(1, 1, 3, 3)
W_COORD = torch.zeros(1, 3, 3, 3)
ENTRY_POINTS = {
    "padded_conv": lambda **kw: F.padded_conv(X, W, **kw),
    "partial_conv": lambda **kw: F.partial_conv(X, W, **kw),
    "partial_conv(mask)": lambda **kw: F.partial_conv(X, W, mask=torch.ones(1, 1, 6, 6), **kw),
    "coord_conv": lambda **kw: F.coord_conv(X, W_COORD, **kw),
    "partial_ratio": lambda **kw: F.partial_ratio((6, 6), 3, **kw),
    "resolve_padding": lambda **kw: F.resolve_padding(kw.pop("padding", 0), (6, 6), 3, **kw),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"padding": "SAME"}, r"'full' \(lowercase, as in torch: 'same'\), got the string 'SAME'"),
        ({"padding": "Valid"}, r"\(lowercase, as in torch: 'valid'\), got the string 'Valid'"),
        ({"padding": "half"}, r"'same', 'valid' or 'full', got the string 'half'"),
        ({"padding": 1.5}, "padding must be a non-negative int or a pair of non-negative ints, got 1.5"),
        ({"padding": (1, 1.0)}, r"padding must be .*, got \(1, 1.0\)"),
        ({"padding": True}, "padding must be .*, got True"),
        ({"stride": 0}, "stride must be a positive int or a pair of positive ints, got 0"),
        ({"stride": 0, "padding": "same"}, "stride must be a positive int or a pair of positive ints, got 0"),
        ({"stride": 1.5}, "stride must be a positive int .*, got 1.5"),
        ({"dilation": 0}, "dilation must be a positive int .*, got 0"),
    ],
    ids=str,
)
def test_functional_arguments_are_checked_by_name(entry, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ENTRY_POINTS[entry](**kwargs)


@pytest.mark.parametrize("entry", [name for name in ENTRY_POINTS if "conv" in name])
def test_functional_numpy_arguments_equal_ints(entry):
    plain = ENTRY_POINTS[entry](stride=2, padding=1, dilation=1)
    numpy_args = ENTRY_POINTS[entry](stride=np.int64(2), padding=(np.int32(1), np.int64(1)), dilation=np.uint8(1))
    torch.testing.assert_close(numpy_args, plain, rtol=0, atol=0)


@pytest.mark.parametrize("groups", [0, 1.0, True, "1"], ids=repr)
def test_functional_groups_are_checked(groups):
    for where in ("padded_conv", "partial_conv"):
        with pytest.raises(ValueError, match=f"groups must be a positive int, got {groups!r}"):
            getattr(F, where)(X, W, groups=groups)
    with pytest.raises(ValueError, match=f"coord_conv supports groups=1 only, got groups={groups!r}"):
        F.coord_conv(X, W_COORD, groups=groups)


def test_pad_pairs_must_be_ints():
    for pairs in (((1.5, 1), (1, 1)), ((1, 1), (1, True)), ((1, 1), (1, -1)), 3):
        with pytest.raises(
            ValueError, match="pad: pairs must be one .before, after. pair of non-negative ints per axis"
        ):
            F.pad(X, pairs)
    assert F.pad(X, ((np.int64(1), 0), (0, np.int8(2)))).shape == (1, 1, 7, 8)


def test_input_size_must_be_a_sequence():
    for where in (F.partial_ratio, F.resolve_padding):
        with pytest.raises(ValueError, match="input_size must be a sequence of 1 to 3 non-negative ints, got 6"):
            where(6, 3) if where is F.partial_ratio else where(0, 6, 3)
        with pytest.raises(ValueError, match=r"input_size must be .*, got \(6, 6.0\)"):
            where((6, 6.0), 3) if where is F.partial_ratio else where(0, (6, 6.0), 3)


# ---- empty inputs (issue 15) ------------------------------------------------------------------
def empty_shapes(dims):
    """An empty batch, then each spatial axis empty in turn, then an unbatched input with every axis empty."""
    return [
        (0, 2, *(4,) * dims),
        *[(1, 2, *(0 if axis == empty else 4 for axis in range(dims))) for empty in range(dims)],
        (2, *(0,) * dims),
    ]


def outcome(layer, shape):
    try:
        return "ok", tuple(layer(torch.zeros(shape)).shape)
    except (RuntimeError, ValueError) as error:
        return type(error).__name__, str(error)


GEOMETRIES = [
    pytest.param(1, 0, 1, id="k1"),
    pytest.param(1, 1, 1, id="k1-pad1"),
    pytest.param(3, 1, 1, id="k3-pad1"),
    pytest.param(3, 2, 2, id="k3-pad2-stride2"),
    pytest.param(3, "valid", 1, id="valid"),
    pytest.param(3, "same", 1, id="same"),
]


AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize(("kernel", "padding", "stride"), GEOMETRIES)
@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_empty_inputs_behave_as_in_nn_conv(dims, mode, extra, kernel, padding, stride):
    """The same output shape where torch gives one; where torch refuses, an error that names the empty axis.

    torch refuses every input with an empty spatial axis unless its batch is empty, with a message
    about padded sizes; an empty batch gets an empty output, as long as the kernel fits the padded
    input. A border that copies pixels cannot pad an empty axis at all.
    """
    layer = build(dims, mode, extra, 2, 3, kernel, stride=stride, padding=padding)
    conv = TORCH_CONV[dims](2, 3, kernel, stride=stride, padding=padding)
    for shape in empty_shapes(dims):
        got, want = outcome(layer, shape), outcome(conv, shape)
        spatial = shape[-dims:]
        pairs = padmods.functional.resolve_padding(padding, spatial, kernel, stride)
        axis_modes = extra.get("borders", (mode,) * dims)
        batch = shape[0] if len(shape) == dims + 2 else 1
        unpaddable = [a for a in range(dims) if not spatial[a] and any(pairs[a]) and axis_modes[a] in COPYING_MODES]
        if batch and 0 in spatial:
            assert want[0] == "RuntimeError", (shape, want)
            axis = AXES[dims][spatial.index(0)]
            assert got == (
                "ValueError",
                f"{layer._get_name()}({layer.extra_repr()}) got an input of shape {shape}, empty along the {axis}: "
                f"as in torch.nn.Conv{dims}d, every spatial axis must be non-empty unless the batch is empty",
            )
        elif unpaddable:
            axis = AXES[dims][unpaddable[0]]
            assert got[0] == "ValueError", (shape, got)
            assert f"fills the border with pixels of the input, but the input is empty along the {axis}" in got[1]
            assert f"(input spatial size {tuple(spatial)}), so it cannot pad {pairs[unpaddable[0]]} there" in got[1]
        else:
            assert got[0] == want[0], (shape, got, want)
            if got[0] == "ok":
                assert got[1] == want[1], (shape, got, want)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("with_r", [False, True])
@pytest.mark.parametrize("pad", ["zeros", "partial", "circular"])
def test_coord_on_an_empty_batch_gives_an_empty_output(dims, with_r, pad):
    """CoordConv once failed inside einsum on empty inputs; nn.ConvNd is the reference."""
    layer = padmods.create("coord", 2, 3, 1, dim=dims, padding=1, with_r=with_r, pad=pad)
    conv = TORCH_CONV[dims](2, 3, 1, padding=1)
    shapes = [(0, 2, *(3,) * dims)] + ([(0, 2, *(0,) * dims)] if pad != "circular" else [])
    for shape in shapes:
        assert outcome(layer, shape) == outcome(conv, shape)
        function = padmods.functional.coord_conv(torch.zeros(shape), layer.weight, padding=1, with_r=with_r, pad=pad)
        assert function.shape == conv(torch.zeros(shape)).shape


def test_coord_with_a_plugin_border_on_an_empty_batch(clean_registry):
    @padmods.register("edge-test-zeros")
    class PluginZeros(padmods.PaddedConv2d):
        @classmethod
        def pad(cls, input, pairs):
            return padmods.functional.pad(input, pairs, "zeros")

    layer = padmods.CoordConv2d(2, 3, 1, padding=1, with_r=True, pad="edge-test-zeros")
    for shape in [(0, 2, 3, 3), (0, 2, 0, 0), (0, 2, 0, 4)]:
        assert layer(torch.zeros(shape)).shape == nn.Conv2d(2, 3, 1, padding=1)(torch.zeros(shape)).shape


@pytest.mark.parametrize("mode", COPYING_MODES)
def test_functional_pad_names_the_empty_axis(mode):
    with pytest.raises(
        ValueError,
        match=rf"pad: {mode} padding fills the border with pixels of the input, but the input "
        r"is empty along the width \(input spatial size \(4, 0\)\), so it cannot pad \(0, 1\) there",
    ):
        padmods.functional.pad(torch.zeros(1, 1, 4, 0), ((0, 0), (0, 1)), mode)
    assert padmods.functional.pad(torch.zeros(1, 1, 4, 0), ((1, 1), (0, 0)), "zeros").shape == (1, 1, 6, 0)


# ---- dtypes and devices of input and parameters (issue 15) -----------------------------------
@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
@pytest.mark.parametrize(
    ("param_dtype", "input_dtype"), [(torch.float32, torch.float64), (torch.float64, torch.float32)]
)
def test_input_dtype_other_than_the_parameters_is_named(dims, mode, extra, param_dtype, input_dtype):
    """nn.ConvNd refuses the mix too, in torch's words; every padmods layer says which dtypes met."""
    layer = build(dims, mode, extra, 2, 3, 3, padding=1, dtype=param_dtype)
    x = sample(dims).to(input_dtype)
    with pytest.raises(RuntimeError):
        TORCH_CONV[dims](2, 3, 3, padding=1, dtype=param_dtype)(x)
    message = rf"{type(layer).__name__}\(.*\) has {param_dtype} parameters, got a {input_dtype} input; convert one"
    with pytest.raises(TypeError, match=message):
        layer(x)
    with pytest.raises(TypeError, match=message):
        layer(x[0])  # unbatched
    if mode == "partial":
        with pytest.raises(TypeError, match=message):
            layer(x, torch.ones(2, 1, *x.shape[2:]))
    assert layer.to(input_dtype)(x).dtype == input_dtype


@pytest.mark.parametrize(("dims", "mode", "extra"), LAYERS)
def test_autocast_still_mixes_dtypes(dims, mode, extra):
    layer = build(dims, mode, extra, 2, 3, 3, padding=1)
    x = sample(dims).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x.to(torch.bfloat16))
    assert out.shape == layer(x).shape


@pytest.mark.parametrize("name", ["padded_conv", "partial_conv", "coord_conv"])
def test_functional_dtype_mismatch_is_named(name):
    weight = W_COORD if name == "coord_conv" else W
    function = getattr(F, name)
    with pytest.raises(TypeError, match=f"{name} expects weight of the input's dtype torch.float64, got torch.float32"):
        function(X.double(), weight)
    with pytest.raises(TypeError, match=f"{name} expects bias of the input's dtype torch.float32, got torch.float64"):
        function(X, weight, torch.zeros(1, dtype=torch.float64))
    with pytest.raises(TypeError, match=f"{name} expects bias to be a torch.Tensor, got list"):
        function(X, weight, [0.0])


def test_parameters_on_another_device_are_named():
    layer = padmods.ReflectPadConv2d(1, 1, 3, padding=1, device="meta")
    with pytest.raises(ValueError, match=r"ReflectPadConv2d\(.*\) has its parameters on meta, got an input on cpu"):
        layer(X)
    with pytest.raises(ValueError, match="padded_conv expects weight on the input's device cpu, got meta"):
        F.padded_conv(X, W.to("meta"))
