r""".. _gallery-convert-model:

What changes when you swap the padding of a trained model?
==========================================================

:func:`padmods.convert` replaces every :class:`torch.nn.Conv2d` of a model with the layer of
another padding mode and copies the weights over. The parameters, their names and the output
shape stay the same; only what the convolutions see beyond the border changes, so only the
outputs near the border move.

You will see a small convolutional classifier, trained for a few seconds with ordinary zero
padding on tiny synthetic images, converted to every padding mode of the registry: a table of what
the conversion keeps, the first layer's response to a constant image (which modes invent an
edge), where in the feature maps the converted models disagree with the original, and their
pixel impact maps (:func:`padmods.analysis.impact_map`).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from torch import nn

import padmods
from padmods.analysis import impact_map

torch.manual_seed(0)
rng = np.random.default_rng(0)

size = 16


def make_bars(count):
    """Noisy ``size`` x ``size`` images with one bar of 5 pixels: label 0 horizontal, 1 vertical."""
    images = rng.normal(0.0, 0.2, (count, 1, size, size))
    labels = rng.integers(0, 2, count)
    for image, label, (row, col) in zip(images, labels, rng.integers(0, size - 4, (count, 2)), strict=True):
        if label:
            image[0, row : row + 5, col] += 1.0
        else:
            image[0, row, col : col + 5] += 1.0
    return torch.from_numpy(images), torch.from_numpy(labels)


def mode_grid(count, height=1.95):
    """A grid of 3 columns with one panel per mode; unused panels are switched off."""
    rows = -(-count // 3)
    fig, axes = plt.subplots(rows, 3, figsize=(5.8, height * rows), layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[count:]:
        ax.axis("off")
    return fig, axes


# %%
# A small classifier, trained with zero padding
# ---------------------------------------------
#
# The task: tell a horizontal bar from a vertical one, anywhere in a 16x16 noisy image, also
# touching the border. The model is the usual stack of 3x3 convolutions with ``padding=1``, ReLU,
# max pooling, global average pooling and a linear layer, all plain :mod:`torch.nn`.

x_train, y_train = make_bars(256)
x_test, y_test = make_bars(256)

fig, axes = plt.subplots(1, 6, figsize=(6, 1.4), layout="constrained")
for ax, image, label in zip(axes, x_test, y_test, strict=False):
    ax.imshow(image[0].numpy(), cmap="gray", vmin=-0.5, vmax=1.5)
    ax.set_title("vertical" if label else "horizontal")
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()


class SmallCNN(nn.Module):
    """Three 3x3 convolutions with zero padding, max pooling, global average pooling, linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(6, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))

    def forward(self, x):
        """Class logits of a batch of images."""
        return self.head(self.features(x))


model = SmallCNN().double()  # float64: the printed digits do not depend on the number of threads
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for _ in range(60):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x_train), y_train)
    loss.backward()
    optimizer.step()
model.eval()


def accuracy(net):
    """Test accuracy of ``net`` on the held-out bars."""
    with torch.no_grad():
        return (net(x_test).argmax(dim=1) == y_test).float().mean().item()


print(f"final training loss {loss.item():.3f}, test accuracy {accuracy(model):.3f}")

# %%
# The test accuracy is high enough for the model to be worth looking at. The images above are the
# first six of the test set.
#
# What ``convert`` keeps
# ----------------------
#
# Convert the trained model to every mode in :func:`padmods.available` and check, for each one,
# the names and shapes in the ``state_dict``, the output shape, and the test accuracy *without any
# retraining*. ``convert`` returns a converted copy; the original model is left alone.

original_keys = {name: tuple(t.shape) for name, t in model.state_dict().items()}
converted = {mode: padmods.convert(model, mode) for mode in padmods.available()}
print("original first layer:", model.features[0])
print("converted to 'reflect':", converted["reflect"].features[0])
print()
print(f"{'mode':<10} {'same keys':>9} {'same shapes':>11} {'output':>8} {'accuracy':>9} {'max |Δlogit|':>13}")
with torch.no_grad():
    reference = model(x_test)
    for mode, net in converted.items():
        shapes = {name: tuple(t.shape) for name, t in net.state_dict().items()}
        output = net(x_test)
        print(
            f"{mode:<10} {shapes.keys() == original_keys.keys()!s:>9} {shapes == original_keys!s:>11} "
            f"{tuple(output.shape)!s:>8} {accuracy(net):>9.3f} {(output - reference).abs().max().item():>13.3f}"
        )
widened = [name for name, t in converted["coord"].state_dict().items() if tuple(t.shape) != original_keys[name]]
print("weights that 'coord' widens by its coordinate channels:", ", ".join(widened))

# %%
# Every converted model has the same parameter names, so a checkpoint of the original loads into
# it. Only ``'coord'`` changes shapes: each convolution gets two more input channels for the
# coordinates, whose weights start at zero, so the converted CoordConv model computes exactly what
# the original did (its largest logit change is 0). The other modes change the logits of some
# images, and the accuracy moves a little or not at all.
#
# A constant image: which modes invent an edge?
# ---------------------------------------------
#
# Feed an all-ones image to the first convolution of each converted model and look at its first
# output channel. A border that differs from the interior is something the padding made up: the
# image itself has no edge. The panels share one colour scale.

