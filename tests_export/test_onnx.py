"""Every mode to ONNX through both exporters, opsets 17 and 18, run in onnxruntime at other sizes.

The ``export`` tox env runs this directory: it needs ``onnx``, ``onnxruntime`` and ``onnxscript``,
which the default test env does not install. Each layer is exported with dynamic batch, height
and width (``torch.export.Dim`` for the dynamo exporter, ``dynamic_axes`` for the
TorchScript-based one), then run in onnxruntime at the export size and at other sizes, batch 1,
odd sizes and a size above the eager fast-path thresholds included, against eager in float32.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch
from torch.export import Dim

import padmods

pytestmark = [
    # torch's own warnings about the TorchScript-based exporter and torch.jit, not padmods'
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Constant folding - Only steps=1 can be constant folded:UserWarning"),
]

MODES = [*padmods.available(), ("zeros", "circular")]
SETTINGS = {"same-stride2": {"padding": "same", "stride": 2}, "pad1": {"padding": 1}}
SIZES = {
    1: ((2, 2, 34), [(1, 2, 33), (3, 2, 5000)]),
    2: ((2, 2, 34, 18), [(1, 2, 33, 18), (3, 2, 17, 40), (2, 2, 48, 48)]),
    3: ((2, 2, 10, 9, 8), [(1, 2, 7, 10, 6), (2, 2, 16, 16, 16)]),
}
AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def cases():
    """2-D: every mode, both settings, both exporters, opsets 17 and 18; 1-D and 3-D: 'same' with stride 2, opset 18."""
    for mode in MODES:
        for dims in (len(mode),) if isinstance(mode, tuple) else padmods.registry.dimensions(mode):
            for setting in SETTINGS if dims == 2 else ["same-stride2"]:
                for exporter in ("dynamo", "torchscript"):
                    for opset in (17, 18) if dims == 2 else (18,):
                        yield pytest.param(
                            mode, dims, setting, exporter, opset, id=f"{mode}-{dims}d-{setting}-{exporter}-opset{opset}"
                        )


def export(layer, mode, dims, example, exporter, opset, path):
    names = {0: "batch", **{2 + axis: name for axis, name in enumerate(AXES[dims])}}
    if exporter == "dynamo":
        shapes = {axis: Dim(name, min=1 if axis == 0 else 4, max=8192) for axis, name in names.items()}
        if mode == "spherical":  # an even width: half of it is the opposite meridian
            shapes[3] = 2 * Dim("half_width", min=2, max=4096)
        program = torch.onnx.export(
            layer, (example,), dynamo=True, opset_version=opset, input_names=["input"], output_names=["output"],
            dynamic_shapes=(shapes,), verbose=False,
        )  # fmt: skip
        program.save(str(path))
    else:
        torch.onnx.export(
            layer, (example,), str(path), dynamo=False, opset_version=opset, input_names=["input"],
            output_names=["output"], dynamic_axes={"input": names, "output": names},
        )  # fmt: skip


@pytest.mark.deploy("ONNX")
@pytest.mark.parametrize(("mode", "dims", "setting", "exporter", "opset"), list(cases()))
def test_onnx_runs_in_onnxruntime_at_other_sizes(mode, dims, setting, exporter, opset, tmp_path):
    torch.manual_seed(0)
    layer = padmods.create(mode, 2, 3, 3, dim=dims, **SETTINGS[setting]).eval()
    example, others = SIZES[dims]
    path = tmp_path / "layer.onnx"
    export(layer, mode, dims, torch.randn(*example), exporter, opset, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [example, *others]:
        x = torch.randn(*size)
        (got,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            want = layer(x).numpy()
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.deploy("ONNX")
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize(("pad", "with_r"), [("partial", True), ("reflect", True), (("zeros", "circular"), False)])
def test_onnx_coord_variants(pad, with_r, exporter, tmp_path):
    torch.manual_seed(0)
    layer = padmods.CoordConv2d(2, 3, 3, padding="same", stride=2, pad=pad, with_r=with_r).eval()
    example, others = SIZES[2]
    path = tmp_path / "layer.onnx"
    export(layer, "coord", 2, torch.randn(*example), exporter, 18, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [example, *others]:
        x = torch.randn(*size)
        (got,) = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            np.testing.assert_allclose(got, layer(x).numpy(), rtol=1e-4, atol=1e-4)


# ---- inputs the eager layer refuses ------------------------------------------------------------------

#: Onnxruntime's errors: a Gather whose index is out of range, a Pad that reflects past the axis.
ORT_ERRORS = (
    onnxruntime.capi.onnxruntime_pybind11_state.Fail,
    onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument,
    onnxruntime.capi.onnxruntime_pybind11_state.RuntimeException,
)

#: (mode, settings, kernel, dims, the axis whose size varies): every mode with a size limit.
LIMITED = [
    ("reflect", {"padding": 1}, 3, 2, 2),
    ("reflect", {"padding": "same", "stride": 2}, 3, 2, 3),
    ("circular", {"padding": 2}, 5, 2, 2),
    ("circular", {"padding": "same", "stride": 2}, 7, 2, 2),
    ("spherical", {"padding": 2}, 5, 2, 2),
    ("spherical", {"padding": 1}, 3, 2, 3),  # odd widths: no opposite meridian
    (("zeros", "circular"), {"padding": 2}, 5, 2, 3),
    ("coord", {"padding": 1, "pad": "reflect"}, 3, 2, 2),
    ("reflect", {"padding": 1}, 3, 1, 2),
    ("circular", {"padding": 2}, 5, 3, 2),
]
BASES = {1: (2, 2, 12), 2: (2, 2, 12, 12), 3: (2, 2, 6, 12, 12)}


def limited_cases():
    for mode, settings, kernel, dims, axis in LIMITED:
        for exporter in ("dynamo", "torchscript"):
            label = ",".join(mode) if isinstance(mode, tuple) else mode
            name = f"{label}-{dims}d-{'-'.join(f'{k}{v}' for k, v in settings.items())}-axis{axis}-{exporter}"
            yield pytest.param(mode, settings, kernel, dims, axis, exporter, id=name)


def export_dynamic_axis(layer, mode, dims, axis, example, exporter, path):
    """Export with the batch and ``axis`` dynamic; for the dynamo exporter from the smallest minimum torch accepts."""
    last = dims + 1
    if exporter == "torchscript":
        names = {0: "batch", axis: "n"}
        torch.onnx.export(
            layer, (example,), str(path), dynamo=False, opset_version=18, input_names=["input"],
            output_names=["output"], dynamic_axes={"input": names, "output": {0: "batch", axis: "n_out"}},
        )  # fmt: skip
        return
    for low in range(1, 12):
        shapes = {0: Dim("batch", min=1, max=16), axis: Dim("n", min=low, max=64)}
        if mode == "spherical":  # an even width: declared so, and checked again at run time
            shapes[last] = 2 * Dim("half", min=max(1, (low + 1) // 2), max=32) if axis == last else 2 * Dim("half")
        try:
            program = torch.onnx.export(
                layer, (example,), dynamo=True, opset_version=18, input_names=["input"],
                output_names=["output"], dynamic_shapes=(shapes,), verbose=False,
            )  # fmt: skip
        except Exception as error:  # torch.export refuses a range the padding does not fit
            if "Constraints violated" not in str(error) and "Dim(" not in str(error):
                raise
            continue
        program.save(str(path))
        return
    pytest.fail("the dynamo exporter refuses every minimum up to 11")


@pytest.mark.deploy("ONNX")
@pytest.mark.parametrize(("mode", "settings", "kernel", "dims", "axis", "exporter"), list(limited_cases()))
def test_onnx_refuses_what_eager_refuses(mode, settings, kernel, dims, axis, exporter, tmp_path):
    """An ONNX model has no size range: onnxruntime runs it at any size, so the graph itself must refuse.

    At every size from 1 to past the smallest size eager takes, onnxruntime fails where the eager
    layer raises its ValueError (the gathers' indices point past the axis there) and matches eager
    elsewhere, whatever minimum the dynamo exporter was given.
    """
    torch.manual_seed(0)
    layer = padmods.create(mode, 2, 3, kernel, dim=dims, **settings).eval()
    base = BASES[dims]
    path = tmp_path / "layer.onnx"
    export_dynamic_axis(layer, mode, dims, axis, torch.randn(*base), exporter, path)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4  # the refusals are expected: no error log for each
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    refused = 0
    for size in range(1, 9):
        x = torch.randn(*[size if i == axis else n for i, n in enumerate(base)])
        try:
            with torch.no_grad():
                want = layer(x).numpy()
        except ValueError:
            refused += 1
            with pytest.raises(ORT_ERRORS):
                session.run(None, {"input": x.numpy()})
            continue
        (got,) = session.run(None, {"input": x.numpy()})
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert refused, "the sizes must reach below the padding's limit"
