"""Learning-rate warm-up, EMA decay schedule and the EMA update of a training run."""

from __future__ import annotations

import torch

from navref.training.config import TrainConfig


def lr_at(conf: TrainConfig, step: int) -> float:
    """Learning rate of update number step + 1: linear warm-up over ``warmup_steps``, then
    constant ``lr``.

    Kept instead of ``torch.optim.lr_scheduler.LambdaLR``: that computes lr * ((step + 1) / W),
    which differs from lr * (step + 1) / W in the last bit for about a third of the steps, so
    trained weights would change.
    """
    if conf.warmup_steps and step < conf.warmup_steps:
        return conf.lr * (step + 1) / conf.warmup_steps
    return conf.lr


def ema_decay_at(conf: TrainConfig, step: int) -> float:
    """EMA decay of update number step + 1: ``ema_decay``, or with ``ema_warmup``
    min(ema_decay, (1 + step) / (10 + step)) (TensorFlow's ExponentialMovingAverage
    num_updates rule, as in diffusers' EMAModel)."""
    if conf.ema_warmup:
        return min(conf.ema_decay, (1 + step) / (10 + step))
    return conf.ema_decay


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, over parameters (one foreach lerp).

    The same arithmetic as ``torch.optim.swa_utils.get_ema_multi_avg_fn`` (tests check they
    are bitwise equal), kept because ``AveragedModel`` takes one fixed decay (no
    ``ema_warmup``), copies the model on its first update and renames the state-dict keys
    (``module.*``, ``n_averaged``), which would change the checkpoints.
    """
    e = [p for p in ema.parameters()]
    m = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(e, m, 1.0 - decay)
