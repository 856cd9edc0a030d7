"""The padding report and suggest_sizes at their edges (issue 23), against chains of layers worked out here.

The references below follow an input size through a model's padded layers one at a time, and ask
torch (a one-hot ``conv1d``, or the real pooling function for its output count) which padding
positions each layer reads: nothing of padmods' own arithmetic is reused.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import warnings
from collections.abc import Callable, Sequence

import pytest
import torch
import torch.nn.functional as F
from _models import Conv2dSame, ResNet50, TFEfficientNet, UNet, tf_same_pads
from torch import Tensor, nn

from padmods.analysis import ShapeProbeWarning, padding_report, suggest_sizes
from padmods.analysis.padding_report import axis_padding_use
from padmods.conversion import register_adapter


@functools.cache
def reads(size: int, before: int, after: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Padding positions on each side that some output of a one-hot all-ones conv1d reads (torch as the oracle)."""
    padded = size + before + after
    if padded < dilation * (kernel - 1) + 1:
        return 0, 0
    weight = torch.ones(1, 1, kernel, dtype=torch.float64)

    def read(position: int) -> bool:
        one_hot = torch.zeros(1, 1, padded, dtype=torch.float64)
        one_hot[..., position] = 1
        return bool(F.conv1d(one_hot, weight, stride=stride, dilation=dilation).any())

    return sum(map(read, range(before))), sum(map(read, range(size + before, padded)))


#: (kernel, stride, padding) of a layer, and whether its padding counts; the output size follows PyTorch's formula.
Layer = tuple[int, int, int, bool]


def chain_is_clean(size: int, layers: Sequence[Layer], symmetric: bool) -> bool:
    """Follow ``size`` through ``layers``: none that counts may leave padding unread (or, ``symmetric``, read one
    side more)."""
    for kernel, stride, padding, counts in layers:
        used = reads(size, padding, padding, kernel, stride)
        if counts and (used != (padding, padding) or (symmetric and used[0] != used[1])):
            return False
        size = (size + 2 * padding - kernel) // stride + 1
    return True


def nearest(clean: Callable[[int], bool], around: int, count: int) -> tuple[int, ...]:
    """The ``count`` sizes nearest ``around`` (the smaller first on a tie) that ``clean`` accepts."""
    candidates = sorted(range(max(1, around - 64), around + 65), key=lambda n: (abs(n - around), n))
    return tuple(itertools.islice((n for n in candidates if clean(n)), count))


