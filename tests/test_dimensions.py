"""One mode name across 1-D, 2-D and 3-D: the registry, create, convert and the command line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import padmods
from padmods.cli import main
from padmods.conversion import ConversionWarning

BUILT_INS = ["circular", "coord", "partial", "reflect", "replicate", "spherical", "symmetric", "zeros"]
EVERY_DIMENSION = [mode for mode in BUILT_INS if mode != "spherical"]  # spherical: 2-D only
TORCH_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("mode", EVERY_DIMENSION)
def test_every_built_in_mode_has_a_layer_per_dimension(mode, dims):
    cls = padmods.get(mode, dims)
    assert issubclass(cls, TORCH_CONV[dims])
    assert cls.__module__ == "padmods"
    assert getattr(padmods, cls.__name__) is cls
    assert padmods.registry.dimensions(mode) == (1, 2, 3)
    assert type(padmods.create(mode, 2, 3, 3, dim=dims)) is cls


def test_get_and_create_default_to_two_dimensions():
    assert padmods.get("reflect") is padmods.ReflectPadConv2d
    assert type(padmods.create("partial", 1, 1, 3)) is padmods.PartialConv2d


@pytest.mark.parametrize("dim", [0, 4, "2", True, 2.0])
def test_bad_dim_names_what_is_expected(dim):
    with pytest.raises(ValueError, match=r"dim must be 1, 2 or 3 \(the number of spatial axes\), got"):
        padmods.get("zeros", dim)


def test_a_mode_may_offer_some_dimensions_only(clean_registry):
    @padmods.register("flat-only")
    class FlatPadConv2d(padmods.ReflectPadConv2d):
        pass

    assert clean_registry.dimensions("flat-only") == (2,)
    assert "flat-only" in padmods.available(dim=2)
    assert "flat-only" not in padmods.available(dim=3)
    with pytest.raises(ValueError, match="padding mode 'flat-only' has no 3-D layer; it has 2-D"):
        padmods.create("flat-only", 1, 1, 3, dim=3)


def test_register_checks_each_dimension_on_its_own(clean_registry):
    class Other1d(padmods.ZeroPadConv1d):
        pass

    with pytest.raises(ValueError, match=r"'zeros' is already registered to padmods\.ZeroPadConv1d for 1-D"):
        padmods.register("zeros")(Other1d)
    padmods.register("zeros", override=True)(Other1d)
    assert padmods.get("zeros", 1) is Other1d
    assert padmods.get("zeros", 2) is padmods.ZeroPadConv2d  # the other dimensions stay
    with pytest.raises(TypeError, match="expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d"):
        padmods.register("transposed")(nn.ConvTranspose2d)


# ---- convert -----------------------------------------------------------------------------------


def mixed_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv1d(2, 2, 3, padding=1),
        nn.Unflatten(2, (4, 4)),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.Unflatten(2, (2, 2)),
        nn.Conv3d(2, 2, 3, padding=1),
        nn.ConvTranspose3d(2, 2, 1),
    ).double()


def test_convert_gives_each_convolution_the_layer_of_its_dimension():
    model = mixed_model()
    converted = padmods.convert(model, "circular")
    assert [type(m).__name__ for m in converted] == [
        "CircularPadConv1d",
        "Unflatten",
        "CircularPadConv2d",
        "Unflatten",
        "CircularPadConv3d",
        "ConvTranspose3d",
    ]
    x = torch.randn(1, 2, 16, dtype=torch.float64)
    expected = F.conv1d(F.pad(x, (1, 1), mode="circular"), model[0].weight, model[0].bias)
    torch.testing.assert_close(converted[0](x), expected)
    zeros = padmods.convert(model, "zeros")
    torch.testing.assert_close(zeros(x), model(x), rtol=0, atol=0)
    coord = padmods.convert(model, "coord", with_r=True)
    assert [m.weight.shape[1] for m in coord if isinstance(m, padmods.layers.coord.CoordConvNd)] == [4, 5, 6]
    torch.testing.assert_close(coord(x), model(x))  # coordinate taps start at zero


def test_convert_to_a_mode_without_some_dimension_names_the_layer(clean_registry):
    @padmods.register("flat-only")
    class FlatPadConv2d(padmods.ReflectPadConv2d):
        pass

    model = mixed_model()
    with pytest.raises(
        ValueError, match=r"cannot convert 2 convolution\(s\).*\n- '0' \(Conv1d\): padding mode 'flat-only' has no 1-D"
    ):
        padmods.convert(model, "flat-only", strict=True)
    with pytest.warns(ConversionWarning, match=r"(?s)left 2 convolution\(s\) alone.*'0' \(Conv1d\).*'4' \(Conv3d\)"):
        left = padmods.convert(model, "flat-only")
    assert [type(m).__name__ for m in left][::2] == ["Conv1d", "FlatPadConv2d", "Conv3d"]
    converted = padmods.convert(model, "flat-only", filter=lambda name, conv: isinstance(conv, nn.Conv2d))
    assert [type(m).__name__ for m in converted][:5] == ["Conv1d", "Unflatten", "FlatPadConv2d", "Unflatten", "Conv3d"]


def test_convert_with_a_class_changes_only_its_dimension():
    converted = padmods.convert(mixed_model(), padmods.ReflectPadConv3d)
    assert [type(m).__name__ for m in converted][::2] == ["Conv1d", "Conv2d", "ReflectPadConv3d"]


def flat_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv1d(2, 2, 3, padding=1))


@pytest.mark.parametrize(
    ("mode", "named"),
    [
        (("zeros", "circular", "reflect"), "('zeros', 'circular', 'reflect') converts 3-D"),
        (["zeros", "circular", "reflect"], "('zeros', 'circular', 'reflect') converts 3-D"),
        (padmods.ReflectPadConv3d, "ReflectPadConv3d converts 3-D"),
    ],
    ids=["tuple", "list", "class"],
)
def test_a_mode_of_axes_the_model_lacks_says_that_nothing_changes(mode, named):
    """A per-axis mode or a layer class converts its own number of axes only; none at all is said, not silent."""
    model = flat_model()
    with pytest.warns(ConversionWarning) as caught:
        same = padmods.convert(model, mode)
    (warning,) = caught
    assert str(warning.message).startswith(f"convert: {named} convolutions only, and the model has none: ")
    assert "its 2 convolution(s) (1-D, 2-D) keep their own padding" in str(warning.message)
    assert warning.filename == __file__
    assert [type(m) for m in same] == [nn.Conv2d, nn.ReLU, nn.Conv1d]
    with pytest.raises(ValueError, match=r"^convert\(strict=True\): .* converts 3-D convolutions only"):
        padmods.convert(model, mode, strict=True)


def test_a_mode_of_other_axes_is_quiet_where_it_converts_some_or_none_was_asked_for():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        converted = padmods.convert(mixed_model(), ("reflect", "circular", "zeros"))
        assert [type(m).__name__ for m in converted][::2] == ["Conv1d", "Conv2d", "PerAxisPadConv3d"]
        padmods.convert(flat_model(), padmods.ReflectPadConv3d, filter=lambda name, conv: False)
        padmods.convert(nn.Sequential(nn.ReLU()), ("reflect", "circular", "zeros"))  # no convolution at all


def test_a_padding_block_of_other_axes_warns_at_the_with_line():
    model = flat_model()
    with pytest.warns(ConversionWarning, match=r"\('reflect', 'zeros', 'zeros'\) converts 3-D convolutions") as caught:
        with padmods.padding(model, ("reflect", "zeros", "zeros")):  # the line the warning names
            line = caught[0].lineno
    assert caught[0].filename == __file__
    assert "padmods.padding(model" in Path(__file__).read_text().splitlines()[line - 1]


def test_modes_command_lists_the_dimensions(capsys):
    assert main(["modes"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert sorted(lines) == BUILT_INS
    for mode, line in lines.items():
        assert ("1-D 2-D 3-D" in line) == (mode != "spherical")
    assert lines["spherical"].split()[1] == "2-D"
