"""Conversion at its edges (issue 23): blocks within blocks, refusals that change nothing, and messages that help.

Every test here checks against what the model held before (module objects, parameters, values) or
against a formula worked out in the test, never against what padmods printed last time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _models import Conv2dSame, StdConv2d, build
from torch import Tensor, nn

import padmods
from padmods.conversion import ConversionWarning, register_adapter


@contextmanager
def quiet() -> Iterator[None]:
    """Ignore ConversionWarning: the coord steps below widen weights, which is said and expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConversionWarning)
        yield


def snapshot(model: nn.Module) -> list[tuple[str, int, type, tuple[int, ...]]]:
    """What a refused call must not change: every module object and class, every parameter object."""
    modules = [(name, id(module), type(module), ()) for name, module in model.named_modules()]
    params = [
        (name, id(param), type(param), () if isinstance(param, nn.UninitializedParameter) else tuple(param.shape))
        for name, param in model.named_parameters()
    ]
    return modules + params


def values(model: nn.Module) -> dict[str, Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def same_values(model: nn.Module, saved: dict[str, Tensor]) -> bool:
    state = model.state_dict()
    return list(state) == list(saved) and all(torch.equal(state[key], saved[key]) for key in saved)


# ---- S5: a padding() block restores through every conversion made inside it --------------------
@pytest.mark.parametrize(
    "inside",
    [["circular"], ["circular", "replicate"], ["coord", "reflect"], ["reflect", "coord", "zeros"], ["partial"] * 3],
    ids="-".join,
)
def test_a_padding_block_restores_the_layers_it_began_with_through_any_conversions_inside(inside):
    model, x = build("stride_one")
    before = snapshot(model)
    expected = model(x)
    with padmods.padding(model, "reflect"):
        for mode in inside:
            with quiet():
                padmods.convert(model, mode, inplace=True)
    assert snapshot(model) == before
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)


def test_what_a_block_trains_through_a_second_conversion_stays_in_the_original():
    model, _ = build("stride_one")
    weight = model.body[0].weight
    start = weight.detach().clone()
    with padmods.padding(model, "reflect"):
        padmods.convert(model, "circular", inplace=True)
        with torch.no_grad():
            model.body[0].weight += 1.0  # the very Parameter object, shared by every step
    assert type(model.body[0]) is nn.Conv2d
    assert model.body[0].weight is weight
    assert torch.equal(weight, start + 1.0)


def test_a_block_on_a_converted_model_with_a_conversion_inside_goes_back_to_the_converted_layers():
    model, _ = build("stride_one")
    padmods.convert(model, "replicate", inplace=True, filter=lambda name, conv: name == "body.0")
    before = snapshot(model)
    with padmods.padding(model, "reflect", filter=lambda name, conv: name != "body.0"):
        padmods.convert(model, "circular", inplace=True)
        assert [type(m).__name__ for m in model.body[::2]] == ["CircularPadConv2d"] * 3
    assert snapshot(model) == before
    assert [type(m).__name__ for m in model.body[::2]] == ["ReplicatePadConv2d", "Conv2d", "Conv2d"]


def test_nested_padding_blocks_each_restore_their_own():
    model, _ = build("stride_one")
    outer_before = snapshot(model)
    with padmods.padding(model, "reflect"):
        inner_before = snapshot(model)
        with padmods.padding(model, "circular"):
            padmods.convert(model, "zeros", inplace=True)
        assert snapshot(model) == inner_before
    assert snapshot(model) == outer_before


# ---- U1: every refusal of padding() leaves the model as it was ----------------------------------
def lazy_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.LazyConv2d(2, 3, padding=1))


REFUSALS = {
    "report": (lambda: build("stride_one")[0], "reflect", {"report": True}, TypeError, "takes no report="),
    "inplace": (lambda: build("stride_one")[0], "reflect", {"inplace": False}, TypeError, "takes no inplace="),
    "unknown mode": (lambda: build("stride_one")[0], "mirror", {}, ValueError, "unknown padding mode 'mirror'"),
    "strict": (lambda: build("tf_efficientnet")[0], "coord", {"strict": True}, ValueError, "strict=True"),
    "unknown keyword": (lambda: build("stride_one")[0], "reflect", {"with_r": True}, TypeError, "with_r"),
    "lazy": (lazy_model, "reflect", {}, ValueError, "no weight until its first forward pass"),
    "sequential of one conv, report": (
        lambda: nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)),
        "reflect",
        {"report": True},
        TypeError,
        "padmods.convert\\(model, mode, report=True\\)",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_padding_block_leaves_the_model_untouched(case):
    factory, mode, kwargs, error, message = REFUSALS[case]
    model = factory()
    before, saved = snapshot(model), values(model) if case != "lazy" else {}
    with pytest.raises(error, match=message):
        with padmods.padding(model, mode, **kwargs):
            pytest.fail("the block ran")
    assert snapshot(model) == before
    if saved:
        assert same_values(model, saved)


