"""Dataset loaders: digits, synthetic Gaussian, ImageFolder (with a corrupt PNG), CIFAR-10."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from navref.data import DatasetError, load_prepared, prepare_dataset
from navref.data.base import META_COLUMNS, seeded_split
from navref.data.imagefolder import center_crop_resize


def test_digits(tmp_path):
    info = prepare_dataset(
        {"kind": "digits", "resolution": 12, "val_fraction": 0.2, "seed": 3}, tmp_path
    )
    ds = load_prepared(tmp_path)
    assert ds.data.shape == (1797, 12, 12, 1) and ds.data.dtype == np.uint8
    assert list(ds.meta.columns) == META_COLUMNS
    assert info["num_classes"] == 10 and info["num_train"] + info["num_val"] == 1797
    # stratified: every class has ~20% in val
    frac = ds.meta.groupby("label")["split"].apply(lambda s: (s == "val").mean())
    assert frac.between(0.15, 0.25).all()
    # the labels agree with scikit-learn's and the image content too (8x8 native)
    from sklearn.datasets import load_digits

    assert (ds.meta["label"].to_numpy() == load_digits().target).all()
    prepare_dataset({"kind": "digits", "resolution": 8}, tmp_path / "native")
    native = load_prepared(tmp_path / "native").data[..., 0]
    np.testing.assert_allclose(native, np.round(load_digits().images * 255 / 16), atol=1)


def test_split_is_deterministic_and_seeded():
    labels = np.repeat(np.arange(5), 40)
    a, b = seeded_split(labels, 0.25, 0), seeded_split(labels, 0.25, 0)
    assert (a == b).all()
    assert not (a == seeded_split(labels, 0.25, 1)).all()
    assert ((a == "val").sum()) == 50


def test_synthetic_gaussian(tmp_path):
    prepare_dataset(
        {"kind": "synthetic_gaussian", "dim": 7, "size": 500, "num_classes": 4}, tmp_path
    )
    ds = load_prepared(tmp_path)
    assert ds.data.shape == (500, 7) and ds.data.dtype == np.float32
    assert ds.modality == "vector"
    assert abs(float(np.mean(ds.data))) < 0.1 and abs(float(np.std(ds.data)) - 1) < 0.05
    assert np.bincount(ds.meta["label"]).tolist() == [125] * 4


def _png(path, size=(40, 30), color=(255, 0, 0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


@pytest.fixture
def fake_imagefolder(tmp_path):
    root = tmp_path / "train"
    for i in range(3):
        _png(root / "cat" / f"{i}.png", color=(200, 10 * i, 0))
        _png(root / "dog" / f"{i}.jpg", size=(64, 48), color=(0, 0, 200))
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


def test_imagefolder_corrupt_image_is_named(fake_imagefolder, tmp_path):
    with pytest.raises(DatasetError, match="broken.png"):
        prepare_dataset(
            {"kind": "imagefolder", "root": str(fake_imagefolder), "resolution": 16},
            tmp_path / "out",
        )
    assert not (tmp_path / "out" / "data.npy").exists()  # no half-written output


def test_imagefolder_skip_corrupt_and_flip(fake_imagefolder, tmp_path):
    cfg = {
        "kind": "imagefolder",
        "root": str(fake_imagefolder),
        "resolution": 16,
        "skip_corrupt": True,
        "hflip_copies": True,
    }
    info = prepare_dataset(cfg, tmp_path / "out")
    ds = load_prepared(tmp_path / "out")
    assert info["num_skipped_corrupt"] == 1 and "broken.png" in info["skipped_corrupt"][0]
    assert ds.data.shape == (12, 16, 16, 3)
    assert ds.class_names == ["cat", "dog"]
    assert ds.meta["label"].tolist() == [0] * 6 + [1] * 6
    assert ds.meta["source"].str.endswith("#hflip").sum() == 6
    np.testing.assert_array_equal(ds.data[1], ds.data[0][:, ::-1])
    assert tuple(ds.data[0, 0, 0]) == (200, 0, 0)


def test_imagefolder_center_crop_matches_adm():
    # a 100x50 image with a vertical stripe in the middle column range
    arr = np.zeros((50, 100, 3), np.uint8)
    arr[:, 40:60] = 255
    out = center_crop_resize(Image.fromarray(arr), 25)
    assert out.shape == (25, 25, 3)
    # 100x50 -> 50x25 (short side 25), the 20 px stripe becomes 10 px, all inside the centre crop
    white = (out[12, :, 0] > 127).sum()
    assert 9 <= white <= 11


def test_imagefolder_empty_class_and_missing_root(tmp_path):
    root = tmp_path / "r"
    _png(root / "a" / "0.png")
    (root / "b").mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        prepare_dataset({"kind": "imagefolder", "root": str(root), "resolution": 8}, tmp_path / "o")
    with pytest.raises(DatasetError, match="does not exist"):
        prepare_dataset(
            {"kind": "imagefolder", "root": str(tmp_path / "nope"), "resolution": 8}, tmp_path / "o"
        )


def _cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    batch = {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"labels": [int(i % 10) for i in range(n)],
    }
    with open(path, "wb") as fh:
        pickle.dump(batch, fh)
    return batch


def test_cifar10(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = [_cifar_batch(root / f"data_batch_{i}", 20, i) for i in range(1, 6)]
    test = _cifar_batch(root / "test_batch", 10, 9)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"n{i}".encode() for i in range(10)]}, fh)
    info = prepare_dataset({"kind": "cifar10", "root": str(root)}, tmp_path / "out")
    ds = load_prepared(tmp_path / "out")
    assert ds.data.shape == (110, 32, 32, 3) and info["num_val"] == 10
    first = batches[0][b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(ds.data[0], first)
    last = test[b"data"][-1].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(ds.data[-1], last)
    assert ds.class_names[3] == "n3"
    assert isinstance(ds.meta, pd.DataFrame) and (ds.meta["split"] == "val").sum() == 10


def test_cifar10_rejects_corrupt_and_malicious(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    for i in range(1, 6):
        _cifar_batch(root / f"data_batch_{i}", 5, i)
    (root / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="test_batch"):
        prepare_dataset({"kind": "cifar10", "root": str(root)}, tmp_path / "o")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(root / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(DatasetError, match="refusing"):
        prepare_dataset({"kind": "cifar10", "root": str(root)}, tmp_path / "o")
    with pytest.raises(DatasetError, match="does not exist"):
        prepare_dataset({"kind": "cifar10", "root": str(tmp_path / "missing")}, tmp_path / "o")


def test_seeded_split_where_sklearn_refuses():
    """Why navref keeps its own stratified split (see navref.data.base.seeded_split)."""
    from sklearn.model_selection import train_test_split

    from navref.data.base import seeded_split

    labels = np.array([0] * 10 + [1] * 5 + [2])  # class 2 has one item
    split = seeded_split(labels, 0.2, seed=0)
    for c, n_val in [(0, 2), (1, 1), (2, 0)]:  # round(0.2 * n) per class, one train item kept
        assert (split[labels == c] == "val").sum() == n_val
    with pytest.raises(ValueError, match="least populated class"):
        train_test_split(np.arange(16), test_size=0.2, stratify=labels, random_state=0)