# ---- S4: a layer called with a keyword argument is seen -----------------------------------------
class Keywords(nn.Module):
    """Convolutions and a pooling layer called as ``layer(input=x)`` and ``layer(x=x)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(3, 2, padding=1)
        self.same = Conv2dSame(2, 2, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.same(input=self.pool(input=self.conv(input=x)))


class NamedX(nn.Conv2d):
    """A convolution subclass whose forward names its input ``x`` (with torch's arithmetic)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.weight, self.bias)


def test_layers_called_by_keyword_are_in_the_report():
    report = padding_report(Keywords(), (1, 1, 224, 224))
    assert [row.name for row in report.layers] == ["conv", "pool", "same"]
    conv, pool, same = report.layers
    assert conv.used == (reads(224, 1, 1, 3, 2),) * 2 == ((1, 0), (1, 0))
    assert pool.input_size == (112, 112)
    assert pool.used == (reads(112, 1, 1, 3, 2),) * 2
    assert same.padding == (tf_same_pads(56, 3, 2, 1),) * 2
    register_adapter(NamedX, lambda conv: {})  # it computes what nn.Conv2d computes
    line = nn.Sequential(NamedX(1, 1, 3, stride=2, padding=1))
    line.forward = lambda x: line[0](x=x)  # type: ignore[method-assign]
    assert padding_report(line, (1, 1, 8, 8)).layers[0].unused == ((0, 1), (0, 1))


def test_suggest_sizes_sees_layers_called_by_keyword():
    # the stride-2 conv, pool and TF-'same' conv of Keywords, followed by hand
    def clean(n: int) -> bool:
        if reads(n, 1, 1, 3, 2) != (1, 1):
            return False
        m = (n - 1) // 2 + 1
        if reads(m, 1, 1, 3, 2) != (1, 1):
            return False
        k = (m - 1) // 2 + 1
        before, after = tf_same_pads(k, 3, 2, 1)
        return reads(k, before, after, 3, 2) == (before, after) and before == after

    expected = nearest(clean, 224, 3)
    assert suggest_sizes(Keywords(), (1, 1, 224, 224)) == (expected, expected)
    assert 224 not in expected


# ---- F4: padded pooling layers count, as torch's pooling functions read them ---------------------
def pooling_reads(size: int, padding: int, kernel: int, stride: int, dilation: int, ceil: bool) -> tuple[int, int]:
    """Padding read by torch's max-pool: its own output count, each window ``i * stride - padding + t * dilation``."""
    x = torch.zeros(1, 1, size)
    outputs = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode=ceil).shape[-1]
    positions = {i * stride - padding + t * dilation for i in range(outputs) for t in range(kernel)}
    return sum(p < 0 for p in positions), sum(size <= p < size + padding for p in positions)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation", "ceil"),
    [
        (k, s, p, d, c)
        for k, s, p, d, c in itertools.product((2, 3, 5), (1, 2, 3), (1, 2), (1, 2), (False, True))
        if p <= k // 2
    ],
)
def test_pooling_padding_use_matches_what_torch_pools(kernel, stride, padding, dilation, ceil):
    for size in range(max(1, dilation * (kernel - 1) + 1 - 2 * padding), 14):
        expected = pooling_reads(size, padding, kernel, stride, dilation, ceil)
        got = axis_padding_use(size, padding, padding, kernel, stride, dilation, ceil_mode=ceil)
        assert got == expected, size


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_report_lists_pooling_layers_with_padding_in_every_dimension(dims, kind):
    pools = {"max": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), "avg": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)}
    pool = pools[kind][dims - 1]
    model = nn.Sequential(pool(3, 2, padding=1), pool(2), pool(3, 2, padding=1, ceil_mode=True))
    report = padding_report(model, (1, 1, *(16,) * dims))
    assert [row.name for row in report.layers] == ["0", "2"]  # the pool without padding pads nothing
    first, last = report.layers
    assert first.used == (reads(16, 1, 1, 3, 2),) * dims == ((1, 0),) * dims
    assert last.input_size == (4,) * dims
    assert last.used == (pooling_reads(4, 1, 3, 2, 1, True),) * dims == ((1, 1),) * dims
    assert first.layer == pool.__name__


def resnet50_chain(pooling: bool) -> list[Layer]:
    """ResNet-50's padded layers along one axis, in order: stem, max-pool (counted or not), each stage's strided 3x3.

    Its stride-1 3x3 convolutions (padding 1) read both sides at any size and keep it, and its 1x1
    convolutions have no padding, so they change neither the size nor the answer.
    """
    return [(7, 2, 3, True), (3, 2, 1, pooling), (3, 2, 1, True), (3, 2, 1, True), (3, 2, 1, True)]


def test_resnet50_suggestions_are_those_of_its_docstring_and_of_the_chain():
    model = ResNet50(width=8)
    with_pooling = nearest(lambda n: chain_is_clean(n, resnet50_chain(True), True), 224, 3)
    conv_only = nearest(lambda n: chain_is_clean(n, resnet50_chain(False), True), 224, 3)
    assert with_pooling == (225, 193, 257)  # what suggest_sizes' docstring says
    assert conv_only == (225, 227, 195)  # what counting the convolutions alone gave (issue 23)
    assert suggest_sizes(model, (1, 3, 224, 224)) == (with_pooling, with_pooling)
    dropped = {row.name for row in padding_report(model, (1, 3, 227, 227)).dropped}
    assert dropped == {"maxpool"}


def test_resnet50_is_probed_without_running_the_model():
    model = ResNet50()  # full width: 25M parameters
    calls = []
    for module in model.modules():
        module.register_forward_pre_hook(lambda module, args: calls.append(module))
    training = {name: module.training for name, module in model.named_modules()}
    parameters = [id(p) for p in model.parameters()]
    progress: list[tuple[int, int]] = []
    assert suggest_sizes(model, (1, 3, 224, 224), progress=lambda done, most: progress.append((done, most)))[0] == (
        225,
        193,
        257,
    )
    assert calls == []  # the model itself never ran: a twin on the meta device did, without its hooks
    assert {name: module.training for name, module in model.named_modules()} == training
    assert [id(p) for p in model.parameters()] == parameters
    assert all(p.device.type == "cpu" for p in model.parameters())
    done = [d for d, _ in progress]
    assert done == list(range(1, len(done) + 1))
    assert {most for _, most in progress} == {2 * 129}
    assert len(done) == 2 * (2 * 33 + 1)  # every size up to 257 = 224 + 33, on both axes