ones = torch.ones(1, 1, size, size, dtype=torch.float64)
with torch.no_grad():
    first = {mode: net.features[0](ones)[0, 0] for mode, net in converted.items()}
low = min(response.min().item() for response in first.values())
high = max(response.max().item() for response in first.values())

fig, axes = mode_grid(len(first))
for ax, (mode, response) in zip(axes.flat, first.items(), strict=False):
    image = ax.imshow(response.numpy(), cmap="magma", vmin=low, vmax=high)
    ax.set_title(repr(mode))
fig.colorbar(image, ax=axes, shrink=0.8, label="first layer, channel 0")
plt.show()

for mode, response in first.items():
    spread = (response.max() - response.min()).item()
    print(f"{mode:<10} largest minus smallest output: {spread:.2e}")

# %%
# ``'zeros'`` and ``'coord'`` (which pads with zeros too, and whose coordinate weights are still
# zero) draw a frame around the constant image. ``'reflect'``, ``'replicate'`` and ``'circular'``
# fill the border with copies of the image, so a constant image stays constant (spread 0).
# ``'partial'`` scales each border output up by the share of its taps that fell on padding. That
# gives back the interior value only for a kernel whose weights are all equal (the all-ones
# stacks of :ref:`Experiment 2 <gallery-pixel-impact>`); with trained weights its border differs from the interior
# too, just differently from zero padding.
#
# Where the converted models disagree with the original
# -----------------------------------------------------
#
# Run the feature extractor (everything before the global pooling, an 8x8 map after the max
# pooling) of each converted model on the test images and average the absolute difference from the
# original's features over images and channels. Look at where the differences sit.

with torch.no_grad():
    features = model.features(x_test)
    changes = {
        mode: (net.features(x_test) - features).abs().mean(dim=(0, 1))
        for mode, net in converted.items()
        if mode != "zeros"
    }
top = max(change.max().item() for change in changes.values())

fig, axes = mode_grid(len(changes))
for ax, (mode, change) in zip(axes.flat, changes.items(), strict=False):
    image = ax.imshow(change.numpy(), cmap="viridis", vmin=0, vmax=top)
    ax.set_title(repr(mode))
fig.colorbar(image, ax=axes, shrink=0.8, label="mean |feature change|")
plt.show()

# sphinx_gallery_thumbnail_number = 3

for mode, change in changes.items():
    print(f"{mode:<10} centre 4x4 block: {change[2:6, 2:6].max().item():.2e}   whole map: {change.max().item():.2e}")

# %%
# The changes form a frame: the centre of the feature map is untouched, because its receptive
# field never reaches the padding, and the printed maxima over the centre 4x4 block are 0 (or
# rounding noise) for every mode. ``'coord'`` changes nothing at all yet.
#
# Pixel impact of the converted models
# ------------------------------------
#
# :func:`~padmods.analysis.impact_map` with ``method='exact'`` switches on one input pixel at a time
# and measures how much the summed features move; the exact method is needed because ReLU makes
# the model nonlinear (the ``'gradient'`` method would only linearise it at a black image). The
# colour scale is logarithmic and shared.

impacts = {mode: impact_map(net.features, (1, size, size), method="exact") for mode, net in converted.items()}
low = max(min(impact.min().item() for impact in impacts.values()), 1e-2)
high = max(impact.max().item() for impact in impacts.values())

fig, axes = mode_grid(len(impacts))
for ax, (mode, impact) in zip(axes.flat, impacts.items(), strict=False):
    image = ax.imshow(impact.clamp(min=low).numpy(), cmap="viridis", norm=LogNorm(low, high))
    ax.set_title(repr(mode))
fig.colorbar(image, ax=axes, shrink=0.8, label="impact on summed features")
plt.show()

print(f"{'mode':<10} {'corner':>8} {'edge-centre':>12} {'centre':>8} {'max':>8}")
for mode, impact in impacts.items():
    corner, edge, middle = impact[0, 0].item(), impact[0, size // 2].item(), impact[size // 2, size // 2].item()
    print(f"{mode:<10} {corner:>8.2f} {edge:>12.2f} {middle:>8.2f} {impact.max().item():>8.2f}")

# %%
# The original (``'zeros'``) and ``'coord'`` give identical maps, dim at the border like the
# all-ones stacks of :ref:`Experiment 2 <gallery-pixel-impact>`. All converted models agree with it in the
# interior (the centre column), and ``'circular'`` stays close to it everywhere. But at some edges
# ``'partial'``, ``'reflect'`` and ``'replicate'`` react to a single pixel tens of times more
# strongly than the original does anywhere (compare the max column): the weights were trained on
# zero borders, and a border rescaled or filled with copies of the image is input they never saw.
# ``convert`` keeps the parameters everywhere and the function in the interior; after switching
# the padding of a trained model, fine-tune it.
#
# .. admonition:: References
#
#    - API: :func:`padmods.convert`, :func:`padmods.available`,
#      :func:`padmods.analysis.impact_map`.
#    - :ref:`Scheidl (2021) <ref-scheidl2021>`, *Does padding matter in deep learning models?*
#    - :ref:`Liu et al. (2018) <ref-liu2018partial>`, *Partial Convolution based Padding*
#      (arXiv:1811.11718); :ref:`Liu et al. (2018) <ref-liu2018coordconv>`, *An intriguing failing
#      of convolutional neural networks and the CoordConv solution* (arXiv:1807.03247).
