"""Slow, obviously correct reference implementations, written from the formulas in numpy.

Nothing here imports padmods: these are the oracles the tests compare the library against.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same': output ceil(size / stride); odd extra padding after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def pads_for(padding, size_hw, kernel_hw, stride_hw, dilation_hw) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) for an int, a pair, 'same' or 'valid'."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple(same_pads(*args) for args in zip(size_hw, kernel_hw, stride_hw, dilation_hw, strict=True))
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return (ph, ph), (pw, pw)


def torch_mode_conv(x, weight, bias, stride, pads, dilation, groups, mode):
    """The issue's formula: F.conv2d(F.pad(x, pads, mode), w, b, stride, 0, dilation, groups)."""
    (top, bottom), (left, right) = pads
    torch_mode = "constant" if mode == "zeros" else mode
    padded = F.pad(x, (left, right, top, bottom), mode=torch_mode)
    return F.conv2d(padded, weight, bias, stride, 0, dilation, groups)


def partial_conv_loop(x, weight, bias, stride, pads, dilation, groups) -> np.ndarray:
    """Partial-convolution padding by loops: out = (W * x_window) * (kH*kW / valid) + b.

    valid counts the taps of each output that land inside the image; an output with none is b.
    """
    x = x.detach().double().numpy()
    w = weight.detach().double().numpy()
    b = None if bias is None else bias.detach().double().numpy()
    n, _c_in, h, wd = x.shape
    c_out, c_per_group, kh, kw = w.shape
    (top, bottom), (left, right) = pads
    sh, sw = stride
    dh, dw = dilation
    h_out = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    w_out = (wd + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c_out, h_out, w_out))
    out_per_group = c_out // groups
    for i in range(h_out):
        for j in range(w_out):
            taps = []
            for u in range(kh):
                for v in range(kw):
                    r = i * sh - top + u * dh
                    s = j * sw - left + v * dw
                    if 0 <= r < h and 0 <= s < wd:
                        taps.append((u, v, r, s))
            for o in range(c_out):
                g = o // out_per_group
                total = np.zeros(n)
                for u, v, r, s in taps:
                    channels = slice(g * c_per_group, (g + 1) * c_per_group)
                    total += (x[:, channels, r, s] * w[o, :, u, v]).sum(axis=1)
                value = total * (kh * kw / len(taps)) if taps else total
                out[:, o, i, j] = value + (0.0 if b is None else b[o])
    return out


def coord_grid(height: int, width: int, with_r: bool) -> torch.Tensor:
    """x along the width, y along the height, linearly from -1 to 1; r = sqrt(x^2 + y^2) / sqrt(2)."""
    xs = np.linspace(-1.0, 1.0, width) if width > 1 else np.array([-1.0])
    ys = np.linspace(-1.0, 1.0, height) if height > 1 else np.array([-1.0])
    grid_x = np.tile(xs, (height, 1))
    grid_y = np.tile(ys[:, None], (1, width))
    channels = [grid_x, grid_y]
    if with_r:
        channels.append(np.sqrt(grid_x**2 + grid_y**2) / np.sqrt(2.0))
    return torch.from_numpy(np.stack(channels))


#: Each padmods border that pads one axis, as ``numpy.pad`` names it.
NUMPY_MODES = {
    "zeros": "constant",
    "reflect": "reflect",
    "replicate": "edge",
    "circular": "wrap",
    "symmetric": "symmetric",
}


def reference_pad(x: torch.Tensor, pairs, modes) -> torch.Tensor:
    """Pad axis by axis, gathering the indices that np.pad gives (a zero border: a mask of zeros)."""
    for axis, ((before, after), mode) in enumerate(zip(pairs, modes, strict=True), start=x.dim() - len(pairs)):
        size = x.shape[axis]
        if mode == "zeros":
            keep = np.pad(np.ones(size), (before, after), mode="constant")
            index = np.pad(np.arange(size), (before, after), mode="edge")
            shape = [1] * x.dim()
            shape[axis] = len(keep)
            x = x.index_select(axis, torch.from_numpy(index)) * torch.from_numpy(keep).to(x.dtype).view(shape)
        else:
            x = x.index_select(axis, torch.from_numpy(np.pad(np.arange(size), (before, after), mode=NUMPY_MODES[mode])))
    return x


def spherical_reference(x: torch.Tensor, pairs) -> torch.Tensor:
    """out[p, q] = x[row(p), (q + shift(p)) mod W]; past a pole the row mirrors and shifts by W / 2."""
    (top, bottom), (left, right) = pairs
    height, width = x.shape[-2:]
    rows, columns = [], []
    for p, q in itertools.product(range(-top, height + bottom), range(-left, width + right)):
        row = p if 0 <= p < height else (-1 - p if p < 0 else 2 * height - 1 - p)
        shift = 0 if 0 <= p < height else width // 2
        rows.append(row)
        columns.append((q + shift) % width)
    flat = x.flatten(-2)[..., torch.tensor(rows) * width + torch.tensor(columns)]
    return flat.unflatten(-1, (height + top + bottom, width + left + right))


#: The convolution of each number of spatial axes.
CONVS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def reference_layer_conv(layer, x: torch.Tensor, pairs, border) -> torch.Tensor:
    """A layer's convolution written without its engine: ``x`` padded whole, then convolved unpadded.

    ``border``: one mode per axis for :func:`reference_pad`, or ``'spherical'`` for
    :func:`spherical_reference`; the layer gives only its weight, bias, stride and dilation.
    """
    padded = spherical_reference(x, pairs) if border == "spherical" else reference_pad(x, pairs, border)
    return CONVS[x.dim() - 2](padded, layer.weight, layer.bias, layer.stride, 0, layer.dilation)
