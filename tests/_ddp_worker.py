"""One process of the DDP test (tests/test_ddp.py): a converted model's gradients on half a batch, under DDP."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import padmods

WORLD_SIZE = 2


def make_model(mode: str) -> nn.Module:
    """A small float64 network, converted to ``mode``: a stride-2 'same' layer, a stride-1 one, a head."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.Tanh(),
        nn.Conv2d(4, 1, 1),
    ).double()
    converted = padmods.convert(model, mode)
    if mode == "coord":  # zero coordinate taps get no gradient worth comparing; give them values
        with torch.no_grad():
            for layer in converted.modules():
                if isinstance(layer, padmods.CoordConv2d):
                    layer.weight[:, layer.in_channels :].normal_()
    return converted


def batch() -> torch.Tensor:
    """The full batch: four images, each process takes two."""
    generator = torch.Generator().manual_seed(1)
    return torch.randn(2 * WORLD_SIZE, 2, 8, 12, dtype=torch.float64, generator=generator)


def loss_of(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).square().mean()


def run(rank: int, port: int, out_dir: str, modes: list[str]) -> None:
    """Entry point of ``torch.multiprocessing.spawn``: save this rank's gradients per mode to ``out_dir``.

    The process leaves through ``os._exit`` once its files are written and the group is torn down:
    gloo's transport threads can abort the interpreter's own shutdown (``terminate called without
    an active exception``, about one run in 40 on a loaded 2-core machine), which has nothing to do
    with what the test checks.
    """
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE)
    try:
        for mode in modes:
            save_gradients(rank, mode, Path(out_dir) / f"{mode}-{rank}.pt")
        dist.barrier()  # neither rank tears the group down while the other still talks to it
    finally:
        gc.collect()  # DDP's reference cycles hold the group; free them before destroying it
        dist.destroy_process_group()
    os._exit(0)


def save_gradients(rank: int, mode: str, path: Path) -> None:
    """This rank's gradients of a ``mode`` model under DDP, on its half of :func:`batch`, saved to ``path``."""
    model = DistributedDataParallel(make_model(mode))
    loss_of(model, batch()[2 * rank : 2 * rank + 2]).backward()
    torch.save({name: param.grad for name, param in model.module.named_parameters()}, path)
