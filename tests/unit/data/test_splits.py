"""One split of a prepared image dataset: a memmap slice when contiguous, else a gather."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from navref.data.base import PreparedDataset, save_prepared
from navref.data.splits import image_split


def _prepared(tmp_path, splits, labels=None):
    n = len(splits)
    data = np.arange(n * 2 * 2 * 1, dtype=np.uint8).reshape(n, 2, 2, 1)
    labels = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels)
    meta = pd.DataFrame({"index": np.arange(n), "label": labels, "split": splits})
    save_prepared(PreparedDataset(data, meta, ["a", "b"], "test"), tmp_path)
    return data


def test_image_split_is_a_memmap_slice_when_contiguous(tmp_path):
    data = _prepared(tmp_path / "c", ["train"] * 5 + ["val"] * 3, labels=[0, 1] * 4)
    tr, y = image_split(tmp_path / "c", "train")
    assert isinstance(tr, np.memmap) and tr.shape == (5, 2, 2, 1)
    np.testing.assert_array_equal(tr, data[:5])
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0])
    va, yv = image_split(tmp_path / "c", "val")
    np.testing.assert_array_equal(va, data[5:])
    np.testing.assert_array_equal(yv, [1, 0, 1])


def test_image_split_gathers_scattered_rows(tmp_path):
    data = _prepared(tmp_path / "i", ["train", "val", "train", "val", "train"], [0, 1, 1, 0, 1])
    tr, y = image_split(tmp_path / "i", "train")
    assert not isinstance(tr, np.memmap)
    np.testing.assert_array_equal(tr, data[[0, 2, 4]])
    np.testing.assert_array_equal(y, [0, 1, 1])


def test_image_split_empty(tmp_path):
    _prepared(tmp_path / "i", ["train", "val", "train"])
    with pytest.raises(ValueError, match="no rows in split 'test'"):
        image_split(tmp_path / "i", "test")
    images, labels = image_split(tmp_path / "i", "test", allow_empty=True)
    assert images.shape == (0, 2, 2, 1) and labels.shape == (0,)
