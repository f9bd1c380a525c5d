"""The probe jobs (rules ``probe_*``): one trained model on its latent space, seeded from
the config, each writing its table (and image grid) for the report.

The probes themselves are pure functions in :mod:`navref.probes`; here they meet the files
(model, latent space, split times) and the decoder. Time convention: see
:mod:`navref.path` (t = 0 noise, t = 1 data); samples are class-balanced
(:func:`navref.sampling.balanced_labels`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from navref.analysis.split_times import SplitTimes, resolve_time
from navref.checkpoint import checkpoint_path
from navref.data.splits import image_split
from navref.evaluation import memorization_reference
from navref.imgrid import save_grid
from navref.io import save_parquet
from navref.latents import LatentSpace
from navref.metrics.memorization import DEFAULT_THRESHOLD, to_pixels
from navref.precision import autocast_dtype
from navref.probes import intermediate_predictions, loss_curves, mixed_sampling, unseen_resume
from navref.sampling import (
    ModelVelocity,
    OracleVelocity,
    balanced_labels,
    make_noise,
    uniform_grid,
)
from navref.training import load_model

__all__ = [
    "gather_probe_tables",
    "run_intermediate",
    "run_loss_curves",
    "run_mixed",
    "run_tau_probe",
    "run_unseen",
]

Settings = dict[str, Any]


def _pixel_metric(
    space: LatentSpace, files: Mapping[str, str], settings: Settings
) -> tuple[Callable[[Any], torch.Tensor], Any, dict[str, float]]:
    """The memorization metric of ``evaluate_samples`` for probe samples: the embedding
    latents -> decoded uint8 pixels (downsampled to ``memorization_resolution`` when set), the
    train split it searches (:func:`navref.evaluation.memorization_reference`) and the
    threshold keyword."""
    res = settings.get("memorization_resolution")

    def embed(z: Any) -> torch.Tensor:
        z = z.detach().cpu() if isinstance(z, torch.Tensor) else z
        return torch.from_numpy(to_pixels(space.decode(z), res)).float()

    thr = float(settings.get("memorization_threshold", DEFAULT_THRESHOLD))
    return embed, memorization_reference(files, res), {"threshold": thr}


def run_loss_curves(
    model_dir: str | os.PathLike,
    ckpt: str,
    space_dir: str | os.PathLike,
    settings: Settings,
    seed: int,
    device: str,
    precision: str = "fp32",
) -> pd.DataFrame:
    """CFM and oracle loss per t of checkpoint ``ckpt`` (``"ema"`` / ``"step<N>"``) of a
    model (Fig. 7, 9), on the training latents. ``settings``: ``probes.loss_curves`` with
    ``t_grid`` expanded and the oracle's ``chunk_size``. The model's forwards run under
    ``precision`` (:mod:`navref.precision`); losses and the oracle stay float32."""
    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    model = load_model(checkpoint_path(model_dir, ckpt), which="ema", device=device)
    return loss_curves(
        model,
        data,
        labels,
        int(space.stats["num_classes"]),
        settings["t_grid"],
        int(settings["num_samples"]),
        seed,
        oracle_data=data,
        oracle_labels=labels,
        batch_size=int(settings.get("batch_size", 256)),
        chunk_size=settings.get("chunk_size"),
        device=device,
        autocast=autocast_dtype(precision),
    )


def _conditional_model(
    model_dir: str | os.PathLike, space_dir: str | os.PathLike, device: str, precision: str
) -> tuple[LatentSpace, int, ModelVelocity]:
    """The latent space, its class count and the model's conditional velocity (no CFG);
    the model's and the VAE's forwards under ``precision`` (:mod:`navref.precision`)."""
    space = LatentSpace.load(space_dir, device=device, precision=precision)
    k = int(space.stats["num_classes"])
    model = load_model(model_dir, which="ema", device=device)
    return space, k, ModelVelocity(model, k, mode="cond", autocast=autocast_dtype(precision))


def _decode_nearest(space: LatentSpace, train: Any, per_sample: pd.DataFrame, n: int) -> np.ndarray:
    """Decoded nearest training samples of the first ``n`` probe samples."""
    return space.decode(np.asarray(train[per_sample["nn1_index"].to_numpy()[:n]]))


def run_intermediate(
    model_dir: str | os.PathLike,
    space_dir: str | os.PathLike,
    settings: Settings,
    seed: int,
    device: str,
    png: Path,
    precision: str = "fp32",
) -> pd.DataFrame:
    """Intermediate predictions x1_hat at the configured t (Fig. 4, 8): the grid goes to
    ``png`` (rows: samples, columns: the recorded t, then the final sample), the table is
    returned."""
    space, k, provider = _conditional_model(model_dir, space_dir, device, precision)
    n = int(settings["num_samples"])
    shape = tuple(space.stats["shape"][1:])
    noise = make_noise((n, *shape), seed, device=device)
    labels = balanced_labels(n, k).to(device)
    grid = uniform_grid(int(settings["steps"]))
    res = intermediate_predictions(provider, grid, noise, labels, settings["record_t"])
    rows = min(int(settings.get("grid_rows", k)), n)
    cols = [space.decode(p[:rows].cpu()) for p in res.predictions]
    cols.append(space.decode(res.final[:rows].cpu()))
    save_grid(np.stack(cols, axis=1), png, scale=int(settings.get("grid_scale", 2)))
    return res.table


def run_mixed(
    model_dir: str | os.PathLike,
    space_dir: str | os.PathLike,
    tau: float,
    settings: Settings,
    seed: int,
    device: str,
    png: Path,
    files: Mapping[str, str],
    precision: str = "fp32",
) -> pd.DataFrame:
    """Oracle for t < tau, model after (Fig. 5), memorization in pixel space against the
    real train split (``files``: the dataset's ``info`` and, when downsampled,
    ``memorization_train``); grid: samples above their nearest training images."""
    space, k, provider = _conditional_model(model_dir, space_dir, device, precision)
    data, labels = space.split_arrays("train")
    embed, train_px, thr = _pixel_metric(space, files, settings)
    n = int(settings["num_samples"])
    noise = make_noise((n, *data.shape[1:]), seed, device=device)
    y = balanced_labels(n, k).to(device)
    res = mixed_sampling(
        OracleVelocity(data, labels, conditional=True),
        provider,
        tau,
        int(settings["steps"]),
        noise,
        y,
        train_px,
        labels,
        embed=embed,
        **thr,
    )
    cols = min(int(settings.get("grid_cols", k)), n)
    samples = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, data, res.per_sample, cols)
    save_grid(np.stack([samples, nn]), png, scale=int(settings.get("grid_scale", 2)))
    return res.summary


def run_unseen(
    model_dir: str | os.PathLike,
    space_dir: str | os.PathLike,
    tau: float,
    settings: Settings,
    seed: int,
    device: str,
    png: Path,
    files: Mapping[str, str],
    precision: str = "fp32",
) -> pd.DataFrame:
    """Resume from x_tau built on validation latents (Fig. 6), distances in pixel space to
    the real validation image and the real train split (``files`` as in :func:`run_mixed`);
    grid: validation source, result, nearest training image."""
    space, k, provider = _conditional_model(model_dir, space_dir, device, precision)
    train, _ = space.split_arrays("train")
    val, val_labels = space.split_arrays("val")
    embed, train_px, thr = _pixel_metric(space, files, settings)
    n = min(int(settings["num_samples"]), len(val))
    val_images, _ = image_split(Path(files["info"]).parent, "val")
    source = to_pixels(np.asarray(val_images[:n]), settings.get("memorization_resolution"))
    res = unseen_resume(
        provider,
        tau,
        int(settings["steps"]),
        np.asarray(val[:n]),
        np.asarray(val_labels[:n]),
        seed,
        train_px,
        embed=embed,
        source=source.astype(np.float32),
        device=device,
        **thr,
    )
    cols = min(int(settings.get("grid_cols", k)), n)
    src = space.decode(np.asarray(val[:cols]))
    out = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, train, res.per_sample, cols)
    save_grid(np.stack([src, out, nn]), png, scale=int(settings.get("grid_scale", 2)))
    return res.summary


def run_tau_probe(
    probe: str,
    tau_spec: str,
    model_dir: str | os.PathLike,
    space_dir: str | os.PathLike,
    split_times_path: str | os.PathLike | None,
    settings: Settings,
    seed: int,
    device: str,
    out_table: str | os.PathLike,
    out_png: str | os.PathLike,
    log: logging.Logger,
    files: Mapping[str, str],
    precision: str = "fp32",
) -> None:
    """Rules ``probe_mixed`` / ``probe_unseen`` (``probe`` = ``"mixed"`` / ``"unseen"``) at
    switch time ``tau_spec`` (absolute, or relative ``"s<f>"``, which needs the split-time
    table): writes the summary (with the spec in ``tau_spec``) and the grid. ``files``: the
    memorization metric's train split (:func:`_pixel_metric`)."""
    split_times = SplitTimes.read(split_times_path) if split_times_path else None
    tau = resolve_time(tau_spec, split_times, Path(space_dir).name)
    log.info("tau %s -> %.4f", tau_spec, tau)
    run = {"mixed": run_mixed, "unseen": run_unseen}[probe]
    summary = run(
        model_dir, space_dir, tau, settings, seed, device, Path(out_png), files, precision
    )
    summary.insert(0, "tau_spec", tau_spec)
    save_parquet(out_table, summary)


