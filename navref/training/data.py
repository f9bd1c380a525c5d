"""Checks of the training data and the model config it completes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from navref.models.dit import DiTConfig


def check_data(latents: Any, labels: Any, num_classes: int) -> tuple[Any, torch.Tensor]:
    """Validate (N, C, H, W) square ``latents`` and (N,) integer ``labels`` in
    [0, num_classes); return the latents untouched and the labels as an int64 tensor.

    Raises ``ValueError`` naming the problem (shape, dtype, label range, empty data).
    """
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


def fill_model_conf(conf: DiTConfig, shape: tuple[int, ...], num_classes: int) -> DiTConfig:
    """``conf`` with in_channels, input_size and num_classes taken from the data (shape
    (N, C, H, W)); raises ``ValueError`` when the config sets one that the data contradict."""
    want = {"in_channels": int(shape[1]), "input_size": int(shape[2]), "num_classes": num_classes}
    updates = {}
    for name, value in want.items():
        have = getattr(conf, name)
        if have is None:
            updates[name] = value
        elif have != value:
            raise ValueError(
                f"model config has {name}={have} but the data give {value}; remove {name} "
                "from the model config (it is filled in from the data) or fix it"
            )
    return dataclasses.replace(conf, **updates)
