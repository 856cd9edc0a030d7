"""Root conftest: names that every doctest in src/padmods can use without importing them."""

import pytest


@pytest.fixture(autouse=True)
def _doctest_namespace(request: pytest.FixtureRequest, doctest_namespace: dict) -> None:
    if isinstance(request.node, pytest.DoctestItem):  # the browser env has no torch to import
        import torch
        from torch import nn

        import padmods

        doctest_namespace.update(torch=torch, nn=nn, padmods=padmods)
