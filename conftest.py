"""Root conftest: names that every doctest in src/padmods can use without importing them."""

import pytest
import torch
from torch import nn

import padmods


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    doctest_namespace.update(torch=torch, nn=nn, padmods=padmods)
