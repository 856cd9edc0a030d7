"""torch.func transforms, forward-mode AD and autocast for every mode, below and above each fast-path threshold.

The eager engine has paths that only plain calls take (see ``padmods._trace``): circular padding's
own autograd Function (CPU inputs of 4096 elements or more), the 1->1-channel convolution folded
into a depthwise one (batch * H * W >= 16384), CoordConv's term added in place into a single
image's output and its unflattened factors (above ``_coord.FLAT_LIMIT``), and partial
convolution's in-place rescaling. Each case runs at a size below and above them. The oracles are
plain reverse-mode autograd, loops over the batch, and central differences in float64, which are
exact to rounding for these layers: a convolution is affine in its input and in its weight.
"""

from __future__ import annotations

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch.func import functional_call, grad, jacfwd, jvp, stack_module_state, vmap

import padmods
from padmods import _conv, _coord

from conftest import assert_close

#: (name, spatial dims, batch, in channels, out channels, spatial size). "large" sizes take every
#: fast path that applies to the mode: circular's Function, CoordConv's unflattened factors on a
#: single image, and (1->1 channels) the depthwise fold.
SIZES = {
    1: {"small": (2, 2, 3, (9,)), "large": (1, 2, 3, (24_000,))},
    2: {"small": (2, 2, 3, (6, 8)), "large": (1, 2, 3, (64, 64)), "depthwise": (4, 1, 1, (64, 64))},
    3: {"small": (2, 2, 3, (4, 5, 6)), "large": (1, 2, 3, (16, 16, 16))},
}

MODES = [*padmods.available(), ("zeros", "circular")]


def cases():
    for mode in MODES:
        dims_of_mode = (len(mode),) if isinstance(mode, tuple) else padmods.registry.dimensions(mode)
        for dims in dims_of_mode:
            for size in SIZES[dims]:
                yield pytest.param(mode, dims, size, id=f"{mode}-{dims}d-{size}")


CASES = list(cases())


def make(mode, dims, size, seed=0, dtype=torch.float64):
    """A layer with 'same' padding (spherical needs an even width) and an input of the case's size."""
    batch, cin, cout, spatial = SIZES[dims][size]
    torch.manual_seed(seed)
    layer = padmods.create(mode, cin, cout, 3, dim=dims, padding="same").to(dtype)
    x = torch.randn(batch, cin, *spatial, dtype=dtype)
    return layer, x


def test_the_large_sizes_take_the_fast_paths():
    """Guards the case table: if a threshold moves, the "large" cases must still cross it."""
    for dims in (1, 2, 3):
        batch, cin, _, spatial = SIZES[dims]["large"]
        assert batch * cin * torch.Size(spatial).numel() >= _conv._BORDER_PAD_MIN_ELEMENTS
        assert dims * 3**dims * torch.Size(spatial).numel() > _coord.FLAT_LIMIT
        batch, cin, _, spatial = SIZES[dims]["small"]
        assert batch * cin * torch.Size(spatial).numel() < _conv._BORDER_PAD_MIN_ELEMENTS
        assert dims * 3**dims * torch.Size(spatial).numel() <= _coord.FLAT_LIMIT
    batch, _, _, (height, width) = SIZES[2]["depthwise"]
    assert _conv._runs_depthwise(torch.empty(batch, 1, height, width), torch.empty(1, 1, 3, 3), 1)


def central_difference(f, x, t, eps=1e-3):
    """(f(x + eps t) - f(x - eps t)) / 2 eps: exact to rounding for an affine ``f``."""
    with torch.no_grad():
        return (f(x + eps * t) - f(x - eps * t)) / (2 * eps)


@pytest.mark.deploy("torch.func.grad")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_grad_equals_autograd(mode, dims, size):
    layer, x = make(mode, dims, size)
    probe = torch.randn_like(layer(x))
    got = grad(lambda x: (layer(x) * probe).sum())(x.requires_grad_())
    (want,) = torch.autograd.grad((layer(x) * probe).sum(), x)
    assert_close(got, want)


@pytest.mark.deploy("torch.func.grad")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_grad_of_parameters_equals_autograd(mode, dims, size):
    layer, x = make(mode, dims, size)
    params = {name: p.detach() for name, p in layer.named_parameters()}
    got = grad(lambda p: functional_call(layer, p, (x,)).square().sum())(params)
    want = torch.autograd.grad(layer(x).square().sum(), list(layer.parameters()))
    for name, w in zip(params, want, strict=True):
        assert_close(got[name], w)


