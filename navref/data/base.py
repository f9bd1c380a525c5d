"""The one interface every dataset kind implements, and its on-disk format.

A prepared dataset is a directory with
- ``data.npy``: uint8 images (N, H, W, C) for image kinds, float32 vectors (N, D) for
  ``synthetic_gaussian``; memory-mappable (``np.load(..., mmap_mode="r")``);
- ``meta.parquet``: one row per item: ``index``, ``label``, ``class_name``, ``split``
  (``train`` / ``val``), ``source`` (file it came from, or a description);
- ``info.json``: kind, modality (``image`` / ``vector``), shape, class names, counts and
  the number of skipped corrupt files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from navref.io import load_array, load_json, save_json, save_npy, save_parquet

META_COLUMNS = ["index", "label", "class_name", "split", "source"]


class DatasetError(ValueError):
    """A dataset cannot be prepared (missing path, empty class, corrupt file, ...)."""


@dataclass
class PreparedDataset:
    """Items of one dataset with their labels and split.

    ``data`` is uint8 (N, H, W, C) for images or float32 (N, D) for vectors; ``meta`` has
    the columns :data:`META_COLUMNS` in item order.
    """

    data: np.ndarray
    meta: pd.DataFrame
    class_names: list[str]
    kind: str
    skipped: list[str] = field(default_factory=list)

    @property
    def modality(self) -> str:
        return "image" if self.data.dtype == np.uint8 else "vector"

    def info(self) -> dict[str, Any]:
        splits = self.meta["split"].value_counts().to_dict()
        return {
            "kind": self.kind,
            "modality": self.modality,
            "shape": list(self.data.shape),
            "dtype": str(self.data.dtype),
            "num_classes": len(self.class_names),
            "class_names": self.class_names,
            "num_items": int(len(self.meta)),
            "num_train": int(splits.get("train", 0)),
            "num_val": int(splits.get("val", 0)),
            "num_skipped_corrupt": len(self.skipped),
            "skipped_corrupt": self.skipped,
        }


def make_meta(
    labels: np.ndarray, class_names: list[str], split: np.ndarray, source
) -> pd.DataFrame:
    """Build the metadata table in item order."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    sources = list(source) if not isinstance(source, str) else [source] * n
    return pd.DataFrame(
        {
            "index": np.arange(n, dtype=np.int64),
            "label": labels,
            "class_name": [class_names[i] for i in labels],
            "split": np.asarray(split, dtype=object).astype(str),
            "source": sources,
        }
    )


def seeded_split(labels: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """Deterministic stratified train/val split: ``val_fraction`` of each class goes to val.

    Returns an array of "train"/"val" strings. Each class keeps at least one training item.

    Kept instead of ``sklearn.model_selection.train_test_split(stratify=labels)``, which
    refuses a class with a single item (a small ImageFolder class) and apportions the
    validation count over all classes rather than rounding per class; the test
    ``test_seeded_split_where_sklearn_refuses`` shows both.
    """
    labels = np.asarray(labels)
    split = np.full(len(labels), "train", dtype=object)
    if val_fraction <= 0:
        return split
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_val = min(int(round(val_fraction * len(idx))), len(idx) - 1)
        if n_val > 0:
            split[rng.permutation(idx)[:n_val]] = "val"
    return split


def check_classes(labels: np.ndarray, class_names: list[str], where: str) -> None:
    """Raise a clear error if a configured class has no items."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DatasetError(
            f"{where}: class(es) {empty} have no usable items; remove them from the data or "
            "from the config's `classes` list"
        )


def save_prepared(ds: PreparedDataset, out_dir: str | Path) -> None:
    """Write ``data.npy``, ``meta.parquet`` and ``info.json`` atomically into ``out_dir``."""
    out = Path(out_dir)
    save_npy(out / "data.npy", ds.data)
    save_parquet(out / "meta.parquet", ds.meta)
    save_json(out / "info.json", ds.info())


def load_prepared(out_dir: str | Path, mmap: bool = True) -> PreparedDataset:
    """Load a prepared dataset directory (data memory-mapped by default).

    Raises :class:`navref.io.ArtefactError` naming the file and rule ``prepare_dataset``
    when ``data.npy`` is cut short or its shape disagrees with ``info.json``.
    """
    out = Path(out_dir)
    info = load_json(out / "info.json", "prepare_dataset")
    data = load_array(out / "data.npy", "prepare_dataset", mmap, shape=info["shape"])
    meta = pd.read_parquet(out / "meta.parquet")
    return PreparedDataset(
        data=data,
        meta=meta,
        class_names=list(info["class_names"]),
        kind=info["kind"],
        skipped=list(info.get("skipped_corrupt", [])),
    )
