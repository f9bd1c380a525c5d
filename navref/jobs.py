"""What the probe and sweep rules do, as functions of paths and config slices.

The ``workflow_scripts/`` entry points only unpack ``snakemake`` and call these. Time
convention: t in [0, 1], t = 0 noise, t = 1 data. Every job is seeded from the config, so
each output is reproducible; samples are balanced over classes (sample i has label
i mod K).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from navref.imgrid import save_grid
from navref.latents import LatentSpace
from navref.probes import intermediate_predictions, loss_curves, mixed_sampling, unseen_resume
from navref.sampling import (
    ModelVelocity,
    OracleVelocity,
    make_noise,
    sample,
    share_below,
    shifted_grid,
    stagewise_grid,
    switch_at,
    uniform_grid,
)
from navref.training import load_model

_REL = re.compile(r"^s(\d+(?:\.\d+)?)$")


def checkpoint_path(model_dir: str | Path, ckpt: str) -> Path:
    """``ema`` -> the final EMA model; ``step<N>`` -> the EMA weights saved at step N."""
    model_dir = Path(model_dir)
    if ckpt == "ema":
        return model_dir / "model.safetensors"
    m = re.fullmatch(r"step(\d+)", ckpt)
    if not m:
        raise ValueError(f"checkpoint {ckpt!r}: use 'ema' or 'step<N>'")
    path = model_dir / "checkpoints" / f"step_{int(m.group(1)):08d}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} missing; retrain the model (its job)")
    return path


def resolve_tau(spec: str | float, split_times: pd.DataFrame | None, space: str) -> float:
    """A tau from the config: a number in [0, 1], or ``s<f>`` = f x the measured split time
    (class-conditional oracle curve of ``space``), clipped to [0, 1]."""
    m = _REL.match(str(spec))
    if not m:
        tau = float(spec)
    else:
        if split_times is None:
            raise ValueError(f"relative tau {spec!r} needs the split-time table")
        row = split_times[
            (split_times["curve"] == "objective")
            & (split_times["space"] == space)
            & (split_times["conditional"] == True)  # noqa: E712 (object column)
        ]
        if row.empty or not bool(row["reached"].iloc[0]):
            raise ValueError(
                f"relative tau {spec!r}: no split time measured for space {space!r}; "
                "give absolute taus or widen oracle.t_grid"
            )
        tau = float(m.group(1)) * float(row["t_split"].iloc[0])
    if not 0.0 <= tau <= 1.0 or math.isnan(tau):
        tau = min(max(tau, 0.0), 1.0)
    return round(tau, 4)


def balanced_labels(n: int, num_classes: int) -> torch.Tensor:
    return torch.arange(n) % num_classes


def run_loss_curves(
    model_path: Path, space_dir: Path, cfg: dict[str, Any], seed: int, device: str
) -> pd.DataFrame:
    """CFM and oracle loss per t of one checkpoint (Fig. 7, 9), on training latents."""
    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    model = load_model(model_path, which="ema", device=device)
    return loss_curves(
        model,
        data,
        labels,
        int(space.stats["num_classes"]),
        cfg["t_grid"],
        int(cfg["num_samples"]),
        seed,
        oracle_data=data,
        oracle_labels=labels,
        batch_size=int(cfg.get("batch_size", 256)),
        chunk_size=cfg.get("chunk_size"),
        device=device,
    )


def _conditional_model(
    model_dir: Path, space_dir: Path, device: str
) -> tuple[LatentSpace, int, ModelVelocity]:
    """The latent space, its class count and the model's conditional velocity (no CFG)."""
    space = LatentSpace.load(space_dir, device=device)
    k = int(space.stats["num_classes"])
    model = load_model(model_dir, which="ema", device=device)
    return space, k, ModelVelocity(model, k, mode="cond")


def _decode_nearest(space: LatentSpace, train: Any, per_sample: pd.DataFrame, n: int) -> np.ndarray:
    """Decoded nearest training samples of the first ``n`` probe samples."""
    return space.decode(np.asarray(train[per_sample["nn1_index"].to_numpy()[:n]]))


