"""One decorator for the bounded caches of tensors that padmods reuses between calls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Generic, Optional, TypeVar

from padmods._geometry import is_static
from padmods._trace import is_tracing

__all__ = ["cached"]

T = TypeVar("T")


class _Cached(Generic[T]):
    """A builder behind a bounded LRU cache that steps aside while torch traces.

    While a tracer records the call (:func:`padmods._trace.is_tracing`: :func:`torch.compile`,
    :func:`torch.export`, :func:`torch.jit.trace`), the value is built directly: tracing does not
    step into ``lru_cache``. A key that holds a tracer's symbolic size (a dynamic dimension) goes
    to the ``symbolic`` builder, which makes the same value with tensor ops, so that the graph
    computes it from the input's size instead of keeping the example's as a constant. A key that
    cannot be hashed (e.g. a list someone assigned to a layer's ``padding``) is built directly too.
    """

    def __init__(self, build: Callable[..., T], maxsize: int, symbolic: Optional[Callable[..., T]] = None) -> None:
        self.build = build
        self.symbolic = symbolic
        self._cache = functools.lru_cache(maxsize=maxsize)(build)
        functools.update_wrapper(self, build)

    def __call__(self, *key: Any) -> T:
        if self.symbolic is not None and not is_static(key):
            return self.symbolic(*key)
        if is_tracing():
            return self.build(*key)
        try:
            return self._cache(*key)
        except TypeError:  # unhashable key; if the build itself raised TypeError, it raises again here
            return self.build(*key)

    def eager(self, *key: Any) -> T:
        """The value for a plain eager call whose key holds only plain values: no tracer to ask about."""
        try:
            return self._cache(*key)
        except TypeError:  # unhashable key
            return self.build(*key)

    def cache_info(self) -> Any:
        """The hit, miss and size counts of :func:`functools.lru_cache`."""
        return self._cache.cache_info()

    def cache_clear(self) -> None:
        """Empty the cache."""
        self._cache.cache_clear()


def cached(maxsize: int, symbolic: Optional[Callable[..., T]] = None) -> Callable[[Callable[..., T]], _Cached[T]]:
    """Decorate a builder of tensors with a bounded cache keyed by its (hashable) positional arguments.

    The builder must take only positional arguments and return a tensor that may be shared:
    callers never modify it in place. Built under ``torch.inference_mode(False)`` by the builder
    itself where a cached tensor must stay usable by autograd later. ``symbolic``, with the same
    arguments, builds the value from sizes that may be a tracer's symbols.
    """

    def decorator(build: Callable[..., T]) -> _Cached[T]:
        return _Cached(build, maxsize, symbolic)

    return decorator
