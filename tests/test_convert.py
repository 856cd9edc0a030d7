"""padmods.convert: whole-model conversion that keeps everything but the border."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import padmods

from conftest import assert_close

MODES = ["zeros", "reflect", "replicate", "circular", "symmetric", "partial", "coord"]


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x)))


class Net(nn.Module):
    """Convolutions nested in a plain attribute, a Sequential, a ModuleList and a ModuleDict."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.blocks = nn.Sequential(Block(), Block())
        self.extra = nn.ModuleList([nn.Conv2d(4, 4, 1)])
        self.heads = nn.ModuleDict({"a": nn.Conv2d(4, 2, 3, padding=1), "up": nn.ConvTranspose2d(2, 2, 2)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra[0](self.blocks(self.stem(x)))
        return self.heads["up"](self.heads["a"](x))


def make_net() -> Net:
    torch.manual_seed(0)
    return Net().double()


def conv_names(model: nn.Module) -> dict[str, str]:
    return {name: type(m).__name__ for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}


@pytest.mark.parametrize("mode", MODES)
def test_every_conv2d_is_replaced_and_nothing_else(mode):
    model = make_net()
    converted = padmods.convert(model, mode)
    cls_name = padmods.get(mode).__name__
    assert conv_names(converted) == dict.fromkeys(conv_names(model), cls_name)
    assert isinstance(converted.heads["up"], nn.ConvTranspose2d)
    assert isinstance(converted.blocks[0].norm, nn.BatchNorm2d)
    assert set(conv_names(model).values()) == {"Conv2d"}  # the original is untouched


@pytest.mark.parametrize("mode", [m for m in MODES if m != "coord"])
def test_state_dict_keys_and_values_are_unchanged(mode):
    model = make_net()
    converted = padmods.convert(model, mode)
    assert list(converted.state_dict()) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(converted.state_dict()[key], value)
        assert converted.state_dict()[key].data_ptr() != value.data_ptr()  # a copy, not shared


def test_coord_widens_only_the_weights_with_zero_taps():
    model = make_net()
    converted = padmods.convert(model, "coord")
    assert list(converted.state_dict()) == list(model.state_dict())
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    model.eval()
    converted.eval()
    assert_close(converted(x), model(x))  # zero coordinate taps: the same function


@pytest.mark.parametrize("mode", MODES)
def test_converted_model_matches_the_original_in_the_interior(mode):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3, padding=1)).double()
    converted = padmods.convert(model, mode)
    x = torch.randn(1, 2, 12, 12, dtype=torch.float64)
    # two 3x3 layers: pixels more than two rows/columns from the border never see padding
    assert_close(converted(x)[..., 2:-2, 2:-2], model(x)[..., 2:-2, 2:-2])


def test_keeps_training_state_requires_grad_dtype_and_padding():
    model = make_net()
    model.eval()
    model.stem.weight.requires_grad_(False)
    converted = padmods.convert(model, "reflect")
    assert not converted.training
    assert not converted.stem.training
    assert not converted.stem.weight.requires_grad
    assert converted.stem.bias.requires_grad
    assert converted.stem.weight.dtype == torch.float64
    assert converted.stem.padding == (1, 1)
    assert converted.extra[0].padding == (0, 0)


def test_inplace_keeps_parameter_objects_for_the_optimizer():
    model = make_net()
    weight = model.stem.weight
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    converted = padmods.convert(model, "partial", inplace=True)
    assert converted is model
    assert isinstance(model.stem, padmods.PartialConv2d)
    assert model.stem.weight is weight
    before = weight.detach().clone()
    model(torch.randn(2, 3, 8, 8, dtype=torch.float64)).sum().backward()
    optimizer.step()
    assert not torch.equal(model.stem.weight, before)  # the optimizer still updates the live weight


def test_filter_picks_by_qualified_name():
    model = make_net()
    seen = []

    def only_blocks(name: str, conv: nn.Conv2d) -> bool:
        seen.append(name)
        return name.startswith("blocks.")

    converted = padmods.convert(model, "circular", filter=only_blocks)
    assert seen == ["stem", "blocks.0.conv", "blocks.1.conv", "extra.0", "heads.a"]
    assert conv_names(converted) == {
        "stem": "Conv2d",
        "blocks.0.conv": "CircularPadConv2d",
        "blocks.1.conv": "CircularPadConv2d",
        "extra.0": "Conv2d",
        "heads.a": "Conv2d",
    }


def test_converting_twice_equals_once_and_converts_again():
    model = make_net()
    once = padmods.convert(model, "reflect")
    twice = padmods.convert(once, "reflect")
    assert conv_names(twice) == conv_names(once)
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    assert torch.equal(twice(x), once(x))
    again = padmods.convert(once, "partial")  # padmods layers are nn.Conv2d too
    assert set(conv_names(again).values()) == {"PartialConv2d"}
    coord_twice = padmods.convert(padmods.convert(model, "coord", with_r=True), "coord")
    assert coord_twice.stem.with_r
    assert coord_twice.stem.weight.shape == (4, 3 + 3, 3, 3)


def test_shared_convolution_stays_shared():
    shared = nn.Conv2d(2, 2, 3, padding=1)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    converted = padmods.convert(model, "replicate")
    assert converted[0] is converted[2]
    assert isinstance(converted[0], padmods.ReplicatePadConv2d)


def test_a_bare_convolution_is_converted():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    converted = padmods.convert(conv, "partial")
    assert isinstance(converted, padmods.PartialConv2d)
    assert type(conv) is nn.Conv2d


def test_subclass_of_conv2d_is_replaced():
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(MyConv(1, 1, 3, padding=1))
    assert isinstance(padmods.convert(model, "reflect")[0], padmods.ReflectPadConv2d)


def test_coord_converts_to_a_narrower_mode_only_with_zero_coordinate_taps():
    model = padmods.convert(nn.Sequential(nn.Conv2d(1, 1, 3)), "coord")
    x = torch.randn(1, 1, 6, 6)
    narrowed = padmods.convert(model, "zeros")
    assert narrowed[0].weight.shape == (1, 1, 3, 3)
    assert torch.equal(narrowed(x), model(x))  # zero taps: the same function
    with torch.no_grad():
        model[0].weight[:, 1:] = 0.5
    with pytest.raises(ValueError, match=r"cannot convert '0' \(CoordConv2d\): .*2 coordinate taps are not zero"):
        padmods.convert(model, "zeros")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown padding mode 'mirror'"):
        padmods.convert(nn.Conv2d(1, 1, 3), "mirror")
    with pytest.raises(TypeError, match="convert expects an nn.Module, got list"):
        padmods.convert([nn.Conv2d(1, 1, 3)], "zeros")
