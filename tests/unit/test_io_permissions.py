"""Issue 13, case 12: every output, weights included, gets the mode the user's umask gives."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch

from navref.checkpoint import save_checkpoint
from navref.io import save_json, save_npy


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_take_the_umask_mode(tmp_path, umask):
    expected = 0o666 & ~umask
    save_npy(tmp_path / "a.npy", np.zeros(3))
    save_json(tmp_path / "a.json", {"a": 1})
    weights = save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {"step": 1})
    for path in (tmp_path / "a.npy", tmp_path / "a.json", weights):
        assert _mode(path) == expected, path


def test_trained_vae_weights_take_the_umask_mode(tmp_path, umask):
    from navref.vae import train_vae

    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)
    conf = {"block_out_channels": [8], "latent_channels": 2, "steps": 1, "batch_size": 4}
    train_vae(images, conf, tmp_path / "vae")
    files = [p for p in (tmp_path / "vae").iterdir() if p.is_file()]
    assert any(p.suffix == ".safetensors" for p in files)
    assert {p.name: _mode(p) for p in files} == {p.name: 0o666 & ~umask for p in files}
