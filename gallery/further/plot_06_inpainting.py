r""".. _gallery-inpainting:

Inpainting holes with partial convolution
=========================================

Liu et al. (2018), *Image Inpainting for Irregular Holes Using Partial Convolutions*, fill holes in
an image with a network whose every output is conditioned on the valid pixels only: each
convolution reads the image through a mask of valid pixels, rescales its output by how many valid
pixels its window saw, and hands the next layer an updated mask in which the hole has shrunk. A
plain convolution on the same masked image sees the holes as black pixels. padmods'
:class:`~padmods.PartialConv2d` does both jobs: called as ``layer(x)`` it is a drop-in
:class:`torch.nn.Conv2d` with partial-convolution *padding* at the image border, and called as
``layer(x, mask)`` it is partial convolution with holes and returns ``(output, updated_mask)``.

You will see what one masked layer does to an image with a hole, next to a plain convolution of
the masked image; then a five-layer partial-convolution network and the usual plain-convolution
baseline (the masked image plus the mask as an extra channel), trained identically
(three times each) to fill random strokes in small synthetic images, with their errors on
held-out images; what happens when the holes hold something other than zeros; and finally the
trained network used without a mask, as an ordinary stack of convolutions.
"""

import math
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import padmods
from padmods.functional import partial_conv

torch.manual_seed(0)
rng = np.random.default_rng(0)
generator = torch.Generator().manual_seed(0)

size = 32


def make_images(count):
    """Smooth ``(count, 1, size, size)`` images in [0, 1]: three plane waves plus three Gaussian blobs."""
    rows, cols = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    images = torch.zeros(count, size, size)
    for _ in range(3):
        freq_x, freq_y = 3 * torch.rand(2, count, 1, 1, generator=generator) + 0.5
        phase = 2 * math.pi * torch.rand(count, 1, 1, generator=generator)
        amplitude = torch.rand(count, 1, 1, generator=generator)
        images += amplitude * torch.sin(2 * math.pi * (freq_x * cols + freq_y * rows) + phase)
    for _ in range(3):
        centre_x, centre_y = torch.rand(2, count, 1, 1, generator=generator)
        width = 0.15 * torch.rand(count, 1, 1, generator=generator) + 0.05
        amplitude = 1.5 * torch.randn(count, 1, 1, generator=generator)
        images += amplitude * torch.exp(-((cols - centre_x) ** 2 + (rows - centre_y) ** 2) / (2 * width**2))
    low, high = images.amin((1, 2), keepdim=True), images.amax((1, 2), keepdim=True)
    return ((images - low) / (high - low)).unsqueeze(1)


def make_masks(count, strokes=5):
    """Masks ``(count, 1, size, size)`` of valid pixels (1) around random brush strokes (0), 3-5 pixels wide."""
    coords = torch.arange(size, dtype=torch.float32)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")
    pixels = torch.stack([cols, rows], -1)  # (size, size, 2) as (x, y)
    hole = torch.zeros(count, size, size, dtype=torch.bool)
    for _ in range(strokes):
        start = size * torch.rand(count, 2, generator=generator)
        angle = 2 * math.pi * torch.rand(count, generator=generator)
        length = 12 * torch.rand(count, generator=generator) + 8
        step = length[:, None] * torch.stack([angle.cos(), angle.sin()], -1)
        radius = (2 * torch.rand(count, generator=generator) + 3) / 2
        # distance of every pixel to the segment from start to start + step
        along = ((pixels - start[:, None, None]) * step[:, None, None]).sum(-1) / (step**2).sum(-1)[:, None, None]
        nearest = start[:, None, None] + along.clamp(0, 1)[..., None] * step[:, None, None]
        hole |= (pixels - nearest).norm(dim=-1) <= radius[:, None, None]
    return (~hole).float().unsqueeze(1)