@pytest.mark.parametrize("conv", [nn.Conv1d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv3d(1, 1, 3), Conv2dSame(1, 1, 3, 2)])
def test_a_padding_block_on_a_single_convolution_says_why_and_how_and_changes_nothing(conv):
    before = snapshot(conv)
    with pytest.raises(TypeError, match=rf"itself a convolution \({type(conv).__name__}\).*nn\.Sequential\(conv\)"):
        with padmods.padding(conv, "reflect"):
            pytest.fail("the block ran")
    assert snapshot(conv) == before


# ---- U2: an adapter that returns a bad setting is named, with its class and layer -------------
class OwnForward(nn.Conv2d):
    """A subclass with a forward of its own (the arithmetic of nn.Conv2d): convert needs an adapter for it."""

    def forward(self, input: Tensor) -> Tensor:
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


def give(settings: Any) -> Any:
    def adapter(conv: nn.Module) -> Any:
        return settings

    return adapter


def raising(conv: nn.Module) -> Any:
    return 1 // 0


BAD_ADAPTERS = {
    "stride 0": (give({"stride": 0}), r"returned stride=0, which OwnForward cannot take: stride must be a positive"),
    "negative padding": (give({"padding": -1}), r"returned padding=-1, which OwnForward cannot take: padding"),
    "unknown padding": (give({"padding": "bogus"}), r"returned padding='bogus', which OwnForward cannot take"),
    "three dilations": (give({"dilation": (1, 2, 3)}), r"returned dilation=\(1, 2, 3\), which OwnForward cannot"),
    "a float stride": (give({"stride": 1.5}), r"returned stride=1\.5, which OwnForward cannot take"),
    "groups": (give({"groups": 2}), r"returned \['groups'\]; an adapter gives only \['dilation', 'padding', 'str"),
    "not a mapping": (give([("stride", 2)]), r"returned \[\('stride', 2\)\]; an adapter returns a mapping"),
    "raises": (raising, r"raised ZeroDivisionError: integer division or modulo by zero"),
}


@pytest.mark.parametrize("case", BAD_ADAPTERS)
def test_a_bad_adapter_is_named_with_its_class_and_layer_and_nothing_changes(case):
    adapter, message = BAD_ADAPTERS[case]
    register_adapter(OwnForward, adapter)
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), OwnForward(1, 1, 3, padding=1)))
    before, saved = snapshot(model), values(model)
    name = f"{adapter.__module__}.{adapter.__qualname__}"
    expected = rf"the adapter {name} of OwnForward for '0\.1' " + message + r".*fix the adapter.*register_adapter"
    for call in (
        lambda: padmods.convert(model, "reflect", inplace=True),
        lambda: padmods.analysis.padding_report(model, (1, 1, 8, 8)),
    ):
        with pytest.raises(ValueError, match=expected.replace("<", "\\<")):
            call()
        assert snapshot(model) == before
        assert same_values(model, saved)


