"""The padded copy of a call without autograd, written into a buffer the thread keeps (CPU).

``_conv.eager_pad`` writes a layer's padded input into ``_pad_buffer.padded_buffer`` when nothing
can hold it after its convolution: a plain eager call under ``torch.no_grad()`` or
``torch.inference_mode()``. These tests check the layers against ``numpy.pad`` indices and an
unpadded convolution through that path (every border, 1-D to 3-D, one layer after another on the
same buffer), that the path is taken and reuses its memory, and that it is never taken where
autograd may keep the padded tensor (a weight that trains on an input that does not), for a
channels-last input, or beyond the size it keeps.
"""

from __future__ import annotations

import threading

import pytest
import torch

import padmods
from padmods import _conv, _pad_buffer

from _reference import reference_layer_conv

MODES = ["reflect", "replicate", "circular", "symmetric", "per-axis", "spherical"]

#: Small (the torch modes' ``out=`` kernels only) and large (every border, 256k elements and more).
SIZES = {
    1: {"small": (2, 3, 20), "large": (2, 8, 16384 + 3)},
    2: {"small": (2, 3, 9, 10), "large": (1, 16, 130, 128)},
    3: {"small": (1, 3, 5, 6, 7), "large": (1, 4, 40, 41, 42)},
}


def _modes(name, dims):
    if name == "per-axis":
        return ("reflect", *("circular",) * (dims - 1))
    if name == "spherical":
        return "spherical"
    return (name,) * dims


def _layer(name, dims, channels, padding=2, stride=1):
    mode = _modes(name, dims)
    border = name if name != "per-axis" else mode
    kernel = 2 * padding + 1
    return padmods.create(border, channels, 3, kernel, dim=dims, padding=padding, stride=stride).double().eval()


def _reference(layer, x, name):
    padding = layer.padding
    border = "spherical" if name == "spherical" else _modes(name, x.dim() - 2)
    return reference_layer_conv(layer, x, [(p, p) for p in padding], border)


@pytest.fixture(autouse=True)
def fresh_buffers():
    """Each test starts without this thread's buffers, as a new process would."""
    _pad_buffer.release()
    yield
    _pad_buffer.release()


@pytest.fixture
def buffered(monkeypatch):
    """Every padded copy ``_conv._pad_into_buffer`` returns (``None`` where it declined)."""
    seen = []
    original = _conv._pad_into_buffer

    def spy(*args):
        out = original(*args)
        seen.append(out)
        return out

    monkeypatch.setattr(_conv, "_pad_into_buffer", spy)
    return seen


CASES = [
    (dims, name, size)
    for dims in (1, 2, 3)
    for name in MODES
    for size in ("small", "large")
    if not (name == "spherical" and dims != 2) and not (name == "per-axis" and dims == 1)
]


@pytest.mark.parametrize(("dims", "name", "size"), CASES)
@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
def test_layers_without_autograd_equal_the_reference(buffered, dims, name, size, context):
    torch.manual_seed(dims)
    shape = SIZES[dims][size]
    layer = _layer(name, dims, shape[1], padding=1 if size == "large" else 2)
    x = torch.randn(*shape, dtype=torch.float64)
    with context():
        out = layer(x)
    torch.testing.assert_close(out, _reference(layer, x, name), rtol=1e-10, atol=1e-10)
    # the torch modes' out= kernels at any size, every border of a large input
    assert (buffered[-1] is not None) == (size == "large" or name in ("reflect", "replicate"))


@pytest.mark.parametrize("name", ["reflect", "circular", "spherical"])
def test_layers_in_a_row_share_the_buffer_and_stay_right(buffered, name):
    """Each layer pads into the memory the layer before it padded into; every output is right."""
    torch.manual_seed(3)
    first, second, third = (_layer(name, 2, channels, padding=1) for channels in (16, 3, 3))
    x = torch.randn(1, 16, 130, 128, dtype=torch.float64)
    with torch.inference_mode():
        out = third(second(first(x)))
        again = third(second(first(x)))
    expected = _reference(third, _reference(second, _reference(first, x, name), name), name)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(again, expected, rtol=1e-10, atol=1e-10)
    pointers = {padded.untyped_storage().data_ptr() for padded in buffered if padded is not None}
    assert len(buffered) == 6
    assert len(pointers) <= 2  # the first, largest copy's buffer, once grown; nothing per call


def test_a_training_weight_never_gets_the_buffer(buffered):
    """Autograd keeps the padded input of a weight that trains, even when the input does not."""
    torch.manual_seed(4)
    layer = _layer("reflect", 2, 16, padding=1).train()
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64)
    out = layer(x)
    second = layer(x * 2)  # pads again before the first backward
    (out.sum() + second.sum()).backward()
    expected = _reference(layer, x, "reflect").sum() + _reference(layer, 2 * x, "reflect").sum()
    (weight_grad,) = torch.autograd.grad(expected, layer.weight)
    torch.testing.assert_close(layer.weight.grad, weight_grad, rtol=1e-10, atol=1e-10)
    assert buffered == []


def test_a_channels_last_input_keeps_its_layout_and_its_own_copy(buffered):
    torch.manual_seed(5)
    layer = _layer("reflect", 2, 16, padding=1).to(memory_format=torch.channels_last)
    x = torch.randn(1, 16, 130, 127, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = layer(x)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, _reference(layer, x, "reflect"), rtol=1e-10, atol=1e-10)
    assert buffered == []


def test_a_copy_larger_than_the_kept_size_gets_its_own_memory(buffered, monkeypatch):
    monkeypatch.setattr(_pad_buffer, "KEEP_BYTES", 1000)
    torch.manual_seed(6)
    layer = _layer("reflect", 2, 3, padding=1)
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64)  # 2 * 3 * 11 * 12 * 8 bytes
    with torch.no_grad():
        out = layer(x)
    torch.testing.assert_close(out, _reference(layer, x, "reflect"), rtol=1e-10, atol=1e-10)
    assert buffered == [None]


@pytest.mark.parametrize("name", ["reflect", "circular"])
def test_inference_mode_and_no_grad_keep_buffers_of_their_own(name):
    """A buffer made under inference_mode is an inference tensor, which no_grad may not write."""
    torch.manual_seed(7)
    layer = _layer(name, 2, 16, padding=1)
    x = torch.randn(1, 16, 130, 128, dtype=torch.float64)
    expected = _reference(layer, x, name)
    for context in (torch.inference_mode, torch.no_grad, torch.inference_mode):
        with context():
            torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)


def test_threads_pad_into_buffers_of_their_own():
    torch.manual_seed(8)
    layers = [_layer("reflect", 2, 3) for _ in range(4)]
    inputs = [torch.randn(2, 3, 30 + i, 31, dtype=torch.float64) for i in range(4)]
    expected = [_reference(layer, x, "reflect") for layer, x in zip(layers, inputs, strict=True)]
    errors = []

    def work(i):
        try:
            with torch.no_grad():
                for _ in range(50):
                    torch.testing.assert_close(layers[i](inputs[i]), expected[i], rtol=1e-10, atol=1e-10)
        except AssertionError as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_release_frees_the_threads_buffers():
    layer = _layer("reflect", 2, 3)
    with torch.no_grad():
        layer(torch.randn(2, 3, 9, 10, dtype=torch.float64))
    assert _pad_buffer._LOCAL.__dict__.get("buffers")
    _pad_buffer.release()
    assert not _pad_buffer._LOCAL.__dict__.get("buffers")
