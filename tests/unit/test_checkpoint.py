"""Checkpoint names of the loss-curve probe: ``ema`` and ``step<N>``."""

from __future__ import annotations

import pytest

from navref.checkpoint import checkpoint_path


def test_checkpoint_path(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_00000250.safetensors").touch()
    assert checkpoint_path(tmp_path, "ema") == tmp_path / "model.safetensors"
    assert checkpoint_path(tmp_path, "step250").name == "step_00000250.safetensors"
    with pytest.raises(FileNotFoundError):
        checkpoint_path(tmp_path, "step9")
    with pytest.raises(ValueError):
        checkpoint_path(tmp_path, "last")
