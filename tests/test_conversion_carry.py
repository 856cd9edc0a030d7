"""What a convolution holds beyond its settings survives convert, or convert says it left the layer alone."""

from __future__ import annotations

import pickle
import warnings
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from _models import Conv2dSame, StdConv2d, tf_same_pads
from torch import nn
from torch.nn.utils import parametrizations, parametrize

import padmods
from padmods.conversion import ConversionWarning, register_adapter

MODES_2D = padmods.available(dim=2)
PLAIN_MODES = [mode for mode in MODES_2D if mode != "coord"]


def conv(**kwargs) -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(2, 3, 3, padding=1, **kwargs).double()


def x_input(*size: int) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(*size or (2, 2, 6, 6), dtype=torch.float64)


def reference(layer: nn.Conv2d, weight: torch.Tensor, x: torch.Tensor, mode: str) -> torch.Tensor:
    """The layer's convolution over ``mode``'s border, computed with torch's own padding (np.pad-like)."""
    torch_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}[mode]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode=torch_mode), weight, layer.bias)


def weight_norm_new(layer):
    return parametrizations.weight_norm(layer)


def spectral_norm_new(layer):
    return parametrizations.spectral_norm(layer)


def orthogonal_free(layer):
    class Double(nn.Module):
        def forward(self, w):
            return 2 * w

    parametrize.register_parametrization(layer, "weight", Double())
    return layer


NEW_STYLE = [weight_norm_new, spectral_norm_new, orthogonal_free]


