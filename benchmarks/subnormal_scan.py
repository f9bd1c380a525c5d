"""Where does a finished run's computation meet subnormal floats (the CPU slow path)?

Subnormal floats (magnitude below 2^-126 in float32) are processed with microcode assists on
many CPUs, Intel's among them, 10-100x slower per operation; the oracle engine met them in
bulk until its weights below 2^-60 of the largest were set to zero (``navref/oracle.py``,
"Subnormals"). This script looks for the same class elsewhere, on a finished run's real
latents, trained models and VAE: it runs each stage once under
:class:`navref.subnormals.SubnormalScan` and prints, per stage, the operations that met
subnormals (outputs counted exactly; matrix products whose operands may form subnormal
products flagged) or "none". Stages:

- oracle velocity and posterior statistics on path queries (class-conditional, t = 0.2-0.8);
- each trained model's guided sampling forward (CFG, fp32 and bf16 autocast) at t = 0.1-0.9;
- one training step (CFM target, AdamW, EMA) of each trained model on real latents;
- the VAE's decoder on real latents;
- the exact nearest neighbours of the memorization metric (decoded pixels vs the train set).

Usage (after ``make reproduce``)::

    python benchmarks/subnormal_scan.py [--run results/default] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from navref import path
from navref.metrics.memorization import nearest_neighbours
from navref.oracle import oracle_posterior, oracle_velocity
from navref.provenance import describe_machine
from navref.sampling import ModelVelocity
from navref.subnormals import SubnormalScan
from navref.training.loading import load_model
from navref.vae import load_vae

TIMES = (0.1, 0.2, 0.4, 0.6, 0.8, 0.9)


def scan(name: str, fn: Callable[..., object], *args, **kwargs) -> None:
    with SubnormalScan() as s:
        fn(*args, **kwargs)
    found = "none" if not s.total() else s.summary()
    print(f"{name:48s} {sum(s.ops.values()):7d} ops  {found}", flush=True)


def real_latents(run: Path, space: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x1 (n, C, H, W) standardised per channel as the models see them, labels (n,))."""
    z = np.load(run / "latents" / space / "latents.npy", mmap_mode="r")[:n].astype(np.float32)
    stats = json.loads((run / "latents" / space / "stats.json").read_text())
    x1 = torch.from_numpy(z)
    if stats.get("normalize"):
        mean = torch.tensor(stats["channel_mean"], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(stats["channel_std"], dtype=torch.float32).view(1, -1, 1, 1)
        x1 = (x1 - mean) / std
    import pandas as pd

    meta = pd.read_parquet(run / "latents" / space / "meta.parquet")
    return x1, torch.from_numpy(meta["label"].to_numpy()[:n].astype(np.int64))


def space_of(run: Path, model_dir: Path) -> str:
    """The latent space whose rows have the shape of the model's data (model.json)."""
    shape = json.loads((model_dir / "model.json").read_text())["data_shape"]
    for d in sorted((run / "latents").iterdir()):
        if list(np.load(d / "latents.npy", mmap_mode="r").shape[1:]) == shape[1:]:
            return d.name
    raise SystemExit(f"no latent space of {run} has the shape {shape} of {model_dir}")


def training_step(model: torch.nn.Module, x1: torch.Tensor, y: torch.Tensor) -> None:
    """One CFM step with AdamW and an EMA update, as navref.training.loop.train_step."""
    model = copy.deepcopy(model).train().requires_grad_(True)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(x1.shape, generator=g)
    t = torch.rand(x1.shape[0], generator=g)
    x_t = path.x_t(x0, x1, t.view(-1, 1, 1, 1))
    loss = F.mse_loss(model(x_t, t, y), x1 - x0)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(model.parameters()), 1.0)
    opt.step()
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(pm, 1 - 0.999)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("results/default"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(describe_machine())
    run = args.run
    models = sorted(d for d in (run / "models").iterdir() if (d / "model.json").is_file())
    spaces = {m.name: space_of(run, m) for m in models}
    x1, y = real_latents(run, "digits_vae", 1024)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(64, *x1.shape[1:], generator=g)
    for t in TIMES[1:-1]:
        x_t = path.x_t(x0, x1[:64], t)
        kw = {"data_labels": y, "labels": y[:64]}
        scan(f"oracle velocity, t = {t}", oracle_velocity, x_t, t, x1, **kw)
        scan(f"oracle statistics, t = {t}", oracle_posterior, x_t, t, x1, chunk_size=256)
    with torch.no_grad():
        for m in models:
            model = load_model(m)
            space = spaces[m.name]
            xm, ym = real_latents(run, space, 64) if space != "digits_vae" else (x1[:64], y[:64])
            for dtype in (None, torch.bfloat16):
                vel = ModelVelocity(model, 10, mode="cfg", cfg_scale=2.5, autocast=dtype)
                noise = torch.randn(xm.shape, generator=g)
                for t in TIMES:
                    xt = path.x_t(noise, xm, t)
                    name = f"{m.name} CFG forward {'bf16' if dtype else 'fp32'}, t = {t}"
                    scan(name, vel, xt, t, ym)
    for m in models:
        space = spaces[m.name]
        xm, ym = real_latents(run, space, 64) if space != "digits_vae" else (x1[:64], y[:64])
        model = load_model(m)
        scan(f"{m.name} training step (CFM, AdamW, EMA)", training_step, model, xm, ym)
    vae_dir = run / "vae" / "digits_vae"
    if vae_dir.is_dir():
        vae = load_vae(vae_dir)
        stats = json.loads((run / "latents" / "digits_vae" / "stats.json").read_text())
        mean = torch.tensor(stats["channel_mean"], dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(stats["channel_std"], dtype=torch.float32).view(1, -1, 1, 1)
        with torch.no_grad():
            scan("VAE decoder (64 latents)", vae.decode, x1[:64] * std + mean)
    pixels = np.load(run / "data" / "digits" / "data.npy", mmap_mode="r")
    train = torch.from_numpy(pixels[200:].reshape(len(pixels) - 200, -1).astype(np.float32))
    queries = torch.from_numpy(pixels[:200].reshape(200, -1).astype(np.float32))
    scan(
        "memorization nearest neighbours (200 x train)", lambda: nearest_neighbours(queries, train)
    )


if __name__ == "__main__":
    main()
