"""Every public function that returns tensors from tensors on a device returns them on that
device (issue 18, item 5): the sampler, the oracle, the path, the DiT forward, the VAE's
encode/decode and the probes' core functions. Parametrised over the CPU and, where one is
visible, CUDA, so the same test catches a stray ``.cpu()`` or a CPU default on a GPU
machine; on a CPU-only machine it checks the CPU path and the ``device`` arguments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.models.dit import DiTConfig, build_model
from navref.sampling import (
    ModelVelocity,
    OracleVelocity,
    make_noise,
    sample,
    switch_at,
    uniform_grid,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SHAPE = (2, 4, 4)  # (C, H, W) of the latents
NUM_CLASSES = 2


pytestmark = pytest.mark.usefixtures("single_thread")


def _on(device: str, *tensors: torch.Tensor) -> None:
    """Assert each tensor lies on ``device`` (the type: ``cuda`` matches ``cuda:0``)."""
    for i, x in enumerate(tensors):
        assert isinstance(x, torch.Tensor), (i, type(x))
        assert x.device.type == torch.device(device).type, (i, x.device, device)


def _data(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, *SHAPE)).astype(np.float32), np.arange(n) % NUM_CLASSES


def _model(device: str) -> torch.nn.Module:
    torch.manual_seed(0)
    conf = DiTConfig(depth=1, hidden_size=32, num_heads=2, patch_size=2, input_size=SHAPE[1],
                     in_channels=SHAPE[0], num_classes=NUM_CLASSES)  # fmt: skip
    return build_model(conf).to(device).eval()


@pytest.mark.parametrize("device", DEVICES)
def test_path_and_noise_keep_the_device(device):
    from navref.path import cfm_target, x1_hat, x_t

    x0 = make_noise((3, *SHAPE), seed=1, device=device)
    x1 = torch.randn(3, *SHAPE, device=device)
    t = torch.full((3, 1, 1, 1), 0.3, device=device)
    _on(device, x0, x_t(x0, x1, 0.3), x_t(x0, x1, t), cfm_target(x0, x1))
    _on(device, x1_hat(x_t(x0, x1, t), t, cfm_target(x0, x1)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("source", ["numpy", "cpu_tensor", "device_tensor"])
def test_oracle_answers_on_the_queries_device(device, source):
    """The data may live anywhere (memmap, CPU or device tensor): the answer is on x's."""
    from navref.oracle import oracle_posterior, oracle_velocity, posterior_mean

    data, labels = _data()
    if source != "numpy":
        data = torch.from_numpy(data).to(device if source == "device_tensor" else "cpu")
    x = torch.randn(3, *SHAPE, device=device)
    y = torch.tensor([0, 1, 0], device=device)
    _on(device, oracle_velocity(x, 0.4, data), posterior_mean(x, 0.4, data))
    res = oracle_posterior(x, 0.4, data, data_labels=labels, labels=y)
    _on(device, res.velocity, res.mean, res.top1_weight, res.top1_index, res.entropy, res.ess)
    _on(device, OracleVelocity(data, labels)(x, 0.4, y))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("autocast", [None, torch.bfloat16])
def test_dit_forward_and_sampler_keep_the_device(device, autocast):
    model = _model(device)
    x = make_noise((4, *SHAPE), seed=2, device=device)
    y = torch.tensor([0, 1, 0, 1], device=device)
    with torch.no_grad():
        _on(device, model(x, torch.full((4,), 0.5, device=device), y))
    for mode in ("cond", "cfg"):
        provider = ModelVelocity(model, NUM_CLASSES, mode=mode, cfg_scale=2.0, autocast=autocast)
        _on(device, provider(x, 0.5, y))
    oracle = OracleVelocity(_data()[0], _data()[1])
    provider = switch_at(0.5, oracle, ModelVelocity(model, NUM_CLASSES, autocast=autocast))
    _on(device, sample(provider, uniform_grid(4), x, y))
    traj = sample(provider, uniform_grid(4), x, y, return_trajectory=True)
    _on(device, traj.final, *traj.states, *traj.predictions)


@pytest.mark.parametrize("device", DEVICES)
def test_probes_keep_the_device(device):
    from navref.probes import intermediate_predictions, mixed_sampling, unseen_resume

    data, labels = _data()
    model = ModelVelocity(_model(device), NUM_CLASSES)
    x = make_noise((4, *SHAPE), seed=3, device=device)
    y = torch.tensor([0, 1, 0, 1], device=device)
    res = intermediate_predictions(model, uniform_grid(4), x, y, record_t=[0.25, 0.5])
    _on(device, res.predictions, res.final)
    oracle = OracleVelocity(data, labels)
    mixed = mixed_sampling(oracle, model, 0.5, 4, x, y, data.reshape(len(data), -1), labels)
    _on(device, mixed.samples)
    val = torch.from_numpy(data[:4]).to(device)
    unseen = unseen_resume(model, 0.5, 4, val, y, 0, data.reshape(len(data), -1))
    _on(device, unseen.samples)
    unseen = unseen_resume(model, 0.5, 4, data[:4], labels[:4], 0, data, device=device)
    _on(device, unseen.samples)


@pytest.mark.parametrize("device", DEVICES)
def test_vae_and_latent_scaling_keep_the_device(device, tmp_path):
    """The VAE loaded on ``device`` encodes and decodes there; the latent (de)normalisation
    keeps z's device. (LatentSpace.decode returns host uint8 images by contract.)"""
    from navref.latents import LatentSpace, denormalize, normalize
    from navref.vae import build_small_vae, load_vae, save_vae

    torch.manual_seed(0)
    save_vae(build_small_vae({"block_out_channels": [8, 8], "latent_channels": 2}, 3, 8),
             tmp_path / "vae")  # fmt: skip
    vae = load_vae(tmp_path / "vae", device=device)
    x = torch.rand(2, 3, 8, 8, device=device) * 2 - 1
    with torch.no_grad():
        post = vae.encode(x).latent_dist
        _on(device, post.mean, post.sample(), vae.decode(post.mean).sample)
    z = torch.randn(2, 2, 4, 4, device=device)
    shift, scale = torch.zeros(2, device=device), torch.ones(2, device=device)
    _on(device, normalize(z, shift, scale), denormalize(z, shift, scale))
    space = LatentSpace(tmp_path, {"shift": [0.5, 0.0], "scale": [2.0, 1.0]}, device=device)
    _on(device, space.to_raw(z))


@pytest.mark.parametrize("device", DEVICES)
def test_training_batches_and_resident_rows_land_on_the_device(device):
    from navref.devices import copy_rows, resident_rows
    from navref.training import TrainConfig
    from navref.training.batches import FlowBatchSampler, batches_on_rank

    data, labels = _data(8)
    dev = torch.device(device)
    for noise in ("global", "per_sample"):
        sampler = FlowBatchSampler(TrainConfig(batch_size=4, noise=noise), 8, SHAPE)
        for _, batch in batches_on_rank(sampler, range(2), data, torch.from_numpy(labels),
                                        0, 2, NUM_CLASSES, dev):  # fmt: skip
            _on(device, *batch)
    _on(device, copy_rows(data, dev, chunk_rows=3))
    kept = resident_rows(data, dev, free_bytes=10**12)
    assert isinstance(kept, np.ndarray) if device == "cpu" else kept.device.type == device
