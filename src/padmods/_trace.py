"""When the engine may take its eager-only fast paths, and when a tracer or a transform is watching.

The engine has paths that only plain eager calls may take: in-place updates of a fresh output
(``addcmul(out=)``, ``mul_``, ``baddbmm_``), results cached between calls, a custom autograd
Function, and a batch folded into channels. Each is the same arithmetic as the plain path, but a
tracer would bake the example's sizes into its graph, and ``torch.func`` transforms and
forward-mode AD cannot follow every in-place form. :func:`is_tracing` and :func:`is_plain_eager`
say which kind of call this is.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
import torch.autograd.forward_ad as forward_ad
from torch.fx import _symbolic_trace

__all__ = ["constant_checks", "is_plain_eager", "is_tracing"]


def is_tracing() -> bool:
    """Whether a tracer records this call: ``torch.compile``/``torch.export``, ``torch.jit.trace`` or FX.

    The ONNX exporters trace too: the TorchScript-based one with ``torch.jit.trace``, the dynamo
    one with ``torch.export``.
    """
    # FX's own flag: its is_fx_tracing() logs a warning on every first use in torch >= 2.8
    fx_tracing = bool(getattr(_symbolic_trace, "_is_fx_tracing_flag", False))
    return torch.compiler.is_compiling() or torch.jit.is_tracing() or fx_tracing


def is_plain_eager() -> bool:
    """Whether this is an eager call outside any tracer, ``torch.func`` transform or forward-mode AD level.

    Only then do the engine's in-place and custom-Function fast paths run.
    """
    return not (
        is_tracing()
        or torch._C._are_functorch_transforms_active()
        or forward_ad._current_level >= 0  # inside forward_ad.dual_level(): inputs may carry tangents
    )


#: What :func:`constant_checks` gives outside a trace: one shared do-nothing context.
_UNCHANGED = contextlib.nullcontext()


def constant_checks() -> contextlib.AbstractContextManager[None]:
    """Run argument checks whose values are constant in a ``torch.jit.trace`` without its ``TracerWarning``.

    Under ``torch.jit.trace`` shapes are traced tensors, and comparing them warns that the trace
    keeps the result as a constant; for a layer's channel count, rank and mask layout it should.
    Outside a trace (every eager forward) it is a shared no-op, not a new generator each call.
    """
    return _silenced_tracer_warnings() if torch.jit.is_tracing() else _UNCHANGED


@contextlib.contextmanager
def _silenced_tracer_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield
