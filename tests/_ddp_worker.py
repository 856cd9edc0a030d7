"""One process of the DDP test (tests/test_ddp.py): a converted model's gradients on half a batch, under DDP."""

from __future__ import annotations

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
    """Entry point of ``torch.multiprocessing.spawn``: save this rank's gradients per mode to ``out_dir``."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE)
    try:
        for mode in modes:
            model = DistributedDataParallel(make_model(mode))
            x = batch()[2 * rank : 2 * rank + 2]
            loss_of(model, x).backward()
            grads = {name: param.grad for name, param in model.module.named_parameters()}
            torch.save(grads, Path(out_dir) / f"{mode}-{rank}.pt")
    finally:
        dist.destroy_process_group()
