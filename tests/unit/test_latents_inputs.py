"""Issue 13, cases 4-5: the VAE's shift_factor, and a NaN from the encoder."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import navref.latents
from navref.data import prepare_dataset
from navref.io import NonFiniteError, check_finite
from navref.latents import LatentSpace, encode_latents
from navref.vae import build_small_vae, images_to_unit


@pytest.fixture
def image_dir(tmp_path):
    """A prepared 6-image folder dataset (8x8 RGB); image 3 is all white."""
    rng = np.random.default_rng(0)
    (tmp_path / "root" / "a").mkdir(parents=True)
    for i in range(6):
        pixels = np.full((8, 8, 3), 255, np.uint8) if i == 3 else rng.integers(0, 200, (8, 8, 3))
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "root" / "a" / f"{i}.png")
    conf = {"kind": "imagefolder", "root": str(tmp_path / "root"), "resolution": 8}
    prepare_dataset(conf, tmp_path / "data")
    return tmp_path / "data"


def test_shift_factor_is_applied_and_undone(image_dir, tmp_path):
    torch.manual_seed(0)
    vae = build_small_vae({"block_out_channels": [8, 16], "latent_channels": 2}, 3, 8).eval()
    vae.register_to_config(scaling_factor=1.5, shift_factor=0.25)
    vae.save_pretrained(tmp_path / "vae", safe_serialization=True)
    space = {"kind": "vae", "pretrained": str(tmp_path / "vae"), "normalize": False}
    encode_latents(space, image_dir, tmp_path / "lat", batch_size=4)
    lat = LatentSpace.load(tmp_path / "lat")
    images = np.load(image_dir / "data.npy")
    with torch.no_grad():
        raw = vae.encode(images_to_unit(images)).latent_dist.mean
    np.testing.assert_allclose(lat.latents(), (raw.numpy() - 0.25) * 1.5, rtol=1e-5, atol=1e-5)
    z = torch.from_numpy(np.array(lat.latents()))
    torch.testing.assert_close(lat.to_raw(z), raw, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        direct = ((vae.decode(raw).sample + 1) * 127.5).round().clamp(0, 255)
    np.testing.assert_array_equal(lat.decode(z), direct.permute(0, 2, 3, 1).numpy())


def _nan_for_white_vae():
    """A stand-in VAE whose posterior mean is NaN for an all-white image."""

    def encode(x):
        mean = x[:, :2, ::2, ::2].clone()
        mean[x.flatten(1).amin(1) >= 1.0] = float("nan")
        return SimpleNamespace(latent_dist=SimpleNamespace(mean=mean))

    return SimpleNamespace(
        config=SimpleNamespace(in_channels=3, scaling_factor=1.0, shift_factor=None),
        encode=encode,
    )


def test_nan_from_the_encoder_stops_before_writing(image_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(navref.latents, "load_vae", lambda *a, **k: _nan_for_white_vae())
    space = {"kind": "vae", "pretrained": "unused", "normalize": True}
    out = tmp_path / "lat"
    with pytest.raises(NonFiniteError, match=r"item 3 \(.*a/3\.png\) holds NaN"):
        encode_latents(space, image_dir, out, batch_size=2)
    assert list(out.iterdir()) == []  # no latents, stats, meta or temporary file


def test_check_finite_names_the_first_bad_row_and_counts():
    arr = np.zeros((4, 2))
    arr[2, 1], arr[3, 0] = np.inf, np.nan
    with pytest.raises(NonFiniteError, match=r"x: item 12 \(c\).*2 bad item\(s\).*rerun"):
        check_finite(arr, "x", "rerun", first_row=10, row_names=list("abcd"))
    check_finite(torch.ones(3, 2), "x", "rerun")
    with pytest.raises(NonFiniteError, match="is nan"):
        check_finite(np.float64("nan"), "fid", "rerun")