def weight_norm_old(layer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of parametrizations, still used
        return nn.utils.weight_norm(layer)


def spectral_norm_old(layer):
    return nn.utils.spectral_norm(layer)


OLD_STYLE = [weight_norm_old, spectral_norm_old]


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("wrap", NEW_STYLE + OLD_STYLE, ids=lambda f: f.__name__)
def test_parametrized_weights_are_carried_and_train(wrap, mode):
    layer = wrap(conv()).eval()
    x = x_input()
    model = nn.Sequential(layer)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    names = [name for name, _ in model.named_parameters()]
    converted = padmods.convert(model, mode, inplace=True)
    assert [name for name, _ in converted.named_parameters()] == names  # the same parameters, nothing new
    new = converted[0]
    torch.testing.assert_close(new(x), reference(new, new.weight, x, mode), rtol=1e-12, atol=1e-12)
    before = new(x).detach()
    new.train()
    new(x).square().sum().backward()
    optimizer.step()  # built before converting: it updates what the converted layer computes with
    new.eval()
    assert not torch.allclose(new(x), before)
    restored = padmods.revert(converted, inplace=True)
    assert type(restored[0]) is type(layer)
    assert restored[0] is layer
    assert list(restored.state_dict()) == list(model.state_dict())


@pytest.mark.parametrize("wrap", NEW_STYLE + OLD_STYLE, ids=lambda f: f.__name__)
def test_coord_leaves_a_parametrized_weight_alone(wrap):
    model = nn.Sequential(wrap(conv()))
    with pytest.warns(ConversionWarning, match=r"'0' \(\w*Conv2d\): its weight is (parametrized|computed by a hook)"):
        converted = padmods.convert(model, "coord", inplace=True)
    assert converted[0] is model[0]


@pytest.mark.parametrize("mode", MODES_2D)
def test_hooks_are_carried_and_their_handles_still_remove_them(mode):
    layer = conv()
    calls: list[str] = []
    handles = [
        layer.register_forward_pre_hook(lambda m, args: calls.append("pre")),
        layer.register_forward_hook(lambda m, args, out: calls.append("post")),
        layer.register_forward_hook(lambda m, args, kwargs, out: calls.append("kwargs"), with_kwargs=True),
        layer.register_full_backward_hook(lambda m, gin, gout: calls.append("backward")),
    ]
    model = nn.Sequential(layer)
    with pytest.warns(ConversionWarning, match="new parameters") if mode == "coord" else nullcontext():
        converted = padmods.convert(model, mode, inplace=True)  # in place: the handles hold the model's hooks
    converted(x_input().requires_grad_()).sum().backward()
    assert calls == ["pre", "post", "kwargs", "backward"]
    for handle in handles:
        handle.remove()
    calls.clear()
    converted(x_input()).sum()
    assert calls == []


class Tagged(nn.Conv2d):
    """A subclass with the forward of nn.Conv2d and extra state: a parameter, buffers, an attribute."""

    def __init__(self) -> None:
        super().__init__(2, 3, 3, padding=1)
        self.gain = nn.Parameter(torch.tensor(2.0))
        self.register_buffer("seen", torch.zeros(()))
        self.register_buffer("scratch", torch.ones(2), persistent=False)
        self.tag = "stem"


@pytest.mark.parametrize("mode", MODES_2D)
def test_extra_parameters_buffers_and_attributes_are_carried(mode):
    model = nn.Sequential(Tagged())
    converted, record = padmods.convert(model, mode, inplace=True, report=True) if mode != "coord" else (None, None)
    if mode == "coord":
        with pytest.warns(ConversionWarning, match="new parameters"):
            converted, record = padmods.convert(model, mode, inplace=True, report=True)
    new = converted[0]
    assert new.gain is not None
    assert new.tag == "stem"
    assert {"parameter gain", "buffer seen", "buffer scratch", "attribute tag"} <= set(record.replaced[0].carried)
    assert "scratch" not in new.state_dict()
    assert "seen" in new.state_dict()
    restored = padmods.revert(converted, inplace=True)
    assert type(restored[0]) is Tagged
    assert restored[0].gain is new.gain


def test_subclasses_that_compute_their_own_way_are_left_alone_with_a_warning():
    model = nn.Sequential(StdConv2d(2, 3, 3, padding=1).double(), nn.Conv2d(3, 3, 3, padding=1).double())
    x = x_input()
    with pytest.warns(ConversionWarning, match=r"'0' \(StdConv2d\): StdConv2d standardises its weight in forward"):
        converted = padmods.convert(model, "reflect")
    assert type(converted[0]) is StdConv2d
    assert type(converted[1]).__name__ == "ReflectPadConv2d"
    torch.testing.assert_close(converted[0](x), model[0](x), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"'0' \(StdConv2d\)"):
        padmods.convert(model, "reflect", strict=True)


@pytest.mark.parametrize("size", [(33, 17), (32, 16), (7, 8)])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_timm_conv2d_same_becomes_tf_same(size, stride):
    torch.manual_seed(0)
    layer = Conv2dSame(2, 3, 3, stride).double()
    x = torch.randn(1, 2, *size, dtype=torch.float64)
    converted = padmods.convert(layer, "zeros")
    assert converted.padding == "same"
    torch.testing.assert_close(converted(x), layer(x), rtol=1e-12, atol=1e-12)
    # reflect: the same TF pads, filled by reflection
    (top, bottom), (left, right) = (tf_same_pads(n, 3, stride, 1) for n in size)
    padded = F.pad(x, (left, right, top, bottom), mode="reflect")
    expected = F.conv2d(padded, layer.weight, layer.bias, stride)
    torch.testing.assert_close(padmods.convert(layer, "reflect")(x), expected, rtol=1e-12, atol=1e-12)


def test_an_adapter_teaches_convert_a_subclass():
    class Strided(nn.Conv2d):  # always runs with stride 2, whatever its setting says
        def forward(self, input):
            return F.conv2d(input, self.weight, self.bias, 2, self.padding)

    torch.manual_seed(0)
    model = nn.Sequential(Strided(1, 1, 3, padding=1).double())
    x = x_input(1, 1, 9, 9)
    register_adapter(Strided, lambda layer: {"stride": 2})
    converted = padmods.convert(model, "zeros", strict=True)
    torch.testing.assert_close(converted(x), model(x), rtol=1e-12, atol=1e-12)
    register_adapter(Strided, lambda layer: None)
    with pytest.warns(ConversionWarning, match="adapter of Strided found no plain convolution"):
        padmods.convert(model, "zeros")
    register_adapter(Strided, lambda layer: {"groups": 2})
    with pytest.raises(
        ValueError,
        match=r"adapter .*<lambda> of Strided for '0' returned \['groups'\].*\['dilation', 'padding', 'stride'\]",
    ):
        padmods.convert(model, "zeros")
    with pytest.raises(TypeError, match="subclass of nn.Conv1d, nn.Conv2d or nn.Conv3d, got <class 'int'>"):
        register_adapter(int, lambda layer: {})
    with pytest.raises(TypeError, match="an adapter is a function of the convolution, got 3"):
        register_adapter(Strided, 3)


def test_a_lazy_convolution_must_run_once_first():
    model = nn.Sequential(nn.LazyConv2d(3, 3, padding=1))
    with pytest.raises(
        ValueError, match=r"cannot convert '0' \(LazyConv2d\): it has no weight until its first forward"
    ):
        padmods.convert(model, "reflect")
    model(torch.randn(1, 2, 5, 5))
    assert type(padmods.convert(model, "reflect")[0]).__name__ == "ReflectPadConv2d"


def test_coord_with_r_converts_back_to_any_mode():
    model = nn.Sequential(conv())
    coord = padmods.convert(model, "coord", with_r=True)
    x = x_input()
    for mode in PLAIN_MODES:
        again = padmods.convert(coord, mode)
        assert torch.equal(again[0].weight, model[0].weight)
    torch.testing.assert_close(padmods.convert(coord, "zeros")(x), model(x), rtol=0, atol=0)


def test_old_style_norm_after_a_forward_pass_needs_inplace():
    model = nn.Sequential(weight_norm_old(conv()))
    model(x_input())  # now ``weight`` is a computed tensor, which torch cannot deep-copy
    with pytest.raises(RuntimeError, match="pass inplace=True to convert"):
        padmods.convert(model, "reflect")
    assert type(padmods.convert(model, "reflect", inplace=True)[0]).__name__ == "ReflectPadConv2d"


@pytest.mark.parametrize("mode", PLAIN_MODES)
def test_a_converted_model_pickles_and_reverts_after_unpickling(mode):
    model = nn.Sequential(Tagged().double())
    again = pickle.loads(pickle.dumps(padmods.convert(model, mode)))
    restored = padmods.revert(again)
    assert type(restored[0]) is Tagged
    assert restored[0].tag == "stem"
    x = x_input()
    torch.testing.assert_close(restored(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("wrap", [weight_norm_new, spectral_norm_old], ids=lambda f: f.__name__)
def test_hooks_and_parametrizations_carry_in_every_dimension(dims, wrap):
    torch.manual_seed(0)
    conv_class = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    conv_fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    layer = wrap(conv_class(2, 3, 3, padding=1).double()).eval()
    seen = []
    layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    model = nn.Sequential(layer)
    x = torch.randn(1, 2, *(5,) * dims, dtype=torch.float64)
    converted = padmods.convert(model, "replicate", inplace=True)
    assert type(converted[0]).__name__.endswith(f"ReplicatePadConv{dims}d")
    out = converted(x)  # an old-style norm computes the weight in a pre-forward hook
    expected = conv_fn(F.pad(x, (1, 1) * dims, mode="replicate"), converted[0].weight, layer.bias)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert seen == [expected.shape]
    assert padmods.revert(converted, inplace=True)[0] is layer