def _gather(paths: Sequence[str], parse: Callable[[Path], dict[str, Any]]) -> pd.DataFrame:
    """The per-job tables at ``paths`` in one frame, each led by the columns ``parse`` reads
    from its path."""
    frames = []
    for p in paths:
        frame = pd.read_parquet(p)
        for i, (k, v) in enumerate(parse(Path(p)).items()):
            frame.insert(i, k, v)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def gather_probe_tables(
    inputs: Mapping[str, Sequence[str]],
    models: Mapping[str, Mapping[str, Any]],
    out: Mapping[str, str],
) -> None:
    """Rule ``probe_tables``: the per-job tables of each probe in ``inputs`` (probe ->
    paths; the rule passes one probe) in one tidy table per probe (``out[probe]``), with the
    model's ``space``, ``size`` and ``target`` (from ``models``) and, for the loss curves,
    ``checkpoint`` (ema / step) and ``step``. A probe not in ``inputs`` is not written."""

    def by_model(model: str) -> dict[str, Any]:
        m = models[model]
        return {"model": model, "space": m["space"], "size": m["size"], "target": m["target"]}

    def ckpt(p: Path) -> dict[str, Any]:
        step = re.fullmatch(r"step(\d+)", p.stem)
        model = p.parent.name
        return {
            **by_model(model),
            "checkpoint": "ema" if p.stem == "ema" else "step",
            "step": int(step.group(1)) if step else int(models[model]["steps"]),
        }

    if "loss_curves" in inputs:
        save_parquet(out["loss_curves"], _gather(inputs["loss_curves"], ckpt))
    if "intermediate" in inputs:
        frame = _gather(inputs["intermediate"], lambda p: by_model(p.stem))
        save_parquet(out["intermediate"], frame)
    for probe in ("mixed", "unseen"):
        if probe in inputs:
            frame = _gather(inputs[probe], lambda p: by_model(p.parent.name))
            save_parquet(out[probe], _by_model_then_tau(frame))


def _by_model_then_tau(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a tau probe in model order (as gathered) and, per model, by the absolute tau
    (not by the spec's text, where "s0.25" would sort after "1.0")."""
    if frame.empty:
        return frame
    order = {m: i for i, m in enumerate(dict.fromkeys(frame["model"]))}
    keys = frame["model"].map(order).to_numpy() * 10.0 + frame["tau"].to_numpy()  # tau in [0, 1]
    return frame.iloc[np.argsort(keys, kind="stable")].reset_index(drop=True)
