r""".. _gallery-pixel-impact:

Does every input pixel count the same in a convolutional network?
=================================================================

No: how much a pixel moves the output depends on where it sits, and the padding mode decides by
how much. This example rebuilds Experiment 2 of Scheidl (2021), *Does padding matter in deep
learning models?*, with :func:`padmods.analysis.impact_map`: switch one input pixel on, sum every
output of the network, and compare with the sum for a black image. For stacks of all-ones
convolutions (:func:`padmods.analysis.conv_stack`) that difference counts the paths from the pixel
to the outputs.

You will see the impact map of one 3x3 layer on a 10x10 image under ``'same'`` zero padding and
under ``'valid'`` (no padding), with the number written in every cell; then the same comparison
for five layers on a 28x28 image, where ``'valid'`` all but ignores a wide frame of the image; and
finally every padding mode of the registry on the five-layer stack, side by side.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch

import padmods
from padmods.analysis import conv_stack, impact_map

torch.manual_seed(0)  # nothing below is random (all-ones weights), but the seeds are fixed anyway
rng = np.random.default_rng(0)


def show(ax, impact, title, vmax, numbers=False):
    """Draw one impact map on ``ax`` with colour limits ``[0, vmax]``, optionally writing each value."""
    image = ax.imshow(impact.numpy(), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if numbers:
        for (i, j), value in np.ndenumerate(impact.numpy()):
            colour = "black" if value > 0.6 * vmax else "white"
            ax.text(j, i, f"{value:g}", ha="center", va="center", color=colour)
    return image


# %%
# One layer: what zero padding does to the border
# -----------------------------------------------
#
# A 3x3 convolution with all weights 1 adds up each pixel's 3x3 neighbourhood. With ``'same'``
# zero padding the output keeps the 10x10 size, and every input pixel is read by as many outputs
# as there are windows covering it: look at the corners and the edges compared with the interior.
# With ``'valid'`` there is no padding, the output shrinks to 8x8, and the border pixels are
# covered by even fewer windows.

same_1 = impact_map(conv_stack("zeros", layers=1, padding="same"), (1, 10, 10))
valid_1 = impact_map(conv_stack("zeros", layers=1, padding="valid"), (1, 10, 10))

fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), layout="constrained")
vmax = max(same_1.max(), valid_1.max()).item()
show(axes[0], same_1, "'same' (zero padding)", vmax, numbers=True)
image = show(axes[1], valid_1, "'valid' (no padding)", vmax, numbers=True)
fig.colorbar(image, ax=axes, shrink=0.8, label="impact")
plt.show()

print("'same' : corner", same_1[0, 0].item(), "edge", same_1[0, 5].item(), "interior", same_1[5, 5].item())
print("'valid': first row", valid_1[0].tolist())

# %%
# Under ``'same'`` zero padding a corner pixel reaches 4 outputs, an edge pixel 6 and an interior
# pixel 9: the padded zeros take the place of the missing neighbours. Under ``'valid'`` the count
# along each axis runs 1, 2, 3, ..., 3, 2, 1, so the map is the outer product of that profile
# with itself, from 1 in the corners to 9 in the middle.
#
# Five layers: the frame that ``'valid'`` forgets
# -----------------------------------------------
#
# Stacking layers multiplies the effect. Five 3x3 layers on a 28x28 image (the size of an MNIST
# digit) have an 11x11 receptive field. Look at how wide the dark frame is in each map; both use
# the same colour limits.

size, layers = 28, 5
same_5 = impact_map(conv_stack("zeros", layers=layers, padding="same"), (1, size, size))
valid_5 = impact_map(conv_stack("zeros", layers=layers, padding="valid"), (1, size, size))

fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), layout="constrained")
vmax = max(same_5.max(), valid_5.max()).item()
show(axes[0], same_5, "'same', 5 layers", vmax)
image = show(axes[1], valid_5, "'valid', 5 layers", vmax)
fig.colorbar(image, ax=axes, shrink=0.8, label="impact")
plt.show()

for name, impact in (("'same' ", same_5), ("'valid'", valid_5)):
    relative = impact / impact.max()
    print(
        f"{name}: impact from {impact.min().item():.0f} to {impact.max().item():.0f}; "
        f"pixels below 10%: {(relative < 0.1).float().mean().item():.1%}, "
        f"below 1%: {(relative < 0.01).float().mean().item():.1%}"
    )

# %%
# With ``'valid'`` padding a wide frame around the image has almost no say in the output: the
# printed fractions are the share of the 28x28 pixels whose impact is below 10% (and 1%) of the
# strongest pixel's. ``'same'`` zero padding dims the border too, but far less.
#
# Every padding mode of the registry
# ----------------------------------
#
# :func:`padmods.available` lists the registered padding modes, and
# :func:`~padmods.analysis.conv_stack` builds the same five-layer all-ones stack from each of them.
# The panels share one colour scale, so a brighter border means a border pixel that matters
# *more* than an interior one.

modes = padmods.available()
impacts = {mode: impact_map(conv_stack(mode, layers=layers), (1, size, size)) for mode in modes}

vmax = max(impact.max().item() for impact in impacts.values())
rows = -(-len(modes) // 3)  # eight built-in modes; plugins installed in this environment add more
fig, axes = plt.subplots(rows, 3, figsize=(5.8, 1.95 * rows), layout="constrained", squeeze=False)
for ax in axes.flat[len(modes) :]:
    ax.axis("off")
for ax, (mode, impact) in zip(axes.flat, impacts.items(), strict=False):
    image = show(ax, impact, repr(mode), vmax)
fig.colorbar(image, ax=axes, shrink=0.8, label="impact")
plt.show()

centre = size // 2
print(f"{'mode':<10} {'corner':>10} {'edge-centre':>12} {'centre':>10} {'corner/centre':>14}")
for mode, impact in impacts.items():
    corner, edge, middle = impact[0, 0].item(), impact[0, centre].item(), impact[centre, centre].item()
    print(f"{mode:<10} {corner:>10.0f} {edge:>12.0f} {middle:>10.0f} {corner / middle:>14.2f}")

# %%
# ``'zeros'`` dims the whole border, corners most. ``'coord'`` gives the same map: its coordinate
# channels add an output that does not depend on the input, which cancels in the impact.
# ``'circular'`` and ``'replicate'`` give every pixel exactly the same impact: each input pixel is
# read the same number of times, once the wrapped or repeated copies in the border are counted.
# So do ``'symmetric'`` (with a one-pixel border, the mirror that includes the edge pixel is the
# edge pixel repeated) and ``'spherical'`` (the width wraps; past a pole the edge row is read again,
# half way round).
# ``'reflect'`` never copies the edge pixel itself into the border but copies its neighbour, so the
# outermost row is dimmed while the row next to it is brighter than the interior. ``'partial'``
# scales each border output up by how many of its taps fell on padding: the outermost pixels stay
# below the centre but well above the zero-padding level, and the rows just inside them rise above
# the centre.
#
# .. admonition:: References
#
#    - API: :func:`padmods.analysis.impact_map`, :func:`padmods.analysis.conv_stack`,
#      :func:`padmods.available`.
#    - H\. Scheidl, `Does padding matter in deep learning models?
#      <https://harald-scheidl.medium.com/does-padding-matter-in-deep-learning-models-176ed68fa348>`_
#      (2021), Experiment 2; see :ref:`references <ref-scheidl2021>`.