# ---- D1: attributes set on a padmods layer, hand-built or converted, come along ---------------
def read_tag(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
    module.seen = module.tag  # a hook that needs the attribute


def test_attributes_set_on_a_hand_built_padmods_layer_come_along_and_go_back():
    layer = padmods.ReflectPadConv2d(1, 1, 3, padding=1)
    layer.tag = "stem"
    layer.register_forward_hook(read_tag)
    model = nn.Sequential(layer)
    converted, record = padmods.convert(model, "circular", report=True)
    assert converted[0].tag == "stem"
    assert "attribute tag" in record.replaced[0].carried
    converted(torch.zeros(1, 1, 4, 4))
    assert converted[0].seen == "stem"
    converted[0].tag = "renamed while converted"
    back = padmods.revert(converted)
    assert type(back[0]) is padmods.ReflectPadConv2d
    assert back[0].tag == "renamed while converted"


def test_attributes_set_on_a_converted_layer_come_along_through_further_conversions_and_back():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
    once = padmods.convert(model, "reflect")
    once[0].tag = "set after converting"
    twice, record = padmods.convert(once, "replicate", report=True)
    assert twice[0].tag == "set after converting"
    assert "attribute tag" in record.replaced[0].carried
    original = padmods.revert(twice)
    assert type(original[0]) is nn.Conv2d
    assert original[0].tag == "set after converting"


def test_a_modes_own_settings_and_private_state_stay_with_its_class():
    coord = padmods.CoordConv2d(1, 1, 3, padding=1, with_r=True, pad="circular")
    per_axis = padmods.create(("zeros", "circular"), 1, 1, 3, padding=1)
    for layer, own in ((coord, ("with_r", "pad_mode", "_pad_layer", "_pad_border")), (per_axis, ("borders",))):
        layer.tag = "kept"
        with torch.no_grad():
            layer.weight[:, 1:] = 0  # no coordinate taps: a layer without them may take the weight
        converted = padmods.convert(nn.Sequential(layer), "reflect")[0]
        assert converted.tag == "kept"
        assert not [name for name in own if name in converted.__dict__]


class WithR(nn.Conv2d):
    """A subclass whose plain attribute has the name of one of CoordConv's settings."""

    def __init__(self) -> None:
        super().__init__(1, 1, 3, padding=1)
        self.with_r = "mine"


def test_an_attribute_that_would_overwrite_a_setting_of_the_new_layer_is_a_refusal():
    model = nn.Sequential(WithR())
    with pytest.warns(ConversionWarning, match=r"'0' \(WithR\): its attribute with_r would replace the setting"):
        converted = padmods.convert(model, "coord")
    assert type(converted[0]) is WithR
    assert type(padmods.convert(model, "reflect")[0]).__name__ == "ReflectPadConv2d"  # no clash there


# ---- D2: a per-axis tuple converts the convolutions of its number of axes, and says nothing else --
def every_dimension() -> nn.Module:
    return nn.Sequential(nn.Conv1d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1), nn.Conv3d(1, 1, 3, padding=1))


@pytest.mark.parametrize("modes", [("reflect",), ("zeros", "circular"), ("circular", "replicate", "symmetric")])
@pytest.mark.parametrize("strict", [False, True])
def test_a_tuple_of_modes_converts_the_convolutions_of_its_axes_only_without_a_warning(modes, strict):
    model = every_dimension()
    converted, record = padmods.convert(model, modes, strict=strict, report=True)  # filterwarnings=error
    dims = len(modes)
    assert [layer.name for layer in record.replaced] == [str(dims - 1)]
    assert record.skipped == ()
    assert converted[dims - 1].borders == modes
    for index, module in enumerate(converted):
        if index != dims - 1:
            assert module is not model[index]  # a copy, left as it was
            assert type(module) is type(model[index])
    with padmods.padding(model, modes, strict=strict):
        assert [type(m).__name__ for m in model] == [
            f"PerAxisPadConv{index + 1}d" if index == dims - 1 else f"Conv{index + 1}d" for index in range(3)
        ]


# ---- F3: the warning says each reason once, and points at the caller's line -----------------
class Quirky(nn.Conv2d):
    def forward(self, input: Tensor) -> Tensor:
        return super().forward(input) * 2.0


def many_refusals() -> nn.Module:
    convs = [StdConv2d(1, 1, 3, padding=1) for _ in range(12)]
    return nn.Sequential(*convs, Quirky(1, 1, 3), nn.Conv1d(1, 1, 3), nn.Conv1d(1, 1, 3), nn.Conv2d(1, 1, 3))


def test_the_warning_says_each_reason_once_and_names_a_few_layers_per_reason():
    with pytest.warns(ConversionWarning) as caught:
        padmods.convert(many_refusals(), "spherical")
    (warning,) = caught
    header, *lines = str(warning.message).splitlines()
    assert header == "convert left 15 convolution(s) alone, with their own padding:"
    assert len(lines) == 3  # one per reason: StdConv2d, Quirky, 1-D
    std, quirky, line = lines
    assert std.startswith("- '0', '1', '2', '3', '4' and 7 more (StdConv2d; report=True lists them all): StdConv2d ")
    assert std.count("standardises its weight") == 1
    assert quirky.startswith("- '12' (Quirky): Quirky overrides forward")
    assert line == "- '13', '14' (Conv1d): padding mode 'spherical' has no 1-D layer; it has 2-D"
    assert len(str(warning.message)) < 1500


def convert_in_a_helper(model: nn.Module) -> nn.Module:
    return padmods.convert(model, "spherical")


