"""Dataset preparation: each kind behind one interface (see :mod:`navref.data.base`).

Kinds: ``digits`` (scikit-learn), ``synthetic_gaussian``, ``imagefolder``, ``cifar10``.
:func:`prepare_dataset` writes the prepared directory atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from navref.data.base import (
    DatasetError,
    PreparedDataset,
    load_prepared,
    make_meta,
    save_prepared,
)
from navref.data.synthetic import make_gaussian
from navref.io import atomic_path, save_json, save_parquet

KINDS = ("digits", "synthetic_gaussian", "imagefolder", "cifar10")

__all__ = ["KINDS", "DatasetError", "PreparedDataset", "load_prepared", "prepare_dataset"]


def _synthetic(conf: dict[str, Any]) -> PreparedDataset:
    x, y = make_gaussian(
        int(conf["dim"]),
        int(conf["size"]),
        int(conf.get("num_classes", 1)),
        int(conf.get("seed", 0)),
    )
    names = [f"class_{i}" for i in range(int(conf.get("num_classes", 1)))]
    split = np.full(len(y), "train", dtype=object)
    return PreparedDataset(x, make_meta(y, names, split, "N(0, I)"), names, "synthetic_gaussian")


def _shrink_npy(path: Path, arr: np.ndarray, n: int) -> None:
    """Rewrite the ``.npy`` at ``path`` (currently memory-mapped as ``arr``) with its first n rows."""
    with atomic_path(path, suffix=".npy") as tmp:
        small = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=arr.dtype, shape=(n, *arr.shape[1:])
        )
        for s in range(0, n, 4096):
            e = min(s + 4096, n)
            small[s:e] = arr[s:e]
        small.flush()
        del small


def prepare_dataset(
    conf: dict[str, Any],
    out_dir: str | os.PathLike,
    workers: int = 1,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Prepare the dataset described by ``conf`` (its ``kind`` picks the loader) into ``out_dir``.

    Returns the ``info.json`` content. Raises :class:`DatasetError` with a message naming
    the problem and the fix for missing paths, empty classes and corrupt files.
    """
    log = log or logging.getLogger(__name__)
    kind = conf.get("kind")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if kind == "digits":
        from navref.data.digits import prepare_digits

        ds = prepare_digits(conf)
    elif kind == "synthetic_gaussian":
        ds = _synthetic(conf)
    elif kind == "cifar10":
        from navref.data.cifar10 import prepare_cifar10

        ds = prepare_cifar10(conf)
    elif kind == "imagefolder":
        from navref.data.imagefolder import prepare_imagefolder

        # stream into a memmap under a temporary name; rename only when complete
        with atomic_path(out / "data.npy", suffix=".npy") as tmp:
            arr, n, meta, names, skipped = prepare_imagefolder(conf, tmp, workers, log)
            if n < len(arr):  # corrupt files were skipped: keep only the n decoded rows
                _shrink_npy(tmp, arr, n)
            del arr
        ds = PreparedDataset(np.load(out / "data.npy", mmap_mode="r"), meta, names, kind, skipped)
        save_parquet(out / "meta.parquet", ds.meta)
        info = ds.info()
        save_json(out / "info.json", info)
        log.info("prepared %s: %s", kind, {k: v for k, v in info.items() if k != "class_names"})
        return info
    else:
        raise DatasetError(f"unknown dataset kind {kind!r}; allowed: {', '.join(KINDS)}")
    save_prepared(ds, out)
    info = ds.info()
    log.info("prepared %s: %s", kind, {k: v for k, v in info.items() if k != "class_names"})
    return info
