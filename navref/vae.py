"""Variational autoencoders: diffusers ``AutoencoderKL``, pretrained from a local path or
trained by the pipeline on a small data set.

Images enter as floats in [-1, 1], shape (B, C, H, W). Nothing is ever downloaded:
``from_pretrained`` runs with ``local_files_only=True``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from navref.devices import AdaptiveBatch
from navref.io import give_umask_mode, save_json, save_parquet


class WeightsNotFoundError(FileNotFoundError):
    """A configured local weights path does not exist or is incomplete."""


def images_to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]: x / 127.5 - 1."""
    x = torch.from_numpy(np.array(images, copy=True)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def unit_to_images(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounded and clipped."""
    x = ((x.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255)
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def build_small_vae(conf: dict[str, Any], in_channels: int, resolution: int):
    """A small ``AutoencoderKL`` (downsampling 2^(len(block_out_channels) - 1))."""
    from diffusers import AutoencoderKL

    blocks = list(conf.get("block_out_channels", [32, 64]))
    groups = math.gcd(*blocks, int(conf.get("norm_num_groups", 32)))
    return AutoencoderKL(
        in_channels=in_channels,
        out_channels=in_channels,
        down_block_types=("DownEncoderBlock2D",) * len(blocks),
        up_block_types=("UpDecoderBlock2D",) * len(blocks),
        block_out_channels=tuple(blocks),
        layers_per_block=int(conf.get("layers_per_block", 1)),
        latent_channels=int(conf.get("latent_channels", 4)),
        norm_num_groups=groups,
        sample_size=resolution,
    )


def load_vae(path: str | Path, subfolder: str | None = None, device: str = "cpu"):
    """Load an ``AutoencoderKL`` saved with ``save_pretrained`` from a local directory, or
    from a single ``.safetensors`` file in the LDM / ComfyUI layout (``encoder.down.*``
    keys; the architecture is inferred from them, :func:`navref.vae_convert.ldm_vae`).

    Raises :class:`WeightsNotFoundError` naming the path if it is missing or holds no
    ``config.json``; ``ValueError`` for a single file in diffusers key layout (its config
    cannot be inferred offline: the message says how to make it a folder); never downloads.
    """
    from diffusers import AutoencoderKL

    root = Path(path)
    if root.is_file() and root.suffix == ".safetensors" and not subfolder:
        return _single_file_vae(root).to(device).eval()
    where = root / subfolder if subfolder else root
    if not (where / "config.json").is_file():
        raise WeightsNotFoundError(
            f"VAE weights not found: {where} has no config.json. Point the latent space's "
            "`pretrained` at a local diffusers AutoencoderKL export (a directory written by "
            "save_pretrained, e.g. sd-vae-ft-ema); nothing is downloaded at run time"
        )
    kwargs = {"local_files_only": True}
    if subfolder:
        kwargs["subfolder"] = subfolder
    vae = AutoencoderKL.from_pretrained(str(root), **kwargs)
    return vae.to(device).eval()


def _single_file_vae(path: Path) -> Any:
    """A single-file ``.safetensors`` VAE: LDM key names are converted (no config needed);
    diffusers key names are refused with how to add their config.json."""
    from safetensors.torch import load_file

    from navref.vae_convert import ldm_vae

    state = load_file(str(path))
    if any(k.removeprefix("first_stage_model.").startswith("encoder.down.") for k in state):
        return ldm_vae(state, str(path))[0]
    raise ValueError(
        f"{path} is a single-file VAE in diffusers key layout (encoder.down_blocks.*), whose "
        "architecture navref cannot infer offline (nothing is downloaded at run time): put it "
        "in a folder as diffusion_pytorch_model.safetensors beside the config.json of the "
        "same model (e.g. from its diffusers release, or AutoencoderKL(...).save_config) and "
        "point the latent space's `pretrained` at that folder"
    )


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)), summed over latent dims, averaged over the batch."""
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.flatten(1).sum(1).mean()


def save_vae(vae: Any, out_dir: str | os.PathLike) -> Path:
    """Write a diffusers ``AutoencoderKL`` to ``out_dir`` with ``save_pretrained``
    (safetensors): into a partial folder first, files moved in place when complete, with the
    umask's permissions (safetensors writes 0600). Returns ``out_dir`` as a Path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".weights.partial"
    vae.save_pretrained(str(tmp), safe_serialization=True)
    give_umask_mode(tmp)
    for f in tmp.iterdir():
        f.replace(out / f.name)
    tmp.rmdir()
    return out


def train_vae(
    images: np.ndarray,
    conf: dict[str, Any],
    out_dir: str | Path,
    val_images: np.ndarray | None = None,
    log: logging.Logger | None = None,
    device: str = "cpu",
    feature_net: str | Path | None = None,
) -> dict[str, float]:
    """Train a small ``AutoencoderKL`` on uint8 images (N, H, W, C): MSE + kl_weight * KL,
    plus, when ``conf`` has an ``align`` block, VA-VAE's alignment of the latents to the
    features of ``feature_net`` (:mod:`navref.vae_align`; Yao et al. 2025, Eq. 1-5; its
    projection is trained with the VAE).

    Saves it with ``save_pretrained`` (safetensors) into ``out_dir`` (written to a temporary
    directory and renamed), a per-step log ``train_log.parquet`` (with an ``align`` block
    also ``cos_loss``, ``distmat_loss`` and ``align_weight``, the weight applied to their
    weighted sum) and ``metrics.json`` with the final train/val reconstruction MSE (in
    [-1, 1] units) and PSNR (dB, on [0, 255]).
    """
    log = log or logging.getLogger(__name__)
    seed = int(conf.get("seed", 0))
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all = images_to_unit(images)
    n, c, h, w = x_all.shape
    vae = build_small_vae(conf, c, h).to(device)
    align = _alignment(vae, conf, feature_net, x_all[:1], device)
    params = list(vae.parameters()) + (list(align.proj.parameters()) if align else [])
    opt = torch.optim.AdamW(params, lr=float(conf.get("lr", 1e-3)), weight_decay=0.0)
    steps, bs = int(conf.get("steps", 1000)), int(conf.get("batch_size", 64))
    kl_w = float(conf.get("kl_weight", 1e-6))
    rows = []
    t0 = time.perf_counter()
    vae.train()
    for step in tqdm(range(1, steps + 1), desc="train_vae", mininterval=2.0):
        idx = torch.randint(0, n, (bs,), generator=gen)
        x = x_all[idx].to(device)
        post = vae.encode(x).latent_dist
        z = post.sample(generator=None)
        rec = vae.decode(z).sample
        mse = torch.nn.functional.mse_loss(rec, x)
        kl = kl_divergence(post.mean, post.logvar)
        loss = mse + kl_w * kl
        extra: tuple[float, ...] = ()
        if align is not None:
            parts = align.losses(x, z)
            weight = align.weight(mse, parts["align"], vae.encoder.conv_out.weight)
            loss = loss + weight * parts["align"]
            extra = (parts["cos"].item(), parts["distmat"].item(), float(weight))
        if not torch.isfinite(loss):
            raise RuntimeError(f"train_vae: non-finite loss at step {step}; lower `lr`")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        rows.append((step, loss.item(), mse.item(), kl.item(), *extra, time.perf_counter() - t0))
        if step % max(1, steps // 10) == 0:
            log.info("step %d: recon mse %.5f kl %.2f %s", step, mse.item(), kl.item(), extra)
    vae.eval()
    metrics = {"train_mse": reconstruction_mse(vae, images, device=device)}
    if val_images is not None and len(val_images):
        metrics["val_mse"] = reconstruction_mse(vae, val_images, device=device)
    for k in list(metrics):
        metrics[k.replace("mse", "psnr_db")] = 10 * math.log10(4.0 / max(metrics[k], 1e-12))
    metrics["steps"] = steps
    log.info("VAE reconstruction: %s", metrics)
    out = save_vae(vae, out_dir)
    columns = ["step", "loss", "recon_mse", "kl"]
    columns += ["cos_loss", "distmat_loss", "align_weight"] if align is not None else []
    frame = pd.DataFrame(rows, columns=[*columns, "time_s"])
    save_parquet(out / "train_log.parquet", frame)
    save_json(out / "metrics.json", metrics)
    return metrics


def _alignment(
    vae: Any,
    conf: dict[str, Any],
    feature_net: str | Path | None,
    example: torch.Tensor,
    device: str,
) -> Any:
    """The :class:`navref.vae_align.Alignment` of ``conf["align"]`` on the latent grid of
    ``vae`` (from one ``example`` image, (1, C, H, W)), or None without an ``align`` block.
    Raises ``ValueError`` for an ``align`` block without ``feature_net`` weights."""
    if conf.get("align") is None:
        return None
    if feature_net is None:
        raise ValueError("train_vae: an `align` block needs the feature net's weights")
    from navref.vae_align import load_alignment

    with torch.no_grad():
        z = vae.encode(example.to(device)).latent_dist.mean
    return load_alignment(conf["align"], feature_net, z.shape[1], tuple(z.shape[-2:])).to(device)


@torch.no_grad()
def reconstruction_mse(
    vae, images: np.ndarray, batch_size: int = 256, device: str = "cpu"
) -> float:
    """Mean squared reconstruction error (posterior mean, [-1, 1] units) over ``images``, in
    batches of ``batch_size`` halved on a GPU that runs out of memory
    (:class:`navref.devices.AdaptiveBatch`)."""

    def squared_error(start: int, stop: int) -> float:
        x = images_to_unit(images[start:stop]).to(device)
        rec = vae.decode(vae.encode(x).latent_dist.mean).sample
        return float(((rec - x) ** 2).sum())

    total = sum(AdaptiveBatch(batch_size, "VAE reconstruction").map(squared_error, len(images)))
    count = int(np.prod(images.shape, dtype=np.int64))
    return total / max(count, 1)


def train_vae_on_dataset(
    dataset_dir: str | Path,
    conf: dict[str, Any],
    out_dir: str | Path,
    device: str = "cpu",
    log: logging.Logger | None = None,
    feature_net: str | Path | None = None,
) -> dict[str, float]:
    """:func:`train_vae` on the train split of a prepared image dataset, validated on its
    val split (may be empty), aligned to ``feature_net`` when ``conf`` has an ``align``
    block. Raises ``ValueError`` for a vector dataset."""
    from navref.data.splits import image_split

    train, _ = image_split(dataset_dir, "train", allow_empty=True)
    val, _ = image_split(dataset_dir, "val", allow_empty=True)
    return train_vae(
        np.asarray(train),
        conf,
        out_dir,
        val_images=np.asarray(val),
        log=log,
        device=device,
        feature_net=feature_net,
    )


__all__ = [
    "WeightsNotFoundError",
    "build_small_vae",
    "images_to_unit",
    "kl_divergence",
    "load_vae",
    "train_vae_on_dataset",
    "reconstruction_mse",
    "train_vae",
    "unit_to_images",
]
