"""Image grids as PNG: the visual outputs of the probes and sweeps."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from navref.io import atomic_path


def make_grid(images: np.ndarray, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 images (R, C, H, W, ch) into one (R*(H+pad)+pad, C*(W+pad)+pad, ch) image."""
    if images.ndim != 5 or images.dtype != np.uint8:
        raise ValueError(f"make_grid wants uint8 (rows, cols, H, W, ch), got {images.shape}")
    r, c, h, w, ch = images.shape
    out = np.full((r * (h + pad) + pad, c * (w + pad) + pad, ch), pad_value, np.uint8)
    for i in range(r):
        for j in range(c):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = images[i, j]
    return out


def save_grid(images: np.ndarray, path: str | os.PathLike, scale: int = 1) -> None:
    """Save a (R, C, H, W, ch) uint8 grid as PNG (nearest-neighbour upscaled), atomically."""
    grid = make_grid(images)
    if grid.shape[-1] == 1:
        grid = grid[..., 0]
    im = Image.fromarray(grid)
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    with atomic_path(path, suffix=".png") as tmp:
        im.save(tmp, format="PNG")
