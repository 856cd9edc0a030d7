r""".. _gallery-padding-neurons:

Which neurons have learned where the border is?
===============================================

A network trained with zero padding can learn filters that do nothing but find the border:
Garcia-Gasulla et al. (:ref:`2023 <ref-garciagasulla2023>`) call them *padding-aware neurons*
(PANs) and found them in every pre-trained model they looked at. This example grows some on
purpose and then goes looking for them with :func:`padmods.analysis.padding_neurons`.

The task is the one of :ref:`gallery-padding-accuracy`: a small pattern sits near the left or
near the right edge of a noisy image, and the class is the side. A network of convolutions and a
global pooling can only tell the sides apart through the border, so a zero-padded network has
every reason to grow border detectors, and a circular one has no border to detect. You will see
how many padding-aware neurons each network has, what their kernels and activation maps look
like, and what happens to the zero-padded network when the padding of just those neurons' layers
is switched to circular.
"""

# sphinx_gallery_thumbnail_number = 2

import itertools

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import padmods
from padmods.analysis import padding_intervention, padding_neurons

torch.manual_seed(0)
rng = np.random.default_rng(0)
plt.rcParams["font.size"] = 11  # every label readable on a phone

SIZE = 20  # images are SIZE x SIZE
PATTERN = 3  # the pattern is PATTERN x PATTERN
DISTANCES = np.arange(0, 9)  # pixels between the pattern and the nearest (left or right) border

# %%
# The data and the two networks
# -----------------------------
#
# Each image holds Gaussian noise and one fixed 3x3 pattern at a random row, ``d`` pixels from the
# left border (class 0) or from the right border (class 1). Both networks have four 3x3
# convolutions with batch normalisation and a ReLU, then the maximum over all positions and a
# linear layer; they differ only in the padding mode of their convolutions, and train from the
# same seed for the same number of steps.

pattern = torch.from_numpy(rng.standard_normal((PATTERN, PATTERN))).float()
pattern = 2.5 * pattern / pattern.abs().max()


def make_images(count, generator):
    """``count`` images with their class (0: left, 1: right) and distance to the border."""
    labels = torch.randint(0, 2, (count,), generator=generator)
    distances = torch.from_numpy(DISTANCES)[torch.randint(0, len(DISTANCES), (count,), generator=generator)]
    rows = torch.randint(0, SIZE - PATTERN + 1, (count,), generator=generator)
    images = 0.5 * torch.randn(count, 1, SIZE, SIZE, generator=generator)
    for index in range(count):
        d, row = int(distances[index]), int(rows[index])
        column = d if labels[index] == 0 else SIZE - PATTERN - d
        images[index, 0, row : row + PATTERN, column : column + PATTERN] += pattern
    return images, labels, distances


generator = torch.Generator().manual_seed(0)
train_images, train_labels, _ = make_images(2000, generator)
test_images, test_labels, test_distances = make_images(1000, generator)


