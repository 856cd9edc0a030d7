r""".. _gallery-stride2-blind-spots:

Why do stride-2 networks see one side of the image less well?
=============================================================

Alsallakh et al. (ICLR 2021, *Mind the Pad: CNNs can develop blind spots*) found that networks
built from strided convolutions reach some input pixels through far fewer paths than others, and
that the padding decides where. The culprit is ``'same'`` padding with stride 2: under
TensorFlow's rule, which padmods follows (see :func:`padmods.functional.resolve_padding`), a 3x3
stride-2 convolution on an even-sized input needs one pixel of padding in all, and puts it at the
bottom/right only.

You will see the padding that each layer of a four-layer stride-2 stack applies and reads (the
padding report), the impact map of that stack (:func:`padmods.analysis.impact_map`) with its grid
of weakly reached pixels, how the map tilts towards the padded side, how PyTorch's ``padding=1``
tilts it the other way and an input of odd size straightens it, and what the other padding modes
make of the one-sided border.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm

from padmods.analysis import conv_stack, impact_map, padding_report, suggest_sizes

torch.manual_seed(0)  # nothing below is random (all-ones weights), but the seeds are fixed anyway
rng = np.random.default_rng(0)

layers = 4


def stride2_impact(mode, padding, size):
    """Impact map of ``layers`` all-ones 3x3 stride-2 convolutions of ``mode`` on a square input."""
    stack = conv_stack(mode, layers=layers, padding=padding, stride=2)
    return impact_map(stack, (1, size, size))


def top_bottom_ratio(impact):
    """Total impact of the top half of the rows over that of the bottom half (1.0: balanced)."""
    half = impact.shape[0] // 2
    return (impact[:half].sum() / impact[-half:].sum()).item()


# %%
# Where the padding goes
# ----------------------
#
# :func:`~padmods.analysis.padding_report` runs a model once and lists, for every convolution,
# the padding it applies on each side (``before/after``, one pair per axis), the part that some
# output really reads, and the part that no output reads. Follow a 64x64 input through four 3x3
# stride-2 layers with ``padding='same'``, then with PyTorch's usual ``padding=1``, then a 65x65
# input with ``'same'``.

for padding, size in (("same", 64), (1, 64), ("same", 65)):
    stack = conv_stack("zeros", layers=layers, padding=padding, stride=2)
    print(f"padding={padding!r}:")
    print(padding_report(stack, (1, 1, size, size)), end="\n\n")

# %%
# :func:`~padmods.analysis.suggest_sizes` names the nearest input sizes at which no layer drops
# padding, one axis at a time:

print(
    "padding=1, nearest clean sizes to 64:",
    suggest_sizes(conv_stack("zeros", layers=layers, padding=1, stride=2), (1, 1, 64, 64))[0],
)

# %%
# With ``'same'`` every layer of the 64x64 stack pads 0 rows at the top and 1 at the bottom (and
# likewise 0 columns on the left, 1 on the right): TensorFlow's rule, which padmods follows. The
# report marks each layer *asymmetric*. ``padding=1`` pads both sides, but its last window ends on
# the last image row, so the bottom padding is never read (``unused 0/1``): in effect only the
# top/left is padded, the mirror image of ``'same'``. This is the padding that ResNets drop at
# every stride-2 stage at 224x224. The 65x65 input (:math:`2^6 + 1`) needs an
# even amount of padding at every layer, so ``'same'`` pads one row on each side and the last
# window reads the bottom padding row, 65.
#
# A grid of weakly reached pixels
# -------------------------------
#
# Every weight is 1, so the impact of a pixel counts the paths from it to the 4x4 output. A 3x3
# window with stride 2 reads some pixels twice (the ones where two windows overlap) and the others
# once. Look at the first layer's count along one row, then at the four-layer map and its
# column profile.

# a 1x64 input: one row, so the impact of a pixel is the number of windows that read it
one_layer = impact_map(conv_stack("zeros", layers=1, padding="same", stride=2), (1, 1, 64))[0]
print("one layer, windows reading each pixel of a row:", one_layer[:8].int().tolist(), "...")
print("                                ... ending with:", one_layer[-8:].int().tolist())

same_64 = stride2_impact("zeros", "same", 64)
fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.9), layout="constrained", width_ratios=[1, 1.4])
mapped = axes[0].imshow(same_64.numpy(), cmap="viridis", vmin=0)
axes[0].set_title("'same', 64x64, 4 layers")
axes[0].set_xticks([])
axes[0].set_yticks([])
fig.colorbar(mapped, ax=axes[0], shrink=0.8, label="impact (paths)")
axes[1].plot(same_64.mean(dim=0).numpy(), drawstyle="steps-mid")
axes[1].set_xlabel("column")
axes[1].set_ylabel("mean impact")
axes[1].set_title("column profile")
plt.show()

profile = same_64.mean(dim=0)
print(
    f"impact from {same_64.min().item():.0f} to {same_64.max().item():.0f} paths; "
    f"{int((same_64 == same_64.min()).sum())} of {same_64.numel()} pixels are reached by a single path"
)
print("columns with the lowest mean impact:", torch.nonzero(profile == profile.min()).flatten().tolist())
print(f"mean impact of the left and right halves: {profile[:32].mean().item():.2f}, {profile[32:].mean().item():.2f}")

# %%
# The one-layer counts alternate 1 and 2, but start 1, 1 at the unpadded left edge and end 2, 1
# at the padded right edge. Four layers compound the alternation into a grid of lines that are
# reached by far fewer paths than their neighbours, the *blind spots* of the paper: the weakest
# columns (printed above) recur every 16 columns and crowd together at the unpadded left edge, and
# the rows follow the same pattern. The profile and the printed means show that the left half of
# the image is reached less than the right.
#
# Which side is padded decides which side is seen
# -----------------------------------------------
#
# Compare the ``'same'`` map with ``padding=1`` on the same input and with ``'same'`` on a 65x65
# input. The three maps share one colour scale.

maps = {
    "'same', 64x64": same_64,
    "padding=1, 64x64": stride2_impact("zeros", 1, 64),
    "'same', 65x65": stride2_impact("zeros", "same", 65),
}
vmax = max(impact.max().item() for impact in maps.values())
fig, axes = plt.subplots(1, 3, figsize=(6.4, 2.4), layout="constrained")
for ax, (name, impact) in zip(axes, maps.items(), strict=True):
    mapped = ax.imshow(impact.numpy(), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(mapped, ax=axes, shrink=0.8, label="impact (paths)")
plt.show()

for name, impact in maps.items():
    symmetric = torch.equal(impact, impact.flip(0, 1))
    print(f"{name:<17} top/bottom impact ratio {top_bottom_ratio(impact):.3f}, point-symmetric: {symmetric}")
print("padding=1 is 'same' rotated by 180 degrees:", torch.equal(maps["padding=1, 64x64"], same_64.flip(0, 1)))

# sphinx_gallery_thumbnail_number = 2

# %%
# With ``'same'`` the top half of the image carries clearly less impact than the bottom half (a
# ratio below 1), and the left half less than the right. ``padding=1`` gives exactly the same map
# turned by 180 degrees: it now neglects the bottom and the right. Only the 65x65 input, padded
# on both sides at every layer, gives a map that is the same seen from every side, with a
# top/bottom ratio of exactly 1. The same holds for any size :math:`2^k + 1` with :math:`k` at
# least the number of layers: each layer turns it into :math:`2^{k-1} + 1` and pads one pixel on
# each side. The grid of weak lines is there in all three maps: it comes from the stride, not from
# the padding.
#
# Other padding modes
# -------------------
#
# A mode that fills the border with image content adds paths to the pixels it copies, so with a
# one-sided border it favours that side even more. The maps below use ``'same'`` on 64x64 (top
# row) and 65x65 (bottom row); their shared colour scale is logarithmic, because copied pixels can
# collect many more paths.

modes = ["zeros", "reflect", "replicate", "circular", "partial"]
grid = {(mode, size): stride2_impact(mode, "same", size) for size in (64, 65) for mode in modes}
low = min(impact.min().item() for impact in grid.values())
high = max(impact.max().item() for impact in grid.values())

fig, axes = plt.subplots(2, len(modes), figsize=(6.4, 3), layout="constrained")
for ax, ((mode, size), impact) in zip(axes.flat, grid.items(), strict=True):
    mapped = ax.imshow(impact.numpy(), cmap="viridis", norm=LogNorm(low, high))
    ax.set_title(f"{mode!r}, {size}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(mapped, ax=axes, shrink=0.8, label="impact")
plt.show()

print(f"{'mode':<10} {'size':>4} {'top-left':>9} {'bottom-right':>13} {'top/bottom':>11} {'point-symmetric':>16}")
for (mode, size), impact in grid.items():
    symmetric = torch.equal(impact, impact.flip(0, 1))
    print(
        f"{mode:<10} {size:>4} {impact[0, 0].item():>9.1f} {impact[-1, -1].item():>13.1f} "
        f"{top_bottom_ratio(impact):>11.3f} {symmetric!s:>16}"
    )

# %%
# On the 64x64 input ``'replicate'``, ``'reflect'`` and ``'partial'`` pile extra paths onto the
# pixels at or near the bottom and right edges, the only place they pad (the bright bottom-right
# corners in the top row), and the top/bottom ratio drops further below the ratio of ``'zeros'``.
# ``'circular'`` wraps that bottom/right border around to the top/left pixels instead, which
# balances the halves but still makes the map lopsided (it is not point-symmetric). On the 65x65
# input every mode pads both sides alike, and every map is the same seen from every side. In
# short: with strided ``'same'`` layers, choose input sizes for which the padding is even at every
# layer (:func:`~padmods.analysis.suggest_sizes` finds them for any model, and ``padmods report``
# does so from the command line), or expect the network to favour one side.
#
# .. admonition:: References
#
#    - API: :func:`padmods.analysis.padding_report`, :func:`padmods.analysis.suggest_sizes`,
#      :func:`padmods.functional.resolve_padding`, :func:`padmods.analysis.conv_stack`,
#      :func:`padmods.analysis.impact_map`.
#    - B\. Alsallakh, N. Kokhlikyan, V. Miglani, J. Yuan, O. Reblitz-Richardson, *Mind the Pad --
#      CNNs Can Develop Blind Spots*, ICLR 2021; see :ref:`references <ref-alsallakh2021>`.
