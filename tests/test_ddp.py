"""Converted models train under DistributedDataParallel: two local processes, gloo, the gradients of one."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.multiprocessing as mp
from _ddp_worker import WORLD_SIZE, batch, loss_of, make_model, run

import padmods

MODES_2D = padmods.available(dim=2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gradients_under_ddp_equal_a_single_process_run(tmp_path):
    mp.spawn(run, args=(free_port(), str(tmp_path), MODES_2D), nprocs=WORLD_SIZE, join=True)
    for mode in MODES_2D:
        model = make_model(mode)
        loss_of(model, batch()).backward()  # the mean over the whole batch: what DDP's averaged gradients give
        for rank in range(WORLD_SIZE):
            grads = torch.load(tmp_path / f"{mode}-{rank}.pt")
            assert list(grads) == [name for name, _ in model.named_parameters()], mode
            for name, param in model.named_parameters():
                torch.testing.assert_close(grads[name], param.grad, rtol=1e-10, atol=1e-12, msg=f"{mode} {name}")


@pytest.mark.parametrize("mode", MODES_2D)
def test_a_converted_model_has_the_buffers_and_state_of_the_original(mode):
    model = make_model(mode)
    model(batch()), model(batch()[:1, :, :6, :8])  # let every layer cache what it caches
    assert list(model.buffers()) == []
    assert sorted(model.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
