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
