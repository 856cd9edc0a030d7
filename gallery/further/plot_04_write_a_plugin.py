r""".. _gallery-write-a-plugin:

How do I add my own padding mode?
=================================

A padding mode is a subclass of :class:`padmods.PaddedConv2d` that says what goes beyond the
border, registered under a name with :func:`padmods.register`. From then on it works everywhere a
built-in mode does: :func:`padmods.create`, :func:`padmods.convert` and the experiments of
:mod:`padmods.analysis`.

You will see a *symmetric* padding mode written in a dozen lines: it mirrors the image including
its edge pixel, where ``'reflect'`` mirrors it excluding the edge. padmods ships this border as
the built-in ``'symmetric'`` (:class:`padmods.SymmetricPadConv2d`); writing it yourself, under the
name ``'my-symmetric'``, shows everything a plugin needs, and the built-in gives a reference to
check it against. Then what it puts in the border
of a small ``torch.arange`` image, how it does in the position-leak and pixel-impact experiments
(:ref:`Experiment 1 <gallery-position-leak>` and :ref:`Experiment 2 <gallery-pixel-impact>`), and
how a package publishes such a mode so that ``padmods`` finds it after a ``pip install``.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

import padmods
from padmods.analysis import conv_stack, impact_map, position_leak
from padmods.functional import pad, resolve_padding

torch.manual_seed(0)
rng = np.random.default_rng(0)

# %%
# The layer: one class method
# ---------------------------
#
# :class:`~padmods.PaddedConv2d` resolves the padding (ints, pairs, ``'same'`` with any stride,
# ``'valid'``) and calls the class method ``pad(input, pairs)`` with the amounts already worked
# out as ``((top, bottom), (left, right))``; the convolution then runs with padding 0. So ``pad``
# is all a mode needs. Symmetric padding flips the first ``before`` and the last ``after`` rows
# (then columns) and glues them on, so ``[a b c d]`` padded by 2 becomes ``[b a | a b c d | d c]``.
# Because the edge pixel itself is mirrored, the padding may be as large as the input.
# ``check_padding`` lets the layer reject larger padding with a message that names the layer.


@padmods.register("my-symmetric")
class SymmetricPadConv2d(padmods.PaddedConv2d):
    """2D convolution over a border that mirrors the image, the edge pixel included."""

    @classmethod
    def pad(cls, input, pairs):
        """Mirror ``before``/``after`` rows, then columns, of a 4-D ``input`` onto its sides."""
        for dim, (before, after) in zip((-2, -1), pairs, strict=True):
            size = input.shape[dim]
            head = input.narrow(dim, 0, before).flip(dim)
            tail = input.narrow(dim, size - after, after).flip(dim)
            input = torch.cat([head, input, tail], dim=dim)
        return input

    @classmethod
    def check_padding(cls, pairs, sizes, where):
        """Symmetric padding can mirror at most the whole input along each axis."""
        for (before, after), size in zip(pairs, sizes, strict=True):
            if max(before, after) > size:
                raise ValueError(f"{where}: symmetric padding {(before, after)} exceeds the input size {size}")


print(padmods.available())
print(padmods.create("my-symmetric", 3, 8, 5, padding="same"))

x = torch.randn(2, 3, 9, 9)
mine, builtin = padmods.create("my-symmetric", 3, 8, 5, padding=2), padmods.SymmetricPadConv2d(3, 8, 5, padding=2)
builtin.load_state_dict(mine.state_dict())
print("equal to the built-in 'symmetric':", torch.allclose(mine(x), builtin(x), atol=1e-6))

# %%
# The decorator put ``'my-symmetric'`` into the registry next to the built-in modes,
# :func:`padmods.create` builds it by name like any of them, and it computes what the built-in
# ``'symmetric'`` computes.
#
# What it puts in the border
# --------------------------
#
# Pad a 4x4 ``torch.arange`` image by 2 on every side, once with the new mode and once with
# ``'reflect'`` (through :func:`padmods.functional.pad`, which pads exactly as the layer would).
# The original image is outlined; look at the first row and column beyond the outline.

image = torch.arange(16.0).view(1, 1, 4, 4)
padded = {
    "'symmetric'": SymmetricPadConv2d.pad(image, ((2, 2), (2, 2))),
    "'reflect'": pad(image, resolve_padding(2, image.shape[-2:], 5), mode="reflect"),
}

fig, axes = plt.subplots(1, 2, figsize=(5.6, 2.9), layout="constrained")
for ax, (name, values) in zip(axes, padded.items(), strict=True):
    ax.imshow(values[0, 0].numpy(), cmap="viridis", vmin=0, vmax=15)
    for (i, j), value in np.ndenumerate(values[0, 0].numpy()):
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", color="white" if value < 9 else "black")
    ax.add_patch(Rectangle((1.5, 1.5), 4, 4, fill=False, edgecolor="red", linewidth=2))
    ax.set_title(name)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

print("first padded row, 'symmetric':", padded["'symmetric'"][0, 0, 2].tolist())
print("first padded row, 'reflect':  ", padded["'reflect'"][0, 0, 2].tolist())

# sphinx_gallery_thumbnail_number = 1

# %%
# In the image's first row, ``'symmetric'`` puts a copy of the edge pixel next to it (1, 0 | 0, 1,
# 2, 3 | 3, 2) while ``'reflect'`` starts the mirror image at the edge pixel's neighbour (2, 1 | 0,
# 1, 2, 3 | 2, 1). That is also why ``'reflect'`` needs the padding to be smaller than the input,
# while the symmetric mode can mirror the whole input:

big = SymmetricPadConv2d(1, 1, 9, padding=4, bias=False)
print("symmetric, padding 4 on a 4x4 input:", tuple(big(image).shape))
try:
    padmods.ReflectPadConv2d(1, 1, 9, padding=4, bias=False)(image)
except ValueError as error:
    print("reflect, padding 4 on a 4x4 input:", error)

# %%
# The pixel-impact experiment
# ---------------------------
#
# With a 3x3 kernel the padding is one pixel wide, and mirroring one pixel including the edge is
# the same as repeating the edge pixel: ``'symmetric'`` and ``'replicate'`` are then the same layer.
# The check below uses the five-layer 3x3 stack of :ref:`Experiment 2 <gallery-pixel-impact>`. A 5x5 kernel
# (padding 2) tells the modes apart, so the maps compare three 5x5 layers on a 28x28 image, with
# one shared colour scale.

size = 28
same_3x3 = torch.equal(
    impact_map(conv_stack("my-symmetric", layers=5), (1, size, size)),
    impact_map(conv_stack("replicate", layers=5), (1, size, size)),
)
print("3x3 kernels: 'symmetric' and 'replicate' have equal impact maps:", same_3x3)

modes = ["zeros", "reflect", "replicate", "my-symmetric"]
impacts = {mode: impact_map(conv_stack(mode, layers=3, kernel_size=5), (1, size, size)) for mode in modes}
vmax = max(impact.max().item() for impact in impacts.values())

fig, axes = plt.subplots(1, 4, figsize=(6.4, 1.9), layout="constrained")
for ax, (mode, impact) in zip(axes, impacts.items(), strict=True):
    mapped = ax.imshow(impact.numpy(), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_title(repr(mode))
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(mapped, ax=axes, shrink=0.9, label="impact")
plt.show()

centre = size // 2
print(f"{'mode':<13} {'corner':>8} {'edge-centre':>12} {'centre':>8} {'min':>8} {'max':>8}")
for mode, impact in impacts.items():
    corner, edge, middle = impact[0, 0].item(), impact[0, centre].item(), impact[centre, centre].item()
    low, high = impact.min().item(), impact.max().item()
    print(f"{mode:<13} {corner:>8.0f} {edge:>12.0f} {middle:>8.0f} {low:>8.0f} {high:>8.0f}")

# %%
# ``'symmetric'`` gives every pixel the same impact (its minimum equals its maximum): the reads an
# edge pixel misses because a window hangs over the border, it gets back through its mirror image
# in the border. ``'replicate'`` over-weights the edge pixels, which it copies twice into a
# 2-pixel border, and ``'reflect'`` the pixels just inside the edge, whose copies stand in for the
# edge pixel.
#
# The position-leak experiment
# ----------------------------
#
# :func:`~padmods.analysis.position_leak` takes a mode name, so the new mode runs in it unchanged.
# With 3x3 kernels ``'symmetric'`` reproduces ``'replicate'`` to the last digit (same layer, same
# seed); with 5x5 kernels the two differ.

print(f"{'mode':<13} {'kernel':>6} {'balanced accuracy':>18} {'margin':>8}")
leaks = {}
for kernel_size in (3, 5):
    for mode in ("replicate", "my-symmetric"):
        leaks[mode, kernel_size] = position_leak(mode, kernel_size=kernel_size)
        result = leaks[mode, kernel_size]
        print(f"{mode:<13} {kernel_size:>6} {result.balanced_accuracy:>18.3f} {result.margin:>8.3f}")

scores = leaks["my-symmetric", 5].scores
limit = scores.max().item()
fig, ax = plt.subplots(figsize=(3.6, 3.0), layout="constrained")
mapped = ax.imshow(scores.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
ax.plot(0, 0, "o", markersize=9, markerfacecolor="none", markeredgecolor="black")
ax.set_title("'my-symmetric', 5x5 kernel:\nscore per position")
ax.set_xticks([])
ax.set_yticks([])
fig.colorbar(mapped, ax=ax, extend="min")
plt.show()

# %%
# Although every pixel has the same impact under an all-ones kernel, a trained kernel is not
# all ones: the edge pixel meets some taps twice (once directly, once mirrored) and misses
# others, so the symmetric mode still lets the model single out the corner (circled).
#
# Publishing the mode from a package
# ----------------------------------
#
# In a script, the decorator is enough. A package declares its modes in the ``padmods.modes``
# entry-point group of its ``pyproject.toml`` instead, each name pointing at a layer class:
#
# .. code-block:: toml
#
#    [project.entry-points."padmods.modes"]
#    my-symmetric = "padmods_my_symmetric.layers:SymmetricPadConv2d"
#
# After ``pip install padmods-my-symmetric``, ``padmods.get("my-symmetric")``, ``convert(model,
# "my-symmetric")`` and :func:`padmods.available` find the mode without any import in user code.
# ``import padmods`` itself never loads plugins: the group is read once, on the first call to
# :func:`padmods.available` or the first :func:`padmods.get` of a name that is not registered yet.
# A plugin that fails to import raises no error there; it is skipped with a
# :class:`padmods.registry.PluginWarning` that names it. Inside the package, leave out the
# ``@padmods.register`` decorator: the entry point registers the class under its name.
#
# Cleaning up
# -----------
#
# This page registered ``'my-symmetric'`` for its own use; remove it again so that the registry holds
# only the installed modes.

padmods.registry.unregister("my-symmetric")
print(padmods.available())

# %%
# .. admonition:: References
#
#    - API: :class:`padmods.PaddedConv2d`, :func:`padmods.register`, :func:`padmods.registry.unregister`,
#      :func:`padmods.available`, :func:`padmods.create`, :func:`padmods.functional.pad`,
#      :func:`padmods.analysis.impact_map`, :func:`padmods.analysis.conv_stack`,
#      :func:`padmods.analysis.position_leak`, :class:`padmods.registry.PluginWarning`.
#    - :ref:`Scheidl (2021) <ref-scheidl2021>`, *Does padding matter in deep learning models?*
#    - Entry points: the `Python packaging guide on plugins
#      <https://packaging.python.org/en/latest/guides/creating-and-discovering-plugins/>`_.