@pytest.mark.deploy("torch.func.vmap")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_vmap_over_inputs_equals_a_loop(mode, dims, size):
    layer, x = make(mode, dims, size)
    xs = torch.stack([x, 2 * x + 1])
    with torch.no_grad():
        assert_close(vmap(layer)(xs), torch.stack([layer(a) for a in xs]))


@pytest.mark.deploy("torch.func.vmap")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_vmap_over_stacked_parameters_equals_a_loop(mode, dims, size):
    """Model ensembling: ``stack_module_state`` + ``functional_call`` under ``vmap``."""
    models = [make(mode, dims, size, seed=seed)[0] for seed in range(3)]
    _, x = make(mode, dims, size)
    params, buffers = stack_module_state(models)

    def one(params, buffers, x):
        return functional_call(models[0], (params, buffers), (x,))

    got = vmap(one, in_dims=(0, 0, None))(params, buffers, x)
    with torch.no_grad():
        assert_close(got, torch.stack([model(x) for model in models]))


@pytest.mark.deploy("torch.func.jvp / jacfwd")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_jvp_equals_central_differences(mode, dims, size):
    layer, x = make(mode, dims, size)
    t = torch.randn_like(x)
    out, tangent = jvp(layer, (x,), (t,))
    with torch.no_grad():
        assert_close(out, layer(x))
    assert_close(tangent, central_difference(layer, x, t))


@pytest.mark.deploy("torch.func.jvp / jacfwd")
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_jacfwd_of_the_weight_equals_autograd(mode, dims, size):
    """jacfwd is vmap over jvp; its columns are checked against the reverse-mode Jacobian."""
    layer, x = make(mode, dims, size)
    weight = layer.weight.detach()
    probe = torch.randn_like(layer(x))

    def f(w):
        return (functional_call(layer, {"weight": w}, (x,)) * probe).sum(dim=tuple(range(1, probe.dim())))

    got = jacfwd(f)(weight)
    want = torch.autograd.functional.jacobian(f, weight)
    assert_close(got, want)


@pytest.mark.deploy("forward-mode AD")
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize(("mode", "dims", "size"), CASES)
def test_forward_ad_equals_central_differences(mode, dims, size, requires_grad):
    """With ``requires_grad`` the eager fast paths that autograd takes (circular's Function) meet forward AD."""
    layer, x = make(mode, dims, size)
    t = torch.randn_like(x)
    x.requires_grad_(requires_grad)
    with fwAD.dual_level():
        out = layer(fwAD.make_dual(x, t))
        tangent = fwAD.unpack_dual(out).tangent
    assert_close(tangent, central_difference(layer, x.detach(), t))
    if requires_grad:  # the same output still differentiates backwards
        probe = torch.randn_like(out)
        (got,) = torch.autograd.grad((out * probe).sum(), x)
        (want,) = torch.autograd.grad((layer(x) * probe).sum(), x)
        assert_close(got, want)


@pytest.mark.parametrize("size", [(8, 9), (64, 65)])
def test_circular_function_under_jacfwd_of_grad(size):
    """Forward over reverse (Hessian-vector products): the Function's backward is batched and pushed forward."""
    layer = padmods.CircularPadConv2d(2, 2, 3, padding=2).double()
    x = torch.randn(1, 2, *size, dtype=torch.float64)
    scale = torch.ones(2, dtype=torch.float64)

    def loss(s, x):
        return layer(x * s.view(1, -1, 1, 1)).square().sum()

    got = jacfwd(grad(loss), argnums=0)(scale, x)
    want = torch.autograd.functional.hessian(lambda s: loss(s, x), scale)
    assert_close(got, want)


# ---- autocast ----------------------------------------------------------------------------------

#: "large": a single image with C_out * (output elements) >= 131072 (where CoordConv once crashed
#: under autocast) and over circular's 4096-element threshold; the layers have stride 2.
AUTOCAST_SIZES = {
    1: {"small": (2, 2, 4, (9,)), "large": (1, 3, 16, (20_000,))},
    2: {"small": (2, 2, 4, (6, 8)), "large": (1, 3, 128, (64, 64)), "depthwise": (4, 1, 1, (64, 64))},
    3: {"small": (2, 2, 4, (4, 5, 6)), "large": (1, 2, 256, (16, 16, 16))},
}