def show(ax, image, title, mask=None):
    """Draw a ``(size, size)`` image on [0, 1]; pixels where ``mask`` is 0 are drawn white."""
    values = image.detach().numpy()
    if mask is not None:
        values = np.ma.masked_where(mask.numpy() == 0, values)
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    ax.imshow(values, cmap=cmap, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


# %%
# What one masked layer does
# --------------------------
#
# Take one smooth 32x32 image, cut a 10x12 hole into it, and convolve it with a 3x3 box filter
# (all taps 1/9, the mean of the window) three times over: once with ``F.conv2d``
# (:func:`torch.nn.functional.conv2d`) on the masked image, which sees the hole as zeros (dark
# purple in the top row), and once with :func:`padmods.functional.partial_conv` given the mask,
# feeding each layer's updated mask to the next. Look at the rim of the hole in both rows, and at
# the white area, where the partial convolution's mask still says "no value".

image = make_images(1)
mask = torch.ones(1, 1, size, size)
mask[..., 11:21, 9:21] = 0
box = torch.full((1, 1, 3, 3), 1 / 9)

plain, partial, masks = [image * mask], [image * mask], [mask]
for _ in range(3):
    plain.append(F.conv2d(plain[-1], box, padding=1))
    out, new_mask = partial_conv(partial[-1], box, padding=1, mask=masks[-1])
    partial.append(out)
    masks.append(new_mask)

fig, axes = plt.subplots(2, 4, figsize=(6.4, 3.5), layout="constrained")
for layer in range(4):
    title = f"after {layer} layer{'s' if layer > 1 else ''}" if layer else "masked input"
    show(axes[0, layer], plain[layer][0, 0], title)
    show(axes[1, layer], partial[layer][0, 0], title, mask=masks[layer][0, 0])
axes[0, 0].set_ylabel("F.conv2d")
axes[1, 0].set_ylabel("partial_conv")
plt.show()

for layer, layer_mask in enumerate(masks):
    print(f"hole pixels after {layer} layers: {int((layer_mask == 0).sum())}")

# %%
# Each partial layer shrinks the hole by one pixel on every side (10x12 = 120 pixels, then 8x10,
# 6x8, 4x6), and the pixels it fills are at the level of their valid neighbours: each is the mean
# of the valid pixels its window saw (the box filter's sum, rescaled by 9 over their number). The
# plain convolution fills nothing: the dark hole leaks outwards into a dark rim that widens with
# every layer. Its outer frame darkens too, since zero padding is another border of zeros; the
# partial convolution rescales its border as it rescales the rim of its hole.
#
# A profile along the hole's middle row makes the difference measurable. The dashed line is what
# the three box filters give on the image *without* a hole, where a perfect filling would lead.

row = 15
reference = image
for _ in range(3):
    reference = F.conv2d(reference, box, padding=1)
columns = np.arange(size)

fig, ax = plt.subplots(figsize=(5.6, 2.6), layout="constrained")
ax.axvspan(8.5, 20.5, color="0.9", label="hole")
ax.plot(columns, image[0, 0, row].numpy(), color="black", label="image")
ax.plot(columns, reference[0, 0, row].numpy(), "--", color="0.4", label="box filters, no hole")
ax.plot(columns, plain[3][0, 0, row].numpy(), color="tab:red", label="F.conv2d, 3 layers")
still_open = masks[3][0, 0, row] == 0
ax.plot(
    columns,
    np.ma.masked_where(still_open.numpy(), partial[3][0, 0, row].numpy()),
    color="tab:blue",
    marker=".",
    label="partial_conv, 3 layers",
)
ax.set_xlabel(f"column (row {row})")
ax.set_ylabel("value")
ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
plt.show()

inner = (masks[3][0, 0] == 1) & (mask[0, 0] == 0)  # the hole pixels partial_conv has filled
rim = (F.conv2d(1 - mask, torch.ones(1, 1, 7, 7), padding=3)[0, 0] > 0) & (mask[0, 0] == 1)
for name, result in (("F.conv2d", plain[3]), ("partial_conv", partial[3])):
    filled = (result - reference)[0, 0][inner].abs().mean().item()
    near = (result - reference)[0, 0][rim].abs().mean().item()
    print(f"{name:<13} mean |error| vs no hole: filled pixels {filled:.3f}, valid pixels near the hole {near:.3f}")

# %%
# Away from the hole both convolutions agree with the reference. Near it the plain convolution
# drops towards 0 as its windows take in more of the hole, up to three pixels *outside* the hole;
# the partial convolution stays close to the reference there (mean error 0.018 on the valid
# pixels within three pixels of the hole, against 0.060) and carries the image's values three
# pixels into the hole, leaving the middle open (no markers) for later layers. In the pixels it
# fills it is off by 0.14 on average, where the plain convolution, near 0 there, is off by 0.37:
# averaging the pixels at the rim continues the image only roughly, and the far side of the hole
# is still unseen. Filling holes well takes more layers and learned weights.
#
# Training a small inpainting network
# -----------------------------------
#
# The network is five 3x3 :class:`~padmods.PartialConv2d` layers of 8 channels with ReLUs in
# between. The mask goes through it next to the image, ``x, mask = layer(x, mask)``; since each
# layer shrinks the holes by one pixel on every side, the five layers close holes up to 10 pixels
# across. The baseline is the same stack of :class:`torch.nn.Conv2d` with zero padding, given the
# masked image and the mask as a second input channel, so that it can tell a black pixel from a
# hole. The holes are random brush strokes, 3 to 5 pixels wide.
#
# Both networks learn to minimise the mean squared error over the hole pixels, with 150 Adam steps
# on batches of 16 drawn from 512 training images and masks (learning rate 0.01, divided by 10 for
# the last 30 steps). The filled image is the network's output in the holes and the input
# elsewhere. One training run is one sample of a noisy process, so each network is trained three
# times, with seeds 0, 1 and 2 for its initial weights and for the order of its batches; the two
# networks see the same batches for the same seed.


class PartialNet(nn.Module):
    """Partial convolutions that thread the mask through: ``(image, mask) -> (output, final mask)``."""

    def __init__(self, width=8, layers=5):
        super().__init__()
        channels = [1] + [width] * (layers - 1) + [1]
        self.convs = nn.ModuleList(
            padmods.PartialConv2d(c_in, c_out, 3, padding=1) for c_in, c_out in pairwise(channels)
        )

    def forward(self, x, mask):
        """Fill the holes of ``x`` where ``mask`` is 0; return the output and the last updated mask."""
        for k, conv in enumerate(self.convs):
            x, mask = conv(x, mask)
            if k < len(self.convs) - 1:
                x = F.relu(x)
        return x, mask


class PlainNet(nn.Module):
    """The same stack of zero-padded convolutions, reading the mask as an extra input channel."""

    def __init__(self, width=8, layers=5):
        super().__init__()
        channels = [2] + [width] * (layers - 1) + [1]
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c_out, 3, padding=1) for c_in, c_out in pairwise(channels))

    def forward(self, x, mask):
        """Fill the holes of ``x`` where ``mask`` is 0; return the output and ``None`` (no mask)."""
        x = torch.cat([x, mask], dim=1)
        for k, conv in enumerate(self.convs):
            x = conv(x)
            if k < len(self.convs) - 1:
                x = F.relu(x)
        return x, None


