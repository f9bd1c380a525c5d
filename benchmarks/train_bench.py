"""Training throughput of navref.training.train and an estimate of its FLOP utilisation.

For each model size it runs the real training loop (``train``: batch sampling, forward,
backward, grad clipping, AdamW, EMA, logging) on random latents in a temporary directory
and prints

- samples/s and step time: best and median over the logged windows after the first
  (the first window holds warm-up and, with --compile, compilation);
- model GFLOP per sample: matmul/conv/attention FLOPs of one forward pass counted with
  ``torch.utils.flop_counter.FlopCounterMode`` (x 3 for forward + backward), next to an
  analytic count (2 x multiply-adds of all linear layers + attention's QK^T and AV);
- achieved TFLOP/s = 3 x forward FLOPs x samples/s, and MFU = that / the FLOP/s of a bare
  square matrix product (fp32 on CPU, bf16 on CUDA) measured in the same process.

Default: the CPU sizes "tiny" and "small" on 8x8x4 latents with patch size 1 (64 tokens);
with CUDA also S, B and XL on 32x32x4 latents with patch size 2 (256 tokens, ImageNet 256
through the SD-VAE) in bf16. The CPU load average is printed, since other processes on
the machine skew CPU timings. Usage:

    python benchmarks/train_bench.py [--sizes tiny small] [--batch 64] [--steps 40]
        [--threads 1] [--device cpu|cuda] [--compile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from navref.models import DiTConfig, build_model, count_params
from navref.training import TrainConfig, train


def bare_matmul_flops(device: torch.device, dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """FLOP/s of an n x n @ n x n product (best of ``repeats``)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - t0) / 4)
    return 2 * n**3 / best


def forward_flops(conf: DiTConfig, batch: int, device: torch.device, bf16: bool) -> float:
    """Counted FLOPs of one forward pass per sample (attention added analytically where the
    counter has no formula for the SDPA kernel in use, as for the CPU kernel)."""
    model = build_model(conf).to(device)
    x = torch.randn(batch, conf.in_channels, conf.input_size, conf.input_size, device=device)
    t = torch.rand(batch, device=device)
    y = torch.zeros(batch, dtype=torch.long, device=device)
    counter = FlopCounterMode(display=False)
    with (
        torch.no_grad(),
        torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16),
        counter,
    ):
        model(x, t, y)
    total = counter.get_total_flops()
    ops = {str(op) for op in counter.get_flop_counts().get("Global", {})}
    if not any("scaled_dot_product" in op for op in ops):
        # the CPU flash-attention kernel has no FLOP formula: add QK^T and AV (2 T^2 d each)
        tokens = (conf.input_size // conf.patch_size) ** 2
        total += batch * conf.depth * 4 * tokens**2 * conf.hidden_size
    return total / batch


def analytic_forward_flops(conf: DiTConfig) -> float:
    """2 x multiply-adds per sample: token-wise linears, attention, per-sample adaLN."""
    d, p, c = conf.hidden_size, conf.patch_size, conf.in_channels
    tokens = (conf.input_size // p) ** 2
    ff = conf.mlp_hidden
    per_token_block = 3 * d * d + d * d + 3 * d * ff
    attn = 2 * tokens * d  # QK^T and AV per token
    per_sample_block = 6 * d * d  # adaLN
    embed = tokens * (p * p * c * d) * 2  # patch embed + final linear
    cond = conf.freq_dim * d + d * d + 2 * d * d  # timestep MLP + final adaLN
    macs = conf.depth * (tokens * (per_token_block + attn) + per_sample_block) + embed + cond
    return 2.0 * macs


def bench_size(
    size: str,
    shape: tuple[int, int, int],
    patch: int,
    batch: int,
    steps: int,
    device: torch.device,
    bf16: bool,
    compile_: bool,
) -> dict[str, object]:
    c, h, _ = shape
    n = max(4 * batch, 256)
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((n, *shape), dtype=np.float32)
    labels = (np.arange(n) % 10).astype(np.int64)
    model_conf = DiTConfig.from_size(size, patch_size=patch)
    log_every = max(steps // 8, 1)
    train_conf = TrainConfig(
        steps=steps,
        batch_size=batch,
        log_every=log_every,
        save_every=0,
        precision="bf16" if bf16 else "fp32",
        compile=compile_,
    )
    with tempfile.TemporaryDirectory() as tmp:
        train(
            train_conf,
            model_conf,
            latents,
            labels,
            10,
            Path(tmp) / "run",
            progress=False,
            device=device,
        )
        log = pd.read_parquet(Path(tmp) / "run" / "train_log.parquet")
    sps = log["samples_per_s"].iloc[1:].tolist() or log["samples_per_s"].tolist()
    full = DiTConfig.from_size(size, patch_size=patch, input_size=h, in_channels=c, num_classes=10)
    fwd = forward_flops(full, min(batch, 8), device, bf16)
    with torch.device("meta"):
        params = count_params(build_model(full))
    return {
        "size": size,
        "params_M": params / 1e6,
        "tokens": (h // patch) ** 2,
        "batch": batch,
        "samples_per_s": max(sps),
        "samples_per_s_median": statistics.median(sps),
        "step_ms": 1e3 * batch / max(sps),
        "fwd_GFLOP_per_sample": fwd / 1e9,
        "fwd_GFLOP_analytic": analytic_forward_flops(full) / 1e9,
        "train_TFLOP_per_s": 3 * fwd * max(sps) / 1e12,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="*", help="DiT sizes (default: tiny small [+ S B XL on CUDA])")
    ap.add_argument("--batch", type=int, help="global batch (default 64 CPU, 128 CUDA)")
    ap.add_argument("--steps", type=int, help="training steps per size (default 40 CPU, 60 CUDA)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda if available")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available() if args.device is None else args.device == "cuda"
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    batch = args.batch or (128 if cuda else 64)
    steps = args.steps or (60 if cuda else 40)

    jobs: list[tuple[str, tuple[int, int, int], int, bool]] = []
    cpu_sizes = ["tiny", "small"]
    for size in args.sizes or (cpu_sizes + (["S", "B", "XL"] if cuda else [])):
        if size in cpu_sizes or not cuda:
            jobs.append((size, (4, 8, 8), 1, False))
        else:
            jobs.append((size, (4, 32, 32), 2, True))

    dtype = torch.bfloat16 if cuda else torch.float32
    peak = bare_matmul_flops(device, dtype, 8192 if cuda else 1024)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    print(
        f"device {name}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"load avg {load:.2f}; bare {dtype} matmul: {peak / 1e12:.3f} TFLOP/s"
    )
    rows = []
    for size, shape, patch, bf16 in jobs:
        # the CPU sizes also run in bf16 on CUDA (mixed precision throughout)
        row = bench_size(size, shape, patch, batch, steps, device, bf16 or cuda, args.compile)
        row["shape"] = "x".join(map(str, shape)) + f"/p{patch}"
        row["MFU_%"] = 100 * row["train_TFLOP_per_s"] * 1e12 / peak
        rows.append(row)
        print(f"  done {size}: {row['samples_per_s']:.1f} samples/s", flush=True)
    cols = [
        "size",
        "params_M",
        "shape",
        "tokens",
        "batch",
        "samples_per_s",
        "samples_per_s_median",
        "step_ms",
        "fwd_GFLOP_per_sample",
        "fwd_GFLOP_analytic",
        "train_TFLOP_per_s",
        "MFU_%",
    ]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows)[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
