"""Tests for navref.metrics.memorization: exact chunked nearest neighbours, memorization share."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.metrics import memorization_metrics, memorization_table, nearest_neighbours


def brute_force(queries, train, k):
    d = np.sqrt(
        ((queries[:, None, :].astype(np.float64) - train[None].astype(np.float64)) ** 2).sum(-1)
    )
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, 1), idx


@pytest.mark.parametrize(("chunk", "qchunk"), [(7, 5), (64, 1000), (1000, 3)])
def test_nearest_neighbours_match_brute_force(chunk, qchunk):
    rng = np.random.default_rng(0)
    train = rng.standard_normal((150, 24)).astype(np.float32)
    queries = rng.standard_normal((23, 24)).astype(np.float32)
    d, i = nearest_neighbours(queries, train, k=3, chunk_size=chunk, query_chunk_size=qchunk)
    rd, ri = brute_force(queries, train, 3)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-12, atol=1e-12)
    assert d.dtype == np.float64 and i.dtype == np.int64


def test_inputs_tensor_memmap_and_shaped(tmp_path):
    rng = np.random.default_rng(1)
    train = rng.standard_normal((40, 2, 3, 3)).astype(np.float32)
    path = tmp_path / "train.npy"
    np.save(path, train)
    mm = np.load(path, mmap_mode="r")
    q = torch.from_numpy(rng.standard_normal((6, 2, 3, 3)).astype(np.float32))
    d1, i1 = nearest_neighbours(q, mm, k=2, chunk_size=9)
    d2, i2 = nearest_neighbours(q.reshape(6, -1).numpy(), torch.from_numpy(train), k=2)
    rd, ri = brute_force(q.reshape(6, -1).numpy(), train.reshape(40, -1), 2)
    np.testing.assert_array_equal(i1, ri)
    np.testing.assert_array_equal(i2, ri)
    np.testing.assert_allclose(d1, rd, rtol=1e-12)
    np.testing.assert_allclose(d2, rd, rtol=1e-12)


def test_exact_distances_at_large_offset():
    # a large common offset makes the float32 expansion ||q||^2 - 2<q,x> + ||x||^2 cancel badly;
    # the float64 re-ranking must still return exact distances and the right order
    rng = np.random.default_rng(2)
    base = rng.standard_normal((50, 16))
    train = (1000.0 + base).astype(np.float32)
    queries = train[[3, 17]] + np.float32(1e-3)
    d, i = nearest_neighbours(queries, train, k=2)
    rd, ri = brute_force(queries, train, 2)
    np.testing.assert_array_equal(i[:, 0], [3, 17])
    np.testing.assert_allclose(d, rd, rtol=1e-9)


def test_memorization_share_copies_vs_noise():
    rng = np.random.default_rng(3)
    train = rng.standard_normal((200, 64)).astype(np.float32)
    copies = train[rng.choice(200, 30, replace=False)] + 0.01 * rng.standard_normal(
        (30, 64)
    ).astype(np.float32)
    m = memorization_metrics(copies, train, chunk_size=50)
    assert m["memorization_share"] == 1.0
    assert m["mean_nn1_dist"] < 0.2 and m["n"] == 30 and m["threshold"] == pytest.approx(1 / 3)
    noise = rng.standard_normal((30, 64)).astype(np.float32)
    m = memorization_metrics(noise, train)
    assert m["memorization_share"] == 0.0
    assert m["mean_nn1_dist"] > 5.0
    # threshold is configurable: everything counts below a ratio of 1.01
    assert memorization_metrics(noise, train, threshold=1.01)["memorization_share"] == 1.0


def test_memorization_table_columns_and_exact_duplicates():
    rng = np.random.default_rng(4)
    train = rng.standard_normal((20, 8)).astype(np.float32)
    train[5] = train[4]  # a duplicated training row
    samples = np.stack([train[4], train[9], rng.standard_normal(8).astype(np.float32)])
    tab = memorization_table(samples, train)
    assert list(tab.columns) == [
        "sample", "nn1_index", "nn1_dist", "nn2_index", "nn2_dist", "ratio", "memorized",
    ]  # fmt: skip
    assert tab["nn1_index"].tolist()[:2] == [4, 9]
    assert tab["nn2_index"].iloc[0] != 5  # row 5 is a copy of row 4: the same image, never NN2
    assert tab["ratio"].iloc[0] == 0.0 and tab["memorized"].iloc[0]  # copy of a duplicate
    assert tab["ratio"].iloc[1] == 0.0 and not tab["memorized"].iloc[2]
    rd, _ = brute_force(samples, np.delete(train, 5, axis=0), 2)  # distinct training images
    np.testing.assert_allclose(tab["ratio"].iloc[2], rd[2, 0] / rd[2, 1], rtol=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="features"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="exceeds"):
        nearest_neighbours(np.zeros((2, 3)), np.zeros((1, 3)), k=2)


def test_uint8_memmap_streams_like_float(tmp_path):
    """evaluate_sweep_<kind> passes uint8 images and a memory-mapped train split straight in."""
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (70, 4, 4, 3), dtype=np.uint8)
    np.save(tmp_path / "train.npy", train)
    mm = np.load(tmp_path / "train.npy", mmap_mode="r")[10:60]  # a memmap slice
    samples = rng.integers(0, 256, (9, 4, 4, 3), dtype=np.uint8)
    samples[0] = train[25]  # an exact copy
    d, i = nearest_neighbours(samples, mm, k=2, chunk_size=7, query_chunk_size=4)
    rd, ri = brute_force(samples.reshape(9, -1), train[10:60].reshape(50, -1), 2)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-12)
    assert i[0, 0] == 15 and d[0, 0] == 0.0
    m = memorization_metrics(samples, mm, chunk_size=7)
    f = memorization_metrics(samples.astype(np.float32), train[10:60].astype(np.float32))
    assert m == f


def test_downsample_images_block_means(tmp_path):
    """Area downsampling against a float64 block-mean loop; streamed file == in memory."""
    from navref.metrics import downsample_images, save_downsampled

    rng = np.random.default_rng(4)
    imgs = rng.integers(0, 256, (7, 8, 8, 3), dtype=np.uint8)
    out = downsample_images(imgs, 2, batch_size=3)
    assert out.shape == (7, 2, 2, 3) and out.dtype == np.uint8
    for n in range(7):
        for i in range(2):
            for j in range(2):
                block = imgs[n, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].astype(np.float64)
                np.testing.assert_array_equal(out[n, i, j], np.round(block.mean((0, 1))))
    np.testing.assert_array_equal(downsample_images(imgs, 8), imgs)  # identity
    np.save(tmp_path / "imgs.npy", imgs)
    mm = np.load(tmp_path / "imgs.npy", mmap_mode="r")
    assert save_downsampled(tmp_path / "small.npy", mm, 2, batch_size=2) == (7, 2, 2, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "small.npy"), out)
    assert {p.name for p in tmp_path.iterdir()} == {"imgs.npy", "small.npy"}  # no temp left
    with pytest.raises(ValueError, match=r"must lie in \[1, 8\]"):
        downsample_images(imgs, 16)
    with pytest.raises(ValueError, match="uint8 images"):
        downsample_images(imgs.astype(np.float32), 2)


def test_pixel_memorization_is_the_table_on_uint8_pixels_with_sensitivity():
    from navref.metrics.memorization import pixel_memorization, threshold_shares

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(30, 4, 4, 1), dtype=np.uint8)
    samples = np.clip(train[:10].astype(int) + rng.integers(-20, 21, (10, 4, 4, 1)), 0, 255)
    samples = samples.astype(np.uint8)
    tab = pixel_memorization(samples, train)
    d = np.linalg.norm(
        samples.reshape(10, 1, -1).astype(float) - train.reshape(1, 30, -1).astype(float), axis=2
    )
    two = np.sort(d, axis=1)[:, :2]
    np.testing.assert_allclose(tab["ratio"], two[:, 0] / two[:, 1], rtol=1e-12)
    shares = threshold_shares(tab["ratio"])
    for key, thr in [("q25", 0.25), ("q33", 1 / 3), ("q50", 0.5)]:
        assert shares[f"memorization_share_{key}"] == ((two[:, 0] / two[:, 1]) < thr).mean()
    with pytest.raises(ValueError, match="uint8"):
        pixel_memorization(samples.astype(np.float32), train)
