"""Alignment of a VAE's latents to a pretrained feature network's features: the "vision
foundation model alignment loss" (VF loss) of VA-VAE.

Source: Yao, Yang, Wang (2025), "Reconstruction vs. Generation: Taming Optimization Dilemma
in Latent Diffusion Models" (CVPR 2025), Sec. 3.2, Eq. 1-5; official code
hustvl/LightningDiT, ``vavae/ldm/modules/losses/contperceptual.py`` (read for
understanding; this is our own code). The paper aligns to DINOv2; here the pipeline's own
classifier (:mod:`navref.metrics.feature_net`, rule train_feature_net) stands in for the
foundation model.

With latents ``Z`` (B, c_z, h, w), a learnable 1x1 projection ``W`` (c_z -> c_f, no bias;
VA-VAE's ``reverse_proj``) giving ``Z' = W Z`` and foundation features ``F`` (B, c_f, h, w)
at the same positions, per image:

- marginal cosine-similarity loss (Eq. 2):
  ``L_mcos = 1/(h w) sum_{i,j} ReLU(1 - m1 - cos(z'_ij, f_ij))``
- marginal distance-matrix similarity loss (Eq. 3), N = h w positions:
  ``L_mdms = 1/N^2 sum_{i,j} ReLU(|cos(z'_i, z'_j) - cos(f_i, f_j)| - m2)``

both averaged over the batch, and ``L_vf = w_hyper * w_adaptive * (w_cos L_mcos +
w_dms L_mdms)`` (Eq. 4) with the adaptive weight (Eq. 5) ``w_adaptive =
||grad L_rec|| / ||grad L_vf'||``, gradients taken at the encoder's last layer and the
weight detached (the official code clamps it to [0, 1e8] and adds 1e-4 to the
denominator; so do we). Margins relax the losses: a position whose cosine similarity is
at least ``1 - m1`` and a pair whose similarity differs by at most ``m2`` cost nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: the official code's denominator guard and upper clamp of the adaptive weight
_ADAPTIVE_EPS = 1e-4


def cosine_margin_loss(z: torch.Tensor, f: torch.Tensor, margin: float) -> torch.Tensor:
    """VA-VAE's marginal cosine-similarity loss (Yao et al. 2025, Eq. 2).

    ``z``, ``f``: (B, C, H, W), the projected latents and the features at the same positions.
    Returns the mean over batch and positions of ``ReLU(1 - margin - cos(z_bij, f_bij))``
    (cosine over C), a scalar.
    """
    _check_pair(z, f)
    return F.relu(1.0 - margin - F.cosine_similarity(z, f, dim=1)).mean()


def distance_matrix_margin_loss(z: torch.Tensor, f: torch.Tensor, margin: float) -> torch.Tensor:
    """VA-VAE's marginal distance-matrix similarity loss (Yao et al. 2025, Eq. 3).

    ``z``, ``f``: (B, C, H, W). Within each image the N = H W positions' pairwise cosine
    similarities form two N x N matrices; returns the mean over batch and all N^2 pairs of
    ``ReLU(|S_z - S_f| - margin)``, a scalar.
    """
    _check_pair(z, f)
    zn = F.normalize(z.flatten(2), dim=1)  # (B, C_z, N)
    fn = F.normalize(f.flatten(2), dim=1)  # (B, C_f, N)
    sz = torch.einsum("bci,bcj->bij", zn, zn)
    sf = torch.einsum("bci,bcj->bij", fn, fn)
    return F.relu((sz - sf).abs() - margin).mean()


def _check_pair(z: torch.Tensor, f: torch.Tensor) -> None:
    if z.dim() != 4 or f.dim() != 4 or z.shape[0] != f.shape[0] or z.shape[2:] != f.shape[2:]:
        raise ValueError(
            f"alignment: need (B, C, H, W) latents and features of the same B, H, W; got "
            f"{tuple(z.shape)} and {tuple(f.shape)}"
        )


def adaptive_weight(
    rec_loss: torch.Tensor,
    align_loss: torch.Tensor,
    layer: torch.Tensor,
    max_weight: float = 1e8,
) -> torch.Tensor:
    """VA-VAE's adaptive weight (Yao et al. 2025, Eq. 5): ``||d rec / d layer|| /
    (||d align / d layer|| + 1e-4)``, clamped to ``[0, max_weight]`` and detached, so both
    losses pull on ``layer`` (the encoder's last conv weight) with the same gradient norm
    before ``w_hyper``. Keeps the graph (``retain_graph``) for the backward pass after it.
    """
    g_rec = torch.autograd.grad(rec_loss, layer, retain_graph=True)[0]
    g_align = torch.autograd.grad(align_loss, layer, retain_graph=True)[0]
    ratio = g_rec.norm() / (g_align.norm() + _ADAPTIVE_EPS)
    return ratio.clamp(0.0, max_weight).detach()


class FeatureMaps(nn.Module):
    """Frozen spatial features of a :class:`navref.metrics.feature_net.FeatureNet`: the ReLU
    output of conv block ``layer`` (before its pooling; -1: the last block, the most
    semantic), resized to the latent grid: adaptive average pooling when larger, bilinear
    interpolation when smaller. Input (B, C, H, W) images in [-1, 1]; output (B, width,
    h, w)."""

    def __init__(self, net: nn.Module, layer: int, size: tuple[int, int]) -> None:
        super().__init__()
        relus = [i for i, m in enumerate(net.body) if isinstance(m, nn.ReLU)]
        if not -len(relus) <= layer < len(relus):
            raise ValueError(
                f"alignment: feature layer {layer} not in the net's {len(relus)} blocks"
            )
        self.body = net.body[: relus[layer] + 1]
        self.channels = int(net.config.widths[layer])
        self.size = tuple(size)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureMaps:
        """Always in eval mode (BatchNorm uses its running statistics)."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if tuple(h.shape[-2:]) == self.size:
            return h
        if h.shape[-2] >= self.size[0] and h.shape[-1] >= self.size[1]:
            return F.adaptive_avg_pool2d(h, self.size)
        return F.interpolate(h, size=self.size, mode="bilinear", align_corners=False)


@dataclass(frozen=True)
class AlignSettings:
    """A VAE's ``align`` block (schemas/config.schema.yaml: ``vaes.<v>.align``; the schema
    holds the defaults, so every key is given here)."""

    layer: int
    projection: str
    cos_margin: float
    distmat_margin: float
    cos_weight: float
    distmat_weight: float
    weight: float
    adaptive: bool
    max_adaptive_weight: float

    @classmethod
    def from_config(cls, conf: dict[str, Any]) -> AlignSettings:
        keys = cls.__dataclass_fields__
        return cls(**{k: v for k, v in conf.items() if k in keys})


class Alignment(nn.Module):
    """The VF loss of one VAE: frozen feature maps, a learnable 1x1 projection (trained with
    the VAE, as in VA-VAE) and the weighting. ``projection``: ``latent_to_feature`` (VA-VAE's
    default ``reverse_proj``: latents to the feature width, no bias) or ``feature_to_latent``
    (features to the latent width, with bias)."""

    def __init__(
        self, settings: AlignSettings, net: nn.Module, latent_channels: int, size: tuple[int, int]
    ) -> None:
        super().__init__()
        self.settings = settings
        self.features = FeatureMaps(net, settings.layer, size)
        c = self.features.channels
        if settings.projection == "latent_to_feature":
            self.proj = nn.Conv2d(latent_channels, c, 1, bias=False)
        elif settings.projection == "feature_to_latent":
            self.proj = nn.Conv2d(c, latent_channels, 1, bias=True)
        else:
            raise ValueError(f"alignment: unknown projection {settings.projection!r}")

    def losses(self, x: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"cos": L_mcos, "distmat": L_mdms, "align": w_cos L_mcos + w_dms L_mdms}`` of
        images ``x`` (B, C, H, W) in [-1, 1] and their latents ``z`` (B, c_z, h, w)."""
        f = self.features(x)
        if self.settings.projection == "latent_to_feature":
            z = self.proj(z)
        else:
            f = self.proj(f)
        cos = cosine_margin_loss(z, f, self.settings.cos_margin)
        dms = distance_matrix_margin_loss(z, f, self.settings.distmat_margin)
        s = self.settings
        return {"cos": cos, "distmat": dms, "align": s.cos_weight * cos + s.distmat_weight * dms}

    def weight(
        self, rec_loss: torch.Tensor, align_loss: torch.Tensor, layer: torch.Tensor
    ) -> torch.Tensor:
        """``w_hyper * w_adaptive`` (Eq. 4-5), or ``w_hyper`` alone when not adaptive."""
        s = self.settings
        if not s.adaptive:
            return torch.tensor(float(s.weight))
        return s.weight * adaptive_weight(rec_loss, align_loss, layer, s.max_adaptive_weight)


def load_alignment(
    conf: dict[str, Any], feature_net: str | Path, latent_channels: int, size: tuple[int, int]
) -> Alignment:
    """An :class:`Alignment` from a VAE's ``align`` block and the feature net's weights
    (:func:`navref.metrics.feature_net.save_feature_net`)."""
    from navref.metrics.feature_net import load_feature_net

    net = load_feature_net(feature_net)
    return Alignment(AlignSettings.from_config(conf), net, latent_channels, size)


def fitted_alignment_loss(
    encode: Any,
    alignment: Alignment,
    images: torch.Tensor,
    steps: int = 200,
    lr: float = 1e-2,
    seed: int = 0,
) -> float:
    """How well frozen latents can be aligned: a fresh projection of ``alignment``'s kind is
    fitted (Adam, ``steps`` full-batch steps) to minimise the unweighted VF loss
    ``w_cos L_mcos + w_dms L_mdms`` of the latents ``encode(images)`` (posterior means,
    (B, c_z, h, w)); returns the loss it reaches. Comparable between VAEs of the same latent
    shape (a trained alignment's own projection is not reused)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        z = encode(images)
    probe = copy.deepcopy(alignment)
    probe.proj.reset_parameters()
    opt = torch.optim.Adam(probe.proj.parameters(), lr=lr)
    for _ in range(steps):
        loss = probe.losses(images, z)["align"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(probe.losses(images, z)["align"])


__all__ = [
    "AlignSettings",
    "Alignment",
    "FeatureMaps",
    "adaptive_weight",
    "cosine_margin_loss",
    "distance_matrix_margin_loss",
    "fitted_alignment_loss",
    "load_alignment",
]