# ---- F5: asymmetric padding is unclean unless asked otherwise -------------------------------------
def tf_efficientnet_clean(n: int, symmetric: bool) -> bool:
    """The stand-in's padded layers: a TF-'same' 3x3/2 stem, then depthwise TF-'same' 3x3 at strides 1, 2, 2."""
    for stride in (2, 1, 2, 2):
        before, after = tf_same_pads(n, 3, stride, 1)
        used = reads(n, before, after, 3, stride)
        if used != (before, after) or (symmetric and before != after):
            return False
        n = math.ceil(n / stride)
    return True


def test_tf_same_sizes_that_pad_one_side_only_are_not_suggested_by_default():
    model = TFEfficientNet()
    both = nearest(lambda n: tf_efficientnet_clean(n, True), 224, 3)
    dropped_only = nearest(lambda n: tf_efficientnet_clean(n, False), 224, 3)
    assert 224 in dropped_only
    assert 224 not in both
    assert suggest_sizes(model, (1, 3, 224, 224)) == (both, both)
    assert suggest_sizes(model, (1, 3, 224, 224), symmetric=False) == (dropped_only, dropped_only)
    report = padding_report(model, (1, 3, 224, 224))
    assert report.dropped == ()
    assert [row.name for row in report.layers if row.asymmetric]  # the report says what 224 does


def test_a_layer_asymmetric_at_every_size_leaves_no_symmetric_size():
    model = nn.Sequential(nn.Conv2d(1, 1, 2, padding="same"))  # torch pads an even kernel one side more
    assert suggest_sizes(model, (1, 1, 16, 16)) == ((), ())
    assert reads(16, 0, 1, 2, 1) == (0, 1)  # all the padding is read, on one side
    assert suggest_sizes(model, (1, 1, 16, 16), symmetric=False, count=2) == ((16, 15), (16, 15))


# ---- models that cannot run on meta: a real probe, said once -----------------------------------
class ReadsValues(nn.Module):
    """A model whose forward reads a value of its input: no meta tensor has one."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return y if float(y.abs().sum()) >= 0 else -y


class MakesCPUTensors(nn.Module):
    """A model that adds a tensor it makes on the CPU, whatever device its input is on."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv(x)
        return y + torch.arange(y.shape[-1], dtype=y.dtype)


class RefusesCopies(ReadsValues):
    """A model that cannot even be copied onto the meta device: ``deepcopy`` fails."""

    def __deepcopy__(self, memo: dict) -> nn.Module:
        raise RuntimeError("this model refuses copies")


@pytest.mark.parametrize("model_class", [ReadsValues, MakesCPUTensors, RefusesCopies])
def test_a_model_that_cannot_run_on_meta_is_probed_for_real_and_says_so(model_class):
    """The fallback warns from two depths (the copy fails, or its first run), both naming the caller's line."""
    expected = nearest(lambda n: chain_is_clean(n, [(3, 2, 1, True)], True), 40, 2)
    with pytest.warns(ShapeProbeWarning, match=rf"{model_class.__name__} cannot run on the meta device") as caught:
        sizes = suggest_sizes(model_class(), (1, 1, 40, 40), count=2)
    line = sys._getframe().f_lineno - 1
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]
    assert sizes == (expected, expected)


def test_sizes_at_which_a_unet_fails_do_not_count_on_meta_either():
    model = UNet()

    def works(n: int) -> bool:
        try:
            model(torch.zeros(1, 1, n, 16))
        except RuntimeError:
            return False
        return True

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fall-back: the U-Net runs on meta
        (height, _) = suggest_sizes(model, (1, 1, 16, 16), count=4)
    assert height == nearest(works, 16, 4)


# ---- the report table: a header over every column ---------------------------------------------
def test_every_column_of_the_report_table_has_a_header():
    report = padding_report(ResNet50(width=2), (1, 3, 224, 224))
    header, *rows = str(report).splitlines()
    assert header.split() == ["layer", "class", "input", "padding", "used", "unused", "asymmetric"]
    start = header.index("asymmetric")
    for row in rows[: len(report.layers)]:
        assert row[start:].strip() in ("", "yes")
    marked = [line.split()[0] for line in rows[: len(report.layers)] if line[start:].strip() == "yes"]
    assert marked == [row.name for row in report.layers if row.asymmetric]
