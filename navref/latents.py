"""Latent spaces: encode a prepared dataset into memory-mappable latents and decode back.

Kinds:
- ``pixel``: identity on images scaled to [-1, 1] (vectors are passed through unchanged);
- ``vae``: a diffusers ``AutoencoderKL`` (pretrained from a local directory, or trained by
  the pipeline), encoding with the posterior mean (or a seeded posterior sample).

A latent-space directory holds ``latents.npy`` (float32 (N, C, h, w), or (N, D) for
vectors), ``meta.parquet`` (the dataset's rows, same order) and ``stats.json``. Stored
latents are ``z = (raw - shift) * scale`` per channel: with ``normalize: true`` shift is the
per-channel mean and scale 1/std of the raw train-split latents (LightningDiT's latent
normalisation); otherwise shift = the VAE's ``shift_factor`` (0 when it has none) and
scale = its ``scaling_factor`` (shift 0, scale 1 for pixels). ``latents_stats: <file>``
(LightningDiT's ``latents_stats.pt``) takes shift = its mean and scale = multiplier / std
instead, so the latents equal those a released model was trained on.
:class:`LatentSpace` inverts this and decodes to uint8 images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from navref.config import LDM_CHECKPOINT_SUFFIXES
from navref.data.base import load_prepared
from navref.devices import AdaptiveBatch
from navref.io import (
    artefact_error,
    atomic_path,
    check_finite,
    load_array,
    load_json,
    save_json,
    save_parquet,
)
from navref.precision import autocast
from navref.vae import images_to_unit, load_vae, unit_to_images

_NAN_FIX = (
    "check that image (open it, re-export it) and the VAE weights (a VAE run in float16 "
    "can overflow: encode in float32), then rerun the encode_latents rule"
)


def normalize(raw: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """z = (raw - shift) * scale, per channel (dim 1)."""
    view = (1, -1) + (1,) * (raw.dim() - 2)
    return (raw - shift.view(view)) * scale.view(view)


def denormalize(z: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """raw = z / scale + shift, the inverse of :func:`normalize`."""
    view = (1, -1) + (1,) * (z.dim() - 2)
    return z / scale.view(view) + shift.view(view)


def channel_stats(arr: np.ndarray, rows: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, ...]:
    """Per-channel mean and std over ``arr[rows]`` (channel axis 1), streamed in float64."""
    c = arr.shape[1]
    s1, s2, cnt = np.zeros(c), np.zeros(c), 0
    for s in range(0, len(rows), chunk):
        x = np.asarray(arr[rows[s : s + chunk]], dtype=np.float64)
        x = np.moveaxis(x, 1, -1).reshape(-1, c)
        s1 += x.sum(0)
        s2 += (x * x).sum(0)
        cnt += len(x)
    mean = s1 / cnt
    std = np.sqrt(np.maximum(s2 / cnt - mean**2, 0.0))
    return mean, np.maximum(std, 1e-8)


def _space_vae(space_cfg: dict[str, Any], vae_dir, device: str) -> tuple[Any, dict[str, Any]]:
    """The space's VAE (None for pixel spaces) and the stats entries naming it."""
    if space_cfg["kind"] != "vae":
        return None, {}
    path = vae_dir or space_cfg.get("pretrained")  # vae_dir: trained, or converted from LDM
    if path is None:
        raise ValueError("vae latent space needs `pretrained: <dir>` or `vae: <name>`")
    if Path(path).is_file() and Path(path).suffix != ".safetensors":
        raise ValueError(
            f"latent space VAE {path} is a file: an LDM checkpoint must end in "
            f"{', '.join(LDM_CHECKPOINT_SUFFIXES)} to be converted by rule convert_vae, a "
            "single-file VAE in .safetensors, and a diffusers VAE is a directory "
            "(save_pretrained)"
        )
    vae = load_vae(path, space_cfg.get("subfolder"), device=device)
    return vae, {"vae_path": str(path), "vae_subfolder": space_cfg.get("subfolder")}


