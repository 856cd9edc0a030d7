r""".. _gallery-seamless-tile:

Seamless tiles: circular padding along the width
================================================

A convolutional image generator (texture synthesis, panorama outpainting) makes an image that
tiles seamlessly along the width only if *every* layer treats the width as periodic: the column
beyond the right edge must be the first column, not a column of zeros. A model built with
ordinary zero padding gets that border in one call,
``padmods.convert(model, ("zeros", "circular"))``: every :class:`torch.nn.Conv2d` becomes a
:class:`padmods.PerAxisPadConv2d` with the same weights, circular along the width, while the
height keeps a border of its own (here zeros).

You will see a small random convolutional "texture generator" before and after the conversion,
its output tiled three times side by side, a measurement of how much the seam stands out from the
steps between neighbouring columns inside the image, and the property behind it: the converted
model commutes with :func:`torch.roll` along the width, so its output is an image on a cylinder.
Last, what the height's border changes.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import padmods
from padmods.functional import pad

torch.manual_seed(0)

height, width, tiles = 48, 96, 3

# %%
# A texture generator
# -------------------
#
# No training is needed: a stack of convolutions with random weights turns smooth noise into a
# texture. The input is a batch of eight images of four channels of white noise, blurred with a
# Gaussian so that the textures have blobs rather than grain. The tiles show the first image;
# the measurements and their plots use all eight. The blur pads with
# :func:`padmods.functional.pad` and a border that wraps around the width,
# ``('reflect', 'circular')``, so that the input is itself periodic along the width: a generator
# can only make a seamless tile out of an input without a seam.
#
# The generator has five 3x3 convolutions with ReLUs between them, the second one dilated, and
# three output channels shown as an RGB image. Its weights are drawn with Kaiming's rule and its
# biases around +1, so its features have a level of their own that a border of zeros falls short
# of, as in a trained network whose features are rarely centred on zero.

sigma, radius = 2.0, 4
taps = torch.exp(-(torch.arange(-radius, radius + 1.0) ** 2) / (2 * sigma**2))
gaussian = (taps[:, None] * taps[None, :] / taps.sum() ** 2).expand(4, 1, -1, -1)
noise = torch.randn(8, 4, height, width)
blurred = F.conv2d(pad(noise, ((radius, radius), (radius, radius)), ("reflect", "circular")), gaussian, groups=4)
texture_input = blurred / blurred.std()

channels = 16
generator = nn.Sequential(
    nn.Conv2d(4, channels, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(channels, channels, 3, padding=2, dilation=2),
    nn.ReLU(),
    nn.Conv2d(channels, channels, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(channels, channels, 3, padding=1),
    nn.ReLU(),
    nn.Conv2d(channels, 3, 3, padding=1),
).eval()
for layer in generator:
    if isinstance(layer, nn.Conv2d):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.normal_(layer.bias, mean=1.0, std=0.2)
reach = sum(layer.dilation[1] * (layer.kernel_size[1] // 2) for layer in generator if isinstance(layer, nn.Conv2d))

seamless = padmods.convert(generator, ("zeros", "circular"))
print(seamless)

with torch.no_grad():
    outputs = {"'zeros'": generator(texture_input), "('zeros', 'circular')": seamless(texture_input)}
inner = slice(reach, width - reach)
same_inside = torch.equal(outputs["'zeros'"][..., inner], outputs["('zeros', 'circular')"][..., inner])
print(f"each output pixel sees {reach} columns to either side")
print(f"the two outputs are equal more than {reach} columns from the left and right edges: {same_inside}")

# %%
# :func:`padmods.convert` left the original model alone and returned a copy whose five
# convolutions are :class:`~padmods.PerAxisPadConv2d` layers with ``borders=('zeros', 'circular')``
# and the original weights. The two models compute the same thing wherever no window reaches the
# left or right edge, so they can only differ in the outer ``reach`` = 6 columns on either side.
#
# Three tiles side by side
# ------------------------
#
# Put three copies of each output next to each other with :func:`torch.cat` along the width. The
# ticks mark the seams, where the last column of one copy meets the first column of the next; the
# panel on the right enlarges 48 columns around the first seam. Look for a stripe at the ticks.
# All panels use one colour stretch: each channel is standardised with the mean and standard
# deviation of the zero-padded output.

mean = outputs["'zeros'"].mean(dim=(0, 2, 3), keepdim=True)
std = outputs["'zeros'"].std(dim=(0, 2, 3), keepdim=True)
seams = [seam * width - 0.5 for seam in range(1, tiles)]


def to_rgb(image):
    """The first image of a batch as an ``(H, W, 3)`` array: channels standardised, +-2.5 std mapped to 0 and 1."""
    return ((image[:1] - mean) / std / 5 + 0.5).clamp(0, 1)[0].permute(1, 2, 0).numpy()


def show_tiles(images):
    """One row per model: its output tiled ``tiles`` times, and an enlarged crop around the first seam."""
    _, axes = plt.subplots(
        len(images), 2, figsize=(6.4, 1.45 * len(images)), layout="constrained", width_ratios=[tiles * width, height]
    )
    for (left, right), (name, output) in zip(axes, images.items(), strict=True):
        tiled = to_rgb(torch.cat([output] * tiles, dim=-1))
        left.imshow(tiled)
        left.set_title(f"{name}, three tiles")
        left.set_xticks(seams, ["seam"] * len(seams))
        right.imshow(tiled[:, width - height // 2 : width + height // 2])
        right.set_title("at the seam")
        right.set_xticks([height // 2 - 0.5], ["seam"])
        for ax in (left, right):
            ax.set_yticks([])
    plt.show()


show_tiles(outputs)

# sphinx_gallery_thumbnail_number = 1

# %%
# The zero-padded generator draws a stripe down each seam: near its left and right edges every
# layer read zeros instead of texture, so the outer columns of each copy differ from the rest and
# do not continue into the copy next to them. The converted generator's copies run into each
# other without a visible seam. (Both have bands along the top and bottom, from the zeros along
# the height; the last section comes back to them.)
#
# How much does the seam stand out?
# ---------------------------------
#
# Measure it: the mean absolute difference between the last and the first column (the step
# across a seam), divided by the mean absolute difference between neighbouring columns inside
# the image, at least ``reach`` columns from the edges, where the two models agree. A ratio near 1
# means the seam is a step like any other. The table averages over the eight images and gives the
# range of the ratio from image to image; the plot shows, averaged the same way, the step from each
# column of the tiled image to the next.


def column_steps(image):
    """Mean absolute difference between each column and the next, over the batch, channels and rows."""
    return (image[..., 1:] - image[..., :-1]).abs().mean(dim=(0, 1, 2))


print(f"{'model':<22} {'seam step':>10} {'inside':>8} {'ratio':>6} {'per image':>12}")
for name, output in outputs.items():
    seam_step = (output[..., 0] - output[..., -1]).abs().mean().item()
    inside = column_steps(output[..., inner]).mean().item()
    per_image = (output[..., 0] - output[..., -1]).abs().mean(dim=(1, 2))
    per_image = per_image / (output[..., inner].diff(dim=-1).abs().mean(dim=(1, 2, 3)))
    low, high = per_image.min().item(), per_image.max().item()
    print(f"{name:<22} {seam_step:>10.3f} {inside:>8.3f} {seam_step / inside:>6.2f} {low:>5.2f} - {high:.2f}")

fig, ax = plt.subplots(figsize=(6.4, 2.8), layout="constrained")
for name, output in outputs.items():
    ax.plot(np.arange(1, tiles * width) - 0.5, column_steps(torch.cat([output] * tiles, dim=-1)).numpy(), label=name)
for seam in seams:
    ax.axvline(seam, color="grey", linestyle="--", linewidth=0.8)
ax.set_xlim(0, tiles * width - 1)
ax.set_xlabel("column of the tiled image")
ax.set_ylabel("step to the next column")
ax.legend()
plt.show()

# %%
# Across the seam of the zero-padded tiles the step is more than six times an ordinary step
# inside the image, in every one of the eight images, and the steps next to the seam are larger
# too. With the circular width the step across the seam is an ordinary step (ratio 1.0), and the
# two curves coincide everywhere but within ``reach`` columns of a seam.
#
# Why: the model commutes with a roll along the width
# ---------------------------------------------------
#
# A layer with a circular border along the width commutes with :func:`torch.roll` along the width:
# rolling the input by ``s`` columns and then applying the layer gives the layer's output rolled by
# ``s`` columns. So does a stack of such layers and pointwise activations. Check it for the whole
# generator, for a roll along the width and one along the height, by the largest absolute
# difference between ``model(roll(x))`` and ``roll(model(x))``. The table adds two other borders
# that wrap the width around: ``('reflect', 'circular')`` and ``'spherical'``
# (:class:`padmods.SphericalPadConv2d`), both discussed in the last section.

models = {
    "'zeros'": generator,
    "('zeros', 'circular')": seamless,
    "('reflect', 'circular')": padmods.convert(generator, ("reflect", "circular")),
    "'spherical'": padmods.convert(generator, "spherical"),
}
shifts = {"width": (width // 3, -1), "height": (height // 3, -2)}
errors = {}
print(f"{'model':<24} {'roll along the width':>21} {'roll along the height':>22}")
with torch.no_grad():
    for name, model in models.items():
        output = model(texture_input)
        for axis, (shift, dim) in shifts.items():
            rolled = model(torch.roll(texture_input, shift, dims=dim))
            errors[name, axis] = (rolled - torch.roll(output, shift, dims=dim)).abs().amax(dim=(0, 1))
        print(f"{name:<24} {errors[name, 'width'].max().item():>21.2e} {errors[name, 'height'].max().item():>22.2e}")

# %%
# The converted models commute with a roll along the width (the difference is 0 up to rounding) but
# not with a roll along the height, where they have a border; the original commutes with neither.
# Where does the original fail? The maps show the largest absolute difference at each pixel, over
# the batch and the channels, for the zero-padded and the converted generator, on one colour scale.

limit = max(errors[name, axis].max().item() for name in outputs for axis in shifts)
fig, axes = plt.subplots(2, 2, figsize=(6.4, 3.0), layout="constrained")
for row, name in zip(axes, outputs, strict=True):
    for ax, axis in zip(row, shifts, strict=True):
        mapped = ax.imshow(errors[name, axis].numpy(), cmap="magma", vmin=0, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name if len(name) < 12 else name.replace(", ", ",\n"))  # the model: one per row
for ax, axis in zip(axes[0], shifts, strict=True):
    ax.set_title(f"roll along the {axis}")  # the shift: one per column
fig.colorbar(mapped, ax=axes, shrink=0.9).set_label("|model(roll x) - roll model(x)|")
plt.show()

# %%
# The differences lie in bands ``reach`` pixels wide: along the image's own border, and along the
# line where the roll cut the input and glued its two ends together (a third of the way in). Inside
# such a band the model read zeros on one side and texture on the other. With the circular width
# both bands along the width are gone: cutting the input between any two columns and gluing the
# ends changes nothing, because the layers already treat the first column as the neighbour of the
# last.
#
# That is why the tile has no seam. The converted generator computes a function on a cylinder:
# its last and first columns are neighbours, computed from neighbouring input columns like any
# other pair, and rolling by half a width would put that pair in the middle of the image. Putting
# copies side by side only shows a pair that was there all along.
#
# Choosing the height's border
# ----------------------------
#
# The width's border makes the tile seamless; the height keeps whatever border the tuple gives
# it. With zeros, the bands along the top and bottom that the tiles above show are the same
# effect as the seam, turned by 90°. ``('reflect', 'circular')`` mirrors the image at the top and
# bottom instead: compare the step from the edge row to the next with the steps between
# neighbouring rows inside the image.


def row_steps(image):
    """Mean absolute difference between each row and the next, over the batch, channels and columns."""
    return (image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=(0, 1, 3))


with torch.no_grad():
    outputs["('reflect', 'circular')"] = models["('reflect', 'circular')"](texture_input)
print(f"{'model':<24} {'top step':>9} {'bottom step':>12} {'inside':>7}")
for name, output in list(outputs.items())[1:]:
    steps = row_steps(output)
    print(f"{name:<24} {steps[0].item():>9.3f} {steps[-1].item():>12.3f} {steps[reach:-reach].mean().item():>7.3f}")

show_tiles({name: outputs[name] for name in list(outputs)[1:]})

# %%
# With zeros along the height the step from the edge row to the next is more than twice an ordinary
# step; with ``'reflect'`` it is smaller than one, and the bands are gone while the seam stays
# invisible. (Mirroring makes the edge row the axis of a reflection, so its neighbours on both
# sides are alike and the step there is a little smaller than usual.)
#
# For a full 360° equirectangular panorama, whose top and bottom rows are the poles, use
# ``'spherical'`` (:class:`padmods.SphericalPadConv2d`): it wraps the width like ``'circular'``
# and continues past each pole on the opposite meridian (the width must be even). It commutes with
# a roll along the width too, as the table above shows: that roll is a rotation of the sphere about
# its axis. No border along the height commutes with a roll along the height, and none should: the
# top and bottom of a panorama are not neighbours.
#
# .. admonition:: References
#
#    - API: :func:`padmods.convert`, :class:`padmods.PerAxisPadConv2d`,
#      :class:`padmods.SphericalPadConv2d`, :func:`padmods.functional.pad`.