def test_the_warnings_point_at_the_callers_line_however_they_are_reached():
    cases = {
        "convert": lambda: padmods.convert(many_refusals(), "spherical"),
        "helper": lambda: convert_in_a_helper(many_refusals()),
        "padding block": lambda: padmods.padding(many_refusals(), "spherical").__enter__(),
        "new parameters": lambda: padmods.convert(build("stride_one")[0], "coord", inplace=True),
        "new parameters in a block": lambda: padmods.padding(build("stride_one")[0], "coord").__enter__(),
    }
    for case, call in cases.items():
        with pytest.warns(ConversionWarning) as caught:
            call()
        assert {w.filename for w in caught} == {__file__}, case


def test_padding_block_warning_names_the_with_line():
    model = nn.Sequential(StdConv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with padmods.padding(model, "reflect"):  # the line the warning names
            line = caught[0].lineno
    assert caught[0].filename == __file__
    import inspect

    source = inspect.getsource(test_padding_block_warning_names_the_with_line).splitlines()
    first = test_padding_block_warning_names_the_with_line.__code__.co_firstlineno
    assert "padmods.padding(model" in source[line - first]


# ---- F2: layers that compute more than a convolution -----------------------------------------
def standardised(weight: Tensor, eps: float) -> Tensor:
    """Each output channel's kernel minus its mean, over its standard deviation (biased), as timm computes it."""
    flat = weight.reshape(weight.shape[0], -1)
    mean = flat.mean(dim=1, keepdim=True)
    var = flat.var(dim=1, unbiased=False, keepdim=True)
    return ((flat - mean) / torch.sqrt(var + eps)).reshape_as(weight)


class ReflectStdConv2d(padmods.ReflectPadConv2d):
    """The how-to of the guide: timm's StdConv2d with a reflected border."""

    reproduces = ("timm.layers.std_conv.StdConv2d",)

    def __init__(self, *args: Any, eps: float = 1e-6, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        flat = weight.reshape(1, self.out_channels, -1)
        weight = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=self.eps).reshape_as(weight)
        return super()._conv_forward(input, weight, bias)


def test_the_advice_for_weight_standardisation_is_not_an_adapter():
    with pytest.warns(ConversionWarning) as caught:
        padmods.convert(nn.Sequential(StdConv2d(1, 1, 3, padding=1)), "reflect")
    text = str(caught[0].message)
    assert "standardises its weight in forward, which no adapter can express" in text
    assert "register_adapter" not in text
    assert "names StdConv2d in its reproduces attribute" in text
    assert "Layers that compute more than a convolution" in text


def test_the_advice_for_an_unknown_forward_names_both_ways():
    with pytest.warns(ConversionWarning) as caught:
        padmods.convert(nn.Sequential(Quirky(1, 1, 3)), "reflect")
    text = str(caught[0].message)
    assert "If it is a plain convolution with other padding, stride or dilation" in text
    assert "register_adapter" in text
    assert "names Quirky in its reproduces attribute" in text


def test_a_layer_that_reproduces_stdconv2d_converts_it_exactly_and_reverts():
    torch.manual_seed(0)
    model = nn.Sequential(StdConv2d(2, 3, 3, padding=1, eps=1e-5), nn.ReLU(), nn.Conv2d(3, 2, 3, padding=1)).double()
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64)
    std = model[0]
    converted = padmods.convert(model, "reflect", filter=lambda name, conv: not isinstance(conv, StdConv2d))
    converted = padmods.convert(converted, ReflectStdConv2d, filter=lambda name, conv: isinstance(conv, StdConv2d))
    assert [type(m).__name__ for m in converted] == ["ReflectStdConv2d", "ReLU", "ReflectPadConv2d"]
    assert converted[0].eps == 1e-5  # carried from the StdConv2d, over the constructor's default
    first = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), standardised(std.weight, 1e-5), std.bias)
    second = F.conv2d(F.pad(first.relu(), (1, 1, 1, 1), mode="reflect"), model[2].weight, model[2].bias)
    torch.testing.assert_close(converted(x), second, rtol=1e-12, atol=1e-12)
    back = padmods.revert(converted)
    assert type(back[0]) is StdConv2d
    torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)


def test_a_layer_that_reproduces_more_than_a_border_is_not_converted_to_a_plain_mode():
    model = padmods.convert(nn.Sequential(StdConv2d(1, 1, 3, padding=1)), ReflectStdConv2d)
    with pytest.warns(ConversionWarning, match=r"ReflectStdConv2d computes what timm\.layers\.std_conv\.StdConv2d"):
        again = padmods.convert(model, "circular")
    assert type(again[0]) is ReflectStdConv2d
    assert type(padmods.revert(again)[0]) is StdConv2d


