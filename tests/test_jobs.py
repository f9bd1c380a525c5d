"""Helpers of the rules: relative switch times, checkpoint paths, image grids, t grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from navref.config import t_grid
from navref.data.base import PreparedDataset, save_prepared
from navref.imgrid import make_grid, save_grid
from navref.jobs import checkpoint_path, generation_plan, resolve_tau, split_images


def _splits(t=0.4, reached=True):
    return pd.DataFrame(
        {
            "curve": ["objective", "objective"],
            "space": ["z", "z"],
            "conditional": [True, False],
            "t_split": [t, 0.9],
            "reached": [reached, True],
        }
    )


def test_resolve_tau():
    sp = _splits()
    assert resolve_tau("0.25", sp, "z") == 0.25
    assert resolve_tau(0.3, None, "z") == 0.3
    assert resolve_tau("s1.5", sp, "z") == pytest.approx(0.6)  # the conditional curve
    assert resolve_tau("s3", sp, "z") == 1.0  # clipped
    with pytest.raises(ValueError, match="no split time"):
        resolve_tau("s1", _splits(reached=False), "z")
    with pytest.raises(ValueError, match="no split time"):
        resolve_tau("s1", sp, "other")


def test_checkpoint_path(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_00000250.safetensors").touch()
    assert checkpoint_path(tmp_path, "ema") == tmp_path / "model.safetensors"
    assert checkpoint_path(tmp_path, "step250").name == "step_00000250.safetensors"
    with pytest.raises(FileNotFoundError):
        checkpoint_path(tmp_path, "step9")
    with pytest.raises(ValueError):
        checkpoint_path(tmp_path, "last")


def test_generation_plan_grids():
    grid, info = generation_plan("stage_swap", {"tau": 0.2, "steps_per_stage": 25}, 10, None)
    assert len(grid) == 51 and float(grid[25]) == pytest.approx(0.2) and info["steps"] == 50
    grid, info = generation_plan("timestep_shift", {"shift": 1.0, "steps": 50}, 10, 0.2)
    assert info["share_below_split"] == pytest.approx(0.22)  # paper Tab. 2, s = 1
    grid, info = generation_plan(
        "cfg_interval", {"interval": None, "scale": 2.5, "steps": 5}, 10, None
    )
    assert np.isnan(info["cfg_a"]) and len(grid) == 6


def test_grid_layout(tmp_path):
    imgs = np.zeros((2, 3, 4, 5, 1), np.uint8)
    imgs[1, 2] = 200
    g = make_grid(imgs, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 6 + 1, 1)
    assert (g[6:10, 13:18] == 200).all() and g[0, 0, 0] == 255
    save_grid(imgs, tmp_path / "g.png", scale=2)
    assert Image.open(tmp_path / "g.png").size == (2 * (3 * 6 + 1), 2 * (2 * 5 + 1))
    with pytest.raises(ValueError):
        make_grid(imgs[0])


def test_t_grid():
    assert t_grid([0.1, 0.5]) == [0.1, 0.5]
    g = t_grid({"start": 0.0, "stop": 0.9, "num": 4})
    assert g == [0.0, 0.3, 0.6, 0.9]


def _prepared(tmp_path, splits):
    n = len(splits)
    data = np.arange(n * 2 * 2 * 1, dtype=np.uint8).reshape(n, 2, 2, 1)
    meta = pd.DataFrame(
        {"index": np.arange(n), "label": np.zeros(n, dtype=np.int64), "split": splits}
    )
    save_prepared(PreparedDataset(data, meta, ["a"], "test"), tmp_path)
    return data


def test_split_images_is_a_memmap_slice_when_contiguous(tmp_path):
    data = _prepared(tmp_path / "c", ["train"] * 5 + ["val"] * 3)
    tr = split_images(tmp_path / "c", "train")
    assert isinstance(tr, np.memmap) and tr.shape == (5, 2, 2, 1)
    np.testing.assert_array_equal(tr, data[:5])
    np.testing.assert_array_equal(split_images(tmp_path / "c", "val"), data[5:])
    data = _prepared(tmp_path / "i", ["train", "val", "train", "val", "train"])
    tr = split_images(tmp_path / "i", "train")
    np.testing.assert_array_equal(tr, data[[0, 2, 4]])
    with pytest.raises(ValueError, match="no rows in split 'test'"):
        split_images(tmp_path / "i", "test")
