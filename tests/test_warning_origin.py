"""Every padmods warning names the user's line, whichever public call raised it and however deep.

A warning's ``stacklevel`` counted by hand is right for one caller only: a plugin that fails to
load warns from whichever lookup first reads the registry, and :func:`padmods.analysis.suggest_sizes`
falls back to real forward passes from two places. These tests call each public route and check
that the warning points at this file.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

import padmods
from padmods.analysis import ShapeProbeWarning, suggest_sizes
from padmods.conversion import ConversionWarning

WORKING_PLUGIN = '''
import torch.nn.functional as F
import padmods


class OnesPadConv2d(padmods.PaddedConv2d):
    """Pads with ones."""

    @classmethod
    def pad(cls, input, pairs):
        (top, bottom), (left, right) = pairs
        return F.pad(input, (left, right, top, bottom), value=1.0)
'''


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch, clean_registry):
    """One plugin that fails to import and one that works, installed as pip would, not loaded yet."""
    (tmp_path / "padmods_origin_broken.py").write_text("raise ImportError('broken on purpose')\n")
    (tmp_path / "padmods_origin_ones.py").write_text(WORKING_PLUGIN)
    info = tmp_path / "padmods_origin_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: padmods-origin-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[padmods.modes]\nbroken = padmods_origin_broken:Nothing\nones = padmods_origin_ones:OnesPadConv2d\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    yield
    for name in ("padmods_origin_broken", "padmods_origin_ones"):
        sys.modules.pop(name, None)


def _line_of(function: Callable[..., object]) -> int:
    return function.__code__.co_firstlineno


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))


PLUGIN_ROUTES: dict[str, Callable[[], object]] = {
    "available": lambda: padmods.available(),
    "available(dim)": lambda: padmods.available(dim=2),
    "get": lambda: padmods.get("ones"),
    "create": lambda: padmods.create("ones", 1, 2, 3, padding=1),
    "convert": lambda: padmods.convert(_model(), "ones"),
    "padding": lambda: padmods.padding(_model(), "ones").__enter__(),
}


@pytest.mark.parametrize("route", sorted(PLUGIN_ROUTES))
def test_a_broken_plugin_warns_at_the_callers_line(broken_plugin, route):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = PLUGIN_ROUTES[route]()
    plugin_warnings = [w for w in caught if issubclass(w.category, padmods.registry.PluginWarning)]
    # the first line outside padmods is the route's own lambda, in this file
    assert [(w.filename, w.lineno) for w in plugin_warnings] == [(__file__, _line_of(PLUGIN_ROUTES[route]))]
    assert "'broken'" in str(plugin_warnings[0].message)
    assert result is not None  # the working plugin loaded all the same
    assert "ones" in padmods.available()
    assert "broken" not in padmods.available()


@pytest.mark.parametrize(
    "route",
    [
        lambda: padmods.get("no-such-mode"),
        lambda: padmods.create("no-such-mode", 1, 1, 3),
        lambda: padmods.convert(_model(), "no-such-mode"),
    ],
    ids=["get", "create", "convert"],
)
def test_an_unknown_name_loads_the_plugins_and_warns_at_the_callers_line(broken_plugin, route):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="no-such-mode"):
            route()
    plugin_warnings = [w for w in caught if issubclass(w.category, padmods.registry.PluginWarning)]
    assert [(w.filename, w.lineno) for w in plugin_warnings] == [(__file__, _line_of(route))]


class _RefusesCopies(nn.Module):
    """A model that cannot be copied onto the meta device (``deepcopy`` fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)

    def __deepcopy__(self, memo: dict) -> nn.Module:
        raise RuntimeError("this model refuses copies")

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class _ReadsValues(nn.Module):
    """A model that copies onto meta but reads a value in ``forward``, which no meta tensor has."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return y if float(y.abs().sum()) >= 0 else -y


@pytest.mark.parametrize("model_class", [_RefusesCopies, _ReadsValues])
def test_suggest_sizes_falls_back_with_a_warning_at_the_callers_line(model_class):
    """The two fallbacks warn from different depths: when the twin is made, and when it first runs."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sizes = suggest_sizes(model_class(), (1, 1, 12, 12), count=1, max_distance=2)
    line = sys._getframe().f_lineno - 1
    probe_warnings = [w for w in caught if issubclass(w.category, ShapeProbeWarning)]
    assert [(w.filename, w.lineno) for w in probe_warnings] == [(__file__, line)]
    assert model_class.__name__ in str(probe_warnings[0].message)
    # a stride-2 3x3 layer with padding 1 reads both sides at odd sizes only: 11 and 13, the smaller first
    assert sizes == ((11,), (11,))


def test_a_conversion_warning_inside_a_padding_block_names_the_with_line():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with padmods.padding(model, "coord"):  # CoordConv refuses groups; the warning names this line
            line = sys._getframe().f_lineno - 1
            model(torch.zeros(1, 2, 4, 4))
    assert [(w.filename, w.lineno) for w in caught if issubclass(w.category, ConversionWarning)] == [(__file__, line)]
