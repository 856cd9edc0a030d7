"""Whole models through convert and revert: exact where theory says so, and lossless both ways."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
import torch
from _models import MODELS, StrideOneNet, build
from torch import nn

import padmods
from padmods.conversion import ConversionWarning

MODES_2D = padmods.available(dim=2)


def convert(model: nn.Module, mode: str) -> nn.Module:
    """``padmods.convert``, expecting the one warning that 'coord' gives for grouped convolutions."""
    if mode == "coord" and any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in model.modules()):
        with pytest.warns(ConversionWarning, match="groups=1 only"):
            return padmods.convert(model, mode)
    return padmods.convert(model, mode)


def classes(model: nn.Module) -> dict[str, str]:
    return {name: type(module).__name__ for name, module in model.named_modules()}


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert sa[key].dtype == sb[key].dtype, key
        assert torch.equal(sa[key], sb[key]), key


@pytest.mark.parametrize("mode", MODES_2D)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_convert_then_revert_gives_back_the_original(name, mode):
    model, x = build(name)
    expected = model(x)
    converted = convert(model, mode)
    assert all(not isinstance(m, nn.Conv2d) or type(m) is not nn.Conv2d for m in converted.modules())
    restored = padmods.revert(converted)
    assert classes(restored) == classes(model)
    assert_same_state(restored, model)
    assert torch.equal(restored(x), expected)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zeros_mode_computes_exactly_what_the_original_does(name):
    model, x = build(name)
    converted = padmods.convert(model, "zeros")
    assert not any(type(m) in (nn.Conv2d,) or type(m).__name__ == "Conv2dSame" for m in converted.modules())
    torch.testing.assert_close(converted(x), model(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES_2D)
def test_every_mode_agrees_on_the_interior_of_a_stride_one_model(mode):
    model, x = build("stride_one")
    r = StrideOneNet.radius
    inner = (..., slice(r, -r), slice(r, -r))
    torch.testing.assert_close(padmods.convert(model, mode)(x)[inner], model(x)[inner], rtol=1e-12, atol=1e-12)


def test_tf_same_layers_keep_their_output_sizes():
    model, _ = build("tf_efficientnet")
    x = torch.randn(1, 3, 33, 17, dtype=torch.float64)  # odd sizes: TF's 'same' puts the odd pad after
    converted, record = padmods.convert(model, "reflect", report=True)
    assert converted.conv_stem.padding == "same"
    assert {r.source for r in record.replaced} == {"Conv2d", "Conv2dSame"}
    assert converted.features(x).shape == model.features(x).shape == (1, 8, 5, 3)


@pytest.mark.parametrize("mode", MODES_2D)
def test_models_convert_from_any_mode_to_any_other(mode):
    model, x = build("resnet18")
    for target in MODES_2D:
        again = convert(convert(model, mode), target)
        assert torch.equal(again(x), convert(model, target)(x)), target
        assert_same_state(padmods.revert(again), model)


def test_shared_convolutions_stay_shared_both_ways():
    model, _ = build("shared_conv")
    converted = padmods.convert(model, "circular")
    assert converted.first[0] is converted.second[1] is converted.shared
    restored = padmods.revert(converted)
    assert restored.first[0] is restored.second[1] is restored.shared
    assert type(restored.shared) is nn.Conv2d


def test_nothing_a_layer_caches_is_state_or_a_buffer():
    model, x = build("unet")
    for mode in MODES_2D:
        converted = padmods.convert(model, mode)
        converted(x), converted(x[:, :, :12, :8])  # fill whatever a layer caches
        expected = {k: v.shape for k, v in model.state_dict().items()}
        got = {k: v.shape for k, v in converted.state_dict().items()}
        if mode == "coord":  # the wider weights: one coordinate tap per axis
            expected = {
                k: (s[0], s[1] + 2, *s[2:]) if k.endswith("weight") and len(s) == 4 and "up" not in k else s
                for k, s in expected.items()
            }
        assert got == expected, mode
        assert len(list(converted.buffers())) == len(list(model.buffers())), mode


def test_revert_keeps_what_was_trained_while_converted():
    model, x = build("resnet18")
    model.train()
    converted = padmods.convert(model, "coord")
    optimizer = torch.optim.SGD(converted.parameters(), lr=0.1)
    converted(x).sum().backward()
    optimizer.step()
    restored = padmods.revert(converted)
    for name, module in restored.named_modules():
        if isinstance(module, nn.Conv2d):
            trained = converted.get_submodule(name).weight[:, : module.in_channels]
            assert torch.equal(module.weight, trained), name
            assert not torch.equal(module.weight, model.get_submodule(name).weight), name


def test_revert_leaves_layers_convert_did_not_make():
    model = nn.Sequential(padmods.ReflectPadConv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
    restored = padmods.revert(padmods.convert(model, "circular", filter=lambda name, conv: name == "1"))
    assert [type(m).__name__ for m in restored] == ["ReflectPadConv2d", "Conv2d"]
    assert restored[1].padding_mode == "zeros"
    with pytest.raises(TypeError, match="revert expects an nn.Module, got int"):
        padmods.revert(3)


def test_padding_block_converts_in_place_and_restores_with_the_same_parameters():
    model, x = build("unet")
    model.train()
    params = list(model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with padmods.padding(model, "reflect") as inside:
        assert inside is model
        assert type(model.down[0]).__name__ == "ReflectPadConv2d"
        assert list(model.parameters()) == params
        assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
        model(x).square().mean().backward()
        optimizer.step()
    assert type(model.down[0]) is nn.Conv2d
    assert classes(model) == classes(build("unet")[0])
    assert all(a is b for a, b in zip(model.parameters(), params, strict=True))
    assert not torch.equal(model.down[0].weight, before["down.0.weight"])  # the step inside stays


def test_padding_block_restores_after_an_error():
    model, _ = build("stride_one")
    with pytest.raises(RuntimeError, match="boom"):
        with padmods.padding(model, "circular"):
            raise RuntimeError("boom")
    assert type(model.body[0]) is nn.Conv2d


def test_padding_block_refuses_a_single_convolution():
    with pytest.raises(TypeError, match=r"itself a convolution \(Conv2d\).*padding\(nn.Sequential\(conv\), mode\)"):
        with padmods.padding(nn.Conv2d(1, 1, 3), "reflect"):
            pass


def test_padding_block_on_a_converted_model_restores_the_converted_layers():
    model, _ = build("stride_one")
    with pytest.warns(ConversionWarning, match="new parameters"):
        padmods.convert(model, "coord", inplace=True, filter=lambda name, conv: name == "body.0")
    coord = model.body[0]
    with torch.no_grad():
        coord.weight[:, :2] += 1  # trained image taps; the coordinate taps stay zero
    expected = coord.weight.detach().clone()
    with ExitStack() as block:
        with pytest.warns(ConversionWarning, match=r"new parameters .*: body\.0\.weight"):
            block.enter_context(padmods.padding(model, "circular"))
        assert [type(m).__name__ for m in model.body[::2]] == ["CircularPadConv2d"] * 3
        with torch.no_grad():
            model.body[0].weight += 1  # trained inside the block
    assert model.body[0] is coord
    assert torch.equal(coord.weight[:, :2], expected[:, :2] + 1)
    assert torch.equal(coord.weight[:, 2:], expected[:, 2:])
    assert [type(m).__name__ for m in model.body[::2]] == ["CoordConv2d", "Conv2d", "Conv2d"]
    restored = padmods.revert(model)
    assert type(restored.body[0]) is nn.Conv2d
    assert torch.equal(restored.body[0].weight, expected[:, :2] + 1)


def test_coord_in_place_names_the_parameters_an_optimizer_lacks():
    model, _ = build("stride_one")
    with pytest.warns(ConversionWarning, match=r"new parameters .*: body\.0\.weight, body\.2\.weight, body\.4\.weight"):
        _, record = padmods.convert(model, "coord", inplace=True, report=True)
    assert record.new_parameters == ("body.0.weight", "body.2.weight", "body.4.weight")


def test_coord_leaves_grouped_convolutions_alone_with_one_warning():
    model, x = build("tf_efficientnet")
    with pytest.warns(
        ConversionWarning,
        match=r"left 3 convolution\(s\) alone.*\n- 'blocks\.0\.depthwise', 'blocks\.1\.depthwise' \(Conv2dSame\): "
        r"CoordConv2d supports groups=1 only, got groups=8\n- 'blocks\.2\.depthwise' \(Conv2dSame\): .*groups=16$",
    ) as caught:
        converted, record = padmods.convert(model, "coord", report=True)
    assert len(caught) == 1
    assert [skip.name for skip in record.skipped] == [f"blocks.{i}.depthwise" for i in range(3)]
    assert type(converted.blocks[0].depthwise).__name__ == "Conv2dSame"
    torch.testing.assert_close(converted(x), model(x), rtol=1e-12, atol=1e-12)  # zero taps, zero border
    with pytest.raises(ValueError, match=r"strict=True\) cannot convert 3 .*filter=.*\n- 'blocks\.0\.depthwise'"):
        padmods.convert(model, "coord", strict=True)