def hole_mse(output, target, mask):
    """Mean squared error over the hole pixels (mask 0) of a batch."""
    holes = 1 - mask
    return ((output - target) ** 2 * holes).sum() / holes.sum()


def train(model, seed, steps=150, batch=16):
    """Adam on the hole MSE, batches drawn by a generator seeded with ``seed``; returns the losses."""
    draw = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[steps - 30], gamma=0.1)
    history = []
    for _ in range(steps):
        index = torch.randint(len(train_images), (batch,), generator=draw)
        target, mask = train_images[index], train_masks[index]
        loss = hole_mse(model(target * mask, mask)[0], target, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        history.append(loss.item())
    return np.array(history)


train_images, train_masks = make_images(512), make_masks(512)
test_images, test_masks = make_images(128), make_masks(128)
print(f"hole fraction: training {1 - train_masks.mean().item():.3f}, held out {1 - test_masks.mean().item():.3f}")

seeds = (0, 1, 2)
models, histories = {}, {}
for name, net in (("partial conv", PartialNet), ("plain conv + mask", PlainNet)):
    models[name], histories[name] = [], []
    for seed in seeds:
        torch.manual_seed(seed)
        models[name].append(net())
        histories[name].append(train(models[name][-1], seed))

# %%
# The training losses of the six runs, averaged over 15 steps (blue: partial convolution, red:
# plain convolution). Which colour is lower, and does that hold for every seed?

fig, ax = plt.subplots(figsize=(4.6, 2.5), layout="constrained")
for colour, (name, runs) in zip(("tab:blue", "tab:red"), histories.items(), strict=True):
    for seed, history in zip(seeds, runs, strict=True):
        label = name if seed == seeds[0] else None
        ax.plot(np.convolve(history, np.ones(15) / 15, mode="valid"), color=colour, linewidth=1, label=label)
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("hole MSE (training)")
ax.legend()
plt.show()

# %%
# In each pair of runs with the same seed the partial network's training loss is the lower one for
# most of training, and at the end: by little with seeds 0 and 1, by about a third with seed 2.
# A training loss is measured on the batches a network is trained on, though; the held-out images
# tell more.
#
# Filling held-out holes
# ----------------------
#
# On 128 held-out images with new strokes, compare the hole MSE of every run with the simplest
# filling there is, the mean of each image's valid pixels. Then three of the held-out images,
# filled by the two networks trained with seed 0: in each row the masked input (holes white), what
# each network fills in, and the ground truth, with the hole MSE of that image in the titles.

filled, final_masks = {}, {}
with torch.no_grad():
    for name, runs in models.items():
        outputs = [model(test_images * test_masks, test_masks) for model in runs]
        filled[name] = [torch.where(test_masks.bool(), test_images, output) for output, _ in outputs]
        final_masks[name] = outputs[0][1]
mean_fill = (test_images * test_masks).sum((2, 3), keepdim=True) / test_masks.sum((2, 3), keepdim=True)
print(f"{'hole MSE':<18}" + "".join(f"{f'seed {seed}':>8}" for seed in seeds) + f"{'mean':>8}")
print(f"{'mean of valid':<18}" + " " * 8 * len(seeds) + f"{hole_mse(mean_fill, test_images, test_masks).item():>8.4f}")
for name, results in filled.items():
    errors = [hole_mse(result, test_images, test_masks).item() for result in results]
    print(f"{name:<18}" + "".join(f"{error:>8.4f}" for error in errors) + f"{np.mean(errors):>8.4f}")
unreached = int((final_masks["partial conv"] == 0).sum())
print(f"hole pixels the partial net never reached: {unreached} of {int((test_masks == 0).sum())}")

examples = rng.choice(len(test_images), 3, replace=False)
fig, axes = plt.subplots(3, 4, figsize=(6.0, 4.9), layout="constrained")
for row_axes, k in zip(axes, examples, strict=True):
    target, mask = test_images[k], test_masks[k]
    show(row_axes[0], target[0], "masked input", mask=mask[0])
    for ax, (name, results) in zip(row_axes[1:3], filled.items(), strict=True):
        show(ax, results[0][k, 0], f"{name}\nhole MSE {hole_mse(results[0][k], target, mask).item():.4f}")
    show(row_axes[3], target[0], "ground truth")
plt.show()

# sphinx_gallery_thumbnail_number = 1

# %%
# Every run fills the held-out holes far better than the mean of the valid pixels (a hole MSE of
# about 0.01, against 0.042). Between the two networks the table shows no clear winner: with
# seeds 0 and 1 their errors are within 5% of each other (the plain network slightly ahead with
# seed 1), with seed 2 the partial network's is a third lower, and their means, 0.0095 and 0.0108,
# differ by less than the runs of either network differ from seed to seed. Three runs of 150 steps
# on 32x32 images say nothing about large networks trained on photographs; what they do say is
# that in this small setting, partial convolution buys at most a small gain in accuracy over
# handing a plain network the mask.
#
# The three images, filled by the seed-0 networks, show the same picture. Both networks carry the
# stripes and blobs of the image into the holes, lose contrast where strokes are wide or cross, and
# leave faint traces of the strokes; each has the lower error on some of the images. The final
# mask of the partial network leaves 1 of the 28385 held-out hole pixels unreached, a pixel more
# than five pixels away from every valid one, and its output there is 0.
#
# What the holes hold
# -------------------
#
# A partial convolution never reads the pixels under a hole. The plain network reads them, and
# was trained with zeros there. Fill the held-out holes with uniform noise instead of zeros and run
# the seed-0 networks again: does the output change?

noise = torch.rand(test_images.shape, generator=generator)
noisy_input = torch.where(test_masks.bool(), test_images, noise)
with torch.no_grad():
    for name, runs in models.items():
        model = runs[0]
        output = model(noisy_input, test_masks)[0]
        error = hole_mse(output, test_images, test_masks).item()
        unchanged = torch.equal(output, model(test_images * test_masks, test_masks)[0])
        print(f"{name:<20} hole MSE {error:.4f}, output unchanged: {unchanged}")

# %%
# The partial network's output is exactly the same: its layers set every pixel under the mask to 0
# before they convolve, whatever was there, and each later layer does the same with its updated
# mask. The plain network's hole MSE goes from under 0.01 to about 0.96, far worse than filling with
# the mean: it learned from holes that held 0 and reads the noise as image. Zeroing the holes
# before a plain network is easy, so this is no verdict on accuracy; it shows what conditioning on
# the valid pixels only means in practice: the partial network depends on no convention for what
# a hole contains.
#
# Without a mask: a drop-in convolution
# -------------------------------------
#
# Called without a mask, :class:`~padmods.PartialConv2d` is an ordinary convolution with
# partial-convolution padding, so its layers fit in :class:`torch.nn.Sequential` like any
# :class:`torch.nn.Conv2d`. Here are the trained layers of the partial network in one, run on
# images with no holes, and compared with the network given an all-ones mask:

convs = list(models["partial conv"][0].convs)
sequential = nn.Sequential(*[module for conv in convs[:-1] for module in (conv, nn.ReLU())], convs[-1])
full = test_images[:8]
with torch.no_grad():
    drop_in = sequential(full)
    with_mask = models["partial conv"][0](full, torch.ones_like(full))[0]
print(f"output {tuple(drop_in.shape)}, same as with an all-ones mask: {torch.allclose(drop_in, with_mask, atol=1e-6)}")

# %%
# The two agree: with nothing masked, the mask only marks the image border, and that is the
# padding the layer applies by itself. (They would differ for an output whose window lay entirely
# on the padding, 0 with a mask and the bias without; 3x3 windows with ``padding=1`` have none.)
#
# .. admonition:: References
#
#    - API: :class:`padmods.PartialConv2d`, :func:`padmods.functional.partial_conv`.
#    - G\. Liu, F. A. Reda, K. J. Shih, T.-C. Wang, A. Tao, B. Catanzaro, *Image Inpainting for
#      Irregular Holes Using Partial Convolutions*, ECCV 2018, `arXiv:1804.07723
#      <https://arxiv.org/abs/1804.07723>`_.
#    - G\. Liu, K. J. Shih, T.-C. Wang, F. A. Reda, K. Sapra, Z. Yu, A. Tao, B. Catanzaro,
#      *Partial Convolution based Padding*, 2018, `arXiv:1811.11718 <https://arxiv.org/abs/1811.11718>`_;
#      see :ref:`references <ref-liu2018partial>`.
