"""The training loop: rectified-flow regression of v_theta(x_t, t, y) on the CFM (or oracle)
target, AdamW, gradient clipping, EMA, logging, checkpoints and export.

Path and time convention: :mod:`navref.path`. The loss is the mean squared error
||v_theta(x_t, t, y') - target||^2 (mean over elements), y' = y with probability
1 - label_dropout and the null class otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm.auto import tqdm

from navref import path
from navref.devices import resolve_device
from navref.fingerprint import array_fingerprint
from navref.io import atomic_path, save_json, save_parquet
from navref.models.dit import DiTConfig, count_params
from navref.training.batches import FlowBatchSampler, batches_on_rank
from navref.training.config import TrainConfig, as_conf
from navref.training.data import check_data, fill_model_conf
from navref.training.loss_window import LOG_COLUMNS
from navref.training.optim import ema_decay_at, ema_update, lr_at
from navref.training.state import (
    RunSpec,
    TrainState,
    checkpoint_names,
    init_state,
    restore_state,
    save_state,
)
from navref.training.targets import TargetFn, make_target

_LOGGER = logging.getLogger("navref.training")


def train(
    train_conf: TrainConfig | dict[str, Any],
    model_conf: DiTConfig | dict[str, Any],
    latents: Any,
    labels: Any,
    num_classes: int,
    out_dir: str | os.PathLike,
    log: Callable[[str], None] | None = None,
    *,
    device: str | torch.device | None = None,
    oracle_data: Any = None,
    oracle_labels: Any = None,
    resume: bool = True,
    progress: bool = True,
    inputs: Mapping[str, str] | None = None,
) -> Path:
    """Train a DiT with rectified-flow CFM (or the oracle target); return the model path.

    Args:
        train_conf, model_conf: configs (or their dicts). ``model_conf``'s ``in_channels``,
            ``input_size`` and ``num_classes`` may be None: they are filled from the data.
        latents: (N, C, H, W) float array (np.ndarray or memmap); read batch by batch.
        labels: (N,) integer class labels in [0, num_classes).
        num_classes: number of real classes K; the model's null class is K.
        out_dir: output directory (see :mod:`navref.training` for its files).
        log: callable for progress messages (default: ``logging`` at INFO).
        device: default cuda:LOCAL_RANK when CUDA is available, else cpu.
        oracle_data, oracle_labels: data set defining the oracle target (target="oracle";
            default: the training latents/labels), (N', C, H, W) and (N',).
        resume: continue from the newest complete checkpoint in ``out_dir/checkpoints``
            (its configs must match, except steps / checkpoint_steps / save_every /
            log_every / compile). Only a checkpoint trained on the same inputs resumes
            (:func:`input_record`); one of other inputs is moved aside and the run starts
            afresh, saying why in ``log``.
        progress: show a tqdm bar (rank 0).
        inputs: more fingerprints for the input record, ``{name: fingerprint}`` (e.g. the
            latent space's statistics, :func:`navref.training.job.train_on_space`).

    Under ``torch.distributed`` (initialised by the caller, e.g. ``python -m navref.training``
    under torchrun) the global batch is split over ranks; ``batch_size`` must be divisible by
    the world size. Raises ``ValueError`` on bad data or configs, ``RuntimeError`` naming the
    step when the loss or the gradient norm becomes non-finite (the last checkpoint written
    stays the last good one). Returns ``out_dir / "model.safetensors"``.
    """
    latents, labels_t = check_data(latents, labels, num_classes)
    shape = [int(s) for s in latents.shape]
    run, log = _run_spec(train_conf, model_conf, shape, num_classes, out_dir, log, device)
    record = input_record(run.conf, latents, labels_t, oracle_data, oracle_labels, inputs)
    run = dataclasses.replace(run, inputs=record)
    target = make_target(
        run.conf, latents, labels, run.null_class, run.device, oracle_data, oracle_labels
    )
    state = init_state(run)
    if resume:
        restore_state(state, run, log)
    start_step, conf = state.step, run.conf
    fwd = wrap_model(state.model, run)
    sampler = FlowBatchSampler(conf, run.data_shape[0], tuple(run.data_shape[1:]))
    bar = _progress_bar(run, start_step, progress and run.rank == 0)
    state.log.start_clock()
    state.model.train()
    batches = batches_on_rank(
        sampler, range(start_step, conf.steps), latents, labels_t, run.rank, run.world,
        run.null_class, run.device,
    )  # fmt: skip
    for step, batch in batches:
        loss, grad_norm = train_step(fwd, state, run, batch, target)
        state.step = step + 1
        state.log.push(state.step, loss, grad_norm)
        bar.update(1)
        if state.step % conf.log_every == 0 or state.step == conf.steps:
            state.log.drain(state.last_good)
            row = state.log.close_row(state.step, lr_at(conf, step), conf.batch_size)
            bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
        names = checkpoint_names(conf, state.step)
        if names:
            save_state(state, run, names)
    bar.close()
    state.log.drain(state.last_good)
    if start_step == conf.steps and state.last_good is not None:  # every rank: a barrier
        if state.last_good.name != "last":  # resumed a finished run from a step checkpoint
            save_state(state, run, ["last"])
    return export_model(state, run, log)


def input_record(
    conf: TrainConfig,
    latents: Any,
    labels: Any,
    oracle_data: Any = None,
    oracle_labels: Any = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What a run trains on, as ``{name: fingerprint}`` (:mod:`navref.fingerprint`): the
    latents (N, C, H, W) and labels (N,) it reads, the oracle's data set when the target is
    the oracle and it is given apart from the training data, and ``extra``. Checkpoints
    record it; a run resumes only from a checkpoint with the same record. Hashing reads the
    latents once (about 1 GB/s)."""
    record = {"latents": array_fingerprint(latents), "labels": array_fingerprint(labels)}
    if conf.target == "oracle" and oracle_data is not None:
        record["oracle_data"] = array_fingerprint(oracle_data)
        record["oracle_labels"] = array_fingerprint(oracle_labels)
    record.update(extra or {})
    return record


def _run_spec(
    train_conf: TrainConfig | dict[str, Any],
    model_conf: DiTConfig | dict[str, Any],
    data_shape: list[int],
    num_classes: int,
    out_dir: str | os.PathLike,
    log: Callable[[str], None] | None,
    device: str | torch.device | None,
) -> tuple[RunSpec, Callable[[str], None]]:
    """Check the configs against the data shape (N, C, H, W) and the process group; the
    run's spec and the log sink (silent on ranks other than 0)."""
    conf: TrainConfig = as_conf(train_conf, TrainConfig)
    mconf = fill_model_conf(as_conf(model_conf, DiTConfig), tuple(data_shape), num_classes)
    rank, world = _dist_info()
    log = (log or _LOGGER.info) if rank == 0 else _silent
    if conf.batch_size % world:
        raise ValueError(
            f"batch_size={conf.batch_size} (global) is not divisible by the world size {world}"
        )
    if not conf.ema_warmup and conf.ema_decay**conf.steps > 0.05:
        log(
            f"warning: ema_decay={conf.ema_decay} over {conf.steps} steps leaves "
            f"{conf.ema_decay**conf.steps:.0%} of the initial weights in the EMA model; "
            "lower ema_decay or set ema_warmup=True for short runs"
        )
    run = RunSpec(
        conf, mconf, num_classes, data_shape, Path(out_dir), resolve_device(device), rank, world
    )
    return run, log


def _silent(msg: str) -> None:
    """Log sink of ranks other than 0."""


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def wrap_model(model: torch.nn.Module, run: RunSpec) -> torch.nn.Module:
    """The module the forward pass goes through: DDP over the process group when the world
    has several ranks, ``torch.compile`` when the config asks for it."""
    fwd = model
    if run.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [run.device.index] if run.device.type == "cuda" else None
        fwd = DDP(model, device_ids=ids)
    if run.conf.compile:
        fwd = torch.compile(fwd)
    return fwd


def train_step(
    fwd: torch.nn.Module,
    state: TrainState,
    run: RunSpec,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    target_fn: TargetFn,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One update on ``batch`` = (x0, x1, t, y) (this rank's shard, t of shape (B,)): AdamW
    at the warm-up learning rate, gradient clipping, EMA. Returns the loss and the gradient
    norm before clipping as device scalars (not synchronised)."""
    conf, step = run.conf, state.step
    for group in state.opt.param_groups:
        group["lr"] = lr_at(conf, step)
    x0, x1, t, y = batch
    x_t = path.x_t(x0, x1, t.view(-1, *([1] * (x1.ndim - 1))))
    target = target_fn(x0, x1, x_t, t, y)
    bf16 = conf.precision == "bf16"
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=bf16):
        pred = fwd(x_t, t, y)
    loss = F.mse_loss(pred.float(), target)
    state.opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_clip = conf.grad_clip if conf.grad_clip is not None else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(list(state.model.parameters()), grad_clip)
    state.opt.step()
    ema_update(state.ema, state.model, ema_decay_at(conf, step))
    return loss.detach(), grad_norm.detach()


def _progress_bar(run: RunSpec, start_step: int, show: bool) -> tqdm:
    mc = run.model_conf
    return tqdm(
        total=run.conf.steps,
        initial=start_step,
        disable=not show,
        desc=f"train {mc.depth}x{mc.hidden_size}",
        dynamic_ncols=True,
        mininterval=1.0,
    )


def export_model(state: TrainState, run: RunSpec, log: Callable[[str], None]) -> Path:
    """Write (rank 0) ``model.safetensors`` (EMA weights, plain DiT keys), ``model.json``
    and ``train_log.parquet``; every rank waits for it. Returns the model path."""
    model_path = run.out_dir / "model.safetensors"
    if run.rank == 0:
        with atomic_path(model_path, suffix=".safetensors") as tmp:
            ema = {k: v.detach().cpu().contiguous() for k, v in state.ema.state_dict().items()}
            save_file(ema, str(tmp), metadata={"weights": "ema"})
        info = {
            "kind": "model",
            "weights": "ema",
            "step": run.conf.steps,
            "model": run.model_conf.to_dict(),
            "train": run.conf.to_dict(),
            "num_classes": run.num_classes,
            "num_params": count_params(state.model),
            "data_shape": run.data_shape,
            "inputs": run.inputs,
            "world_size": run.world,
        }
        save_json(run.out_dir / "model.json", info)
        frame = pd.DataFrame(state.log.rows, columns=LOG_COLUMNS)
        save_parquet(run.out_dir / "train_log.parquet", frame)
        log(f"wrote {model_path} (EMA weights, step {run.conf.steps})")
    if run.world > 1:
        dist.barrier()
    return model_path
