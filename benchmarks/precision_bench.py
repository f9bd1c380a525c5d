"""Sampling speed and sample quality, float32 vs bf16 autocast (navref.precision), with the
paired bootstrap CI of FID(bf16) - FID(fp32).

For one setting of a config's sweeps (``--setting``, default ``timestep_shift/s1``: the
uniform 50-step grid of model ``small``), draws the same ``--samples`` seeded samples
twice, with the networks' forwards in float32 and under bf16 autocast, and prints images/s
of both, FID of both and the paired bootstrap interval of their difference: sample i of
both sets starts from the same noise, so both are resampled with the same indices
(``--replicates`` draws) and FID(bf16) - FID(fp32) is judged on the per-replicate
differences (:func:`navref.sweeps.paired.bootstrap_difference`, centred 95 %). The
verdict line says whether bf16 stays within that interval (0 inside it: no FID change
detected at this sample size).

Two sources of models:

- a finished run (default; ``--results results/<run>`` with ``--config`` its config, e.g.
  a freshly trained ``configs/smoke.yaml`` run): its models, latent space (decoded images),
  feature net and reference statistics; only reads it;
- ``--random-weights``: no run needed. The config's architectures with random weights
  (output heads non-zero so the state moves), no decoding; features are the flattened
  latents and the reference is an independent float32 sample set (seed + 1). This checks
  that bf16 does not move the sample distribution, not image quality.

Both precisions run in the same process, alternately (``--repeats`` rounds after a warm-up
round, median); images/s
include loading the models and, from a run, decoding (the sampling alone:
``benchmarks/sampler_bench.py --precision``). On a CPU without bf16 matmul units autocast is
mostly slower.

    nice .venv/bin/python benchmarks/precision_bench.py --results results/default
    nice .venv/bin/python benchmarks/precision_bench.py --random-weights --samples 600
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from scipy import linalg

from navref.sweeps import get as get_sweep
from navref.sweeps.paired import bootstrap_difference

REPO = Path(__file__).resolve().parents[1]
PRECISIONS = ("fp32", "bf16")


def frechet(feats: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """FID of features (N, D) to N(mu, sigma): |m - mu|^2 + tr(C + sigma - 2 (C sigma)^1/2)
    (Heusel et al. 2017), float64, imaginary round-off of the square root dropped."""
    f = np.asarray(feats, np.float64)
    m, c = f.mean(0), np.cov(f, rowvar=False)
    root = linalg.sqrtm(c @ sigma)
    root = root.real if np.iscomplexobj(root) else root
    return float(((m - mu) ** 2).sum() + np.trace(c) + np.trace(sigma) - 2 * np.trace(root))


def paired_fid_replicates(
    feats: dict[str, np.ndarray], mu, sigma, replicates: int, seed: int
) -> pd.DataFrame:
    """FID of each features set on ``replicates`` resamples with replacement, the SAME rows
    for every set (sample i of every set shares its noise): (precision x replicate)."""
    n = next(iter(feats.values())).shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(replicates, n))
    return pd.DataFrame({k: [frechet(f[i], mu, sigma) for i in idx] for k, f in feats.items()}).T


def alternate(draw, samples: int, repeats: int) -> tuple[dict, dict]:
    """``draw(precision)`` for fp32 and bf16 alternately, ``repeats`` rounds after one
    warm-up round (kernel set-up, first touch), so that load drift hits both alike: (the
    first timed output per precision, median images/s per precision)."""
    for precision in PRECISIONS:
        draw(precision)
    out, times = {}, {p: [] for p in PRECISIONS}
    for _ in range(repeats):
        for precision in PRECISIONS:
            t0 = time.perf_counter()
            result = draw(precision)
            times[precision].append(time.perf_counter() - t0)
            out.setdefault(precision, result)
    return out, {p: samples / statistics.median(t) for p, t in times.items()}


def _setting(conf: dict, name: str):
    kind, key = name.split("/", 1)
    sweep = get_sweep(kind, conf["sweeps"])
    settings = sweep.settings()
    if key not in settings:
        raise SystemExit(f"{kind} has no setting {key!r}; it has {sorted(settings)}")
    setting = dict(settings[key])
    if kind == "stage_swap" and str(setting["tau"]).startswith("s"):
        raise SystemExit("use a timestep_shift or cfg_interval setting (no split time here)")
    return sweep, setting


def _from_run(args, conf, sweep, setting) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Images of both precisions from a finished run, their features and the run's
    reference statistics: (features, images/s, mu, sigma)."""
    from navref.latents import LatentSpace
    from navref.metrics.fidelity import extract_features, load_reference_statistics
    from navref.sweeps.sampling import sample_set
    from navref.training import load_model

    names = sweep.models(setting)
    space = conf["models"][names[0]]["space"]
    dataset = conf["latent_spaces"][space]["dataset"]
    model_dirs = {m: args.results / "models" / m for m in names}
    ev = args.results / "evaluation" / dataset
    for path in [
        *model_dirs.values(),
        args.results / "latents" / space,
        ev / "reference.safetensors",
    ]:
        if not path.exists():
            raise SystemExit(f"{path} is missing: run the pipeline first (--results), or use "
                             "--random-weights")  # fmt: skip
    ref = load_reference_statistics(ev / "reference.safetensors")
    extractor = conf.get("evaluation", {}).get("feature_extractor", "navref-feature-net")
    spaces = {
        p: LatentSpace.load(args.results / "latents" / space, device=args.device, precision=p)
        for p in PRECISIONS
    }

    models = {n: load_model(d, which="ema", device=args.device) for n, d in model_dirs.items()}

    def draw(precision: str) -> np.ndarray:
        return sample_set(
            sweep, setting, models, spaces[precision], args.samples, args.seed, args.device,
            batch_size=args.batch, precision=precision,
        )[0]  # fmt: skip

    images, rate = alternate(draw, args.samples, args.repeats)
    feats = {}
    for precision, imgs in images.items():
        out = extract_features(imgs, extractor, ev / "feature_net.safetensors",
                               device=args.device)  # fmt: skip
        feats[precision] = out[ref["layers"]["fid"]].numpy().astype(np.float64)
    return feats, rate, np.asarray(ref["mu"], np.float64), np.asarray(ref["sigma"], np.float64)


