"""One decorator for the bounded caches of tensors that padmods reuses between calls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch

__all__ = ["cached"]

T = TypeVar("T")


class _Cached(Generic[T]):
    """A builder behind a bounded LRU cache that steps aside while torch traces.

    While :func:`torch.compile` or :func:`torch.export` traces, the value is built directly: the
    graph keeps it as a constant, and tracing does not step into ``lru_cache``. A key that cannot be
    hashed (e.g. a list someone assigned to a layer's ``padding``) is built directly too.
    """

    def __init__(self, build: Callable[..., T], maxsize: int) -> None:
        self.build = build
        self._cache = functools.lru_cache(maxsize=maxsize)(build)
        functools.update_wrapper(self, build)

    def __call__(self, *key: Any) -> T:
        if torch.compiler.is_compiling():
            return self.build(*key)
        try:
            return self._cache(*key)
        except TypeError:  # unhashable key; if the build itself raised TypeError, it raises again here
            return self.build(*key)

    def cache_info(self) -> Any:
        """The hit, miss and size counts of :func:`functools.lru_cache`."""
        return self._cache.cache_info()

    def cache_clear(self) -> None:
        """Empty the cache."""
        self._cache.cache_clear()


def cached(maxsize: int) -> Callable[[Callable[..., T]], _Cached[T]]:
    """Decorate a builder of tensors with a bounded cache keyed by its (hashable) positional arguments.

    The builder must take only positional arguments and return a tensor that may be shared:
    callers never modify it in place. Built under ``torch.inference_mode(False)`` by the builder
    itself where a cached tensor must stay usable by autograd later.
    """

    def decorator(build: Callable[..., T]) -> _Cached[T]:
        return _Cached(build, maxsize)

    return decorator