def test_the_large_autocast_sizes_cross_the_thresholds():
    for sizes in AUTOCAST_SIZES.values():
        batch, cin, cout, spatial = sizes["large"]
        outputs = torch.Size([-(-n // 2) for n in spatial]).numel()
        assert batch == 1
        assert cout * outputs >= 131_072
        assert batch * cin * torch.Size(spatial).numel() >= _conv._BORDER_PAD_MIN_ELEMENTS


def autocast_cases():
    for mode in MODES:
        dims_of_mode = (len(mode),) if isinstance(mode, tuple) else padmods.registry.dimensions(mode)
        for dims in dims_of_mode:
            for size in AUTOCAST_SIZES[dims]:
                yield pytest.param(mode, dims, size, id=f"{mode}-{dims}d-{size}")


@pytest.mark.deploy("CPU autocast (bfloat16)")
@pytest.mark.parametrize("no_grad", [False, True])
@pytest.mark.parametrize(("mode", "dims", "size"), list(autocast_cases()))
def test_cpu_autocast_bfloat16(mode, dims, size, no_grad):
    """Under CPU bfloat16 autocast every mode computes in bfloat16, close to float32, forward and backward."""
    batch, cin, cout, spatial = AUTOCAST_SIZES[dims][size]
    torch.manual_seed(0)
    layer = padmods.create(mode, cin, cout, 3, dim=dims, padding="same", stride=2)
    x = torch.randn(batch, cin, *spatial, requires_grad=not no_grad)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.set_grad_enabled(not no_grad):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    with torch.no_grad():
        want = layer(x)
    torch.testing.assert_close(out.float(), want, rtol=0.05, atol=0.05)
    if not no_grad:
        probe = torch.randn_like(want)
        (got,) = torch.autograd.grad((out.float() * probe).sum(), x)
        (expected,) = torch.autograd.grad((layer(x) * probe).sum(), x)
        torch.testing.assert_close(got, expected, rtol=0.05, atol=0.1)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_partial_conv_with_holes_under_vmap_and_jvp(dims):
    """vmap over masks alone batches the rescaling but not the convolution: no in-place update."""
    batch, cin, cout, spatial = SIZES[dims]["small"]
    torch.manual_seed(0)
    layer = padmods.create("partial", cin, cout, 3, dim=dims, padding=1).double()
    x = torch.randn(batch, cin, *spatial, dtype=torch.float64)
    masks = (torch.rand(3, batch, 1, *spatial) > 0.4).double()
    got, got_mask = vmap(layer, in_dims=(None, 0))(x, masks)
    with torch.no_grad():
        loops = [layer(x, m) for m in masks]
    assert_close(got, torch.stack([out for out, _ in loops]))
    assert torch.equal(got_mask, torch.stack([m for _, m in loops]))
    t = torch.randn_like(x)
    (_, _), (tangent, _) = jvp(lambda x: layer(x, masks[0]), (x,), (t,))
    assert_close(tangent, central_difference(lambda x: layer(x, masks[0])[0], x, t))


@pytest.mark.deploy("CPU autocast (bfloat16)")
@pytest.mark.parametrize("per_channel", [False, True], ids=["one-channel", "per-channel"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_cpu_autocast_bfloat16_with_a_mask(dims, per_channel):
    """``layer(x, mask)`` computes in bfloat16 under autocast and returns bfloat16, as ``layer(x)`` does.

    The reference is the documented arithmetic built from torch's own convolution: the bfloat16
    convolution of the masked input, rescaled and biased in float32 by exact counts, then rounded.
    64 input channels make windows of up to 576 taps, more than bfloat16 counts exactly.
    """
    torch.manual_seed(0)
    layer = padmods.create("partial", 64, 8, 3, dim=dims, padding=1)
    spatial = ((40,), (9, 10), (5, 6, 5))[dims - 1]
    x = torch.randn(2, 64, *spatial)
    mask = (torch.rand(2, 64 if per_channel else 1, *spatial) > 0.3).float()
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        out, new_mask = layer(x, mask)
        plain = layer(x)
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
        raw = conv(x * mask, layer.weight, None, 1, 1)  # bfloat16: the autocast convolution
    assert out.dtype == plain.dtype == torch.bfloat16
    assert new_mask.dtype == mask.dtype
    with torch.no_grad():
        taps = torch.ones(1, mask.shape[1], *(3,) * dims, dtype=torch.float64)
        count = conv(mask.double(), taps, None, 1, 1)  # exact in float64
        window = taps.numel()
        ratio = torch.where(count > 0, window / count.clamp(min=1), 0.0).float()
        bias = layer.bias.view(1, -1, *(1,) * dims) * (count > 0).float()
        want = (raw.float() * ratio + bias).to(torch.bfloat16)
        want_mask = (count > 0).float().expand_as(new_mask)
    assert torch.equal(new_mask, want_mask)
    assert torch.equal(out, want)
