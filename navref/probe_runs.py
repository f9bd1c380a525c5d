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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from navref.analysis.split_times import SplitTimes, resolve_time
from navref.checkpoint import checkpoint_path
from navref.data.splits import image_split
from navref.evaluation import memorization_reference
from navref.gaussian_null import GaussianControl, GaussianVelocity, fit_gaussian
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
    "run_gaussian_control",
    "run_intermediate",
    "run_loss_curves",
    "run_mixed",
    "run_tau_probes",
    "run_unseen",
]

Settings = dict[str, Any]


def _pixel_metric(
    space: LatentSpace, files: Mapping[str, str], settings: Settings
) -> tuple[Callable[[Any], torch.Tensor], Any, dict[str, float]]:
    """The memorization metric of ``evaluate_sweep_<kind>`` for probe samples: the embedding
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
    ckpts: Sequence[str],
    space_dir: str | os.PathLike,
    settings: Settings,
    seed: int,
    device: str,
    precision: str = "fp32",
) -> dict[str, pd.DataFrame]:
    """CFM and oracle loss per t of each checkpoint in ``ckpts`` (``"ema"`` / ``"step<N>"``)
    of a model (Fig. 7, 9), on the training latents: {checkpoint: its table}. The latent
    space is read once; each checkpoint's table is what a run on that checkpoint alone gives
    (the same pairs, noise and batches: nothing carries over from one checkpoint to the
    next). ``settings``: ``probes.loss_curves`` with ``t_grid`` expanded and the oracle's
    ``chunk_size``. The model's forwards run under ``precision`` (:mod:`navref.precision`);
    losses and the oracle stay float32."""
    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    tables = {}
    for ckpt in ckpts:
        model = load_model(checkpoint_path(model_dir, ckpt), which="ema", device=device)
        tables[ckpt] = loss_curves(
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
            forward_batch_size=settings.get("forward_batch_size"),
        )
    return tables


def _conditional_model(
    model_dir: str | os.PathLike, space_dir: str | os.PathLike, device: str, precision: str
) -> tuple[LatentSpace, int, ModelVelocity]:
    """The latent space, its class count and the model's conditional velocity (no CFG);
    the model's and the VAE's forwards under ``precision`` (:mod:`navref.precision`)."""
    space = LatentSpace.load(space_dir, device=device, precision=precision)
    k = int(space.stats["num_classes"])
    model = load_model(model_dir, which="ema", device=device)
    return space, k, ModelVelocity(model, k, mode="cond", autocast=autocast_dtype(precision))


def train_chunks(
    space: LatentSpace, chunk_rows: int = 4096
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(latents, labels) of the train split of ``space`` in chunks of at most ``chunk_rows``
    rows of the stored latents (memory-mapped: a scattered split is never gathered whole)."""
    meta = space.meta()
    train = meta["split"].to_numpy() == "train"
    labels = meta["label"].to_numpy()
    z = space.latents()
    for s in range(0, len(z), chunk_rows):
        keep = train[s : s + chunk_rows]
        if keep.any():
            yield np.asarray(z[s : s + chunk_rows])[keep], labels[s : s + chunk_rows][keep]


def run_gaussian_control(
    space_dir: str | os.PathLike,
    out: str | os.PathLike,
    out_meta: str | os.PathLike,
    device: str,
    chunk_rows: int = 4096,
) -> GaussianControl:
    """Rule ``gaussian_control``: the stage-free control of claims 4 and 10
    (:mod:`navref.gaussian_null`) of one latent space, once for all its probe jobs: the
    class means of its training latents and their pooled within-class covariance, streamed
    over the latents in chunks (float64 sums and X^T X on ``device``) and eigendecomposed
    once there (float64), written to ``out`` (safetensors) and ``out_meta`` (JSON: n, dim,
    num_classes, eigenvalue range)."""
    space = LatentSpace.load(space_dir)
    control = fit_gaussian(train_chunks(space, chunk_rows), conditional=True, device=device)
    control.save(out, out_meta)
    return control


def null_velocity(path: str | os.PathLike) -> GaussianVelocity:
    """The stage-free control of claims 4 and 10 (:mod:`navref.gaussian_null`) of rule
    ``gaussian_control``'s file ``path``: the class-conditional Gaussian with each class's
    mean of the training latents (what the probed model, conditioned on the class, was
    trained on) and their pooled within-class covariance (one for every class), exact
    velocity."""
    return GaussianVelocity.load(path)


