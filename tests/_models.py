"""Small stand-ins for the models users convert: ResNet-18, U-Net, TF-'same' EfficientNet, timm's subclasses.

timm and torchvision are not test dependencies (timm imports torchvision, which exists here only as a
multi-GB CUDA build that also replaces torch; see CONTRIBUTING.md). What conversion must get right
is the layers, so these stand-ins rebuild the layers that matter from their definitions:

- :class:`Conv2dSame` pads as TensorFlow's ``'same'`` inside ``forward``, like timm's class of that
  name (whose qualified name it takes, so the adapter padmods has for timm's class applies to it);
- :class:`StdConv2d` standardises its weight inside ``forward``, like timm's;
- the networks have the shapes of the real ones (strides, groups, depthwise convolutions, skips),
  with few channels so that a test runs in milliseconds.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def tf_same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding of one axis: total so that the output has ceil(size / stride) elements."""
    total = max((math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """A 2-D convolution that pads TF-style 'same' in ``forward`` (as ``timm.layers.Conv2dSame`` does)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride, 0, 1, groups, bias=True)

    def forward(self, input: Tensor) -> Tensor:
        top, bottom = tf_same_pads(input.shape[-2], self.kernel_size[0], self.stride[0], self.dilation[0])
        left, right = tf_same_pads(input.shape[-1], self.kernel_size[1], self.stride[1], self.dilation[1])
        padded = F.pad(input, (left, right, top, bottom))
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


Conv2dSame.__module__ = "timm.layers.conv2d_same"


class StdConv2d(nn.Conv2d):
    """A 2-D convolution with a standardised weight (as ``timm.layers.StdConv2d``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, eps: float = 1e-6):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.eps = eps

    def forward(self, input: Tensor) -> Tensor:
        flat = self.weight.reshape(1, self.out_channels, -1)
        weight = F.batch_norm(flat, None, None, training=True, momentum=0.0, eps=self.eps).reshape_as(self.weight)
        return F.conv2d(input, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


StdConv2d.__module__ = "timm.layers.std_conv"


class BasicBlock(nn.Module):
    def __init__(self, channels_in: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or channels_in != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(channels_in, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + skip)


class ResNet18(nn.Module):
    """ResNet-18's layout (7x7 stride-2 stem, max-pool, four stages of two blocks) with ``width`` channels."""

    def __init__(self, width: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, channels = [], width
        for index, multiple in enumerate((1, 2, 4, 8)):
            stride = 1 if index == 0 else 2
            stages.append(
                nn.Sequential(
                    BasicBlock(channels, width * multiple, stride), BasicBlock(width * multiple, width * multiple, 1)
                )
            )
            channels = width * multiple
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(channels, classes)

    def features(self, x: Tensor) -> Tensor:
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x).mean((2, 3)))


class Bottleneck(nn.Module):
    """ResNet-50's block (torchvision's v1.5 and timm's): 1x1, 3x3 with the stride, 1x1 to four times the width."""

    def __init__(self, channels_in: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or channels_in != 4 * width:
            self.downsample = nn.Sequential(
                nn.Conv2d(channels_in, 4 * width, 1, stride, bias=False), nn.BatchNorm2d(4 * width)
            )

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + skip)


class ResNet50(nn.Module):
    """ResNet-50's layout and sizes: 7x7/2 stem, 3x3/2 max-pool, stages of 3, 4, 6 and 3 bottlenecks."""

    def __init__(self, width: int = 64, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, channels = [], width
        for index, blocks in enumerate((3, 4, 6, 3)):
            stage_width = width * 2**index
            layers = []
            for block in range(blocks):
                layers.append(Bottleneck(channels, stage_width, 2 if block == 0 and index > 0 else 1))
                channels = 4 * stage_width
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class UNet(nn.Module):
    """A two-level U-Net: stride-1 convolutions, max-pooling, a transposed convolution, a skip by concatenation."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1))
        self.bottom = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.out = nn.Sequential(nn.Conv2d(2 * width, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        skip = self.down(x)
        return self.out(torch.cat([skip, self.up(self.bottom(skip))], dim=1))


class MBConv(nn.Module):
    """EfficientNet's inverted residual: pointwise expand, depthwise TF-'same', squeeze-excite, pointwise project."""

    def __init__(self, channels_in: int, channels_out: int, stride: int, expand: int = 2) -> None:
        super().__init__()
        hidden = channels_in * expand
        self.expand = nn.Conv2d(channels_in, hidden, 1, bias=False)
        self.depthwise = Conv2dSame(hidden, hidden, 3, stride, groups=hidden)
        self.se_reduce = nn.Conv2d(hidden, 2, 1)
        self.se_expand = nn.Conv2d(2, hidden, 1)
        self.project = nn.Conv2d(hidden, channels_out, 1, bias=False)
        self.residual = stride == 1 and channels_in == channels_out

    def forward(self, x: Tensor) -> Tensor:
        h = F.silu(self.depthwise(F.silu(self.expand(x))))
        h = h * torch.sigmoid(self.se_expand(F.silu(self.se_reduce(h.mean((2, 3), keepdim=True)))))
        h = self.project(h)
        return x + h if self.residual else h


class TFEfficientNet(nn.Module):
    """``tf_efficientnet``'s layout: a stride-2 TF-'same' stem and MBConv blocks, two of them stride 2."""

    def __init__(self, width: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.conv_stem = Conv2dSame(3, width, 3, stride=2)
        self.blocks = nn.Sequential(
            MBConv(width, width, 1), MBConv(width, 2 * width, 2), MBConv(2 * width, 2 * width, 2)
        )
        self.head = nn.Linear(2 * width, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.blocks(F.silu(self.conv_stem(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean((2, 3)))


class SharedConvNet(nn.Module):
    """One convolution applied twice, held by two parents."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Conv2d(2, 2, 3, padding=1)
        self.first = nn.Sequential(self.shared, nn.ReLU())
        self.second = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), self.shared)

    def forward(self, x: Tensor) -> Tensor:
        return self.second(self.first(x))


class StrideOneNet(nn.Module):
    """Three stride-1 3x3 convolutions (receptive radius 3): every mode agrees 3 pixels from the border."""

    radius = 3

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(4, 4, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(4, 2, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


#: name -> (factory, input shape)
MODELS = {
    "resnet18": (ResNet18, (2, 3, 64, 64)),
    "unet": (UNet, (2, 1, 16, 16)),
    "tf_efficientnet": (TFEfficientNet, (2, 3, 33, 33)),
    "shared_conv": (SharedConvNet, (2, 2, 8, 8)),
    "stride_one": (StrideOneNet, (2, 2, 12, 12)),
}


def build(name: str) -> tuple[nn.Module, Tensor]:
    """The model ``name`` in float64 eval mode with seeded weights, and a seeded input for it."""
    factory, shape = MODELS[name]
    torch.manual_seed(0)
    model = factory().double().eval()
    return model, torch.randn(shape, dtype=torch.float64)
