"""Bounded caches of tensors that layers reuse between calls, and how tracing bypasses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

__all__ = ["lookup"]

T = TypeVar("T")


def lookup(cache: Callable[..., T], *key: Any) -> T:
    """``cache(*key)`` for a :func:`functools.lru_cache` function, or a fresh build when it can't serve.

    While :func:`torch.compile` or :func:`torch.export` traces, the value is built directly (the
    graph keeps it as a constant, and tracing does not step into ``lru_cache``). A key that cannot
    be hashed (e.g. a list assigned to a layer's ``padding``) is built directly too.
    """
    build: Callable[..., T] = cache.__wrapped__  # type: ignore[attr-defined]
    if torch.compiler.is_compiling():
        return build(*key)
    try:
        return cache(*key)
    except TypeError:  # unhashable key: if the build itself raised TypeError, it raises again here
        return build(*key)
