"""Rectified-flow (conditional flow matching) training of a class-conditional DiT.

Path and targets (t in [0, 1], t = 0 noise, t = 1 data):

    x_t = (1 - t) x0 + t x1,   x0 ~ N(0, I),  x1 ~ training data,  y = label of x1
    CFM target     u = x1 - x0
    oracle target  v*(x_t, t | y) = (E[x1 | x_t, y] - x_t) / (1 - t)   (Theorem 2.1)

The loss is the mean squared error ||v_theta(x_t, t, y') - target||^2 (mean over
elements), y' = y with probability 1 - label_dropout and the null class otherwise.
Optimiser: AdamW, defaults from the paper's Appendix C (lr 1e-4 constant, weight decay
0, grad-norm clip 1.0, EMA 0.9999, t ~ U[0, 1], label dropout 0.1). The paper does not
give Adam's betas; the default is PyTorch's / DiT's (0.9, 0.999). LightningDiT's own
configs use (0.9, 0.95): set ``betas`` to that to follow it.

Determinism and resume. All randomness of a step (which samples, t, x0, label dropout)
is a pure function of ``(seed, step)``: sample order is a fresh seeded permutation per
epoch, and per step a ``torch.Generator`` seeded from ``SeedSequence([seed, step])``
draws t, x0 and the dropout mask for the whole *global* batch on the CPU. Hence

- a run resumed from a checkpoint (model, EMA, optimiser state, step, RNG states)
  continues bitwise identically to an uninterrupted run on the CPU;
- with DDP (``torchrun``; gloo on CPU, nccl on CUDA) every rank draws the same global
  batch and keeps its contiguous shard, so W processes compute the same update as one
  process with the same global batch (up to float summation order).

Only rank 0 writes files. Outputs in ``out_dir``: ``model.safetensors`` (EMA weights,
plain DiT state-dict keys) + ``model.json``; ``train_log.parquet``;
``checkpoints/step_XXXXXXXX.{safetensors,json}`` at ``checkpoint_steps`` and a rolling
``checkpoints/last.{safetensors,json}`` every ``save_every`` steps and at the end.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from navref.checkpoint import (
    checkpoint_stem,
    find_resume_checkpoint,
    load_checkpoint,
    optimizer_from_tensors,
    optimizer_to_tensors,
    prefixed,
    read_meta,
    save_checkpoint,
    unprefixed,
)
from navref.devices import resolve_device
from navref.io import atomic_path, save_json, save_parquet
from navref.models.dit import DiT, DiTConfig, build_model, count_params
from navref.oracle import oracle_velocity

_LOGGER = logging.getLogger("navref.training")

#: TrainConfig fields that may change between a run and its resumption.
_RESUME_MUTABLE = {"steps", "checkpoint_steps", "save_every", "log_every", "compile"}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (``batch_size`` is the global batch)."""

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float | None = 1.0
    warmup_steps: int = 0
    ema_decay: float = 0.9999
    ema_warmup: bool = False
    label_dropout: float = 0.1
    time_sampling: str = "uniform"
    logit_normal_mean: float = 0.0
    logit_normal_std: float = 1.0
    target: str = "cfm"
    oracle_t_max: float = 0.9999
    seed: int = 0
    checkpoint_steps: tuple[int, ...] = field(default_factory=tuple)
    save_every: int = 1000
    log_every: int = 50
    precision: str = "fp32"
    compile: bool = False

    def __post_init__(self) -> None:
        def bad(msg: str) -> ValueError:
            return ValueError(f"TrainConfig: {msg}")

        if self.steps < 1 or self.batch_size < 1:
            raise bad(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise bad(f"need lr > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise bad(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise bad(f"grad_clip must be > 0 or null (no clipping), got {self.grad_clip}")
        if not 0 <= self.ema_decay < 1:
            raise bad(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.label_dropout <= 1:
            raise bad(f"label_dropout must be in [0, 1], got {self.label_dropout}")
        if self.time_sampling not in ("uniform", "logit_normal"):
            raise bad(
                f"time_sampling must be 'uniform' or 'logit_normal', got {self.time_sampling!r}"
            )
        if self.logit_normal_std <= 0:
            raise bad(f"logit_normal_std must be > 0, got {self.logit_normal_std}")
        if self.target not in ("cfm", "oracle"):
            raise bad(f"target must be 'cfm' or 'oracle', got {self.target!r}")
        if not 0 < self.oracle_t_max < 1:
            raise bad(f"oracle_t_max must be in (0, 1), got {self.oracle_t_max}")
        if self.seed < 0:
            raise bad(f"seed must be >= 0, got {self.seed}")
        if any(s < 1 or s > self.steps for s in self.checkpoint_steps):
            raise bad(
                f"checkpoint_steps must lie in [1, steps={self.steps}], got {self.checkpoint_steps}"
            )
        if self.save_every < 0 or self.log_every < 1 or self.warmup_steps < 0:
            raise bad(
                "need save_every >= 0 (0: only at the end), log_every >= 1, warmup_steps >= 0"
            )
        if self.precision not in ("fp32", "bf16"):
            raise bad(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}; valid keys: {sorted(names)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(float(b) for b in d["betas"])
        if "checkpoint_steps" in d:
            d["checkpoint_steps"] = tuple(sorted({int(s) for s in d["checkpoint_steps"]}))
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        d["checkpoint_steps"] = list(self.checkpoint_steps)
        return d


# --------------------------------------------------------------------------- randomness


def _derive_seed(*keys: int) -> int:
    """A 63-bit seed from a tuple of non-negative ints (numpy SeedSequence mixing)."""
    a, b = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint32)
    return (int(a) << 31) ^ int(b)


class FlowBatchSampler:
    """The randomness of each global batch as a pure function of ``(seed, step)``.

    ``batch(step)`` returns ``idx`` (B,) int64 data indices, ``t`` (B,), ``x0``
    (B, *sample_shape) and ``drop`` (B,) bool (label dropped to the null class). Sample
    order: epoch e is the permutation ``randperm(N)`` seeded by ``(seed, 1, e)``, and the
    global batch of step s covers positions [s B, (s + 1) B) of the concatenated epochs.
    """

    def __init__(self, cfg: TrainConfig, num_samples: int, sample_shape: tuple[int, ...]) -> None:
        self.cfg = cfg
        self.n = num_samples
        self.shape = tuple(sample_shape)
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            g = torch.Generator().manual_seed(_derive_seed(self.cfg.seed, 1, epoch))
            self._perms[epoch] = torch.randperm(self.n, generator=g)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        b = self.cfg.batch_size
        pos = torch.arange(step * b, (step + 1) * b)
        epochs, offs = pos // self.n, pos % self.n
        out = torch.empty(b, dtype=torch.long)
        for e in epochs.unique().tolist():
            m = epochs == e
            out[m] = self._perm(e)[offs[m]]
        return out

    def sample_t(self, b: int, g: torch.Generator) -> torch.Tensor:
        cfg = self.cfg
        if cfg.time_sampling == "uniform":
            t = torch.rand(b, generator=g)
        else:
            z = torch.randn(b, generator=g)
            t = torch.sigmoid(cfg.logit_normal_mean + cfg.logit_normal_std * z)
        if cfg.target == "oracle":
            t = t.clamp(max=cfg.oracle_t_max)
        return t

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        b = self.cfg.batch_size
        g = torch.Generator().manual_seed(_derive_seed(self.cfg.seed, 0, step))
        t = self.sample_t(b, g)
        x0 = torch.randn((b, *self.shape), generator=g)
        drop = torch.rand(b, generator=g) < self.cfg.label_dropout
        return {"idx": self.indices(step), "t": t, "x0": x0, "drop": drop}


# --------------------------------------------------------------------------- targets


def cfm_target(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Rectified-flow CFM target u = x1 - x0."""
    return x1 - x0


def oracle_target(
    x_t: torch.Tensor,
    t: torch.Tensor,
    y: torch.Tensor,
    null_class: int,
    data: Any,
    data_labels: Any,
) -> torch.Tensor:
    """Exact oracle velocity v*(x_t, t | y) from the training set, as regression target.

    Queries with a real label use the class-conditional oracle (posterior over the
    samples of class y only). Queries whose label was dropped to the null class use the
    *unconditional* oracle (posterior over all samples): the model's null-class output
    is the unconditional velocity used by classifier-free guidance, and CFM training
    with label dropout regresses exactly E[x1 - x0 | x_t] over all data = the
    unconditional v*. The oracle is singular at t = 1 (factor 1 / (1 - t)); the sampler
    clamps t to ``oracle_t_max`` (default 1 - 1e-4) when training on this target.
    """
    out = torch.empty_like(x_t)
    cond = y != null_class
    if bool(cond.any()):
        out[cond] = oracle_velocity(
            x_t[cond], t[cond], data, data_labels=data_labels, labels=y[cond]
        ).to(out.dtype)
    if bool((~cond).any()):
        out[~cond] = oracle_velocity(x_t[~cond], t[~cond], data).to(out.dtype)
    return out


# --------------------------------------------------------------------------- helpers


def _silent(msg: str) -> None:
    """Log sink of ranks other than 0."""


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _check_data(latents: Any, labels: Any, num_classes: int) -> tuple[np.ndarray, torch.Tensor]:
    if not hasattr(latents, "shape") or len(latents.shape) != 4:
        raise ValueError(
            "latents must be an array (N, C, H, W) (np.ndarray or np.memmap, e.g. "
            f"np.load(path, mmap_mode='r')); got shape {getattr(latents, 'shape', None)}"
        )
    n, _, h, w = latents.shape
    if h != w:
        raise ValueError(f"latents must be square (H == W), got H={h}, W={w}")
    labels_np = np.asarray(labels)
    if labels_np.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match latents, got {labels_np.shape}")
    if not np.issubdtype(labels_np.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels_np.dtype}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if n and (labels_np.min() < 0 or labels_np.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, num_classes={num_classes}); got range "
            f"[{labels_np.min()}, {labels_np.max()}]"
        )
    if n < 1:
        raise ValueError("latents is empty (N = 0)")
    return latents, torch.from_numpy(labels_np.astype(np.int64))


def _fill_model_cfg(cfg: DiTConfig, shape: tuple[int, ...], num_classes: int) -> DiTConfig:
    want = {"in_channels": int(shape[1]), "input_size": int(shape[2]), "num_classes": num_classes}
    updates = {}
    for name, value in want.items():
        have = getattr(cfg, name)
        if have is None:
            updates[name] = value
        elif have != value:
            raise ValueError(
                f"model config has {name}={have} but the data give {value}; remove {name} "
                "from the model config (it is filled in from the data) or fix it"
            )
    return dataclasses.replace(cfg, **updates)


def _as_cfg(cfg: Any, cls: type) -> Any:
    if isinstance(cfg, cls):
        return cfg
    if isinstance(cfg, dict):
        return cls.from_dict(cfg)
    raise ValueError(f"expected a {cls.__name__} or a dict, got {type(cfg).__name__}")


def _oracle_data_on(src: Any, device: torch.device) -> Any:
    """The oracle's data set as (N, D): kept as a numpy array / memmap on the CPU (the oracle
    streams it chunk by chunk); copied to the GPU when it fits in a third of its free memory."""
    flat = src.reshape(src.shape[0], -1) if isinstance(src, np.ndarray) else src
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if flat.shape[0] * flat.shape[1] * 4 < free / 3:
            return torch.as_tensor(np.asarray(flat, dtype=np.float32)).to(device)
    return flat


def _lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of update number step + 1: linear warmup then constant."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr


def _ema_decay_at(cfg: TrainConfig, step: int) -> float:
    if cfg.ema_warmup:
        return min(cfg.ema_decay, (1 + step) / (10 + step))
    return cfg.ema_decay


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model."""
    e = [p for p in ema.parameters()]
    m = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(e, m, 1.0 - decay)


def _batch_on_rank(
    sampler: FlowBatchSampler,
    step: int,
    latents: Any,
    labels: torch.Tensor,
    rank: int,
    world: int,
    null_class: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """This rank's shard of the global batch of ``step``: x0, x1, t, y (label dropout applied)."""
    full = sampler.batch(step)
    b = sampler.cfg.batch_size // world
    sl = slice(rank * b, (rank + 1) * b)
    idx = full["idx"][sl]
    x1 = torch.from_numpy(np.ascontiguousarray(latents[idx.numpy()], dtype=np.float32))
    y = labels[idx].masked_fill(full["drop"][sl], null_class)
    nb = device.type == "cuda"
    return (
        full["x0"][sl].to(device, non_blocking=nb),
        x1.to(device, non_blocking=nb),
        full["t"][sl].to(device, non_blocking=nb),
        y.to(device, non_blocking=nb),
    )


# --------------------------------------------------------------------------- training


def train(
    train_cfg: TrainConfig | dict[str, Any],
    model_cfg: DiTConfig | dict[str, Any],
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
) -> Path:
    """Train a DiT with rectified-flow CFM (or the oracle target); return the model path.

    Args:
        train_cfg, model_cfg: configs (or their dicts). ``model_cfg``'s ``in_channels``,
            ``input_size`` and ``num_classes`` may be None: they are filled from the data.
        latents: (N, C, H, W) float array (np.ndarray or memmap); read batch by batch.
        labels: (N,) integer class labels in [0, num_classes).
        num_classes: number of real classes K; the model's null class is K.
        out_dir: output directory (see module docstring for its files).
        log: callable for progress messages (default: ``logging`` at INFO).
        device: default cuda:LOCAL_RANK when CUDA is available, else cpu.
        oracle_data, oracle_labels: data set defining the oracle target (target="oracle";
            default: the training latents/labels), (N', C, H, W) and (N',).
        resume: continue from the newest complete checkpoint in ``out_dir/checkpoints``
            (its configs must match, except steps / checkpoint_steps / save_every /
            log_every / compile).
        progress: show a tqdm bar (rank 0).

    Under ``torch.distributed`` (initialised by the caller, e.g. ``navref.train`` under
    torchrun) the global batch is split over ranks; ``batch_size`` must be divisible by
    the world size. Raises ``RuntimeError`` naming the step when the loss or the gradient
    norm becomes non-finite (the last checkpoint written stays the last good one).

    Returns ``out_dir / "model.safetensors"``.
    """
    log = log or _LOGGER.info
    tcfg: TrainConfig = _as_cfg(train_cfg, TrainConfig)
    mcfg: DiTConfig = _as_cfg(model_cfg, DiTConfig)
    latents, labels_t = _check_data(latents, labels, num_classes)
    mcfg = _fill_model_cfg(mcfg, tuple(latents.shape), num_classes)
    rank, world = _dist_info()
    if rank != 0:
        log = _silent
    if tcfg.batch_size % world:
        raise ValueError(
            f"batch_size={tcfg.batch_size} (global) is not divisible by the world size {world}"
        )
    device = resolve_device(device)
    if not tcfg.ema_warmup and tcfg.ema_decay**tcfg.steps > 0.05:
        log(
            f"warning: ema_decay={tcfg.ema_decay} over {tcfg.steps} steps leaves "
            f"{tcfg.ema_decay**tcfg.steps:.0%} of the initial weights in the EMA model; "
            "lower ema_decay or set ema_warmup=True for short runs"
        )
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    null_class = num_classes
    data_shape = [int(s) for s in latents.shape]

    # ---- oracle data
    o_data = o_labels = None
    if tcfg.target == "oracle":
        src = latents if oracle_data is None else oracle_data
        src_labels = labels if oracle_data is None else oracle_labels
        if oracle_data is not None:
            if oracle_labels is None:
                raise ValueError("oracle_data given without oracle_labels")
            if tuple(oracle_data.shape[1:]) != tuple(latents.shape[1:]):
                raise ValueError(
                    f"oracle_data samples have shape {tuple(oracle_data.shape[1:])}, training "
                    f"latents {tuple(latents.shape[1:])}"
                )
        o_data = _oracle_data_on(src, device)
        o_labels = np.asarray(src_labels, dtype=np.int64)

    # ---- model, EMA, optimiser (model init is seeded without touching the global RNG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_derive_seed(tcfg.seed, 2))
        model = build_model(mcfg)
    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=tcfg.lr,
        betas=tcfg.betas,
        eps=tcfg.adam_eps,
        weight_decay=tcfg.weight_decay,
    )

    start_step, elapsed0 = 0, 0.0
    rows: list[dict[str, float]] = []
    window: dict[str, Any] = {"loss": [], "grad_norm": [], "steps": 0}
    last_good: Path | None = None
    if resume:
        stem = find_resume_checkpoint(ckpt_dir)
        if stem is not None:
            tensors, meta = load_checkpoint(stem, device="cpu")
            _check_resume_compat(meta, tcfg, mcfg, num_classes, data_shape, stem)
            start_step = int(meta["step"])
            if start_step > tcfg.steps:
                raise ValueError(
                    f"checkpoint {stem} is at step {start_step} > steps={tcfg.steps}; raise "
                    "steps or use a fresh out_dir"
                )
            model.load_state_dict(unprefixed(tensors, "model."))
            ema.load_state_dict(unprefixed(tensors, "ema."))
            opt.load_state_dict(optimizer_from_tensors(tensors, meta["optimizer"], prefix="optim."))
            torch.set_rng_state(tensors["rng.torch_cpu"])
            if device.type == "cuda" and "rng.cuda" in tensors:
                torch.cuda.set_rng_state(tensors["rng.cuda"], device)
            rows = list(meta.get("log_rows", []))
            window = dict(meta.get("log_window", window))
            elapsed0 = float(meta.get("elapsed_s", 0.0))
            last_good = stem
            log(f"resuming from {stem} at step {start_step}")

    fwd: torch.nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        fwd = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    if tcfg.compile:
        fwd = torch.compile(fwd)

    sampler = FlowBatchSampler(tcfg, data_shape[0], tuple(data_shape[1:]))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=tcfg.precision == "bf16")
    grad_clip = tcfg.grad_clip if tcfg.grad_clip is not None else math.inf
    params = list(model.parameters())
    pending: list[tuple[int, torch.Tensor, torch.Tensor]] = []
    t_run0 = time.perf_counter()
    t_win0, win_steps = t_run0, 0

    def drain() -> None:
        """Move per-step loss / grad norm to the CPU; stop on a non-finite value."""
        if not pending:
            return
        vals = torch.stack([torch.stack([lo, gn]) for _, lo, gn in pending]).float()
        if world > 1:
            dist.all_reduce(vals)
            vals /= world
        for (s, _, _), (lo, gn) in zip(pending, vals.cpu().tolist(), strict=True):
            if not (math.isfinite(lo) and math.isfinite(gn)):
                raise RuntimeError(
                    f"non-finite training loss {lo} (grad norm {gn}) at step {s}; training "
                    f"stopped. Last good checkpoint: {last_good or 'none written'}. Lower lr, "
                    "use precision 'fp32' or check the latents for NaN/inf."
                )
            window["loss"].append(lo)
            window["grad_norm"].append(gn)
        window["steps"] += len(pending)
        pending.clear()

    def save(step: int, names: list[str]) -> None:
        nonlocal last_good
        drain()
        if rank == 0:
            tensors = {
                **prefixed(model.state_dict(), "model."),
                **prefixed(ema.state_dict(), "ema."),
                "rng.torch_cpu": torch.get_rng_state(),
            }
            if device.type == "cuda":
                tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
            opt_tensors, opt_meta = optimizer_to_tensors(opt.state_dict(), prefix="optim.")
            tensors.update(opt_tensors)
            meta = {
                "kind": "checkpoint",
                "step": step,
                "model": mcfg.to_dict(),
                "train": tcfg.to_dict(),
                "num_classes": num_classes,
                "data_shape": data_shape,
                "optimizer": opt_meta,
                "log_rows": rows,
                "log_window": window,
                "elapsed_s": elapsed0 + time.perf_counter() - t_run0,
                "world_size": world,
            }
            for name in names:
                save_checkpoint(ckpt_dir / name, tensors, meta)
        last_good = ckpt_dir / names[-1]

    bar = tqdm(
        total=tcfg.steps,
        initial=start_step,
        disable=not progress or rank != 0,
        desc=f"train {mcfg.depth}x{mcfg.hidden_size}",
        dynamic_ncols=True,
        mininterval=1.0,
    )
    model.train()
    for step in range(start_step, tcfg.steps):
        lr = _lr_at(tcfg, step)
        for group in opt.param_groups:
            group["lr"] = lr
        x0, x1, t, y = _batch_on_rank(
            sampler, step, latents, labels_t, rank, world, null_class, device
        )
        tb = t.view(-1, *([1] * (x1.ndim - 1)))
        x_t = (1 - tb) * x0 + tb * x1
        if tcfg.target == "cfm":
            target = cfm_target(x0, x1)
        else:
            target = oracle_target(x_t, t, y, null_class, o_data, o_labels)
        with autocast:
            pred = fwd(x_t, t, y)
        loss = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        _ema_update(ema, model, _ema_decay_at(tcfg, step))
        done = step + 1
        pending.append((done, loss.detach(), grad_norm.detach()))
        win_steps += 1
        bar.update(1)

        if done % tcfg.log_every == 0 or done == tcfg.steps:
            drain()
            now = time.perf_counter()
            row = {
                "step": done,
                "loss": float(np.mean(window["loss"])),
                "grad_norm": float(np.mean(window["grad_norm"])),
                "lr": lr,
                "samples_per_s": win_steps * tcfg.batch_size / max(now - t_win0, 1e-9),
                "time": elapsed0 + now - t_run0,
            }
            rows.append(row)
            window = {"loss": [], "grad_norm": [], "steps": 0}
            t_win0, win_steps = now, 0
            bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
        names = []
        if done in tcfg.checkpoint_steps:
            names.append(f"step_{done:08d}")
        if (tcfg.save_every and done % tcfg.save_every == 0) or done == tcfg.steps:
            names.append("last")
        if names:
            save(done, names)
    bar.close()
    drain()

    model_path = out_dir / "model.safetensors"
    if rank == 0:
        if start_step == tcfg.steps and last_good is not None and last_good.name != "last":
            save(tcfg.steps, ["last"])
        with atomic_path(model_path, suffix=".safetensors") as tmp:
            state = {k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
            save_file(state, str(tmp), metadata={"weights": "ema"})
        save_json(
            out_dir / "model.json",
            {
                "kind": "model",
                "weights": "ema",
                "step": tcfg.steps,
                "model": mcfg.to_dict(),
                "train": tcfg.to_dict(),
                "num_classes": num_classes,
                "num_params": count_params(model),
                "data_shape": data_shape,
                "world_size": world,
            },
        )
        cols = ["step", "loss", "grad_norm", "lr", "samples_per_s", "time"]
        save_parquet(out_dir / "train_log.parquet", pd.DataFrame(rows, columns=cols))
        log(f"wrote {model_path} (EMA weights, step {tcfg.steps})")
    if world > 1:
        dist.barrier()
    return model_path


def _check_resume_compat(
    meta: dict[str, Any],
    tcfg: TrainConfig,
    mcfg: DiTConfig,
    num_classes: int,
    data_shape: list[int],
    stem: Path,
) -> None:
    old_t = {k: v for k, v in meta["train"].items() if k not in _RESUME_MUTABLE}
    new_t = {k: v for k, v in tcfg.to_dict().items() if k not in _RESUME_MUTABLE}
    problems = []
    if old_t != new_t:
        diff = sorted(k for k in set(old_t) | set(new_t) if old_t.get(k) != new_t.get(k))
        problems.append(f"train config differs in {diff}")
    if meta["model"] != mcfg.to_dict():
        problems.append("model config differs")
    if meta["num_classes"] != num_classes or list(meta["data_shape"]) != data_shape:
        problems.append("num_classes or data shape differ")
    if problems:
        raise ValueError(
            f"cannot resume from {stem}: {'; '.join(problems)}. Delete {stem.parent} (or "
            "use another out_dir) to start afresh, or pass resume=False / --no-resume"
        )


# --------------------------------------------------------------------------- loading


def load_model(
    path_or_dir: str | os.PathLike,
    which: str = "ema",
    device: str | torch.device = "cpu",
) -> DiT:
    """Load a trained DiT in eval mode.

    ``path_or_dir`` is a training output directory (``which="ema"``: its
    ``model.safetensors``; ``which="model"``: the raw weights of its newest checkpoint),
    a final ``model.safetensors``/``.json`` (EMA only), or a checkpoint file
    ``checkpoints/step_XXXXXXXX.safetensors``/``.json`` (EMA or raw weights).
    """
    if which not in ("ema", "model"):
        raise ValueError(f"which must be 'ema' or 'model', got {which!r}")
    p = Path(path_or_dir)
    if p.is_dir():
        if which == "ema" and (p / "model.safetensors").is_file():
            stem = p / "model"
        else:
            stem = find_resume_checkpoint(p / "checkpoints")
            if stem is None:
                raise FileNotFoundError(
                    f"{p} holds no model.safetensors (which={which!r}) and no complete "
                    "checkpoint under checkpoints/; train a model there first"
                )
    else:
        stem = checkpoint_stem(p)
    st_path = stem.with_name(stem.name + ".safetensors")
    if not st_path.is_file():
        raise FileNotFoundError(f"model weights {st_path} not found")
    meta = read_meta(stem)
    tensors = load_file(str(st_path), device=str(device))
    if meta.get("kind") == "model":
        if which != meta.get("weights", "ema"):
            raise ValueError(
                f"{st_path} holds only {meta.get('weights', 'ema')} weights; for "
                f"which={which!r} load a checkpoint under {stem.parent / 'checkpoints'}"
            )
        state = tensors
    else:
        state = unprefixed(tensors, which + ".")
        if not state:
            raise ValueError(f"{st_path} holds no '{which}.*' weights")
    cfg = DiTConfig.from_dict(meta["model"])
    with torch.device("meta"):
        model = DiT(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()
