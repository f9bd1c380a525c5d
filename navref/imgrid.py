"""Image grids as PNG: the visual outputs of the probes and sweeps, through
``torchvision.utils.make_grid`` / ``save_image``."""

from __future__ import annotations

import os

import numpy as np

from navref.io import atomic_path


def save_grid(images: np.ndarray, path: str | os.PathLike, scale: int = 1, pad: int = 1) -> None:
    """Save uint8 images (R, C, H, W, ch) as one PNG grid of R rows and C columns, white
    ``pad``-pixel borders, nearest-neighbour upscaled ``scale`` times, atomically.

    Raises ``ValueError`` for another shape or dtype. One-channel images come out grey
    (torchvision replicates the channel)."""
    import torch  # torch and torchvision (~1 s): only in the jobs that draw grids
    from torchvision.utils import make_grid, save_image

    if images.ndim != 5 or images.dtype != np.uint8:
        raise ValueError(
            f"save_grid wants uint8 (rows, cols, H, W, ch), got {images.dtype} {images.shape}"
        )
    rows, cols = images.shape[:2]
    batch = torch.from_numpy(np.ascontiguousarray(images.reshape(rows * cols, *images.shape[2:])))
    batch = batch.permute(0, 3, 1, 2).float() / 255.0  # (R*C, ch, H, W) in [0, 1]
    grid = make_grid(batch, nrow=cols, padding=pad, pad_value=1.0)
    if scale > 1:
        grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    with atomic_path(path, suffix=".png") as tmp:
        save_image(grid, tmp, format="PNG")
