"""Sampling speed and sample quality, float32 vs bf16 autocast (navref.precision).

For one setting of the default config's timestep-shift sweep (``--setting``, default s1:
the uniform 50-step grid of model ``small``), draws the same ``--samples`` seeded samples
twice, with the networks' forwards (DiT and VAE decoder) in float32 and under bf16
autocast, and prints images/s of both and FID of both against the run's reference
statistics, with their difference. Needs a finished default run (models, latent space,
reference statistics) under ``--results``; it only reads it. On a CPU, bf16 autocast is
mostly slower (no bf16 matmul units); the GPU figures are what the setting is for.

    .venv/bin/python benchmarks/precision_bench.py --results results --samples 300
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
import yaml

from navref.latents import LatentSpace
from navref.metrics.fidelity import compute_metrics
from navref.sweeps import get as get_sweep
from navref.sweeps import sample_set

REPO = Path(__file__).resolve().parents[1]


def _run(sweep, setting, model_dirs, space_dir, args, precision):
    space = LatentSpace.load(space_dir, device=args.device, precision=precision)
    t0 = time.perf_counter()
    images, _, _ = sample_set(
        sweep, setting, model_dirs, space, args.samples, args.seed, args.device,
        batch_size=args.batch, precision=precision,
    )  # fmt: skip
    return images, args.samples / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=Path("results"))
    p.add_argument("--config", type=Path, default=REPO / "config.yaml")
    p.add_argument("--setting", default="s1", help="a timestep_shift setting id (s<shift>)")
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.results, args.config = args.results.resolve(), args.config.resolve()
    os.chdir(args.results.parent)  # a run's stats.json names its VAE relative to its workdir
    conf = yaml.safe_load(args.config.read_text())
    sweep = get_sweep("timestep_shift", conf["sweeps"])
    setting = sweep.settings()[args.setting]
    model = sweep.model_roles(setting)["model"]
    space = conf["models"][model]["space"]
    dataset = conf["latent_spaces"][space]["dataset"]
    model_dirs = {m: args.results / "models" / m for m in sweep.models(setting)}
    ev = args.results / "evaluation" / dataset
    for path in [
        *model_dirs.values(),
        args.results / "latents" / space,
        ev / "reference.safetensors",
    ]:
        if not path.exists():
            raise SystemExit(f"{path} is missing: run the default pipeline first (--results)")
    print(f"setting timestep_shift/{args.setting} (model {model}, space {space}), "
          f"{args.samples} samples, device {args.device}, {args.threads} thread(s)")  # fmt: skip
    fid = {}
    for precision in ("fp32", "bf16"):
        images, rate = _run(sweep, setting, model_dirs, args.results / "latents" / space, args,
                            precision)  # fmt: skip
        metrics = compute_metrics(
            images, ev / "reference.safetensors", conf["evaluation"]["feature_extractor"],
            ev / "feature_net.safetensors", kid_subset_size=min(250, args.samples),
            device=args.device,
        )  # fmt: skip
        fid[precision] = metrics["fid"]
        print(f"  {precision}: {rate:8.1f} images/s, FID {metrics['fid']:.4f}")
    print(f"  FID bf16 - fp32: {fid['bf16'] - fid['fp32']:+.4f}")


if __name__ == "__main__":
    main()
