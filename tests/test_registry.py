"""The mode registry: look-up, registration rules, and plugins found through real entry points."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest
import torch
from torch import nn

import padmods

BUILT_INS = ["circular", "coord", "partial", "reflect", "replicate", "spherical", "symmetric", "zeros"]


def test_available_lists_built_ins_sorted():
    assert padmods.available() == BUILT_INS


def test_get_returns_the_classes():
    assert padmods.get("zeros") is padmods.ZeroPadConv2d
    assert padmods.get("reflect") is padmods.ReflectPadConv2d
    assert padmods.get("replicate") is padmods.ReplicatePadConv2d
    assert padmods.get("circular") is padmods.CircularPadConv2d
    assert padmods.get("partial") is padmods.PartialConv2d
    assert padmods.get("coord") is padmods.CoordConv2d
    assert padmods.get(padmods.PartialConv2d) is padmods.PartialConv2d  # a class passes through


def test_create_builds_with_arguments():
    layer = padmods.create("replicate", 3, 5, (3, 1), stride=2, padding="same", bias=False)
    assert type(layer) is padmods.ReplicatePadConv2d
    assert (layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride) == (3, 5, (3, 1), (2, 2))
    assert layer.padding == "same"
    assert layer.bias is None


def test_unknown_mode_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown padding mode 'mirror'; available modes: " + ", ".join(BUILT_INS)):
        padmods.get("mirror")
    with pytest.raises(ValueError, match="available modes"):
        padmods.create("mirror", 1, 1, 3)


def test_register_user_mode(clean_registry):
    @padmods.register("halfzeros")
    class HalfZeros(padmods.ZeroPadConv2d):
        pass

    assert padmods.get("halfzeros") is HalfZeros
    assert "halfzeros" in padmods.available()
    assert padmods.register("halfzeros")(HalfZeros) is HalfZeros  # same class again: nothing happens


def test_register_existing_name_needs_override(clean_registry):
    class Other(padmods.ZeroPadConv2d):
        pass

    with pytest.raises(ValueError, match=r"'zeros' is already registered to padmods\.ZeroPadConv2d"):
        padmods.register("zeros")(Other)
    assert padmods.get("zeros") is padmods.ZeroPadConv2d
    padmods.register("zeros", override=True)(Other)
    assert padmods.get("zeros") is Other


def test_register_refuses_non_convolutions(clean_registry):
    with pytest.raises(TypeError, match="expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d"):
        padmods.register("linear")(nn.Linear)
    with pytest.raises(ValueError, match="non-empty string"):
        padmods.register("")


def test_unregister(clean_registry):
    padmods.registry.unregister("partial")
    assert "partial" not in padmods.available()
    with pytest.raises(ValueError, match="'partial' is not registered"):
        padmods.registry.unregister("partial")


def test_public_view_is_read_only():
    with pytest.raises(TypeError):
        padmods.registry.modes["zeros"] = nn.Conv2d  # type: ignore[index]


# ---- plugins through real entry points -------------------------------------------------------

PLUGIN_MODULE = '''
import torch
import torch.nn.functional as F
import padmods


class DemoPadConv2d(padmods.PaddedConv2d):
    """Pads with ones, so the border is easy to see."""

    @classmethod
    def pad(cls, input, pairs):
        (top, bottom), (left, right) = pairs
        return F.pad(input, (left, right, top, bottom), value=1.0)
'''


def install_plugin(root, entry_points: str) -> None:
    """Lay out an installed distribution (package + dist-info) in ``root``, as pip would."""
    (root / "padmods_demo_plugin").mkdir()
    (root / "padmods_demo_plugin" / "__init__.py").write_text(PLUGIN_MODULE)
    info = root / "padmods_demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: padmods-demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugin_path(tmp_path, monkeypatch, clean_registry):
    install_plugin(
        tmp_path,
        """\
        [padmods.modes]
        ones = padmods_demo_plugin:DemoPadConv2d
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    yield tmp_path
    sys.modules.pop("padmods_demo_plugin", None)


def test_plugin_mode_is_found_and_works(plugin_path):
    assert "ones" in padmods.available()
    cls = padmods.get("ones")
    assert cls.__module__ == "padmods_demo_plugin"
    layer = padmods.create("ones", 1, 1, 3, padding=1, bias=False)
    torch.nn.init.ones_(layer.weight)
    out = layer(torch.zeros(1, 1, 4, 4))[0, 0]
    assert out[0, 0].item() == 5.0  # five of nine taps on the border of ones
    assert out[1, 1].item() == 0.0