#: the intermediate table's columns that the stage-free control also gets (``null_<col>``)
NULL_COLUMNS = ("mse", "rel_l2", "rel_l2_std")


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
    control: str | os.PathLike,
    precision: str = "fp32",
) -> pd.DataFrame:
    """Intermediate predictions x1_hat at the configured t (Fig. 4, 8): the grid goes to
    ``png`` (rows: samples, columns: the recorded t, then the final sample), the table is
    returned, with the stage-free control's numbers beside the model's (``null_mse``,
    ``null_rel_l2``, ``null_rel_l2_std``: :func:`null_velocity` of the space's ``control``
    file, run with the same grid, noise, labels and record times, its one-step predictions
    compared with its own final samples)."""
    space, k, provider = _conditional_model(model_dir, space_dir, device, precision)
    n = int(settings["num_samples"])
    shape = tuple(space.stats["shape"][1:])
    noise = make_noise((n, *shape), seed, device=device)
    labels = balanced_labels(n, k).to(device)
    grid = uniform_grid(int(settings["steps"]))
    res = intermediate_predictions(provider, grid, noise, labels, settings["record_t"])
    null = intermediate_predictions(
        null_velocity(control), grid, noise, labels, settings["record_t"]
    )
    rows = min(int(settings.get("grid_rows", k)), n)
    cols = [space.decode(p[:rows].cpu()) for p in res.predictions]
    cols.append(space.decode(res.final[:rows].cpu()))
    save_grid(np.stack(cols, axis=1), png, scale=int(settings.get("grid_scale", 2)))
    return res.table.assign(**{f"null_{c}": null.table[c].to_numpy() for c in NULL_COLUMNS})


class _ProbedModel(NamedTuple):
    """What every tau of one mixed / unseen probe job reads, loaded once per job: the latent
    space, its class count ``k``, the model's conditional velocity and the memorization
    metric of :func:`_pixel_metric` (``embed``, ``train_px``, ``threshold``) and the
    stage-free control's velocity (:func:`null_velocity`; None where the probe does not
    use it: unseen). Read only: a tau's run changes none of it."""

    space: LatentSpace
    k: int
    provider: ModelVelocity
    embed: Callable[[Any], torch.Tensor]
    train_px: Any
    threshold: dict[str, float]
    null: GaussianVelocity | None


def run_mixed(
    probed: _ProbedModel, tau: float, settings: Settings, seed: int, device: str, png: Path
) -> pd.DataFrame:
    """Oracle for t < tau, model after (Fig. 5), memorization in pixel space against the
    real train split; grid: samples above their nearest training images. The noise is drawn
    here from ``seed`` (:func:`navref.sampling.make_noise`), the same at every tau; the
    stage-free control resumes from the same x_tau (``null_memorization_share``)."""
    space, k = probed.space, probed.k
    data, labels = space.split_arrays("train")
    n = int(settings["num_samples"])
    noise = make_noise((n, *data.shape[1:]), seed, device=device)
    y = balanced_labels(n, k).to(device)
    res = mixed_sampling(
        OracleVelocity(data, labels, conditional=True),
        probed.provider,
        tau,
        int(settings["steps"]),
        noise,
        y,
        probed.train_px,
        labels,
        embed=probed.embed,
        null_provider=probed.null,
        **probed.threshold,
    )
    cols = min(int(settings.get("grid_cols", k)), n)
    samples = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, data, res.per_sample, cols)
    save_grid(np.stack([samples, nn]), png, scale=int(settings.get("grid_scale", 2)))
    return res.summary


