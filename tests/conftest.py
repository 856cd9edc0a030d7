"""Shared fixtures: hypothesis profiles, dtype tolerances and a registry that tests may change."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

import padmods.registry as registry

settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: (rtol, atol) per dtype, for comparing two computations of the same convolution.
TOLERANCES = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.bfloat16: (3e-2, 3e-2),
    torch.float16: (5e-3, 5e-3),
}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None) -> None:
    rtol, atol = TOLERANCES[dtype or actual.dtype]
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)


def assert_same_function(out, expected, inputs, atol):
    """``out`` equals ``expected`` in value, and in its gradient with respect to each of ``inputs``.

    The gradients are vector-Jacobian products with one random probe of the output's shape.
    """
    torch.testing.assert_close(out, expected, rtol=atol, atol=atol)
    probe = torch.randn_like(out)
    got = torch.autograd.grad((out * probe).sum(), inputs)
    want = torch.autograd.grad((expected * probe).sum(), inputs)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=atol, atol=atol)


@pytest.fixture
def clean_registry():
    """Save the registry and its entry-point state, and restore both after the test."""
    saved = dict(registry._modes)
    loaded = registry._entry_points_loaded
    yield registry
    registry._modes.clear()
    registry._modes.update(saved)
    registry._entry_points_loaded = loaded