def run_intermediate(
    model_dir: Path, space_dir: Path, cfg: dict[str, Any], seed: int, device: str, png: Path
) -> pd.DataFrame:
    """Intermediate predictions x1_hat at the configured t (Fig. 4, 8), grid and table."""
    space, k, provider = _conditional_model(model_dir, space_dir, device)
    n = int(cfg["num_samples"])
    shape = tuple(space.stats["shape"][1:])
    noise = make_noise((n, *shape), seed, device=device)
    labels = balanced_labels(n, k).to(device)
    grid = uniform_grid(int(cfg["steps"]))
    res = intermediate_predictions(provider, grid, noise, labels, cfg["record_t"])
    rows = min(int(cfg.get("grid_rows", k)), n)
    cols = [space.decode(p[:rows].cpu()) for p in res.predictions]
    cols.append(space.decode(res.final[:rows].cpu()))
    save_grid(np.stack(cols, axis=1), png, scale=int(cfg.get("grid_scale", 2)))
    return res.table


def run_mixed(
    model_dir: Path,
    space_dir: Path,
    tau: float,
    cfg: dict[str, Any],
    seed: int,
    device: str,
    png: Path,
) -> pd.DataFrame:
    """Oracle for t < tau, model after (Fig. 5); grid: samples above their nearest
    training images."""
    space, k, provider = _conditional_model(model_dir, space_dir, device)
    data, labels = space.split_arrays("train")
    n = int(cfg["num_samples"])
    noise = make_noise((n, *data.shape[1:]), seed, device=device)
    y = balanced_labels(n, k).to(device)
    res = mixed_sampling(
        OracleVelocity(data, labels, conditional=True),
        provider,
        tau,
        int(cfg["steps"]),
        noise,
        y,
        data,
        labels,
    )
    cols = min(int(cfg.get("grid_cols", k)), n)
    samples = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, data, res.per_sample, cols)
    save_grid(np.stack([samples, nn]), png, scale=int(cfg.get("grid_scale", 2)))
    return res.summary


def run_unseen(
    model_dir: Path,
    space_dir: Path,
    tau: float,
    cfg: dict[str, Any],
    seed: int,
    device: str,
    png: Path,
) -> pd.DataFrame:
    """Resume from x_tau built on validation latents (Fig. 6); grid: validation source,
    result, nearest training image."""
    space, k, provider = _conditional_model(model_dir, space_dir, device)
    train, _ = space.split_arrays("train")
    val, val_labels = space.split_arrays("val")
    n = min(int(cfg["num_samples"]), len(val))
    res = unseen_resume(
        provider,
        tau,
        int(cfg["steps"]),
        np.asarray(val[:n]),
        np.asarray(val_labels[:n]),
        seed,
        train,
        device=device,
    )
    cols = min(int(cfg.get("grid_cols", k)), n)
    src = space.decode(np.asarray(val[:cols]))
    out = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, train, res.per_sample, cols)
    save_grid(np.stack([src, out, nn]), png, scale=int(cfg.get("grid_scale", 2)))
    return res.summary


def generation_plan(
    sweep: str, setting: dict[str, Any], num_classes: int, split_time: float | None
) -> tuple[Any, dict[str, Any]]:
    """Time grid and the provider recipe of one sweep setting (Tab. 1-3).

    ``setting`` holds: stage_swap: ``tau``, ``steps_per_stage`` (n Euler steps on [0, tau]
    with ``stage1`` and n on [tau, 1] with ``stage2``, no CFG); timestep_shift: ``shift``
    (s) and ``steps`` (t_m = s t_n / (1 + (s - 1) t_n)); cfg_interval: ``interval``
    ([a, b] or None) and ``scale`` (guidance only for t in [a, b]), ``steps`` uniform.
    Returns ``(grid, info)`` where ``info`` describes the setting for the metrics table.
    """
    if sweep == "stage_swap":
        tau, n = float(setting["tau"]), int(setting["steps_per_stage"])
        grid = stagewise_grid(tau, n, n)
        info = {"tau": tau, "steps": 2 * n}
    elif sweep == "timestep_shift":
        grid = shifted_grid(int(setting["steps"]), float(setting["shift"]))
        info = {"shift": float(setting["shift"]), "steps": int(setting["steps"])}
        if split_time is not None:
            info.update(
                split_time=split_time,
                share_below_split=share_below(grid, split_time, inclusive=True),
            )
    elif sweep == "cfg_interval":
        grid = uniform_grid(int(setting["steps"]))
        a, b = setting["interval"] if setting.get("interval") else (math.nan, math.nan)
        info = {
            "cfg_a": a,
            "cfg_b": b,
            "cfg_scale": float(setting["scale"]),
            "steps": int(setting["steps"]),
        }
    else:
        raise ValueError(f"unknown sweep {sweep!r}")
    return grid, info