def run_unseen(
    probed: _ProbedModel,
    tau: float,
    settings: Settings,
    seed: int,
    device: str,
    png: Path,
    files: Mapping[str, str],
) -> pd.DataFrame:
    """Resume from x_tau built on validation latents (Fig. 6), distances in pixel space to
    the real validation image (``files["info"]``: the prepared dataset) and the real train
    split; grid: validation source, result, nearest training image. The noise is drawn
    from ``seed`` inside :func:`navref.probes.unseen_resume`, the same at every tau."""
    space, k = probed.space, probed.k
    train, _ = space.split_arrays("train")
    val, val_labels = space.split_arrays("val")
    n = min(int(settings["num_samples"]), len(val))
    val_images, _ = image_split(Path(files["info"]).parent, "val")
    source = to_pixels(np.asarray(val_images[:n]), settings.get("memorization_resolution"))
    res = unseen_resume(
        probed.provider,
        tau,
        int(settings["steps"]),
        np.asarray(val[:n]),
        np.asarray(val_labels[:n]),
        seed,
        probed.train_px,
        embed=probed.embed,
        source=source.astype(np.float32),
        device=device,
        **probed.threshold,
    )
    cols = min(int(settings.get("grid_cols", k)), n)
    src = space.decode(np.asarray(val[:cols]))
    out = space.decode(res.samples[:cols].cpu())
    nn = _decode_nearest(space, train, res.per_sample, cols)
    save_grid(np.stack([src, out, nn]), png, scale=int(settings.get("grid_scale", 2)))
    return res.summary


def run_tau_probes(
    probe: str,
    tau_specs: Sequence[str],
    model_dir: str | os.PathLike,
    space_dir: str | os.PathLike,
    split_times_path: str | os.PathLike | None,
    settings: Settings,
    seed: int,
    device: str,
    out_tables: Sequence[str | os.PathLike],
    out_pngs: Sequence[str | os.PathLike],
    log: logging.Logger,
    files: Mapping[str, str],
    precision: str = "fp32",
    control: str | os.PathLike | None = None,
) -> None:
    """Rules ``probe_mixed`` / ``probe_unseen`` (``probe`` = ``"mixed"`` / ``"unseen"``) of
    one model at each switch time of ``tau_specs`` (absolute, or relative ``"s<f>"``, which
    needs the split-time table): writes each tau's summary (with the spec in ``tau_spec``)
    to ``out_tables[i]`` and its grid to ``out_pngs[i]``. Model, latent space, decoder and
    the memorization metric's train split (``files``, :func:`_pixel_metric`) are loaded
    once, and for ``mixed`` the stage-free control of rule ``gaussian_control``'s file
    ``control`` (:func:`null_velocity`; the unseen probe does not use it); each tau draws its
    noise from ``seed`` afresh, so its outputs do not depend on which taus ran before it.
    Raises ``ValueError`` when the three lists differ in length, or for ``mixed`` without
    ``control``."""
    if not len(tau_specs) == len(out_tables) == len(out_pngs):
        raise ValueError(
            f"run_tau_probes: {len(tau_specs)} taus need as many tables and grids, got "
            f"{len(out_tables)} and {len(out_pngs)}"
        )
    if probe == "mixed" and control is None:
        raise ValueError("run_tau_probes: the mixed probe needs the stage-free control's file")
    split_times = SplitTimes.read(split_times_path) if split_times_path else None
    space, k, provider = _conditional_model(model_dir, space_dir, device, precision)
    embed, train_px, thr = _pixel_metric(space, files, settings)
    null = null_velocity(control) if probe == "mixed" else None
    probed = _ProbedModel(space, k, provider, embed, train_px, thr, null)
    for spec, table, png in zip(tau_specs, out_tables, out_pngs, strict=True):
        tau = resolve_time(spec, split_times, Path(space_dir).name)
        log.info("tau %s -> %.4f", spec, tau)
        if probe == "mixed":
            summary = run_mixed(probed, tau, settings, seed, device, Path(png))
        elif probe == "unseen":
            summary = run_unseen(probed, tau, settings, seed, device, Path(png), files)
        else:
            raise ValueError(f"run_tau_probes: probe must be 'mixed' or 'unseen', got {probe!r}")
        summary.insert(0, "tau_spec", spec)
        save_parquet(table, summary)


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
    ``base_model`` and ``train_replicate`` (the config entry and training replicate the
    model is, :mod:`navref.replicates`; the model itself and 0 where ``models`` does not
    say), ``checkpoint`` (ema / step) and ``step``. A probe not in ``inputs`` is not
    written."""

    def by_model(model: str) -> dict[str, Any]:
        m = models[model]
        return {"model": model, "space": m["space"], "size": m["size"], "target": m["target"]}

    def ckpt(p: Path) -> dict[str, Any]:
        step = re.fullmatch(r"step(\d+)", p.stem)
        model = p.parent.name
        return {
            **by_model(model),
            "base_model": str(models[model].get("base_model", model)),
            "train_replicate": int(models[model].get("train_replicate", 0)),
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
