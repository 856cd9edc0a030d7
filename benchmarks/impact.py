"""Experiment 2 of issue 8: what :func:`padmods.analysis.impact_map` costs.

- ``method='gradient'`` (one backward pass) against ``method='exact'`` (one forward pass per input
  pixel, ``batch_size`` one-hot images at a time) on a five-layer 28x28 stack: target >= 100x.
- ``'exact'`` on a five-layer 64x64 stack: target < 3 s, with the working memory bounded by the
  batch, not by the number of pixels (reported as the bound and the growth of the peak RSS).

Run through ``python benchmarks/run.py --experiment impact``.
"""

from __future__ import annotations

import functools
import gc
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from padmods.analysis import conv_stack, impact_map

MODES = ("zeros", "reflect", "partial", "coord")
LAYERS = 5
SPEEDUP_TARGET = 100.0
LARGE_TARGET_S = 3.0


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: caches, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def run_impact(*, quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time both methods per mode; returns the measurements, targets and verdicts."""
    batch_size = 128
    results: dict[str, Any] = {"layers": LAYERS, "batch_size": batch_size, "modes": {}}
    for mode in MODES:
        stack = conv_stack(mode, layers=LAYERS)
        shape = (1, 28, 28)
        exact_map = functools.partial(impact_map, stack, shape, batch_size=batch_size)
        gradient_map = functools.partial(impact_map, stack, shape, method="gradient")
        exact_s = _median_time(exact_map, 1 if quick else 3)
        gradient_s = _median_time(gradient_map, 5 if quick else 21)
        agree = torch.allclose(gradient_map(), exact_map(), rtol=1e-5, atol=1e-3)
        gc.collect()
        before = _peak_rss_bytes()
        large_map = functools.partial(impact_map, stack, (1, 64, 64), batch_size=batch_size)
        large_s = _median_time(large_map, 1 if quick else 2)
        growth = _peak_rss_bytes() - before
        # one batch of one-hot images and each layer's activations for it, float32
        bound = batch_size * 64 * 64 * 4 * (LAYERS + 1)
        entry = {
            "exact_28_s": exact_s,
            "gradient_28_s": gradient_s,
            "speedup": exact_s / gradient_s,
            "speedup_ok": exact_s / gradient_s >= SPEEDUP_TARGET,
            "gradient_equals_exact": agree,
            "exact_64_s": large_s,
            "exact_64_ok": large_s < LARGE_TARGET_S,
            "batch_memory_bound_bytes": bound,
            "peak_rss_growth_bytes": growth,
        }
        results["modes"][mode] = entry
        log(
            f"  impact {mode:<8} 28x28: exact {exact_s * 1e3:8.1f} ms, gradient {gradient_s * 1e3:6.2f} ms,"
            f" x{entry['speedup']:.0f} (target >= {SPEEDUP_TARGET:.0f}: {'ok' if entry['speedup_ok'] else 'MISS'});"
            f" 64x64 exact {large_s:.2f} s (target < {LARGE_TARGET_S:.0f} s:"
            f" {'ok' if entry['exact_64_ok'] else 'MISS'}); peak RSS +{growth / 2**20:.1f} MiB"
            f" (batch bound {bound / 2**20:.1f} MiB)"
        )
    return results