def make_model(mode):
    """Four 3x3 convolutions of padding mode ``mode``, a global max pooling and a linear layer."""
    torch.manual_seed(0)
    channels = [1, 16, 16, 16, 16]
    layers = []
    for c_in, c_out in itertools.pairwise(channels):
        layers += [padmods.create(mode, c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(channels[-1], 2))


def train(model, steps=300, batch_size=32):
    """Adam on the training set, in a fixed order of mini-batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = torch.randint(0, len(train_images), (batch_size,), generator=order)
        loss = nn.functional.cross_entropy(model(train_images[batch]), train_labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def accuracy(model):
    """Test accuracy, overall and for each distance of the pattern from the border."""
    with torch.no_grad():
        correct = (model(test_images).argmax(dim=1) == test_labels).float()
    return correct.mean().item(), np.array([correct[test_distances == d].mean().item() for d in DISTANCES])


models = {mode: train(make_model(mode)) for mode in ("zeros", "circular")}
for mode, model in models.items():
    print(f"{mode:<8s} test accuracy {accuracy(model)[0]:.2f}")

# %%
# The zero-padded network tells the sides apart, the circular one stays at chance (0.5): wrapped
# around, an image has no left and right.
#
# Finding the padding-aware neurons
# ---------------------------------
#
# :func:`~padmods.analysis.padding_neurons` runs each network on the test images and scores every
# channel of every convolution on each side of its border: how far its mean response on that side
# lies above its mean response in the interior, in units of the interior's spread, squashed into
# :math:`(-1, 1)`. A channel scoring at least 0.9 on some side counts. Any iterable of batches
# works as well as one tensor (a ``DataLoader`` included), and nothing but per-channel sums is kept
# while it runs.

reports = {mode: padding_neurons(model, test_images, progress=False) for mode, model in models.items()}
for mode, report in reports.items():
    print(f"--- {mode}")
    print(report)

# %%
# The zero-padded network has grown padding-aware neurons and the circular one has none. Every
# channel's best score, layer by layer, shows how clear the difference is: the circular network's
# channels all sit near 0, while many of the zero-padded network's respond to the border without
# reaching the threshold.

fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
for offset, (mode, report), marker, color in zip((-0.12, 0.12), reports.items(), "oD", ("C0", "C1"), strict=True):
    for position, row in enumerate(report.layers):
        best = row.scores.max(dim=1).values.numpy()
        label = f"'{mode}'" if position == 0 else None
        ax.scatter(
            np.full(len(best), position + offset), best, marker=marker, color=color, s=36, alpha=0.7, label=label
        )
ax.axhline(reports["zeros"].threshold, color="grey", linestyle=":", linewidth=1.5, label="threshold")
ax.set_xticks(range(len(reports["zeros"].layers)), [f"conv {i + 1}" for i in range(len(reports["zeros"].layers))])
ax.set_ylabel("best score of each channel", fontsize=11)
ax.set_ylim(-1, 1)
ax.tick_params(labelsize=10)
ax.legend(fontsize=11, loc="lower left")
ax.tick_params(labelsize=11)
_ = ax.set_title("Border scores: zero padding against circular", fontsize=12)

# %%
# The first layer has no border detector in either network: its input is noise of mean zero, and
# zeros beyond the border look just like that noise on average. From the second layer on, the input
# is the output of a ReLU, whose mean is positive, so the zero border stands out.
#
# What the neurons look like
# --------------------------
#
# For the (up to) four highest-scoring padding-aware neurons of the zero-padded network: the kernel,
# summed over the input channels (the response to a constant input, tap by tap), and the mean
# activation map over the test images (the convolution's output, before batch normalisation), each
# on a colour scale of its own. The border the neuron was found on lights up. A detector of the left
# border weighs its left column negatively: where the padding's zeros take the place of those
# inputs, nothing is subtracted, and the response rises.

zeros, report = models["zeros"], reports["zeros"]
convs = dict(zeros.named_modules())
conv_number = {row.name: index + 1 for index, row in enumerate(report.layers)}
shown = sorted(report.neurons, key=lambda neuron: -neuron.score)[:4]
maps = {}


def keep(name):
    """A forward hook that keeps the mean output map of the layer ``name``."""

    def hook(module, args, output):
        maps[name] = output.mean(dim=0)

    return hook


handles = [convs[name].register_forward_hook(keep(name)) for name in {neuron.layer for neuron in shown}]
with torch.no_grad():
    zeros(test_images)
for handle in handles:
    handle.remove()

fig, axes = plt.subplots(2, len(shown), figsize=(6.4, 4.4), squeeze=False)
for column, neuron in enumerate(shown):
    kernel = convs[neuron.layer].weight[neuron.channel].detach().sum(dim=0)
    limit = float(kernel.abs().max())
    axes[0, column].imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0, column].set_title(f"conv {conv_number[neuron.layer]}\nch {neuron.channel}", fontsize=11)
    axes[1, column].imshow(maps[neuron.layer][neuron.channel], cmap="magma")
    axes[1, column].set_title(f"{neuron.side}\n{neuron.score:.2f}", fontsize=11)
axes[0, 0].set_ylabel("kernel", fontsize=11)
axes[1, 0].set_ylabel("mean map", fontsize=11)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()

# %%
# Switching the padding of their layers
# -------------------------------------
#
# A response on the border could also come from the data (say, a pattern that tends to sit near
# the edge). :func:`~padmods.analysis.padding_intervention` tells the two apart: it runs a copy of
# the network whose layers holding the neurons are switched to a padding without a border
# (circular by default, through :func:`padmods.convert`), next to the original, and reports how
# much of each neuron's border response is gone (``drop``) and how much the output changes. The
# network itself is left as it was.

result = padding_intervention(zeros, test_images, report, progress=False)
print(result)

# %%
# Most of each neuron's border response is gone (a drop above 100% means the border now responds
# *less* than the interior), and the output changes with it. The accuracy shows what that costs,
# evaluated with only those layers switched (:func:`padmods.padding` switches them for the length
# of a ``with`` block) and with every layer switched.

before = accuracy(zeros)
with padmods.padding(zeros, "circular", filter=lambda name, conv: name in result.layers):
    switched = accuracy(zeros)
with padmods.padding(zeros, "circular"):
    all_switched = accuracy(zeros)
print(f"accuracy {before[0]:.2f}; neurons' layers circular {switched[0]:.2f}; all circular {all_switched[0]:.2f}")

fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
ax.plot(DISTANCES, before[1], marker="o", linewidth=1.8, label="as trained (zeros)")
ax.plot(
    DISTANCES,
    switched[1],
    marker="s",
    linewidth=1.8,
    label=f"conv {', '.join(str(conv_number[name]) for name in result.layers)} circular",
)
ax.plot(DISTANCES, all_switched[1], marker="D", linewidth=1.8, label="every layer circular")
ax.axhline(0.5, color="grey", linestyle=":", linewidth=1.5, label="chance")
ax.set_xlabel("distance of the pattern from the border (pixels)", fontsize=11)
ax.set_ylabel("test accuracy", fontsize=11)
ax.set_ylim(0, 1.03)
ax.set_xticks(DISTANCES)
ax.tick_params(labelsize=10)
ax.legend(fontsize=11, loc="lower right")
ax.tick_params(labelsize=11)
_ = ax.set_title("The zero-padded network, its padding switched", fontsize=12)

# %%
# Final words
# -----------
#
# A handful of channels carry what the zero-padded network knows about the border, and switching
# the padding of the layers that hold them takes most of the accuracy near the border away, without
# retraining and without touching the weights. On your own model the same two calls answer
# "does padding matter here?": ``padmods neurons MODEL --inputs images.pt --intervene`` does it
# from the command line (:doc:`/cli`).
#
# .. admonition:: References
#
#    - API: :func:`padmods.analysis.padding_neurons`, :func:`padmods.analysis.padding_intervention`,
#      :func:`padmods.padding`, :func:`padmods.create`.
#    - D\. Garcia-Gasulla, V. Gimenez-Abalos, P. Martin-Torres, *Padding Aware Neurons*, ICCV
#      Workshops 2023, `arXiv:2309.08048 <https://arxiv.org/abs/2309.08048>`_; see
#      :ref:`references <ref-garciagasulla2023>`.
#    - The task: :ref:`Kayhan & van Gemert (2020) <ref-kayhan2020>`, as in :ref:`gallery-padding-accuracy`.
