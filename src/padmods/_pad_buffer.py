"""A buffer per thread that the padded copy of a call without autograd is written into, on CPU.

Without autograd nothing keeps a layer's padded input once its convolution has read it, so the
next layer's padded copy can go into the same memory. A fresh buffer of a few MB costs more than
the copy itself on CPU: glibc's allocator serves it from newly mapped pages and the first write
to each page faults (the ``faults`` counts of ``python benchmarks/run.py``). A buffer kept by the
thread has its pages mapped already. One buffer is kept per thread, dtype and inference-mode
state (a tensor made under ``torch.inference_mode()`` may not be written outside it), as large
as the largest padded input so far, up to :data:`KEEP_BYTES`; larger copies get a buffer of
their own, as before.
"""

from __future__ import annotations

import math
import threading
from typing import Optional

import torch
from torch import Tensor

from padmods._typing import Pairs

__all__ = ["KEEP_BYTES", "padded_buffer", "release"]

#: Largest buffer a thread keeps for one dtype: 64 MiB (16M float32 elements, e.g. a padded
#: ``8 x 64 x 226 x 226`` input).
KEEP_BYTES = 1 << 26

_LOCAL = threading.local()


def padded_buffer(input: Tensor, pairs: Pairs) -> Optional[Tensor]:
    """An uninitialised tensor of ``input`` padded by ``pairs``, in the thread's buffer, or ``None``.

    ``None`` where the padded tensor would be larger than :data:`KEEP_BYTES`. The caller writes
    the whole padded tensor and hands it to one reader that is done with it before the thread pads
    again (a convolution without autograd); the next call on this thread reuses the memory.
    """
    count = len(pairs)
    sizes = input.shape[input.dim() - count :]
    shape = (*input.shape[: input.dim() - count], *(n + b + a for n, (b, a) in zip(sizes, pairs, strict=True)))
    elements = math.prod(shape)
    if elements * input.element_size() > KEEP_BYTES:
        return None
    buffers: dict[tuple[torch.dtype, bool], Tensor] = _LOCAL.__dict__.setdefault("buffers", {})
    key = (input.dtype, torch.is_inference_mode_enabled())
    buffer = buffers.get(key)
    if buffer is None or buffer.numel() < elements:
        buffer = buffers[key] = torch.empty(elements, dtype=input.dtype)
    return buffer[:elements].view(shape)


def release() -> None:
    """Free this thread's buffers; the next padded copy starts a new one."""
    _LOCAL.__dict__.pop("buffers", None)
