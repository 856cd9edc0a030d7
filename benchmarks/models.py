"""Whole-model cost of each padding mode (``--experiment models``): converted models against the plain one.

A layer table says what one convolution costs; a user pays for a whole network, where the border
is a thin ring around every feature map and the rest of the model (normalisation, activations,
pooling, the optimizer's view of the parameters) does not change. This suite times three model
shapes written here, without torchvision:

- ``resnet``: ResNet-18-shaped (7x7 stride-2 stem, max-pool, four stages of two basic blocks,
  64-512 channels), on ``4 x 3 x 112 x 112``;
- ``mobilenet``: MobileNetV2-shaped (inverted residual blocks: 1x1 expansion, 3x3 depthwise,
  1x1 projection), on ``4 x 3 x 112 x 112``;
- ``unet``: U-Net-shaped (two 3x3 convolutions per level, four levels, 32-256 channels,
  up-sampling and skip concatenation), on ``2 x 3 x 128 x 128``.

Each mode is the plain model converted with :func:`padmods.convert`; ``torch:<mode>`` rows are
the plain model with torch's own ``padding_mode`` set on every padded convolution, the reference
a user has without padmods. ``'coord'`` converts every convolution with ``groups=1`` (CoordConv
takes no groups), so MobileNet's depthwise layers keep zero padding there. Two kinds of work:

- ``train``: one forward and backward step, ``model(x).sum().backward()`` with the parameters'
  gradients set to ``None`` first (as ``optimizer.zero_grad()`` does);
- ``infer``: an ``eval()`` forward under ``torch.inference_mode()``.

Every contender of a (model, work) pair is timed in one process, interleaved
(:func:`timing.measure`), and the ratio is its median over the plain model's median from the same
rounds. A mode that cannot run on a model (``'spherical'`` needs even widths at every padded
layer; ResNet and MobileNet reach 7 x 7) is listed as not applicable.
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from timing import Stats, measure, paired_ratio
from torch import Tensor, nn

import padmods

#: The modes of the suite: every built-in mode, one per-axis pair, and torch's own ``padding_mode``.
MODES: dict[str, Any] = {
    "zeros": "zeros",
    "reflect": "reflect",
    "replicate": "replicate",
    "circular": "circular",
    "symmetric": "symmetric",
    "spherical": "spherical",
    "per-axis": ("zeros", "circular"),
    "partial": "partial",
    "coord": "coord",
    "torch:reflect": "torch:reflect",
    "torch:replicate": "torch:replicate",
    "torch:circular": "torch:circular",
}


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
    layers: list[nn.Module] = [conv, nn.BatchNorm2d(c_out)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions and a shortcut (1x1 stride-2 where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c_in, c_out, 3, stride), _conv_bn(c_out, c_out, 3, act=False))
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else _conv_bn(c_in, c_out, 1, stride, act=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet18_shaped() -> nn.Module:
    """ResNet-18's layout: stem, max-pool, stages of 64, 128, 256 and 512 channels, pooled head."""
    layers: list[nn.Module] = [_conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    c_in = 64
    for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
        c_in = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expansion, 3x3 depthwise, 1x1 projection, residual when shapes agree."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            _conv_bn(c_in, hidden, 1),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            _conv_bn(hidden, c_out, 1, act=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def mobilenet_shaped() -> nn.Module:
    """MobileNetV2's layout (width 1.0): stem, 17 inverted residual blocks, 1x1 head to 1280 channels."""
    layers: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
    c_in = 32
    for expand, c_out, repeats, stride in (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ):
        for i in range(repeats):
            layers.append(InvertedResidual(c_in, c_out, stride if i == 0 else 1, expand))
            c_in = c_out
    layers += [_conv_bn(c_in, 1280, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 10)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net's layout: four levels of two 3x3 convolutions, max-pool down, up-sample and concatenate up."""

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__()

        def double(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(_conv_bn(c_in, c_out, 3), _conv_bn(c_out, c_out, 3))

        self.down = nn.ModuleList()
        c_in = 3
        for width in widths:
            self.down.append(double(c_in, width))
            c_in = width
        self.up = nn.ModuleList(double(widths[i] + widths[i + 1], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(torch.cat([skip, nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")], dim=1))
        return self.head(x)


@dataclass(frozen=True)
class ModelCase:
    """A model shape and the input it is timed on."""

    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]


CASES = {
    "resnet": ModelCase("resnet", resnet18_shaped, (4, 3, 112, 112)),
    "mobilenet": ModelCase("mobilenet", mobilenet_shaped, (4, 3, 112, 112)),
    "unet": ModelCase("unet", UNet, (2, 3, 128, 128)),
}


def with_torch_padding_mode(model: nn.Module, mode: str) -> nn.Module:
    """A copy of ``model`` whose padded convolutions use torch's own ``padding_mode``."""
    import copy

    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and any(module.padding):
            module.padding_mode = mode
            module._reversed_padding_repeated_twice = [p for p in reversed(module.padding) for _ in range(2)]
    return model


def make_variant(plain: nn.Module, mode: Any) -> nn.Module:
    """The plain model with the padding of ``mode`` (a padmods mode, or ``'torch:<mode>'``)."""
    if isinstance(mode, str) and mode.startswith("torch:"):
        return with_torch_padding_mode(plain, mode.split(":", 1)[1])
    with warnings.catch_warnings():  # CoordConv leaves grouped (depthwise) convolutions alone, and says so
        warnings.simplefilter("ignore", padmods.conversion.ConversionWarning)
        return padmods.convert(plain, mode)


def _train_step(model: nn.Module, x: Tensor) -> Callable[[], object]:
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    def call() -> object:
        for p in params:
            p.grad = None
        model(x).sum().backward()
        return None

    return call


def _infer(model: nn.Module, x: Tensor) -> Callable[[], object]:
    model.eval()

    def call() -> object:
        with torch.inference_mode():
            return model(x)

    return call


WORKS: dict[str, Callable[[nn.Module, Tensor], Callable[[], object]]] = {"train": _train_step, "infer": _infer}


def _applicable(model: nn.Module, x: Tensor, work: str, fn: Callable[[], object]) -> str | None:
    """``None`` if ``fn`` runs, else the one-line reason it cannot (e.g. spherical on an odd width)."""
    try:
        fn()
    except ValueError as error:
        return str(error).split(";")[0][:120]
    return None


def run_models(
    *,
    models: Sequence[str],
    modes: Sequence[str],
    works: Sequence[str],
    rounds: int,
    block: float,
    channels_last: bool = False,
    clock: str = "wall",
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Time every mode of ``modes`` on every model and work against the plain model; one row per cell."""
    rows = []
    for model_name in models:
        case = CASES[model_name]
        torch.manual_seed(0)
        plain = case.build()
        x = torch.randn(case.input_shape)
        if channels_last:
            plain = plain.to(memory_format=torch.channels_last)
            x = x.to(memory_format=torch.channels_last)
        variants = {"plain": plain}
        for mode in modes:
            variants[mode] = make_variant(plain, MODES[mode])
        for work in works:
            fns, skipped = {}, {}
            for name, model in variants.items():
                fn = WORKS[work](model, x)
                reason = _applicable(model, x, work, fn)
                if reason is None:
                    fns[name] = fn
                else:
                    skipped[name] = reason
            times, faults = measure(
                fns, rounds=rounds, block_s=block, warmup_s=min(0.5, 5 * block), device=x.device, clock=clock
            )
            base = Stats.of(times["plain"])
            plain_faults = statistics.median(faults["plain"])
            log(
                f"{model_name} {work}: plain {base.median * 1e3:.1f} ms (noise {base.spread:.2f}, "
                f"{plain_faults:.0f} page faults per call)"
            )
            for mode in modes:
                if mode in skipped:
                    rows.append({"model": model_name, "work": work, "mode": mode, "skipped": skipped[mode]})
                    log(f"  {mode:16s} n/a: {skipped[mode]}")
                    continue
                stats = Stats.of(times[mode])
                mode_faults = statistics.median(faults[mode])
                ratio = stats.median / base.median
                paired = paired_ratio(times[mode], times["plain"])
                rows.append(
                    {
                        "model": model_name,
                        "work": work,
                        "mode": mode,
                        "ms": stats.median * 1e3,
                        "plain_ms": base.median * 1e3,
                        "ratio": ratio,
                        "paired_ratio": paired,
                        "noise": stats.spread,
                        "plain_noise": base.spread,
                        "faults": mode_faults,
                        "plain_faults": plain_faults,
                    }
                )
                log(
                    f"  {mode:16s} {stats.median * 1e3:8.1f} ms  x{ratio:.3f} "
                    f"(paired {paired:.3f}, noise {stats.spread:.2f}, {mode_faults:.0f} faults)"
                )
    return rows


#: How the docs name each model shape, with its input.
MODEL_LABELS = {
    "resnet": "ResNet-18-shaped, 4x3x112x112",
    "mobilenet": "MobileNetV2-shaped, 4x3x112x112",
    "unet": "U-Net-shaped, 2x3x128x128",
}


def _cell(ratios: Sequence[float]) -> str:
    """One ratio, or the range of several runs' ratios with an en dash."""
    low, high = min(ratios), max(ratios)
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}\u2013{high:.2f}"


def _column(mode: str) -> str:
    """A mode's row label: ``reflect`` for padmods' layers, ``torch reflect`` for torch's own."""
    return f"torch {mode.split(':', 1)[1]}" if mode.startswith("torch:") else f"``{mode}``"


def rst_table(rows: Sequence[dict[str, Any]], modes: Sequence[str]) -> str:
    """The rows of one or more runs as reST list-tables, one per work, for ``docs/_tables/perf_models_cpu.rst.inc``.

    A row per mode (``torch <mode>`` for torch's own ``padding_mode``), a column per model, so that
    the table fits a page's column; a cell is the ratio over the plain model, the range over runs
    where there are several, ``n/a`` where the mode cannot run on the model.
    """
    ratios: dict[tuple[str, str, str], list[float]] = {}
    skipped: set[tuple[str, str, str]] = set()
    for row in rows:
        key = (row["work"], row["model"], row["mode"])
        if "skipped" in row:
            skipped.add(key)
        else:
            ratios.setdefault(key, []).append(row["ratio"])
    models = list(dict.fromkeys(row["model"] for row in rows))
    tables = []
    for work in dict.fromkeys(row["work"] for row in rows):
        lines = [
            f".. list-table:: Whole models, CPU, float32 ({work}): time over the same model with ``nn.Conv2d``",
            "   :header-rows: 1",
            "   :stub-columns: 1",
            "",
            "   * - mode",
        ]
        lines += [f"     - {MODEL_LABELS.get(model, model)}" for model in models]
        for mode in modes:
            lines.append(f"   * - {_column(mode)}")
            for model in models:
                key = (work, model, mode)
                lines.append(f"     - {_cell(ratios[key]) if key in ratios else 'n/a' if key in skipped else ''}")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)
