"""Synthetic unit-Gaussian data (the paper's Fig. 3 setting)."""

from __future__ import annotations

import numpy as np


def make_gaussian(
    dim: int, size: int, num_classes: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``size`` i.i.d. samples x1 ~ N(0, I_dim) with balanced class labels.

    Returns ``(samples, labels)``: float32 array of shape (size, dim) and int64 labels
    of shape (size,), label i % num_classes for sample i (so classes differ only by
    label, as the paper's class-free synthetic experiment needs). Deterministic in seed.
    """
    if dim < 1 or size < 1 or num_classes < 1:
        raise ValueError(
            f"synthetic_gaussian needs dim >= 1, size >= 1, num_classes >= 1; "
            f"got dim={dim}, size={size}, num_classes={num_classes}"
        )
    if num_classes > size:
        raise ValueError(
            f"synthetic_gaussian: num_classes={num_classes} > size={size} would leave a class "
            "empty; lower num_classes or raise size"
        )
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal((size, dim), dtype=np.float32)
    labels = (np.arange(size) % num_classes).astype(np.int64)
    return samples, labels
