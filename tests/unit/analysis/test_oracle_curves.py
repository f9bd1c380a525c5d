"""Tests of the oracle curve analyses (objective gap, top-1 weight, split times)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from navref.analysis.oracle_curves import objective_curves, split_times, synthetic_top1_curve

GRID = [0.0, 0.2, 0.5, 0.8, 0.99]


@pytest.fixture(scope="module")
def clustered():
    """Three classes with distinct means, 40 samples each, D = 8."""
    rng = np.random.default_rng(0)
    centers = 3.0 * rng.standard_normal((3, 8))
    labels = np.repeat(np.arange(3), 40)
    data = (centers[labels] + 0.5 * rng.standard_normal((120, 8))).astype(np.float32)
    return data, labels


def test_unconditional_curve(clustered):
    data, labels = clustered
    n = 400
    f = objective_curves(data, labels, GRID, n, seed=1, conditional=False)
    assert list(f["t"]) == GRID and len(f) == len(GRID)
    assert not f["conditional"].any() and (f["num_queries"] == n).all()
    assert (f["num_samples"] == 120).all() and (f["dim"] == 8).all()
    r0 = f.iloc[0]
    # t = 0: uniform posterior over all N
    for c in ("top1_mean", "top1_q05", "top1_q50", "top1_q95"):
        assert r0[c] == pytest.approx(1 / 120, rel=1e-5)
    assert r0["ess_mean"] == pytest.approx(120, rel=1e-4)
    assert r0["entropy_mean"] == pytest.approx(math.log(120), abs=1e-4)
    # t = 0: v* = mean - x0, so u - v* = x1 - mean and the gap is the data's variance per
    # coordinate (x1 uniform over the rows); check within 4 standard errors
    pop_var = float(((data - data.mean(0)) ** 2).mean())
    assert abs(r0["gap_mse"] - pop_var) < 4 * r0["gap_se"]
    # posterior concentrates as t -> 1 and the gap vanishes there
    assert f["top1_mean"].iloc[-1] > 0.999 and f["top1_q05"].iloc[-1] > 0.99
    assert f["top1_is_source"].iloc[-1] > 0.99
    assert f["gap_mse"].iloc[-1] < 1e-3 * r0["gap_mse"]
    assert np.all(np.diff(f["top1_mean"]) > 0)
    q = f[["top1_q05", "top1_q25", "top1_q50", "top1_q75", "top1_q95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)


def test_conditional_curve(clustered, tmp_path):
    data, labels = clustered
    f = objective_curves(data, labels, GRID, 400, seed=2, conditional=True)
    assert f["conditional"].all()
    r0 = f.iloc[0]
    assert r0["top1_mean"] == pytest.approx(1 / 40, rel=1e-5)
    assert r0["ess_mean"] == pytest.approx(40, rel=1e-4)
    # t = 0: u - v* = x1 - class mean: the gap is the within-class variance
    within = np.mean(
        [((data[labels == c] - data[labels == c].mean(0)) ** 2).mean() for c in range(3)]
    )
    assert abs(r0["gap_mse"] - within) < 4 * r0["gap_se"]
    fu = objective_curves(data, labels, [0.0], 400, seed=2, conditional=False)
    assert r0["gap_mse"] < 0.2 * fu["gap_mse"].iloc[0]  # class means explain most variance
    # memmap input gives the same frame
    path = tmp_path / "d.npy"
    np.save(path, data)
    fm = objective_curves(np.load(path, mmap_mode="r"), labels, GRID, 400, 2, True, 17)
    pd.testing.assert_frame_equal(fm, f, rtol=1e-4, atol=1e-8)


def test_single_sample_has_no_gap():
    data = np.random.default_rng(0).standard_normal((1, 5)).astype(np.float32)
    f = objective_curves(torch.from_numpy(data), None, GRID[:-1], 16, 0, False)
    assert np.all(f["gap_mse"] < 1e-9)
    assert np.allclose(f["top1_mean"], 1.0)


def test_seed_determinism_and_errors(clustered):
    data, labels = clustered
    a = objective_curves(data, labels, [0.3], 50, 7, False)
    b = objective_curves(data, labels, [0.3], 50, 7, False)
    c = objective_curves(data, labels, [0.3], 50, 8, False)
    pd.testing.assert_frame_equal(a, b)
    assert a["gap_mse"].iloc[0] != c["gap_mse"].iloc[0]
    with pytest.raises(ValueError, match="labels"):
        objective_curves(data, None, [0.3], 10, 0, True)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        objective_curves(data, labels, [0.5, 1.0], 10, 0, False)
    with pytest.raises(ValueError, match="empty"):
        objective_curves(data, labels, [], 10, 0, False)


def test_split_times_hand_built():
    frame = pd.DataFrame(
        {
            "g": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
            "t": [0.0, 0.1, 0.2, 0.3] * 3,
            "top1_mean": [0.1, 0.5, 0.95, 1.0, 0.1, 0.2, 0.3, 0.4, 0.92, 0.95, 0.99, 1.0],
        }
    ).sample(frac=1.0, random_state=0)  # order must not matter
    s = split_times(frame, ["g"], threshold=0.9).set_index("g")
    assert s.loc["a", "reached"] and s.loc["a", "t_split_grid"] == 0.2
    assert s.loc["a", "t_split"] == pytest.approx(0.1 + 0.1 * (0.9 - 0.5) / (0.95 - 0.5))
    assert not s.loc["b", "reached"]
    assert math.isnan(s.loc["b", "t_split"]) and math.isnan(s.loc["b", "t_split_grid"])
    assert s.loc["c", "reached"] and s.loc["c", "t_split"] == 0.0
    s2 = split_times(frame[frame.g == "a"], [], threshold=0.5)
    assert len(s2) == 1 and s2["t_split"].iloc[0] == pytest.approx(0.1)
    s3 = split_times(frame.rename(columns={"top1_mean": "v"}), "g", 0.3, value_col="v")
    assert s3.set_index("g").loc["b", "t_split"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="lacks columns"):
        split_times(frame, ["nope"])


def test_synthetic_split_depends_on_dim_and_size():
    """Paper claim 1 on a small grid: larger D saturates earlier, larger N later."""
    grid = np.round(np.arange(0.0, 1.0, 0.05), 2)
    frames = [
        synthetic_top1_curve(d, n, grid, 48, seed=0) for d, n in [(4, 256), (64, 256), (16, 2048)]
    ]
    frames.append(synthetic_top1_curve(16, 16, grid, 48, seed=0))
    frame = pd.concat(frames, ignore_index=True)
    assert {"dim", "size", "top1_mean"} <= set(frame.columns)
    s = split_times(frame, ["dim", "size"], threshold=0.9).set_index(["dim", "size"])
    assert s["reached"].all()
    assert s.loc[(64, 256), "t_split"] < s.loc[(4, 256), "t_split"] - 0.1
    assert s.loc[(16, 16), "t_split"] < s.loc[(16, 2048), "t_split"] - 0.05
    # at t = 0 the weight is uniform over the N samples
    first = frame[frame.t == 0.0].set_index(["dim", "size"])["top1_mean"]
    for (_, n), v in first.items():
        assert v == pytest.approx(1 / n, rel=1e-5)


def test_one_job_per_dim_writes_each_sizes_table_as_a_job_of_its_own(tmp_path):
    """Rule oracle_synthetic runs every size of one D in one process: each size's table is
    exactly what a job computing only that size writes (no state passes between sizes)."""
    import logging

    from navref.analysis.oracle_runs import synthetic_of_dim

    settings = {"t_grid": np.linspace(0, 0.99, 5), "num_queries": 16, "chunk_size": None}
    log = logging.getLogger("navref.test")
    both = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    synthetic_of_dim(8, [64, 32], both, settings, seed=3, device="cpu", log=log)
    synthetic_of_dim(8, [32], [tmp_path / "alone.parquet"], settings, seed=3, device="cpu", log=log)
    pd.testing.assert_frame_equal(
        pd.read_parquet(both[1]), pd.read_parquet(tmp_path / "alone.parquet"), check_exact=True
    )
    assert pd.read_parquet(both[0])["size"].unique().tolist() == [64]
    with pytest.raises(ValueError, match="2 sizes but 1 paths"):
        synthetic_of_dim(8, [64, 32], both[:1], settings, seed=3, device="cpu", log=log)


def _without_merging(monkeypatch):
    """objective_curves on the rows as stored: copies not merged into modes (as before)."""
    import navref.metrics.memorization as mem

    monkeypatch.setattr(mem, "mode_counts", lambda data, labels: (None, None))


STATS = ["top1_mean", "top1_q05", "top1_q25", "top1_q50", "top1_q75", "top1_q95", "ess_mean",
         "entropy_mean"]  # fmt: skip


@pytest.mark.parametrize("conditional", [False, True])
def test_an_item_stored_twice_counts_as_one_mode(clustered, conditional, monkeypatch):
    """A duplicated training image must not halve its top-1 posterior weight (nor double
    the effective sample size), while the oracle and the objective gap stay those of the
    data as stored. Every row stored twice: the posterior over items and the query
    distribution are those of the data without the copies, so every curve and the split
    time equal that run's; and the gap equals the one computed on the stored rows without
    merging the copies, whose top-1 weight near t = 1 is 1/2."""
    data, labels = clustered
    twice, twice_labels = np.repeat(data, 2, axis=0), np.repeat(labels, 2)
    # premise: x1 of stored row j is item j // 2, and the draws of the two runs coincide
    # (numpy's bounded integers: floor(2 u) // 2 = floor(u))
    a, b = np.random.default_rng(4), np.random.default_rng(4)
    assert np.array_equal(np.sort(a.integers(0, 240, 300)) // 2, np.sort(b.integers(0, 120, 300)))
    base = objective_curves(data, labels, GRID, 300, seed=4, conditional=conditional)
    dup = objective_curves(twice, twice_labels, GRID, 300, seed=4, conditional=conditional)
    assert (dup["num_duplicates"] == 120).all() and (base["num_duplicates"] == 0).all()
    assert (dup["num_samples"] == 120).all()
    pd.testing.assert_frame_equal(dup.drop(columns="num_duplicates"),
                                  base.drop(columns="num_duplicates"), rtol=1e-5)  # fmt: skip
    assert dup["top1_mean"].iloc[-1] > 0.99  # near t = 1: one mode, not 1/2 of two copies
    a = split_times(base, ["conditional"], 0.9)["t_split"].iloc[0]
    b = split_times(dup, ["conditional"], 0.9)["t_split"].iloc[0]
    assert b == pytest.approx(a, rel=1e-5)
    with monkeypatch.context() as mp:
        _without_merging(mp)
        raw = objective_curves(twice, twice_labels, GRID, 300, seed=4, conditional=conditional)
    for col in ("gap_mse", "gap_se"):  # the gap of the stored data, unchanged by merging
        np.testing.assert_allclose(dup[col], raw[col], rtol=1e-5)
    np.testing.assert_allclose(raw["top1_mean"].iloc[-1], 0.5 * dup["top1_mean"].iloc[-1], 1e-3)
    assert not split_times(raw, ["conditional"], 0.9)["reached"].iloc[0]


@pytest.mark.parametrize("conditional", [False, True])
def test_some_items_stored_twice(clustered, conditional, monkeypatch):
    """Copies of a few rows: the objective gap equals the gap on the stored rows without
    merging (the oracle of the data as stored), the top-1 weight counts modes (summed over
    the copies: at least the unmerged one, and one near t = 1)."""
    data, labels = clustered
    copies = [3, 3, 17, 40]
    dup_data = np.concatenate([data, data[copies]])
    dup_labels = np.concatenate([labels, labels[copies]])
    dup = objective_curves(dup_data, dup_labels, GRID, 300, seed=4, conditional=conditional)
    assert (dup["num_duplicates"] == 4).all() and (dup["num_samples"] == 120).all()
    with monkeypatch.context() as mp:
        _without_merging(mp)
        raw = objective_curves(dup_data, dup_labels, GRID, 300, seed=4, conditional=conditional)
    for col in ("gap_mse", "gap_se"):
        np.testing.assert_allclose(dup[col], raw[col], rtol=1e-5)
    assert (dup["top1_mean"] >= raw["top1_mean"] - 1e-6).all()
    assert dup["top1_mean"].iloc[-1] > 0.99 > raw["top1_mean"].iloc[-1]
    assert (dup["ess_mean"] <= raw["ess_mean"] + 1e-4).all()
    # t = 0: the prior over items, c_i / N (of the class): the copied items weigh more
    if not conditional:  # item 3 is stored 3 times among 124 rows
        assert dup["top1_mean"].iloc[0] == pytest.approx(3 / 124, rel=1e-5)
        assert raw["top1_mean"].iloc[0] == pytest.approx(1 / 124, rel=1e-5)
    # as a tensor too, and a copy under another label stays an item of that class
    other = np.concatenate([labels, (labels[[3]] + 1) % labels.max()])
    tens = objective_curves(torch.from_numpy(np.concatenate([data, data[[3]]])), other,
                            GRID[:2], 50, seed=4, conditional=conditional)  # fmt: skip
    assert (tens["num_duplicates"] == (0 if conditional else 1)).all()


def test_copies_in_a_memmap_are_not_gathered_into_memory(clustered, tmp_path, monkeypatch):
    """With a copy among its rows, a memory-mapped data set still reaches the oracle as the
    memmap itself (the copies get row count 0), not as a gathered in-memory array."""
    import navref.analysis.oracle_curves as oc
    import navref.oracle

    data, labels = clustered
    path = tmp_path / "x.npy"
    np.save(path, np.concatenate([data, data[:1]]))
    mm = np.load(path, mmap_mode="r")
    seen = []
    real = navref.oracle.oracle_posterior

    def spy(x, t, rows, **kw):
        seen.append((rows, kw.get("row_counts")))
        return real(x, t, rows, **kw)

    monkeypatch.setattr(navref.oracle, "oracle_posterior", spy)  # imported inside the call
    oc.objective_curves(mm, None, GRID[:2], 16, seed=0, conditional=False)
    rows, counts = seen[0]
    assert isinstance(rows, np.memmap) and np.shares_memory(rows, mm)
    assert counts[0] == 2 and counts[-1] == 0 and counts[1:-1].tolist() == [1.0] * len(data[1:])
