"""Regression targets of training: the CFM target (:mod:`navref.path`) or the exact oracle
velocity v*(x_t, t | y) = (E[x1 | x_t, y] - x_t) / (1 - t) of the training set (Theorem 2.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from navref.oracle import oracle_velocity
from navref.path import cfm_target
from navref.training.config import TrainConfig

#: target(x0, x1, x_t, t, y) -> (B, C, H, W) regression target.
TargetFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor
]


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


def _oracle_data_on(src: Any, device: torch.device) -> Any:
    """The oracle's data set as (N, D): kept as a numpy array / memmap on the CPU (the oracle
    streams it chunk by chunk); copied to the GPU when it fits in a third of its free memory."""
    flat = src.reshape(src.shape[0], -1) if isinstance(src, np.ndarray) else src
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if flat.shape[0] * flat.shape[1] * 4 < free / 3:
            return torch.as_tensor(np.asarray(flat, dtype=np.float32)).to(device)
    return flat


def make_target(
    conf: TrainConfig,
    latents: Any,
    labels: Any,
    null_class: int,
    device: torch.device,
    oracle_data: Any = None,
    oracle_labels: Any = None,
) -> TargetFn:
    """The target function of ``conf.target``: "cfm" (x1 - x0) or "oracle" over
    ``oracle_data`` / ``oracle_labels`` (N', C, H, W) / (N',), default the training latents.

    Raises ``ValueError`` when oracle_data comes without labels or with another sample shape.
    """
    if conf.target == "cfm":
        return lambda x0, x1, x_t, t, y: cfm_target(x0, x1)
    src, src_labels = latents, labels
    if oracle_data is not None:
        if oracle_labels is None:
            raise ValueError("oracle_data given without oracle_labels")
        if tuple(oracle_data.shape[1:]) != tuple(latents.shape[1:]):
            raise ValueError(
                f"oracle_data samples have shape {tuple(oracle_data.shape[1:])}, training "
                f"latents {tuple(latents.shape[1:])}"
            )
        src, src_labels = oracle_data, oracle_labels
    o_data = _oracle_data_on(src, device)
    o_labels = np.asarray(src_labels, dtype=np.int64)
    return lambda x0, x1, x_t, t, y: oracle_target(x_t, t, y, null_class, o_data, o_labels)