# ---- convolutions that are not torch conv modules (timm's CondConv2d) --------------------------
class CondConv2d(nn.Module):
    """Like timm's CondConv2d: expert kernels mixed by a routing weight, convolved in forward."""

    def __init__(self, channels: int = 1, experts: int = 2) -> None:
        super().__init__()
        self.in_channels = self.out_channels = channels
        self.kernel_size, self.stride, self.padding, self.dilation, self.groups = (3, 3), (1, 1), (1, 1), (1, 1), 1
        self.weight = nn.Parameter(torch.randn(experts, channels * channels * 9))
        self.bias = nn.Parameter(torch.zeros(experts, channels))

    def forward(self, input: Tensor, routing: Tensor | None = None) -> Tensor:
        routing = torch.full((self.weight.shape[0],), 0.5) if routing is None else routing
        kernel = (routing @ self.weight).view(self.out_channels, self.in_channels, 3, 3)
        return F.conv2d(input, kernel, routing @ self.bias, self.stride, self.padding)


CondConv2d.__module__ = "timm.layers.cond_conv2d"


def cond_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Sequential(CondConv2d()), nn.ConvTranspose2d(1, 1, 2))


def test_a_convolution_that_is_no_torch_conv_module_is_named_in_the_warning_and_the_record():
    model = cond_model()
    with pytest.warns(ConversionWarning, match=r"'1\.0' \(CondConv2d\): CondConv2d is not a torch convolution module"):
        converted, record = padmods.convert(model, "reflect", report=True)
    assert [(skip.name, skip.source) for skip in record.skipped] == [("1.0", "CondConv2d")]
    assert type(converted[1][0]) is CondConv2d
    assert type(converted[2]) is nn.ConvTranspose2d  # cropping, not padding: left alone as documented
    with pytest.raises(ValueError, match=r"strict=True\) cannot convert 1 .*\n- '1\.0' \(CondConv2d\)"):
        padmods.convert(model, "reflect", strict=True)
    quiet_conversion = padmods.convert(model, "reflect", filter=lambda name, conv: not isinstance(conv, CondConv2d))
    assert type(quiet_conversion[0]).__name__ == "ReflectPadConv2d"


def test_a_convolution_that_is_no_torch_conv_module_is_listed_by_the_padding_report():
    report = padmods.analysis.padding_report(cond_model(), (1, 1, 8, 8))
    assert report.unknown == ("1.0",)
    assert [row.name for row in report.layers] == ["0"]
    assert "1.0" in str(report)


def test_torch_convolutions_inside_a_foreign_convolution_convert():
    outer = CondConv2d()
    outer.refine = nn.Conv2d(1, 1, 3, padding=1)
    with pytest.warns(ConversionWarning, match=r"'0' \(CondConv2d\)"):
        converted = padmods.convert(nn.Sequential(outer), "reflect")
    assert type(converted[0]) is CondConv2d
    assert type(converted[0].refine).__name__ == "ReflectPadConv2d"


def test_modules_with_a_weight_that_are_no_convolution_are_not_listed():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.LazyLinear(3), nn.MaxPool1d(2))
    model(torch.zeros(1, 1, 4, 4))
    _, record = padmods.convert(model, "reflect", report=True)
    assert record.skipped == ()


# ---- F1: what 'zeros' on timm's Conv2dSame guarantees, and what the guide says ---------------------
@pytest.mark.parametrize(("channels_in", "channels_out", "groups"), [(32, 128, 1), (3, 32, 1), (16, 16, 16)])
@pytest.mark.parametrize("size", [(25, 25), (97, 99), (24, 26), (97, 98)])  # symmetric, and asymmetric, TF pads
def test_zeros_on_conv2d_same_is_the_same_function_up_to_float_rounding(channels_in, channels_out, groups, size):
    torch.manual_seed(0)
    layer = Conv2dSame(channels_in, channels_out, 3, 2, groups=groups)
    converted = padmods.convert(layer, "zeros")
    x = torch.randn(2, channels_in, *size)
    with torch.no_grad():
        got = converted(x)
        expected = layer.double()(x.double())
    scale = expected.abs().max()
    assert float((got.double() - expected).abs().max() / scale) < 1e-6  # float32 rounding, nothing more
    with torch.no_grad():
        torch.testing.assert_close(converted.double()(x.double()), expected, rtol=1e-12, atol=1e-12)


def test_the_guide_says_what_converting_conv2d_same_guarantees():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "converting.rst").read_text()
    assert "computes exactly what the model did" not in guide
    section = guide.split("What is exact, and what is equal up to rounding")[1]
    assert "Conv2dSame" in section
    assert "symmetric" in section
