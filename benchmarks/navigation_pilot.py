"""Pilot for sizing configs/study.yaml (issue 25): how far a DiT's navigation oracle loss falls
with training length, the quantity of the navigation-convergence gate of claims 3 and 5
(:mod:`navref.report.claims.convergence`).

Trains one DiT (config.yaml's training settings, one seed) on a finished run's latent space and
prints, per checkpoint (EMA weights), the mean oracle loss over grid t < t_s (``nav``), over
t_s <= t <= 0.9 (``ref``) and at t = 0 (``t0``); a JSON file beside the model keeps them.

Usage (one thread; a few minutes for ``tiny``, about 3x per step for ``small``)::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/navigation_pilot.py \\
        results/default/latents/digits_vae tiny 8000 2000,4000,6000,8000 --split 0.364

2026-12-08 (AMD EPYC, the default run's digits_vae latents, t_s = 0.364, t step 0.02): tiny
nav 0.306 / 0.229 / 0.207 / 0.197 at 2000 / 4000 / 6000 / 8000 steps (t0 0.125 / 0.048 / 0.032 /
0.026); small 0.246 / 0.162 / 0.134 at 750 / 1500 / 3000 (t0 0.105 / 0.026 / 0.012).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from navref.probe_runs import run_loss_curves
from navref.training.job import train_on_space

#: config.yaml's training settings (models.tiny.train) but steps, checkpoints and seed
TRAIN = {"batch_size": 64, "lr": 0.001, "warmup_steps": 100, "ema_decay": 0.999}
TRAIN |= {"ema_warmup": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space", help="a latent space folder (results/<run>/latents/<space>)")
    parser.add_argument("size", help="DiT size (navref.models.sizes), e.g. tiny, small")
    parser.add_argument("steps", type=int)
    parser.add_argument("checkpoints", help="comma-separated step checkpoints")
    parser.add_argument("--split", type=float, required=True, help="t_s of the space")
    parser.add_argument("--out", default="/tmp/navigation_pilot")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ckpts = [int(c) for c in args.checkpoints.split(",")]
    out = Path(args.out) / f"{args.size}_{args.steps}_seed{args.seed}"
    train = {**TRAIN, "steps": args.steps, "checkpoint_steps": ckpts, "seed": args.seed}
    train["save_every"] = ckpts[0]
    model = {"size": args.size, "patch_size": 2}
    train_on_space(train, model, args.space, out, device="cpu", progress=False)
    grid = [round(float(t), 4) for t in np.arange(0.0, 0.91, 0.02)]
    settings = {"t_grid": grid, "num_samples": 256, "batch_size": 256}
    settings |= {"forward_batch_size": 64, "chunk_size": None}
    names = ["ema"] + [f"step{c}" for c in ckpts]
    tables = run_loss_curves(out, names, args.space, settings, 0, "cpu")
    found = {}
    for name, frame in tables.items():
        o = frame[frame["loss_kind"] == "oracle"]
        ref = o[(o["t"] >= args.split) & (o["t"] <= 0.9)]
        found[name] = {
            "nav": float(o[o["t"] < args.split]["mean"].mean()),
            "ref": float(ref["mean"].mean()),
            "t0": float(o["mean"].iloc[0]),
        }
        print(args.size, name, {k: round(v, 4) for k, v in found[name].items()}, flush=True)
    out.with_suffix(".json").write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