def test_plugin_found_by_get_without_available(plugin_path):
    assert padmods.get("ones").__name__ == "DemoPadConv2d"


def test_broken_plugin_warns_and_built_ins_keep_working(tmp_path, monkeypatch, clean_registry):
    install_plugin(
        tmp_path,
        """\
        [padmods.modes]
        broken = padmods_missing_module:Nothing
        notaconv = padmods_demo_plugin:PLUGIN_NAME
        ones = padmods_demo_plugin:DemoPadConv2d
        """,
    )
    (tmp_path / "padmods_demo_plugin" / "__init__.py").write_text(PLUGIN_MODULE + "\nPLUGIN_NAME = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    with pytest.warns(padmods.registry.PluginWarning) as record:
        names = padmods.available()
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "'broken' (padmods_missing_module:Nothing)" in messages[0]
    assert "ModuleNotFoundError" in messages[0]
    assert "'notaconv'" in messages[1]
    assert "expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d" in messages[1]
    assert names == sorted([*BUILT_INS, "ones"])
    assert padmods.create("zeros", 1, 1, 3)(torch.zeros(1, 1, 4, 4)).shape == (1, 1, 2, 2)
    with pytest.raises(ValueError, match="unknown padding mode 'broken'"):
        padmods.get("broken")
    sys.modules.pop("padmods_demo_plugin", None)


def test_plugin_named_like_a_built_in_does_not_replace_it(tmp_path, monkeypatch, clean_registry):
    install_plugin(tmp_path, "[padmods.modes]\nzeros = padmods_demo_plugin:DemoPadConv2d\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    assert padmods.available() == BUILT_INS
    assert padmods.get("zeros") is padmods.ZeroPadConv2d


def test_import_does_not_load_plugins(tmp_path):
    install_plugin(tmp_path, "[padmods.modes]\nones = padmods_demo_plugin:DemoPadConv2d\n")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import padmods
        assert "padmods_demo_plugin" not in sys.modules, "imported at import time"
        padmods.get("zeros")
        assert "padmods_demo_plugin" not in sys.modules, "imported for a built-in look-up"
        assert "ones" in padmods.available()
        assert "padmods_demo_plugin" in sys.modules
        print("lazy")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lazy"


def test_plugin_entry_may_list_one_class_per_dimension(tmp_path, monkeypatch, clean_registry):
    """An entry point naming a tuple of classes registers each for its own number of axes."""
    module = PLUGIN_MODULE + textwrap.dedent(
        """

        class DemoPadConv1d(padmods.PaddedConv1d):
            @classmethod
            def pad(cls, input, pairs):
                ((left, right),) = pairs
                return F.pad(input, (left, right), value=1.0)


        LAYERS = (DemoPadConv1d, DemoPadConv2d)
        """
    )
    install_plugin(tmp_path, "[padmods.modes]\nones = padmods_demo_plugin:LAYERS\n")
    (tmp_path / "padmods_demo_plugin" / "__init__.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    assert clean_registry.dimensions("ones") == (1, 2)
    layer = padmods.create("ones", 1, 1, 3, dim=1, padding=1, bias=False)
    torch.nn.init.ones_(layer.weight)
    assert layer(torch.zeros(1, 1, 4)).tolist() == [[[1.0, 0.0, 0.0, 1.0]]]
    with pytest.raises(ValueError, match="padding mode 'ones' has no 3-D layer; it has 1-D, 2-D"):
        padmods.create("ones", 1, 1, 3, dim=3)
    sys.modules.pop("padmods_demo_plugin", None)


# ---- names that every front end can show (issue 15) --------------------------------------------
@pytest.mark.parametrize(
    "name", ["a,b", "a\tb", "a\nb", "a b", "", " ", " zeros", "zeros\n", "a\x00b", "a\u2003b", 3, None]
)
def test_register_refuses_names_with_whitespace_commas_or_control_characters(clean_registry, name):
    with pytest.raises(ValueError, match="non-empty string of printable characters without whitespace or commas, got"):
        padmods.register(name)
    assert padmods.available() == BUILT_INS


@pytest.mark.parametrize("name", ["my-zeros", "zeros_2", "zeros.v2", "ZEROS", "réflexion"])
def test_register_accepts_other_names(clean_registry, name):
    @padmods.register(name)
    class Named(padmods.ZeroPadConv2d):
        pass

    assert padmods.get(name) is Named


def test_plugin_with_a_bad_name_warns(tmp_path, monkeypatch, clean_registry):
    install_plugin(tmp_path, "[padmods.modes]\nbad name = padmods_demo_plugin:DemoPadConv2d\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    with pytest.warns(padmods.registry.PluginWarning, match="'bad name' .* without whitespace or commas"):
        assert padmods.available() == BUILT_INS
    sys.modules.pop("padmods_demo_plugin", None)


# ---- plugins that misbehave on import (issue 15) ----------------------------------------------
def install_broken_beside_demo(root, monkeypatch, registry, name: str, module: str, source: str) -> None:
    """Install a plugin ``name`` whose ``module`` runs ``source`` on import, beside the working demo plugin."""
    install_plugin(root, f"[padmods.modes]\n{name} = {module}:Nothing\nones = padmods_demo_plugin:DemoPadConv2d\n")
    (root / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(root))
    registry._entry_points_loaded = False


def test_plugin_that_calls_sys_exit_is_a_broken_plugin(tmp_path, monkeypatch, clean_registry):
    install_broken_beside_demo(
        tmp_path, monkeypatch, clean_registry, "quitter", "padmods_quitting_plugin", "import sys\nsys.exit(3)\n"
    )
    with pytest.warns(padmods.registry.PluginWarning) as record:
        names = padmods.available()
    (warning,) = record
    assert str(warning.message) == (
        "padmods could not load the padding mode plugin 'quitter' (padmods_quitting_plugin:Nothing): "
        "SystemExit: its import called sys.exit(3)"
    )
    assert warning.filename == __file__  # the warning points at the caller
    assert names == sorted([*BUILT_INS, "ones"])
    with pytest.raises(ValueError, match="unknown padding mode 'quitter'"):
        padmods.get("quitter")
    sys.modules.pop("padmods_demo_plugin", None)
    sys.modules.pop("padmods_quitting_plugin", None)


# ---- a plugin's warning names the caller's line, whichever lookup loads the plugins ---------
def _origin_line(function) -> int:
    return function.__code__.co_firstlineno


def _origin_model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))


@pytest.fixture
def broken_and_working_plugins(tmp_path, monkeypatch, clean_registry):
    """A plugin that fails to import next to one that works, installed as pip would, not loaded yet."""
    install_broken_beside_demo(
        tmp_path, monkeypatch, clean_registry, "broken", "padmods_origin_broken", "raise ImportError('broken')\n"
    )
    yield
    sys.modules.pop("padmods_demo_plugin", None)
    sys.modules.pop("padmods_origin_broken", None)


LOADING_ROUTES = {
    "available": lambda: padmods.available(),
    "available(dim)": lambda: padmods.available(dim=2),
    "get": lambda: padmods.get("ones"),
    "create": lambda: padmods.create("ones", 1, 2, 3, padding=1),
    "convert": lambda: padmods.convert(_origin_model(), "ones"),
    "padding": lambda: padmods.padding(_origin_model(), "ones").__enter__(),
}


@pytest.mark.parametrize("route", sorted(LOADING_ROUTES))
def test_a_broken_plugin_warns_at_the_callers_line(broken_and_working_plugins, route):
    """A fixed stacklevel is right for one route only; each route must name its caller (here, its lambda)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LOADING_ROUTES[route]()
    plugin_warnings = [w for w in caught if issubclass(w.category, padmods.registry.PluginWarning)]
    assert [(w.filename, w.lineno) for w in plugin_warnings] == [(__file__, _origin_line(LOADING_ROUTES[route]))]
    assert "'broken'" in str(plugin_warnings[0].message)
    assert padmods.get("ones").__name__ == "DemoPadConv2d"  # the working plugin loaded all the same
    assert "broken" not in padmods.available()


@pytest.mark.parametrize(
    "route",
    [
        lambda: padmods.get("no-such-mode"),
        lambda: padmods.create("no-such-mode", 1, 1, 3),
        lambda: padmods.convert(_origin_model(), "no-such-mode"),
    ],
    ids=["get", "create", "convert"],
)
def test_an_unknown_name_loads_the_plugins_and_warns_at_the_callers_line(broken_and_working_plugins, route):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="no-such-mode"):
            route()
    plugin_warnings = [w for w in caught if issubclass(w.category, padmods.registry.PluginWarning)]
    assert [(w.filename, w.lineno) for w in plugin_warnings] == [(__file__, _origin_line(route))]


SLOW_PLUGIN = '''
import time

import padmods

STARTED = []
time.sleep(0.5)  # a heavy import: other threads ask for modes meanwhile
assert "zeros" in padmods.available()  # a plugin may look up modes while it is being loaded


class SlowPadConv2d(padmods.ZeroPadConv2d):
    """Zeros, slowly imported."""
'''


@pytest.fixture
def slow_plugin(tmp_path, monkeypatch, clean_registry):
    install_plugin(tmp_path, "[padmods.modes]\nslow = padmods_slow_plugin:SlowPadConv2d\n")
    (tmp_path / "padmods_slow_plugin.py").write_text(SLOW_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    yield
    sys.modules.pop("padmods_slow_plugin", None)


def test_threads_never_see_a_half_loaded_registry(slow_plugin):
    """While one thread imports a slow plugin, every other thread waits for it instead of failing."""
    threads = 16
    barrier = threading.Barrier(threads)

    def ask(index: int) -> object:
        barrier.wait()
        if index % 2:
            return padmods.get("slow").__name__
        return padmods.available()

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(ask, range(threads)))
    assert results[1::2] == ["SlowPadConv2d"] * (threads // 2)
    assert results[0::2] == [sorted([*BUILT_INS, "slow"])] * (threads // 2)


def test_registering_while_other_threads_list_modes(clean_registry):
    """available() never iterates the registry while another thread changes it."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        class Churn(padmods.ZeroPadConv2d):
            pass

        index = 0
        while not stop.is_set():
            padmods.register(f"churn-{index % 50}", override=True)(Churn)
            if index % 2:
                padmods.registry.unregister(f"churn-{index % 50}")
            index += 1

    def list_modes() -> None:
        try:
            while not stop.is_set():
                names = padmods.available()
                assert set(BUILT_INS) <= set(names)
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=churn), *(threading.Thread(target=list_modes) for _ in range(3))]
    for worker in workers:
        worker.start()
    stop.wait(0.5)
    stop.set()
    for worker in workers:
        worker.join()
    assert errors == []


