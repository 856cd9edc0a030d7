"""How the benchmark times: clocks, timed blocks, interleaved rounds, and their summary statistics.

- :data:`PHASES`: the two calls timed per contender, forward under ``torch.no_grad()`` and
  forward+backward through ``torch.autograd.grad``.
- :func:`measure`: warm-up, block sizing, then rounds that time one block of every contender in a
  rotated order, with the seconds and the minor page faults per call of every block.
- :func:`keep_freed_memory`: ``--malloc keep``, glibc's ``mallopt`` without trimming.
- :class:`Stats` and :func:`paired_ratio`: medians, quartiles and noise over the rounds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

import torch
from torch import Tensor, nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _forward(module: nn.Module, x: Tensor) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return module(x)

    return call


def _forward_backward(module: nn.Module, x: Tensor) -> Callable[[], object]:
    inputs = [x, *(p for p in module.parameters() if p.requires_grad)]

    def call() -> object:
        return torch.autograd.grad(module(x).sum(), inputs)

    return call


#: The phases a contender is timed in, each as a maker of the call to time: ``maker(module, x)()``.
PHASES: dict[str, Callable[[nn.Module, Tensor], Callable[[], object]]] = {
    "fwd": _forward,
    "fwdbwd": _forward_backward,
}

#: Clocks a block can be timed with: wall time (what a user waits for), or the CPU time of this
#: process (all threads), which does not count time when another process holds the cores.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _page_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing, e.g. Windows)."""
    if resource is None:
        return 0
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)


def _time_block(
    fn: Callable[[], object], number: int, device: torch.device, clock: str = "wall"
) -> tuple[float, float]:
    """Seconds and minor page faults per call, over ``number`` calls."""
    now = CLOCKS[clock]
    _sync(device)
    faults, start = _page_faults(), now()
    for _ in range(number):
        fn()
    _sync(device)
    elapsed = now() - start
    return elapsed / number, (_page_faults() - faults) / number


def measure(
    fns: dict[str, Callable[[], object]],
    *,
    rounds: int,
    block_s: float,
    warmup_s: float,
    device: torch.device,
    clock: str = "wall",
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-call seconds and page faults of every function, one block per round each, in a rotated order.

    Each function first runs for about ``warmup_s`` (caches, allocator, kernel selection); the
    number of calls per block is then set so that one block lasts about ``block_s``. Garbage
    collection is off while blocks run, as in :mod:`timeit`.
    """
    numbers = {}
    for name, fn in fns.items():
        fn()
        start, calls = time.perf_counter(), 0
        while True:
            _time_block(fn, 1, device)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= warmup_s:
                break
        numbers[name] = max(1, round(block_s / (elapsed / calls)))
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    faults: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            shift = r % len(names)
            order = names[shift:] + names[:shift]
            if (r // len(names)) % 2:  # every other cycle also runs backwards, so no one always follows X
                order.reverse()
            for name in order:
                seconds, page_faults = _time_block(fns[name], numbers[name], device, clock)
                times[name].append(seconds)
                faults[name].append(page_faults)
    finally:
        if enabled:
            gc.enable()
    return times, faults


#: glibc's ``mallopt`` parameters (malloc.h): trim threshold and mmap threshold.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory mapped, as jemalloc and tcmalloc do; True if it took effect.

    By default glibc serves buffers of more than 128 KiB-32 MiB (a threshold it adapts as it goes)
    with fresh ``mmap`` calls and returns the top of its heap to the kernel once more than twice
    that is free. A buffer of an output's size then costs one page fault per 4 KiB page each time
    it is allocated, and which calls pay depends on the history of the process: the same
    ``nn.Conv2d`` call measured 0 and 1,536 faults per call in two runs. With a fixed 32 MiB mmap
    threshold and no trimming, freed buffers are reused and a benchmark sees the layers' own cost.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
    except (OSError, AttributeError):
        return False


@dataclass
class Stats:
    """Summary of one contender's per-round times (seconds per call)."""

    median: float
    q1: float
    q3: float
    rounds: int
    calls_per_block: int = 0

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        q = statistics.quantiles(samples, n=4) if len(samples) > 1 else [samples[0]] * 3
        return cls(statistics.median(samples), q[0], q[2], len(samples))

    @property
    def spread(self) -> float:
        """Interquartile range over the median: the noise of this contender in this run."""
        return (self.q3 - self.q1) / self.median


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over rounds of ``a[r] / b[r]``: robust when the machine drifts between rounds."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))