def storage_scaling(
    normalise: bool, vae: Any, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (shift, scale) of stored latents z = (raw - shift) * scale.

    ``normalise``: shift = train mean, scale = 1 / train std. Otherwise the VAE's own
    ``shift_factor`` (0 when absent or None) and ``scaling_factor`` (1 for pixels).
    """
    if normalise:
        return mean, 1.0 / std
    conf = vae.config if vae is not None else None
    shift = float(getattr(conf, "shift_factor", None) or 0.0)
    factor = float(getattr(conf, "scaling_factor", None) or 1.0)
    return np.full_like(mean, shift), np.full_like(mean, factor)


def latents_stats_scaling(
    path: str | Path, channels: int, multiplier: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (shift, scale) from LightningDiT's ``latents_stats.pt``.

    The file (``extract_features.py`` of hustvl/LightningDiT) holds ``mean`` and ``std`` of
    shape (1, C, 1, 1); the released models see (raw - mean) / std * multiplier (multiplier
    1.0 for VA-VAE), i.e. shift = mean, scale = multiplier / std. Read with
    ``torch.load(weights_only=True)``. Raises FileNotFoundError if missing; ValueError if
    ``mean`` / ``std`` are absent, have another number of channels than ``channels``, or std
    is not finite and > 0.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"latents_stats file not found: {path}")
    stats = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(stats, dict) or not {"mean", "std"} <= set(stats):
        raise ValueError(f"{path}: expected a dict with 'mean' and 'std' (LightningDiT format)")
    mean = stats["mean"].double().reshape(-1).numpy()
    std = stats["std"].double().reshape(-1).numpy()
    if len(mean) != channels or len(std) != channels:
        raise ValueError(
            f"{path}: mean/std have {len(mean)}/{len(std)} channels, the latents {channels}; "
            "name the stats file of this VAE"
        )
    if not (np.isfinite(std).all() and (std > 0).all() and np.isfinite(mean).all()):
        raise ValueError(f"{path}: std must be finite and > 0, mean finite")
    return mean, multiplier / std


def _encoder(
    ds,
    kind: str,
    vae,
    sample: bool,
    gen: torch.Generator,
    device: str,
    precision: str = "fp32",
    forward: AdaptiveBatch | None = None,
):
    """Batch encoder: uint8 images (B, H, W, C) (or vectors) -> raw float32 latents (B, ...)
    on the CPU. The VAE runs under ``precision`` (:mod:`navref.precision`) in slices of
    ``forward`` (:class:`navref.devices.AdaptiveBatch`: the whole batch unless a GPU runs out
    of memory); the posterior sample is drawn once for the whole batch, so the noise of
    ``sample`` does not depend on how the forward was sliced."""
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    def encode(batch: np.ndarray) -> torch.Tensor:
        if ds.modality == "vector":
            if kind != "pixel":
                raise ValueError("vector datasets (synthetic_gaussian) only take `kind: pixel`")
            return torch.from_numpy(np.array(batch, dtype=np.float32))  # own, writable copy
        x = images_to_unit(batch)
        if vae is None:
            return x
        want = vae.config.in_channels
        if x.shape[1] != want:
            if x.shape[1] == 1:
                x = x.expand(-1, want, -1, -1)
            else:
                raise ValueError(f"VAE expects {want} channels, images have {x.shape[1]}")
        slices = forward or AdaptiveBatch(len(x), "VAE encode")
        with torch.no_grad(), autocast(device, precision):
            posts = slices.map(lambda a, b: vae.encode(x[a:b].to(device)).latent_dist, len(x))
            if len(posts) > 1:  # one posterior over the batch, sampled in one draw
                posts = [DiagonalGaussianDistribution(torch.cat([p.parameters for p in posts]))]
            post = posts[0]
            z = post.sample(generator=gen) if sample else post.mean
        return z.float().cpu()

    return encode


def encode_latents(
    space_cfg: dict[str, Any],
    dataset_dir: str | Path,
    out_dir: str | Path,
    vae_dir: str | Path | None = None,
    batch_size: int = 256,
    device: str = "cpu",
    log: logging.Logger | None = None,
    precision: str = "fp32",
) -> dict[str, Any]:
    """Encode the prepared dataset at ``dataset_dir`` into the latent space ``space_cfg``
    (the VAE's forwards under ``precision``, :mod:`navref.precision`; latents float32).

    ``vae_dir`` is the pipeline-trained VAE for ``vae: <name>`` spaces, or the diffusers
    conversion of an LDM checkpoint ``pretrained: <file>`` (rule ``convert_vae``); for
    ``pretrained: <dir>`` spaces the directory is taken from the config. Writes ``latents.npy``,
    ``meta.parquet`` and ``stats.json`` atomically and returns the stats. Raises
    :class:`navref.io.NonFiniteError` naming the item (index and source file) if the
    encoder returns NaN/inf for it; nothing is written then.
    """
    log = log or logging.getLogger(__name__)
    ds = load_prepared(dataset_dir)
    kind = space_cfg["kind"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_rows = np.flatnonzero(ds.meta["split"].to_numpy() == "train")
    vae, vae_stats = _space_vae(space_cfg, vae_dir, device)
    stats: dict[str, Any] = {"kind": kind, "dataset_dir": str(dataset_dir), **vae_stats}
    sample = bool(space_cfg.get("sample_posterior", False))
    gen = torch.Generator(device=device).manual_seed(int(space_cfg.get("seed", 0)))
    forward = AdaptiveBatch(batch_size, "VAE encode")  # halved on a GPU out of memory
    encode = _encoder(ds, kind, vae, sample, gen, device, precision, forward)
    normalise = bool(space_cfg.get("normalize", kind == "vae"))
    sources = ds.meta["source"].astype(str).tolist()
    n = len(ds.data)
    shape = tuple(encode(ds.data[:1]).shape[1:])
    with atomic_path(out / "latents.npy", suffix=".npy") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, *shape))
        for s in tqdm(range(0, n, batch_size), desc=f"encode {kind}", mininterval=2.0):
            z = encode(ds.data[s : s + batch_size])
            check_finite(z, f"encode_latents: {kind} encoder of {dataset_dir}", _NAN_FIX, s,
                         sources[s : s + batch_size])  # fmt: skip
            arr[s : s + batch_size] = z.numpy()
        mean, std = channel_stats(arr, train_rows if len(train_rows) else np.arange(n))
        if space_cfg.get("latents_stats"):  # the statistics a released model was trained on
            multiplier = float(space_cfg.get("latent_multiplier", 1.0))
            shift, scale = latents_stats_scaling(space_cfg["latents_stats"], len(mean), multiplier)
        else:
            shift, scale = storage_scaling(normalise, vae, mean, std)
        sh, sc = torch.tensor(shift, dtype=torch.float32), torch.tensor(scale, dtype=torch.float32)
        for s in range(0, n, 4096):
            arr[s : s + 4096] = normalize(torch.from_numpy(arr[s : s + 4096]), sh, sc).numpy()
        arr.flush()
        del arr
    stats.update(
        shape=[n, *shape],
        channel_mean=mean.tolist(),
        channel_std=std.tolist(),
        shift=shift.tolist(),
        scale=scale.tolist(),
        normalize=normalise,
        latents_stats=space_cfg.get("latents_stats"),
        modality=ds.modality,
        image_shape=list(ds.data.shape[1:]),
        num_classes=len(ds.class_names),
        sample_posterior=sample,
    )
    save_parquet(out / "meta.parquet", ds.meta)
    save_json(out / "stats.json", stats)
    log.info("encoded %d items to %s latents of shape %s", n, kind, shape)
    return stats


@dataclass
class LatentSpace:
    """An encoded latent space: its latents, metadata and the decoder back to images (the
    VAE on ``device`` under ``precision``, :mod:`navref.precision`)."""

    root: Path
    stats: dict[str, Any]
    device: str = "cpu"
    precision: str = "fp32"

    @classmethod
    def load(cls, root: str | Path, device: str = "cpu", precision: str = "fp32") -> LatentSpace:
        """Open the space at ``root``; its shift and scale must be finite (else
        :class:`navref.io.ArtefactError` naming ``stats.json`` and rule encode_latents)."""
        root = Path(root)
        stats = load_json(root / "stats.json", "encode_latents")
        for key in ("shift", "scale", "shape", "num_classes"):
            if key not in stats:
                raise artefact_error(root / "stats.json", "encode_latents", f"lacks {key!r}")
        for key in ("shift", "scale"):
            if not np.isfinite(np.asarray(stats[key], dtype=np.float64)).all():
                raise artefact_error(root / "stats.json", "encode_latents", f"{key} is not finite")
        return cls(root, stats, device, precision)

    def latents(self, mmap: bool = True) -> np.ndarray:
        """The stored (normalised) latents, memory-mapped by default; a file cut short or
        of another shape than ``stats.json`` says raises :class:`navref.io.ArtefactError`."""
        return load_array(self.root / "latents.npy", "encode_latents", mmap, self.stats["shape"])

    def meta(self):
        import pandas as pd

        return pd.read_parquet(self.root / "meta.parquet")

    def rows(self, split: str) -> np.ndarray:
        """Row indices of a split (``train`` / ``val``)."""
        return np.flatnonzero(self.meta()["split"].to_numpy() == split)

    def split_arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(latents, labels) of one split. A contiguous split stays a memory-mapped view
        (ImageNet-sized data is never copied into RAM); a scattered one is gathered."""
        meta = self.meta()
        rows = np.flatnonzero(meta["split"].to_numpy() == split)
        if len(rows) == 0:
            raise ValueError(f"latent space {self.root} has no rows in split {split!r}")
        z = self.latents()
        labels = meta["label"].to_numpy()[rows]
        if rows[-1] - rows[0] + 1 == len(rows):
            return z[rows[0] : rows[-1] + 1], labels
        return np.asarray(z[rows]), labels

    def _vae(self):
        if not hasattr(self, "_vae_cache"):
            self._vae_cache = load_vae(
                self.stats["vae_path"], self.stats.get("vae_subfolder"), device=self.device
            )
        return self._vae_cache

    def to_raw(self, z: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: raw latents (VAE latents or [-1, 1] pixels)."""
        sh = torch.tensor(self.stats["shift"], dtype=torch.float32, device=z.device)
        sc = torch.tensor(self.stats["scale"], dtype=torch.float32, device=z.device)
        return denormalize(z.float(), sh, sc)

    @torch.no_grad()
    def decode(self, z: torch.Tensor | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Normalised latents -> uint8 images (N, H, W, C) (vectors: raw float array). The
        VAE decodes ``batch_size`` latents at a time, fewer once a GPU ran out of memory
        (:class:`navref.devices.AdaptiveBatch`, halved for the rest of this space's use)."""
        if isinstance(z, np.ndarray) and not z.flags.writeable:  # e.g. a read-only memmap
            z = np.array(z, dtype=np.float32)
        z = torch.as_tensor(z).float()
        raw = self.to_raw(z)
        if self.stats["modality"] == "vector":
            return raw.numpy()
        if self.stats["kind"] == "pixel":
            return unit_to_images(raw)
        vae = self._vae()
        c = self.stats["image_shape"][-1]

        def images(start: int, stop: int) -> np.ndarray:
            with autocast(self.device, self.precision):
                x = vae.decode(raw[start:stop].to(self.device)).sample.float()
            return unit_to_images(x.mean(1, keepdim=True) if c == 1 and x.shape[1] != 1 else x)

        return np.concatenate(self._decode_batch(batch_size).map(images, len(raw)))

    def _decode_batch(self, batch_size: int) -> AdaptiveBatch:
        """The decoder's batch: ``batch_size``, or less when a GPU ran out of memory before."""
        kept = getattr(self, "_decode_cache", None)
        if kept is None or kept.size > batch_size:
            self._decode_cache = AdaptiveBatch(batch_size, "VAE decode")
        return self._decode_cache
