"""CIFAR-10 from the python pickle batches in a local directory.

The batches are the official ``cifar-10-batches-py`` files, which are Python pickles of
plain dicts of numpy arrays and lists; they are read with a restricted unpickler that only
accepts numpy's array reconstruction helpers, so a tampered file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from navref.data.base import DatasetError, PreparedDataset, check_classes, make_meta

_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_VAL = ["test_batch"]
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D102
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _load_batch(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            batch = _SafeUnpickler(fh, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except Exception as err:  # corrupt, truncated or not a CIFAR batch
        raise DatasetError(
            f"cifar10: cannot read batch file {path}: {err}. Re-download or re-extract "
            "cifar-10-python.tar.gz into the configured `root`"
        ) from err
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"cifar10: {path} does not hold 3072-byte rows with one label each")
    return {"data": data, "labels": labels}


def prepare_cifar10(conf: dict[str, Any]) -> PreparedDataset:
    """Read ``data_batch_1..5`` (train) and ``test_batch`` (val) from ``conf['root']``."""
    root = Path(conf["root"])
    if not root.is_dir():
        raise DatasetError(
            f"cifar10: root {root} does not exist; set `root` to the extracted "
            "cifar-10-batches-py directory"
        )
    missing = [n for n in _TRAIN + _VAL if not (root / n).is_file()]
    if missing:
        raise DatasetError(f"cifar10: missing batch files {missing} in {root}")
    names = [f"class_{i}" for i in range(10)]
    meta_file = root / "batches.meta"
    if meta_file.is_file():
        try:
            with open(meta_file, "rb") as fh:
                raw = _SafeUnpickler(fh, encoding="bytes").load()
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in raw[b"label_names"]]
        except Exception as err:
            raise DatasetError(f"cifar10: cannot read {meta_file}: {err}") from err
    images, labels, split, source = [], [], [], []
    for name, part in [(n, "train") for n in _TRAIN] + [(n, "val") for n in _VAL]:
        b = _load_batch(root / name)
        images.append(b["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(b["labels"])
        split += [part] * len(b["labels"])
        source += [f"{name}[{i}]" for i in range(len(b["labels"]))]
    all_labels = np.concatenate(labels)
    if all_labels.min() < 0 or all_labels.max() >= len(names):
        raise DatasetError(f"cifar10: labels outside 0..{len(names) - 1} in {root}")
    check_classes(all_labels, names, "cifar10")
    data = np.ascontiguousarray(np.concatenate(images))
    return PreparedDataset(
        data, make_meta(all_labels, names, np.array(split), source), names, "cifar10"
    )
