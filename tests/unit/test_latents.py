"""Latent spaces: pixel round trip, normalisation round trip, VAE save/load, encode/decode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.data import prepare_dataset
from navref.latents import LatentSpace, channel_stats, denormalize, encode_latents, normalize
from navref.vae import WeightsNotFoundError, build_small_vae, load_vae, train_vae


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    prepare_dataset({"kind": "digits", "resolution": 8, "val_fraction": 0.1}, out)
    return out


def test_normalisation_round_trip():
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(5, 3, 4, 4, generator=g, dtype=torch.float64) * 3 + 2
    shift, scale = (
        torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64),
        torch.tensor([0.5, 2.0, 10.0], dtype=torch.float64),
    )
    z = normalize(raw, shift, scale)
    # independent reference: explicit per-channel loop
    for c in range(3):
        torch.testing.assert_close(z[:, c], (raw[:, c] - shift[c]) * scale[c])
    torch.testing.assert_close(denormalize(z, shift, scale), raw)


def test_channel_stats_matches_numpy():
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(50, 3, 2, 2)).astype(np.float32) * [[[[1]], [[2]], [[3]]]]
    rows = np.arange(0, 50, 2)
    mean, std = channel_stats(arr, rows, chunk=7)
    ref = np.moveaxis(arr[rows].astype(np.float64), 1, -1).reshape(-1, 3)
    np.testing.assert_allclose(mean, ref.mean(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(std, ref.std(0), rtol=1e-8)


def test_pixel_space_round_trip(digits_dir, tmp_path):
    stats = encode_latents({"kind": "pixel"}, digits_dir, tmp_path / "pix", batch_size=100)
    space = LatentSpace.load(tmp_path / "pix")
    z = space.latents()
    assert z.shape == (1797, 1, 8, 8) and stats["shape"] == [1797, 1, 8, 8]
    assert z.min() >= -1 and z.max() <= 1
    images = np.load(digits_dir / "data.npy")
    np.testing.assert_array_equal(space.decode(z[:50]), images[:50])


def test_pixel_space_normalised_round_trip(digits_dir, tmp_path):
    encode_latents({"kind": "pixel", "normalize": True}, digits_dir, tmp_path / "p")
    space = LatentSpace.load(tmp_path / "p")
    z = np.asarray(space.latents())
    train = space.rows("train")
    assert abs(z[train].mean()) < 1e-4 and abs(z[train].std() - 1) < 1e-3
    np.testing.assert_array_equal(space.decode(z[:20]), np.load(digits_dir / "data.npy")[:20])


def test_vae_save_load_round_trip(tmp_path):
    vae = build_small_vae({"block_out_channels": [8, 16], "latent_channels": 2}, 1, 8).eval()
    vae.save_pretrained(tmp_path / "vae", safe_serialization=True)
    assert (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").exists()
    loaded = load_vae(tmp_path / "vae")
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        a = vae.decode(vae.encode(x).latent_dist.mean).sample
        b = loaded.decode(loaded.encode(x).latent_dist.mean).sample
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(WeightsNotFoundError, match="no config.json"):
        load_vae(tmp_path / "missing")


def test_train_vae_and_encode_decode(digits_dir, tmp_path):
    images = np.load(digits_dir / "data.npy")
    cfg = {
        "block_out_channels": [16, 16],
        "latent_channels": 4,
        "steps": 60,
        "batch_size": 32,
        "lr": 2e-3,
    }
    metrics = train_vae(images[:400], cfg, tmp_path / "vae", val_images=images[400:500])
    assert metrics["train_mse"] < 0.25  # well below the variance of [-1, 1] pixels (~0.5)
    stats = encode_latents(
        {"kind": "vae", "normalize": True}, digits_dir, tmp_path / "lat", vae_dir=tmp_path / "vae"
    )
    space = LatentSpace.load(tmp_path / "lat")
    z = np.asarray(space.latents())
    assert z.shape == (1797, 4, 4, 4)
    train = space.rows("train")
    np.testing.assert_allclose(z[train].mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(z[train].std(axis=(0, 2, 3)), 1, atol=1e-3)
    # decode(latent) equals decoding the raw VAE posterior mean directly
    vae = load_vae(tmp_path / "vae")
    with torch.no_grad():
        x = torch.from_numpy(images[:8]).permute(0, 3, 1, 2).float() / 127.5 - 1
        direct = vae.decode(vae.encode(x).latent_dist.mean).sample
    ref = ((direct + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    out = space.decode(z[:8])
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    assert stats["normalize"] is True and len(stats["shift"]) == 4


def _oom_above(monkeypatch, method: str, limit: int) -> list[int]:
    """AutoencoderKL.<method> raising CUDA's out-of-memory error for batches above ``limit``
    (a GPU that fits ``limit`` items); returns the list of batch sizes it was called with."""
    from diffusers import AutoencoderKL

    real, sizes = getattr(AutoencoderKL, method), []

    def fake(self, x, *args, **kwargs):
        sizes.append(len(x))
        if len(x) > limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory (fake, batch {len(x)})")
        return real(self, x, *args, **kwargs)

    monkeypatch.setattr(AutoencoderKL, method, fake)
    return sizes


@pytest.mark.parametrize("sample_posterior", [False, True])
def test_vae_encode_and_decode_halve_their_batch_out_of_memory(
    digits_dir, tmp_path, monkeypatch, sample_posterior
):
    """A VAE batch that runs out of GPU memory (faked: the CPU has none to run out of) is
    retried at half the size, and the latents and images equal those of an unbatched run
    (posterior samples too: their noise is drawn per configured batch). Equal up to float32
    rounding: a convolution's summation order may depend on the batch size."""
    from navref.vae import save_vae

    torch.manual_seed(0)
    save_vae(
        build_small_vae({"block_out_channels": [8, 8], "latent_channels": 2}, 1, 8), tmp_path / "v"
    )
    space_cfg = {
        "kind": "vae",
        "pretrained": str(tmp_path / "v"),
        "sample_posterior": sample_posterior,
    }
    encode_latents(space_cfg, digits_dir, tmp_path / "whole", batch_size=1000)
    sizes = _oom_above(monkeypatch, "encode", 300)
    encode_latents(space_cfg, digits_dir, tmp_path / "halved", batch_size=1000)
    assert sizes == [1, 1000, 500] + [250] * 7 + [47]  # 1: the shape probe
    whole, halved = (
        np.asarray(LatentSpace.load(tmp_path / d).latents()) for d in ("whole", "halved")
    )
    np.testing.assert_allclose(halved, whole, rtol=1e-5, atol=1e-6)
    space = LatentSpace.load(tmp_path / "whole")  # decoding: 40 at once, then 32 -> 8
    want = space.decode(whole[:40], batch_size=40)
    sizes = _oom_above(monkeypatch, "decode", 10)
    assert np.array_equal(space.decode(whole[:40], batch_size=32), want)
    assert sizes == [32, 16, 8, 8, 8, 8, 8] and space._decode_cache.size == 8
    space.decode(whole[:20])  # the halved size is kept for later calls
    assert sizes[7:] == [8, 8, 4]
