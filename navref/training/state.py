"""The state of a training run (model, EMA, optimiser, step, log) and its checkpoints.

A checkpoint (``navref.checkpoint``) holds everything a bitwise-exact resume needs: the
model, EMA and optimiser tensors, the CPU (and CUDA) RNG state, the step, the log so far and
the configs, which must match when resuming (except the fields in ``RESUME_MUTABLE``),
and the record of its inputs (``inputs``: content fingerprints of the latents, labels and
whatever else the caller names, :mod:`navref.fingerprint`). A checkpoint whose record
differs from the run's was trained on other data: it is never resumed; the run starts
afresh and its checkpoint directory moves aside (``checkpoints.stale-<fingerprint>``).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from navref.checkpoint import (
    find_resume_checkpoint,
    load_checkpoint,
    optimizer_from_tensors,
    optimizer_to_tensors,
    prefixed,
    read_meta,
    save_checkpoint,
    unprefixed,
)
from navref.fingerprint import json_fingerprint, record_diff
from navref.models.dit import DiT, DiTConfig, build_model
from navref.training.batches import derive_seed
from navref.training.config import RESUME_MUTABLE, TrainConfig
from navref.training.loss_window import LossWindow


@dataclass(frozen=True)
class RunSpec:
    """What stays fixed over a run: configs, data shape (N, C, H, W), where and how it runs,
    and ``inputs``, the record of what it trains on (``{name: fingerprint}``)."""

    conf: TrainConfig
    model_conf: DiTConfig
    num_classes: int
    data_shape: list[int]
    out_dir: Path
    device: torch.device
    rank: int
    world: int
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def ckpt_dir(self) -> Path:
        return self.out_dir / "checkpoints"

    @property
    def null_class(self) -> int:
        """The label of the null class (label dropout, classifier-free guidance): K."""
        return self.num_classes


@dataclass
class TrainState:
    """What changes over a run; ``step`` is the number of updates done."""

    model: DiT
    ema: DiT
    opt: torch.optim.AdamW
    log: LossWindow
    step: int = 0
    last_good: Path | None = None


def init_state(run: RunSpec) -> TrainState:
    """A fresh model (seeded from ``(seed, 2)`` without touching the global RNG), its EMA copy
    and AdamW."""
    conf = run.conf
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(conf.seed, 2))
        model = build_model(run.model_conf)
    model.to(run.device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=conf.lr,
        betas=conf.betas,
        eps=conf.adam_eps,
        weight_decay=conf.weight_decay,
    )
    return TrainState(model, ema, opt, LossWindow(run.world))


def restore_state(state: TrainState, run: RunSpec, log: Callable[[str], None]) -> None:
    """Load the newest complete checkpoint of ``run.ckpt_dir`` into ``state`` (no-op when
    there is none). A checkpoint whose input record differs from ``run.inputs`` (other
    data, or no record) is not resumed: ``log`` says why and the directory moves aside
    (:func:`set_aside`), so the run starts afresh. Raises ``ValueError`` when its configs
    or data shape differ, or when it is past ``steps``."""
    stem = find_resume_checkpoint(run.ckpt_dir)
    if stem is None:
        return
    old = read_meta(stem).get("inputs")
    changed = record_diff(old, run.inputs)
    if changed:
        stale = set_aside(run, old)
        log(
            f"not resuming from {stem}: it was trained on other inputs ({', '.join(changed)} "
            f"differ from this run's); starting afresh, its checkpoints moved to {stale}"
        )
        return
    tensors, meta = load_checkpoint(stem, device="cpu")
    check_resume_compat(meta, run, stem)
    step = int(meta["step"])
    if step > run.conf.steps:
        raise ValueError(
            f"checkpoint {stem} is at step {step} > steps={run.conf.steps}; raise "
            "steps or use a fresh out_dir"
        )
    state.model.load_state_dict(unprefixed(tensors, "model."))
    state.ema.load_state_dict(unprefixed(tensors, "ema."))
    state.opt.load_state_dict(optimizer_from_tensors(tensors, meta["optimizer"], prefix="optim."))
    torch.set_rng_state(tensors["rng.torch_cpu"])
    if run.device.type == "cuda" and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"], run.device)
    state.log = LossWindow(run.world, meta)
    state.step, state.last_good = step, stem
    log(f"resuming from {stem} at step {step}")


def save_state(state: TrainState, run: RunSpec, names: list[str]) -> None:
    """Checkpoint ``state`` as ``run.ckpt_dir / name`` for each name (rank 0 writes; every
    rank drains its log first and records the checkpoint as the last good one). Under DDP
    every rank must call it: the others wait at a barrier while rank 0 writes (the process
    group's timeout, ``--ddp-timeout-minutes``, bounds the wait), not inside the next
    all-reduce."""
    state.log.drain(state.last_good)
    if run.rank == 0:
        tensors = {
            **prefixed(state.model.state_dict(), "model."),
            **prefixed(state.ema.state_dict(), "ema."),
            "rng.torch_cpu": torch.get_rng_state(),
        }
        if run.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(run.device)
        opt_tensors, opt_meta = optimizer_to_tensors(state.opt.state_dict(), prefix="optim.")
        tensors.update(opt_tensors)
        meta = {
            "kind": "checkpoint",
            "step": state.step,
            "model": run.model_conf.to_dict(),
            "train": run.conf.to_dict(),
            "num_classes": run.num_classes,
            "data_shape": run.data_shape,
            "inputs": run.inputs,
            "optimizer": opt_meta,
            **state.log.state(),
            "world_size": run.world,
        }
        for name in names:
            save_checkpoint(run.ckpt_dir / name, tensors, meta)
    if run.world > 1:
        dist.barrier()
    state.last_good = run.ckpt_dir / names[-1]


def set_aside(run: RunSpec, old_inputs: dict[str, str] | None) -> Path:
    """Move ``run.ckpt_dir`` (checkpoints of other inputs) to ``checkpoints.stale-<the
    fingerprint of their record>`` beside it, replacing an older one of that name (rank 0
    moves; under DDP every rank must call it and waits at a barrier). Returns the new path."""
    stale = run.out_dir / f"checkpoints.stale-{json_fingerprint(old_inputs)[:16]}"
    if run.world > 1:
        dist.barrier()  # every rank has read the checkpoint's record
    if run.rank == 0:
        shutil.rmtree(stale, ignore_errors=True)
        run.ckpt_dir.rename(stale)
    if run.world > 1:
        dist.barrier()
    return stale


def checkpoint_names(conf: TrainConfig, step: int) -> list[str]:
    """Checkpoints due after update ``step``: ``step_XXXXXXXX`` at ``checkpoint_steps``,
    ``last`` every ``save_every`` steps and at the end."""
    names = []
    if step in conf.checkpoint_steps:
        names.append(f"step_{step:08d}")
    if (conf.save_every and step % conf.save_every == 0) or step == conf.steps:
        names.append("last")
    return names


def check_resume_compat(meta: dict, run: RunSpec, stem: Path) -> None:
    """Raise ``ValueError`` listing what differs between checkpoint ``stem`` and ``run``."""
    old_t = {"noise": "global"}  # checkpoints older than the key drew global noise
    old_t.update((k, v) for k, v in meta["train"].items() if k not in RESUME_MUTABLE)
    new_t = {k: v for k, v in run.conf.to_dict().items() if k not in RESUME_MUTABLE}
    problems = []
    if old_t != new_t:
        diff = sorted(k for k in set(old_t) | set(new_t) if old_t.get(k) != new_t.get(k))
        problems.append(f"train config differs in {diff}")
    if meta["model"] != run.model_conf.to_dict():
        problems.append("model config differs")
    if meta["num_classes"] != run.num_classes or list(meta["data_shape"]) != run.data_shape:
        problems.append("num_classes or data shape differ")
    if problems:
        raise ValueError(
            f"cannot resume from {stem}: {'; '.join(problems)}. Delete {stem.parent} (or "
            "use another out_dir) to start afresh, or pass resume=False / --no-resume"
        )