# ---- unregister and entries that name nothing (issue 23) ---------------------------------------
def test_unregister_removes_a_plugin_mode_not_loaded_yet(plugin_path, clean_registry):
    assert not clean_registry._entry_points_loaded
    padmods.registry.unregister("ones")
    assert "ones" not in padmods.available()
    with pytest.raises(ValueError, match="unknown padding mode 'ones'"):
        padmods.get("ones")


def test_unregister_of_an_unknown_name_lists_what_is_registered(plugin_path, clean_registry):
    with pytest.raises(ValueError, match="padding mode 'x' is not registered; available modes: ") as error:
        padmods.registry.unregister("x")
    listed = str(error.value).split("available modes: ")[1].split(", ")
    assert "x" not in listed
    assert listed == sorted([*BUILT_INS, "ones"])


EMPTY_ENTRIES = {
    "EMPTY_TUPLE": ("()", "names an empty tuple; an entry names a layer class, or a list or tuple of them"),
    "EMPTY_LIST": ("[]", "names an empty list; an entry names a layer class, or a list or tuple of them"),
    "A_STRING": ("'DemoPadConv2d'", "expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d, got 'DemoPadConv2d'"),
    "A_DICT": ("{2: DemoPadConv2d}", "expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d, got {2:"),
    "NOTHING": ("None", "expects a subclass of torch.nn.Conv1d, Conv2d or Conv3d, got None"),
    "A_LIST_WITH_A_FUNCTION": ("[DemoPadConv2d, print]", "got <built-in function print>"),
}


@pytest.mark.parametrize("attribute", EMPTY_ENTRIES)
def test_an_entry_that_names_no_layer_class_warns_and_registers_nothing(
    tmp_path, monkeypatch, clean_registry, attribute
):
    value, message = EMPTY_ENTRIES[attribute]
    install_plugin(tmp_path, f"[padmods.modes]\nempty = padmods_demo_plugin:{attribute}\n")
    (tmp_path / "padmods_demo_plugin" / "__init__.py").write_text(PLUGIN_MODULE + f"\n{attribute} = {value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    clean_registry._entry_points_loaded = False
    with pytest.warns(padmods.registry.PluginWarning) as record:
        names = padmods.available()
    (warning,) = record
    text = str(warning.message)
    assert f"padding mode plugin 'empty' (padmods_demo_plugin:{attribute})" in text
    assert message in text
    assert names == BUILT_INS
    sys.modules.pop("padmods_demo_plugin", None)
