"""Issue 13, case 11: artefacts read by later rules are validated on load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from navref.data import load_prepared, prepare_dataset
from navref.io import ArtefactError, load_array, load_npz
from navref.latents import LatentSpace, encode_latents


def _cut(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def prepared(tmp_path):
    conf = {"kind": "synthetic_gaussian", "dim": 6, "size": 50, "seed": 0}
    prepare_dataset(conf, tmp_path / "data")
    encode_latents({"kind": "pixel"}, tmp_path / "data", tmp_path / "lat")
    return tmp_path


def test_dataset_cut_short_names_file_and_rule(prepared):
    _cut(prepared / "data" / "data.npy")
    with pytest.raises(ArtefactError, match=r"data\.npy: is not a complete .npy.*prepare_dataset"):
        load_prepared(prepared / "data")


def test_latents_cut_short_or_of_another_shape(prepared):
    space = LatentSpace.load(prepared / "lat")
    assert space.latents().shape == (50, 6)
    np.save(prepared / "lat" / "latents.npy", np.zeros((49, 6), np.float32))
    with pytest.raises(ArtefactError, match=r"shape \(49, 6\), expected \(50, 6\).*encode_latents"):
        space.latents()
    _cut(prepared / "lat" / "latents.npy")
    with pytest.raises(ArtefactError, match=r"latents\.npy: is not a complete"):
        space.latents()


def test_statistics_with_nan_name_file_and_rule(prepared):
    path = prepared / "lat" / "stats.json"
    stats = json.loads(path.read_text())
    stats["scale"][2] = float("nan")
    path.write_text(json.dumps(stats))
    with pytest.raises(ArtefactError, match=r"stats\.json: scale is not finite.*encode_latents"):
        LatentSpace.load(prepared / "lat")


def test_npz_cut_short_or_with_nan(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, samples=np.arange(4000.0), labels=np.arange(4))
    assert load_npz(path, "sample_sweep", finite=["samples"])["labels"].tolist() == [0, 1, 2, 3]
    np.savez(path, samples=np.array([0.0, np.nan]), labels=np.arange(2))
    with pytest.raises(ArtefactError, match=r"s\.npz: array 'samples' holds NaN.*sample_sweep"):
        load_npz(path, "sample_sweep", finite=["samples"])
    np.savez(path, samples=np.arange(4000.0))
    _cut(path)
    with pytest.raises(ArtefactError, match=r"s\.npz: is not a complete .npz.*sample_sweep"):
        load_npz(path, "sample_sweep")


def test_load_array_finite_names_the_row(tmp_path):
    arr = np.zeros((5000, 3))
    arr[4321, 1] = np.inf
    np.save(tmp_path / "f.npy", arr)
    with pytest.raises(ArtefactError, match=r"row 4321 holds NaN or infinity.*features"):
        load_array(tmp_path / "f.npy", "features", finite=True)
    with pytest.raises(ArtefactError, match="does not exist"):
        load_array(tmp_path / "missing.npy", "features")


def test_damaged_or_missing_json_names_the_rule(tmp_path):
    from navref.io import load_json

    (tmp_path / "stats.json").write_text('{"shift": [0.1, 0')
    with pytest.raises(ArtefactError, match=r"stats\.json: is not complete JSON.*encode_latents"):
        load_json(tmp_path / "stats.json", "encode_latents")
    with pytest.raises(ArtefactError, match="does not exist.*prepare_dataset"):
        load_json(tmp_path / "info.json", "prepare_dataset")
