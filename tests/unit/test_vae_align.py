"""VA-VAE's alignment losses (navref.vae_align) against brute-force float64 loops, the
margins' effect, the adaptive weight, and a few aligned training steps that align better
than the plain VAE's (by the loss they optimise)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO

from navref.metrics.feature_net import FeatureNet, FeatureNetConfig, save_feature_net
from navref.vae_align import (
    Alignment,
    AlignSettings,
    FeatureMaps,
    adaptive_weight,
    cosine_margin_loss,
    distance_matrix_margin_loss,
    fitted_alignment_loss,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _vec(t: torch.Tensor, b: int, i: int, j: int) -> list[float]:
    return [float(t[b, c, i, j]) for c in range(t.shape[1])]


def brute_cos(z: torch.Tensor, f: torch.Tensor, m1: float) -> float:
    """Eq. 2 of Yao et al. 2025 as a loop: mean over images and positions of
    max(0, 1 - m1 - cos(z_ij, f_ij))."""
    bsz, _, h, w = z.shape
    total = 0.0
    for b in range(bsz):
        for i in range(h):
            for j in range(w):
                total += max(0.0, 1.0 - m1 - _cos(_vec(z, b, i, j), _vec(f, b, i, j)))
    return total / (bsz * h * w)


def brute_distmat(z: torch.Tensor, f: torch.Tensor, m2: float) -> float:
    """Eq. 3 of Yao et al. 2025 as a loop: mean over images and all N^2 position pairs of
    max(0, |cos(z_p, z_q) - cos(f_p, f_q)| - m2)."""
    bsz, _, h, w = z.shape
    pos = [(i, j) for i in range(h) for j in range(w)]
    total = 0.0
    for b in range(bsz):
        for p in pos:
            for q in pos:
                sz = _cos(_vec(z, b, *p), _vec(z, b, *q))
                sf = _cos(_vec(f, b, *p), _vec(f, b, *q))
                total += max(0.0, abs(sz - sf) - m2)
    return total / (bsz * len(pos) ** 2)


@pytest.mark.parametrize("margin", [0.0, 0.3, 0.8])
def test_losses_match_brute_force_float64(margin):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64)
    f = torch.randn(2, 5, 3, 4, generator=g, dtype=torch.float64) + 0.5 * z
    got_cos = float(cosine_margin_loss(z, f, margin))
    got_dms = float(distance_matrix_margin_loss(z, f, margin))
    assert got_cos == pytest.approx(brute_cos(z, f, margin), rel=1e-12, abs=1e-14)
    assert got_dms == pytest.approx(brute_distmat(z, f, margin), rel=1e-12, abs=1e-14)
    assert got_dms > 0 and (got_cos > 0 or margin > 0.5)


def test_distance_matrix_compares_within_an_image_across_channels_of_either_width():
    """The two similarity matrices need only the same positions: latents of 3 channels
    against features of 7 (the feature_to_latent-free case)."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64)
    f = torch.randn(2, 7, 2, 3, generator=g, dtype=torch.float64)
    got = float(distance_matrix_margin_loss(z, f, 0.1))
    assert got == pytest.approx(brute_distmat(z, f, 0.1), rel=1e-12)


