"""The hyper-parameters of a training run (``TrainConfig``) and config coercion."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: TrainConfig fields that may change between a run and its resumption.
RESUME_MUTABLE = {"steps", "checkpoint_steps", "save_every", "log_every", "compile"}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (``batch_size`` is the global batch; ``noise``:
    how the batch randomness is drawn, :class:`navref.training.batches.FlowBatchSampler`)."""

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
    noise: str = "global"

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
        if self.noise not in ("global", "per_sample"):
            raise bad(f"noise must be 'global' or 'per_sample', got {self.noise!r}")

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


def as_conf(conf: Any, cls: type) -> Any:
    """``conf`` as a ``cls`` (a TrainConfig or DiTConfig): instances pass, dicts go through
    ``cls.from_dict``; anything else raises ``ValueError``."""
    if isinstance(conf, cls):
        return conf
    if isinstance(conf, dict):
        return cls.from_dict(conf)
    raise ValueError(f"expected a {cls.__name__} or a dict, got {type(conf).__name__}")