def run_generation(
    sweep: str,
    setting: dict[str, Any],
    model_dirs: dict[str, Path],
    space_dir: Path,
    num_samples: int,
    seed: int,
    device: str,
    split_time: float | None = None,
    batch_size: int = 500,
    log: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Generate ``num_samples`` class-balanced, seeded samples of one sweep setting and
    decode them: returns (uint8 images (N, H, W, C), labels (N,), info). ``info`` holds only
    deterministic facts (setting, seed, NFE); the sampling speed goes to ``log``.

    Sample i starts from the noise of (seed, i), whatever the batch size, so two settings
    with the same seed start from the same noise (paired comparison)."""
    space = LatentSpace.load(space_dir, device=device)
    k = int(space.stats["num_classes"])
    grid, info = generation_plan(sweep, setting, k, split_time)
    models = {name: load_model(d, which="ema", device=device) for name, d in model_dirs.items()}
    if sweep == "stage_swap":
        first = ModelVelocity(models[setting["stage1"]], k, mode="cond")
        second = ModelVelocity(models[setting["stage2"]], k, mode="cond")
        provider = switch_at(float(setting["tau"]), first, second)
    elif sweep == "cfg_interval" and setting.get("interval"):
        (model,) = models.values()
        provider = ModelVelocity(
            model,
            k,
            mode="cfg",
            cfg_scale=float(setting["scale"]),
            cfg_interval=tuple(setting["interval"]),
        )
    else:
        (model,) = models.values()
        provider = ModelVelocity(model, k, mode="cond")
    shape = tuple(space.stats["shape"][1:])
    labels = balanced_labels(num_samples, k)
    images = []
    t0 = time.perf_counter()
    for start in range(0, num_samples, batch_size):
        stop = min(start + batch_size, num_samples)
        noise = make_noise((stop - start, *shape), seed, start, device=device)
        with torch.no_grad():
            z = sample(provider, grid.to(device), noise, labels[start:stop].to(device))
        images.append(space.decode(z.cpu()))
    seconds = time.perf_counter() - t0
    info.update(seed=seed, num_samples=num_samples, nfe=len(grid) - 1)
    # the timing goes to the log only: everything in ``info`` lands in the (deterministic)
    # sample file and metrics table
    if log is not None:
        rate = num_samples / max(seconds, 1e-9)
        log(f"sampled {num_samples} images in {seconds:.1f} s ({rate:.1f} images/s)")
    return np.concatenate(images), labels.numpy(), info


def _image_dataset(dataset_dir: Path) -> Any:
    """A prepared dataset (data memory-mapped) that must hold images."""
    from navref.data import load_prepared

    ds = load_prepared(dataset_dir)
    if ds.modality != "image":
        raise ValueError(f"{dataset_dir} holds vectors; evaluation needs an image dataset")
    return ds


def _split_rows(ds: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of one split, without reading the others: the images are a
    memory-mapped slice when the split's rows are contiguous (as prepare_dataset writes
    them), a copy of just those rows otherwise; empty arrays for an absent split."""
    rows = np.flatnonzero(ds.meta["split"].to_numpy() == split)
    labels = ds.meta["label"].to_numpy()[rows]
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return ds.data[rows[0] : rows[-1] + 1], labels
    return np.asarray(ds.data[rows]), labels


def train_images(dataset_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, val images, val labels) of a prepared dataset; the
    images as in :func:`split_images` (memory-mapped slices where possible)."""
    ds = _image_dataset(dataset_dir)
    return (*_split_rows(ds, "train"), *_split_rows(ds, "val"))


def split_images(dataset_dir: Path, split: str) -> np.ndarray:
    """The images of one split of a prepared dataset, uint8 (n, H, W, C), without reading
    the rest (see :func:`_split_rows`). Streaming consumers (nearest neighbours, feature
    extraction) then read it chunk by chunk, so ImageNet's train split never has to fit in
    memory. An empty split is an error."""
    images, _ = _split_rows(_image_dataset(dataset_dir), split)
    if len(images) == 0:
        raise ValueError(f"{dataset_dir}: no rows in split {split!r}")
    return images


__all__ = [
    "balanced_labels",
    "split_images",
    "generation_plan",
    "run_generation",
    "train_images",
    "checkpoint_path",
    "resolve_tau",
    "run_intermediate",
    "run_loss_curves",
    "run_mixed",
    "run_unseen",
]