def _random_weights(args, conf, sweep, setting) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Latents of both precisions from randomly initialised models of the config's
    architectures (flattened latents as features) and an independent fp32 reference set."""
    from navref.config_relations import latent_side
    from navref.models.dit import DiTConfig, build_model
    from navref.precision import autocast
    from navref.sampling import balanced_labels, make_noise, sample

    names = sweep.models(setting)
    sp = conf["latent_spaces"][conf["models"][names[0]]["space"]]
    side = latent_side(conf, conf["models"][names[0]]["space"])
    channels = conf["vaes"][sp["vae"]].get("latent_channels", 4) if sp.get("vae") else 1
    k = args.num_classes
    torch.manual_seed(0)
    models = {}
    for n in names:
        arch = {**conf["models"][n]["arch"], "input_size": side, "in_channels": channels}
        models[n] = build_model(DiTConfig.from_dict({**arch, "num_classes": k})).eval()
        with torch.no_grad():
            for p in models[n].final_layer.parameters():
                p.normal_(0, 0.02)
    provider, grid = sweep.velocity(setting, models, k), sweep.grid(setting)
    labels = balanced_labels(args.samples, k)

    def draw(precision: str, seed: int = args.seed) -> np.ndarray:
        out = []
        for start in range(0, args.samples, args.batch):
            stop = min(start + args.batch, args.samples)
            noise = make_noise((stop - start, channels, side, side), seed, start)
            with torch.no_grad(), autocast("cpu", precision):
                out.append(sample(provider, grid, noise, labels[start:stop]).flatten(1))
        return torch.cat(out).double().numpy()

    feats, rate = alternate(draw, args.samples, args.repeats)
    ref = draw("fp32", args.seed + 1)
    return feats, rate, ref.mean(0), np.cov(ref, rowvar=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=Path("results/default"))
    p.add_argument("--config", type=Path, default=REPO / "config.yaml")
    p.add_argument("--setting", default="timestep_shift/s1", help="SWEEP/SETTING")
    p.add_argument("--random-weights", action="store_true", help="no run needed (see above)")
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--replicates", type=int, default=200, help="paired bootstrap draws")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="timed rounds per precision")
    p.add_argument("--num-classes", type=int, default=10, help="with --random-weights")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    conf = yaml.safe_load(args.config.resolve().read_text())
    sweep, setting = _setting(conf, args.setting)
    if args.random_weights:
        args.device = "cpu"
        feats, rate, mu, sigma = _random_weights(args, conf, sweep, setting)
        source = "random weights, latent features, fp32 reference set of seed + 1"
    else:
        args.results = args.results.resolve()
        os.chdir(args.results.parents[1])  # a run's stats.json names its VAE from the workdir
        feats, rate, mu, sigma = _from_run(args, conf, sweep, setting)
        source = f"run {args.results}, its feature net and reference statistics"
    print(f"setting {args.setting}, {args.samples} samples, device {args.device}, "
          f"{torch.get_num_threads()} thread(s); {source}")  # fmt: skip
    point = {k: frechet(f, mu, sigma) for k, f in feats.items()}
    reps = paired_fid_replicates(feats, mu, sigma, args.replicates, args.seed)
    for precision in PRECISIONS:
        print(f"  {precision}: {rate[precision]:8.1f} images/s, FID {point[precision]:.4f}")
    print(f"  images/s bf16 / fp32: {rate['bf16'] / rate['fp32']:.3f}")
    d = bootstrap_difference(
        reps.loc[["bf16"]].set_axis([0]), reps.loc[["fp32"]].set_axis([0]),
        pd.Series([point["bf16"]]), pd.Series([point["fp32"]]),
    )  # fmt: skip
    within = d.low <= 0 <= d.high
    print(f"  FID bf16 - fp32: {d.text}")
    print(
        "  bf16 stays within the paired CI of fp32 (0 inside the interval)"
        if within
        else "  bf16 changes FID beyond the paired CI (0 outside the interval)"
    )


if __name__ == "__main__":
    main()