def test_margins_zero_the_loss_inside_them():
    """cos(z, f) >= 1 - m1 everywhere and |S_z - S_f| <= m2 for all pairs cost nothing; just
    outside the margin they cost the excess."""
    g = torch.Generator().manual_seed(3)
    f = torch.randn(1, 4, 3, 3, generator=g, dtype=torch.float64)
    z = f + 0.3 * torch.randn(1, 4, 3, 3, generator=g, dtype=torch.float64)
    cos = torch.nn.functional.cosine_similarity(z, f, dim=1)
    worst = float(1 - cos.min())
    assert worst > 0.01
    assert float(cosine_margin_loss(z, f, worst)) == 0.0
    assert float(cosine_margin_loss(z, f, worst - 0.01)) == pytest.approx(
        brute_cos(z, f, worst - 0.01), rel=1e-12
    )
    assert float(cosine_margin_loss(z, f, worst - 0.01)) > 0
    zn = torch.nn.functional.normalize(z.flatten(2), dim=1)
    fn = torch.nn.functional.normalize(f.flatten(2), dim=1)
    gap = float((zn.transpose(1, 2) @ zn - fn.transpose(1, 2) @ fn).abs().max())
    assert float(distance_matrix_margin_loss(z, f, gap)) == 0.0
    assert float(distance_matrix_margin_loss(z, f, gap - 0.01)) > 0
    # identical directions: zero loss at zero margin, whatever the scale
    assert float(cosine_margin_loss(3.0 * f, f, 0.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(distance_matrix_margin_loss(3.0 * f, f, 0.0)) == pytest.approx(0.0, abs=1e-12)


def test_adaptive_weight_is_the_ratio_of_gradient_norms():
    g = torch.Generator().manual_seed(4)
    layer = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64)
    rec = (layer @ x).pow(2).sum()
    align = (layer @ x).sin().sum()
    w = adaptive_weight(rec, align, layer)
    g_rec = 2 * (layer @ x) @ x.T
    g_align = (layer @ x).cos() @ x.T
    want = float(g_rec.detach().norm()) / (float(g_align.detach().norm()) + 1e-4)
    assert float(w) == pytest.approx(want, rel=1e-12)
    assert not w.requires_grad
    assert float(adaptive_weight(rec, align, layer, max_weight=want / 2)) == want / 2


def _net(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = FeatureNet(
        FeatureNetConfig(in_channels=1, height=8, width=8, num_classes=3, widths=(8, 6))
    )
    with torch.no_grad():  # non-trivial running statistics, so eval-mode BatchNorm matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return save_feature_net(net, tmp_path / "net.safetensors")[0]


def test_feature_maps_pick_a_block_and_resize_to_the_latent_grid(tmp_path):
    from navref.metrics.feature_net import load_feature_net

    net = load_feature_net(_net(tmp_path))
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    last = FeatureMaps(net, -1, (4, 4))
    last.train()  # stays in eval mode
    assert not last.training
    body = net.body(x)  # conv, bn, relu, pool, conv, bn, relu: (2, 6, 4, 4)
    assert torch.equal(last(x), body)
    first = FeatureMaps(net, 0, (4, 4))
    assert first.channels == 8
    ref = torch.nn.functional.avg_pool2d(net.body[:3](x), 2)
    assert torch.allclose(first(x), ref, atol=1e-6)
    up = FeatureMaps(net, -1, (8, 8))(x)
    assert up.shape == (2, 6, 8, 8)
    with pytest.raises(ValueError, match="feature layer 2"):
        FeatureMaps(net, 2, (4, 4))


def _settings(**over) -> AlignSettings:
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
    props = schema["properties"]["vaes"]["additionalProperties"]["properties"]["align"]
    defaults = {k: v["default"] for k, v in props["properties"].items()}
    return AlignSettings.from_config({**defaults, **over})


@pytest.mark.parametrize("projection", ["latent_to_feature", "feature_to_latent"])
def test_alignment_losses_are_the_weighted_sum(tmp_path, projection):
    from navref.metrics.feature_net import load_feature_net

    s = _settings(projection=projection, cos_weight=2.0, distmat_weight=0.5)
    net = load_feature_net(_net(tmp_path))
    align = Alignment(s, net, 4, (4, 4))
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    z = torch.randn(3, 4, 4, 4)
    parts = align.losses(x, z)
    assert float(parts["align"]) == pytest.approx(
        2.0 * float(parts["cos"]) + 0.5 * float(parts["distmat"]), rel=1e-6
    )
    fixed = Alignment(_settings(adaptive=False, weight=0.3), net, 4, (4, 4))
    assert float(fixed.weight(parts["cos"], parts["align"], z)) == pytest.approx(0.3)


def _images(n: int = 96) -> np.ndarray:
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images[:n] * 255 / 16).astype(np.uint8)[..., None]  # (n, 8, 8, 1)


def test_aligned_vae_aligns_better_than_the_plain_one(tmp_path):
    """Same data, budget and seed; the aligned VAE's latents reach a lower VF loss under a
    freshly fitted projection than the plain VAE's, and its log records the losses."""
    from sklearn.datasets import load_digits

    from navref.metrics.feature_net import train_feature_net
    from navref.vae import load_vae, train_vae
    from navref.vae_align import load_alignment

    d = load_digits()
    images = (d.images[:192] * 255 / 16).astype(np.uint8)[..., None]
    labels = d.target[:192]
    net, _ = train_feature_net(
        images, labels, 10, steps=60, batch_size=64, widths=(16, 16), feature_dim=16, progress=False
    )
    net_path = save_feature_net(net, tmp_path / "net.safetensors")[0]
    base = {"latent_channels": 4, "block_out_channels": [16, 16], "steps": 150,
            "batch_size": 32, "lr": 2e-3, "seed": 0}  # fmt: skip
    align_conf = {**{k: v for k, v in vars(_settings()).items()}, "weight": 1.0}
    train_vae(images, base, tmp_path / "plain")
    train_vae(images, {**base, "align": align_conf}, tmp_path / "aligned", feature_net=net_path)

    log = pd.read_parquet(tmp_path / "aligned" / "train_log.parquet")
    assert {"cos_loss", "distmat_loss", "align_weight"} <= set(log.columns)
    assert (log["align_weight"] > 0).all() and log["cos_loss"].notna().all()
    assert "cos_loss" not in pd.read_parquet(tmp_path / "plain" / "train_log.parquet").columns

    x = torch.from_numpy(images[:64]).permute(0, 3, 1, 2).float() / 127.5 - 1
    probe = load_alignment(align_conf, net_path, 4, (4, 4))
    loss = {}
    for name in ("plain", "aligned"):
        vae = load_vae(tmp_path / name)
        loss[name] = fitted_alignment_loss(
            lambda v, vae=vae: vae.encode(v).latent_dist.mean, probe, x, steps=300
        )
    assert loss["aligned"] < 0.8 * loss["plain"], loss


def test_an_align_block_needs_the_feature_net(tmp_path):
    from navref.vae import train_vae

    with pytest.raises(ValueError, match="feature net"):
        train_vae(_images(8), {"steps": 1, "block_out_channels": [8, 8], "align": vars(_settings())},
                  tmp_path / "v")  # fmt: skip


def test_align_defaults_come_from_the_schema():
    """An empty ``align`` block is filled by validation (the defaults live only in the
    schema); a VAE without one gets none."""
    from snakemake.utils import validate

    conf = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    conf["vaes"]["aligned"] = {"dataset": "digits", "align": {}}
    validate(conf, str(REPO / "schemas" / "config.schema.yaml"))
    assert "align" not in conf["vaes"]["digits_vae"]
    assert AlignSettings.from_config(conf["vaes"]["aligned"]["align"]) == _settings()
    assert conf["vaes"]["aligned"]["align"]["source"] == "feature_net"
