"""The rows of one split of a prepared image dataset, read without the other splits.

A prepared dataset (:mod:`navref.data.base`) keeps all splits in one memory-mapped
``data.npy`` and the split of each row in ``meta.parquet``. ``prepare_dataset`` writes each
split's rows contiguously, so a split is normally a memory-mapped slice: streaming consumers
(nearest neighbours, feature extraction) then read it chunk by chunk and ImageNet's train
split never has to fit in memory.
"""

from __future__ import annotations

import os

import numpy as np

from navref.data.base import load_prepared

__all__ = ["image_split"]


def image_split(
    dataset_dir: str | os.PathLike, split: str, *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of ``split`` in the prepared dataset at ``dataset_dir``.

    images: uint8 (n, H, W, C), a memory-mapped slice when the split's rows are contiguous
    (as ``prepare_dataset`` writes them), else a copy of just those rows (a gather); labels:
    int (n,). Raises ``ValueError`` when the dataset holds vectors, not images, and when the
    split has no rows (unless ``allow_empty``, which then gives empty arrays)."""
    ds = load_prepared(dataset_dir)
    if ds.modality != "image":
        raise ValueError(f"{dataset_dir} holds vectors; this job needs an image dataset")
    rows = np.flatnonzero(ds.meta["split"].to_numpy() == split)
    if rows.size == 0 and not allow_empty:
        raise ValueError(f"{dataset_dir}: no rows in split {split!r}")
    labels = ds.meta["label"].to_numpy()[rows]
    if rows.size and rows[-1] - rows[0] + 1 == rows.size:
        return ds.data[rows[0] : rows[-1] + 1], labels
    return np.asarray(ds.data[rows]), labels
