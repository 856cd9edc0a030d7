r""".. _gallery-position-leak:

Can a convolutional network know where a pixel is? Only through its padding
===========================================================================

A convolution is shift-equivariant: move the input and the output moves with it. Sum the output
and you get a model that cannot tell one position from another, except where the border breaks
the symmetry. This example rebuilds Experiment 1 of Scheidl (2021), *Does padding matter in deep
learning models?*: a single convolution followed by a sum is trained to recognise the image whose
only white pixel sits in the top-left corner, with :func:`padmods.analysis.position_leak`.

You will see first why the border is the only place where position can leak: the summed output
of a zero-padded convolution is the same for a pixel and its shift in the interior, and different
at the border. Then the corner detector trained with zero padding, its kernel and its score for
every position. Finally the same experiment for every padding mode in the registry, with a table
of which ones leak absolute position.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import padmods
from padmods.analysis import position_leak

torch.manual_seed(0)
rng = np.random.default_rng(0)

size = 10


def one_hot(row, col):
    """A ``(1, 1, size, size)`` black image with a single white pixel at ``(row, col)``."""
    image = torch.zeros(1, 1, size, size)
    image[0, 0, row, col] = 1.0
    return image


def show_scores(ax, scores, title, limit):
    """Draw a score map with a diverging colour scale on ``[-limit, limit]``; circle the corner."""
    image = ax.imshow(scores.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.plot(0, 0, "o", markersize=9, markerfacecolor="none", markeredgecolor="black")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return image


# %%
# Shift equivariance, and where it breaks
# ---------------------------------------
#
# Take a 3x3 convolution with random weights and zero padding, and feed it an image with one white
# pixel, then the same image shifted one pixel to the right. In the interior the output just moves
# along, so its sum stays the same. Watch the second row, where the shift pushes the pixel onto
# the right edge: part of the kernel's footprint falls outside the image and is lost.

conv = padmods.ZeroPadConv2d(1, 1, 3, padding="same", bias=False)
with torch.no_grad():
    conv.weight.copy_(torch.from_numpy(rng.standard_normal((1, 1, 3, 3))).float())

pairs = {"interior": ((4, 4), (4, 5)), "border": ((4, 8), (4, 9))}
outputs = {}
with torch.no_grad():
    for name, positions in pairs.items():
        outputs[name] = [(one_hot(*p), conv(one_hot(*p))) for p in positions]
limit = max(out.abs().max().item() for pair in outputs.values() for _, out in pair)

fig, axes = plt.subplots(2, 4, figsize=(6.4, 3.4), layout="constrained")
for row, (name, pair) in zip(axes, outputs.items(), strict=True):
    for k, (image, out) in enumerate(pair):
        shifted = " shifted" if k else ""
        row[2 * k].imshow(image[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        row[2 * k].set_title(f"{name}{shifted}")
        mapped = row[2 * k + 1].imshow(out[0, 0].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        row[2 * k + 1].set_title(f"sum = {out.sum().item():.3f}")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(mapped, ax=axes, shrink=0.7, label="conv output")
plt.show()

for name, pair in outputs.items():
    first, second = (out.sum().item() for _, out in pair)
    print(f"{name:<8}: sum {first:.4f} -> {second:.4f} after the shift (difference {second - first:+.4f})")
print(f"left column of the kernel: sum {conv.weight[0, 0, :, 0].sum().item():+.4f}")

# %%
# The interior pair has the same sum; at the border the sum drops by exactly the sum of one kernel
# column. It is the kernel's *left* column that is lost at the *right* edge: an output reads its
# left neighbour with that column, and the output that would read the edge pixel that way lies
# beyond the edge. So a model that only sums a convolution's output can
# react to a pixel's position only when the pixel is within reach of the border.
#
# A corner detector with zero padding
# -----------------------------------
#
# :func:`~padmods.analysis.position_leak` trains exactly such a model, one 3x3 convolution with a
# bias and a sum, on all 100 images with a single white pixel; the label is 1 for the pixel in the
# top-left corner only. Look at the trained kernel and at the score (logit) the model gives each
# position: is the corner (circled) the only positive one?

zeros = position_leak("zeros", size=size)
print(f"'zeros': balanced accuracy {zeros.balanced_accuracy:.3f}, margin {zeros.margin:.3f}")

fig, axes = plt.subplots(1, 3, figsize=(6.4, 2.4), layout="constrained", width_ratios=[1, 1.3, 1.3])
kernel = zeros.kernel[0, 0].numpy()
klim = np.abs(kernel).max()
axes[0].imshow(kernel, cmap="RdBu_r", vmin=-klim, vmax=klim)
for (i, j), value in np.ndenumerate(kernel):
    colour = "white" if abs(value) > 0.5 * klim else "black"
    axes[0].text(j, i, f"{value:.1f}", ha="center", va="center", color=colour)
axes[0].set_title("trained kernel")
axes[0].set_xticks([])
axes[0].set_yticks([])
limit = zeros.scores.max().item()  # the corner's score; lower scores saturate to dark blue
image = show_scores(axes[1], zeros.scores, "score per position", limit)
fig.colorbar(image, ax=axes[1], shrink=0.9, extend="min")
axes[2].plot(zeros.loss_history.numpy())
axes[2].set_yscale("log")
axes[2].set_xlabel("step")
axes[2].set_title("training loss")
plt.show()

# sphinx_gallery_thumbnail_number = 2

# %%
# The corner is the only position with a positive score. The kernel shows how: a white pixel in
# the corner reaches only the top-left 2x2 taps of the kernel (the others fall on padding), while a
# pixel in the interior reaches all nine. Making the bottom row and the right column negative
# therefore lowers every score but the corner's. The other border pixels each miss
# different taps and land between the corner and the interior.
#
# Every padding mode
# ------------------
#
# The same experiment for every mode in :func:`padmods.available`, with the same seed and
# settings. The score maps share one colour scale, centred on 0 and reaching up to the highest
# score of any mode (lower scores saturate to dark blue); a mode leaks absolute position when the
# corner is red and everything else blue.

results = {mode: zeros if mode == "zeros" else position_leak(mode, size=size) for mode in padmods.available()}
# CoordConv whose border wraps around: the coordinates alone, without a zero border to help
coord_circular = position_leak("coord", size=size, pad="circular")

limit = max(result.scores.max().item() for result in results.values())
rows = -(-len(results) // 3)  # eight built-in modes; plugins installed in this environment add more
fig, axes = plt.subplots(rows, 3, figsize=(5.8, 2 * rows), layout="constrained", squeeze=False)
for ax in axes.flat[len(results) :]:
    ax.axis("off")
for ax, (mode, result) in zip(axes.flat, results.items(), strict=False):
    image = show_scores(ax, result.scores, repr(mode), limit)
fig.colorbar(image, ax=axes, shrink=0.8, label="score (logit)", extend="min")
plt.show()

print(f"{'mode':<10} {'balanced accuracy':>18} {'margin':>8}  finds the corner alone")
for mode, result in results.items():
    alone = "yes" if result.separated else "no"
    print(f"{mode:<10} {result.balanced_accuracy:>18.3f} {result.margin:>8.3f}  {alone}")
print(
    f"coord with pad='circular': balanced accuracy {coord_circular.balanced_accuracy:.3f}, "
    f"margin {coord_circular.margin:.3f}"
)

# %%
# Every mode that treats the border differently from the interior lets the model find the corner;
# the table gives the balanced accuracy over the 100 images (1.0: every image classified right,
# 0.5: chance), the margin between the corner's score and the best other score, and whether the
# corner scores above every other position (a positive margin).
#
# ``'circular'`` is the exception: wrapping the image around makes the layer commute with
# :func:`torch.roll`, so every image's output is a shifted copy of every other's, every image gets
# the same score, and no training can do better than chance (0.5, margin 0).
#
# ``'spherical'`` wraps the width the same way, so every pixel of the top row scores exactly what
# the corner scores (margin 0): the model cannot single out the corner, because it cannot tell one
# column from another. The poles, though, are borders, so it does learn the *row*: spherical
# padding leaks the latitude but not the longitude. Its balanced accuracy is above chance for
# that reason, and below 1.0 only because the other nine pixels of the top row count as false
# alarms; the table of :ref:`choosing` shows it as "row only".
#
# ``'symmetric'`` leaks as ``'replicate'`` does, to the last digit: with 3x3 kernels its one-pixel
# mirror, edge pixel included, is the edge pixel repeated.
#
# ``'coord'`` (CoordConv) leaks position too, but not because of its coordinate channels: it pads
# with zeros, so it finds the corner the same way ``'zeros'`` does. The coordinate images are the
# same for every input, and the summed output of a linear layer adds their contribution as one
# constant, a second bias. The last printed line checks this: a CoordConv whose border wraps
# around (``pad='circular'``) is as blind as ``'circular'``. Coordinates can only help a model
# that has a nonlinearity, or one that does not sum its output.
#
# .. admonition:: References
#
#    - API: :func:`padmods.analysis.position_leak`,
#      :class:`padmods.analysis.PositionLeakResult`, :class:`padmods.ZeroPadConv2d`,
#      :func:`padmods.available`.
#    - H\. Scheidl, `Does padding matter in deep learning models?
#      <https://harald-scheidl.medium.com/does-padding-matter-in-deep-learning-models-176ed68fa348>`_
#      (2021), Experiment 1; see :ref:`references <ref-scheidl2021>`.
