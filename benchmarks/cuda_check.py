"""Check every padmods layer on CUDA against float64 CPU references: values, caches, compile.

Run on a machine with a GPU: ``PYTHONPATH=src python benchmarks/cuda_check.py``. Exits non-zero on any mismatch.
Not part of the test suite, which never needs a GPU.
"""

from __future__ import annotations

import sys

import torch

import padmods

MODES = ["zeros", "reflect", "replicate", "circular", "partial", "coord"]
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 5e-3}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    scale = expected.abs().max().clamp_min(1.0)
    return ((actual.double().cpu() - expected).abs().max() / scale).item()


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 1
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    failures = []
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for mode in MODES:
        torch.manual_seed(0)
        layer = padmods.create(mode, 3, 4, 3, padding="same", stride=2, dtype=torch.float64)
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            moved = padmods.create(mode, 3, 4, 3, padding="same", stride=2).to("cuda", dtype)
            moved.load_state_dict(layer.state_dict())
            for size in [(10, 10), (12, 13), (10, 10)]:  # caches must follow size, device and dtype
                x = torch.randn(2, 3, *size, dtype=torch.float64)
                expected = padmods.create(mode, 3, 4, 3, padding="same", stride=2, dtype=torch.float64)
                expected.load_state_dict(layer.state_dict())
                reference = expected(x.to(dtype).double())
                error = relative_error(moved(x.to("cuda", dtype)), reference)
                status = "ok" if error <= TOLERANCE[dtype] else "FAIL"
                if status == "FAIL":
                    failures.append((mode, dtype, size, error))
                print(f"{mode:10s} {dtype!s:15s} {size!s:9s} max rel err {error:.2e} {status}")
        # gradients in float32 against float64 on the CPU; a batch of one takes CoordConv's single node
        for batch in (1, 2):
            x = torch.randn(batch, 3, 12, 13, dtype=torch.float64)
            reference = padmods.create(mode, 3, 4, 3, padding="same", stride=2, dtype=torch.float64)
            reference.load_state_dict(layer.state_dict())
            moved = padmods.create(mode, 3, 4, 3, padding="same", stride=2).cuda()
            moved.load_state_dict(layer.state_dict())
            probe = torch.randn(reference(x).shape, dtype=torch.float64)
            cpu_x, cuda_x = x.clone().requires_grad_(), x.float().cuda().requires_grad_()
            want = torch.autograd.grad((reference(cpu_x) * probe).sum(), [cpu_x, reference.weight])
            got = torch.autograd.grad((moved(cuda_x) * probe.float().cuda()).sum(), [cuda_x, moved.weight])
            error = max(relative_error(g, w) for g, w in zip(got, want, strict=True))
            status = "ok" if error <= 1e-4 else "FAIL"
            if status == "FAIL":
                failures.append((mode, "gradients", batch, error))
            print(f"{mode:10s} float32 gradients, batch {batch}: max rel err {error:.2e} {status}")
        # compile (inductor) forward + backward on CUDA against eager on CUDA
        cuda_layer = padmods.create(mode, 3, 4, 3, padding="same", stride=2).cuda()
        compiled = torch.compile(cuda_layer, fullgraph=True)
        x = torch.randn(2, 3, 11, 12, device="cuda", requires_grad=True)
        out = compiled(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        (expected_grad,) = torch.autograd.grad(cuda_layer(x).sum(), x)
        error = max(
            relative_error(out, cuda_layer(x).double().cpu()), relative_error(grad, expected_grad.double().cpu())
        )
        status = "ok" if error <= 1e-4 else "FAIL"
        if status == "FAIL":
            failures.append((mode, "compile", None, error))
        print(f"{mode:10s} torch.compile fwd+bwd on CUDA: max rel err {error:.2e} {status}")
        program = torch.export.export(cuda_layer, (x.detach(),))
        error = relative_error(program.module()(x.detach()), cuda_layer(x.detach()).double().cpu())
        print(f"{mode:10s} torch.export on CUDA: max rel err {error:.2e} {'ok' if error <= 1e-5 else 'FAIL'}")
        if error > 1e-5:
            failures.append((mode, "export", None, error))
    print("FAILURES:", failures if failures else "none")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
