"""A small CNN classifier whose penultimate layer serves as the FID feature space.

The paper measures gFID with Inception-v3 on ImageNet 256. For the small default
config (scikit-learn digits, 16x16 grayscale) Inception features are meaningless and
slow, so we train a tiny classifier on the dataset's own train split and use its
feature layer instead (the same idea as "FID with a LeNet" for MNIST). Absolute values
are therefore not comparable with the paper's gFID; only rankings between runs are.

Images are uint8 arrays ``(N, H, W, C)`` with C in {1, 3}. The network sees
``x = image / 255 * 2 - 1`` in ``(N, C, H, W)`` layout.

The module also wraps the trained net as a torch-fidelity feature extractor
(:class:`FeatureNetExtractor`, registered by :func:`register`) so that torch-fidelity's
FID / KID / precision-recall code runs on its features.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from tqdm import tqdm

from navref.io import atomic_path, save_json
from navref.vae import images_to_unit

#: Name under which :func:`register` adds the extractor to torch-fidelity's registry.
FEATURE_NET_EXTRACTOR = "navref-feature-net"
#: safetensors metadata key holding the JSON network config.
_CONFIG_KEY = "navref_feature_net_config"


@dataclass(frozen=True)
class FeatureNetConfig:
    """Architecture of :class:`FeatureNet` (everything needed to rebuild it from weights)."""

    in_channels: int
    height: int
    width: int
    num_classes: int
    widths: tuple[int, ...] = (32, 64, 128)
    feature_dim: int = 128

    def __post_init__(self) -> None:
        if self.in_channels not in (1, 3):
            raise ValueError(f"FeatureNet: in_channels must be 1 or 3, got {self.in_channels}")
        if self.height < 4 or self.width < 4:
            raise ValueError(
                f"FeatureNet: images must be at least 4x4, got {self.height}x{self.width}"
            )
        if self.num_classes < 2:
            raise ValueError(f"FeatureNet: need num_classes >= 2, got {self.num_classes}")
        if not self.widths or self.feature_dim < 1:
            raise ValueError("FeatureNet: widths must be non-empty and feature_dim >= 1")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))


class FeatureNet(nn.Module):
    """Conv blocks (3x3 conv, BatchNorm, ReLU, 2x2 max-pool) -> global average pool ->
    linear feature layer (``feature_dim``) -> ReLU -> linear classifier head.

    ``forward(x)`` takes float ``(B, C, H, W)`` in [-1, 1] and returns
    ``(features, logits)``; ``features`` is the *pre-activation* output of the feature
    layer (dense, roughly Gaussian: well suited to FID's Gaussian fit).
    """

    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        c_in = config.in_channels
        for i, w in enumerate(config.widths):
            blocks += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(config.widths) - 1:
                blocks.append(nn.MaxPool2d(2, ceil_mode=True))
            c_in = w
        self.body = nn.Sequential(*blocks)
        self.feature = nn.Linear(c_in, config.feature_dim)
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).mean(dim=(2, 3))
        features = self.feature(h)
        return features, self.head(F.relu(features))


def images_to_tensor(images_uint8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` -> float32 ``(N, C, H, W)`` in [-1, 1], checked, then the
    pipeline's one conversion :func:`navref.vae.images_to_unit` (``x / 127.5 - 1``)."""
    checked = _check_images(images_uint8, "images")
    if isinstance(checked, torch.Tensor):
        checked = checked.cpu().numpy()
    return images_to_unit(checked).contiguous()


def _check_images(images: Any, what: str) -> np.ndarray | torch.Tensor:
    if not isinstance(images, np.ndarray | torch.Tensor):
        raise ValueError(f"{what}: expected a uint8 numpy array (N, H, W, C), got {type(images)}")
    if images.dtype not in (np.uint8, torch.uint8):
        raise ValueError(
            f"{what}: expected dtype uint8, got {images.dtype}; convert with "
            "np.clip(np.round(x), 0, 255).astype(np.uint8)"
        )
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{what}: expected shape (N, H, W, C) with C in (1, 3), got {tuple(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError(f"{what}: no images")
    return images


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random small affine warp per image: rotation +-10 deg, scale 0.9..1.1, shift +-1.5 px.

    No flips (digits are not flip-invariant). Borders replicate the edge pixels.
    """
    b, _, h, w = x.shape
    r = torch.rand(b, 4, generator=generator, device=x.device) * 2 - 1
    angle = r[:, 0] * math.radians(10.0)
    scale = 1.0 + 0.1 * r[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, r[:, 2] * 3.0 / w], dim=1),
            torch.stack([sin, cos, r[:, 3] * 3.0 / h], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def evaluate_accuracy(
    model: FeatureNet, images_uint8: np.ndarray, labels: np.ndarray, batch_size: int = 512
) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on uint8 images ``(N, H, W, C)``."""
    x = images_to_tensor(images_uint8)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        _, logits = model(x[i : i + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x)


def _check_training_inputs(
    images_uint8: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    val: tuple[np.ndarray | None, np.ndarray | None],
    steps: int,
    batch_size: int,
    lr: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The checked (images, labels) of :func:`train_feature_net`; ``ValueError`` otherwise."""
    images_uint8 = _check_images(images_uint8, "train_feature_net images")
    labels = np.asarray(labels)
    if labels.shape != (len(images_uint8),):
        raise ValueError(
            f"train_feature_net: labels shape {labels.shape} does not match "
            f"{len(images_uint8)} images"
        )
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"train_feature_net: labels must lie in [0, {num_classes}), "
            f"got [{labels.min()}, {labels.max()}]"
        )
    if (val[0] is None) != (val[1] is None):
        raise ValueError("train_feature_net: give both val_images and val_labels, or neither")
    if steps < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(
            f"train_feature_net: need steps >= 1, batch_size >= 1, lr > 0; "
            f"got steps={steps}, batch_size={batch_size}, lr={lr}"
        )
    return images_uint8, labels


def _warmup_cosine(steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up over the first 5 % of ``steps``, then cosine
    decay to 0 (for ``torch.optim.lr_scheduler.LambdaLR``)."""
    warmup = max(1, steps // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor


def _fit(
    model: FeatureNet,
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    steps: int,
    batch_size: int,
    opt: torch.optim.Optimizer,
    seed: int,
    augment: bool,
    progress: bool,
) -> float:
    """Cross-entropy steps on batches drawn with replacement; returns the loss EMA."""
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(steps))
    gen = torch.Generator(device=x_all.device).manual_seed(seed)
    model.train()
    loss_ema = None
    with tqdm(range(steps), desc="feature net", disable=not progress, leave=False) as bar:
        for _ in bar:
            idx = torch.randint(len(x_all), (batch_size,), generator=gen, device=x_all.device)
            xb, yb = x_all[idx], y_all[idx]
            if augment:
                xb = _augment(xb, gen)
            _, logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            value = float(loss.detach())
            loss_ema = value if loss_ema is None else 0.95 * loss_ema + 0.05 * value
            bar.set_postfix(loss=f"{loss_ema:.3f}", refresh=False)
    return loss_ema


def train_feature_net(
    images_uint8: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    val_images: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    steps: int = 300,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    augment: bool = True,
    widths: tuple[int, ...] = (32, 64, 128),
    feature_dim: int = 128,
    weight_decay: float = 1e-4,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[FeatureNet, dict[str, Any]]:
    """Train a :class:`FeatureNet` classifier with cross-entropy on ``(images, labels)``.

    AdamW, linear warm-up over the first 5% of ``steps`` then cosine decay to 0, batches
    drawn uniformly with replacement from a ``seed``-ed generator (deterministic on CPU).
    Returns ``(model in eval mode on CPU, metrics)``; metrics hold ``train_accuracy``,
    ``val_accuracy`` (None without a validation set), ``final_loss``, ``train_seconds``.
    Raises ``ValueError`` for mismatched labels or bad settings.
    """
    images_uint8, labels = _check_training_inputs(
        images_uint8, labels, num_classes, (val_images, val_labels), steps, batch_size, lr
    )
    _, h, w, c = images_uint8.shape
    config = FeatureNetConfig(
        in_channels=c, height=h, width=w, num_classes=int(num_classes),
        widths=tuple(widths), feature_dim=int(feature_dim),
    )  # fmt: skip
    device = torch.device(device)
    torch.manual_seed(seed)
    model = FeatureNet(config).to(device)
    x_all = images_to_tensor(images_uint8).to(device)
    y_all = torch.as_tensor(labels, dtype=torch.long, device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    start = time.perf_counter()
    loss_ema = _fit(model, x_all, y_all, steps, batch_size, opt, seed, augment, progress)
    seconds = time.perf_counter() - start
    model = model.cpu().eval()
    val_accuracy = None
    if val_images is not None:
        val_accuracy = evaluate_accuracy(model, _check_images(val_images, "val_images"), val_labels)
    metrics: dict[str, Any] = {
        "train_accuracy": evaluate_accuracy(model, images_uint8, labels),
        "val_accuracy": val_accuracy,
        "final_loss": loss_ema,
        "train_seconds": seconds,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
    }
    return model, metrics


def save_feature_net(
    model: FeatureNet, path: str | os.PathLike, metrics: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``model`` to ``path`` (safetensors; config in its metadata) and a readable
    sidecar ``path`` with suffix ``.json`` (config and optional ``metrics``). Both atomic.

    Returns ``(weights_path, json_path)``. :func:`load_feature_net` needs only the weights.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"save_feature_net: path must end in .safetensors, got {path}")
    config = asdict(model.config)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={_CONFIG_KEY: json.dumps(config)})
    json_path = path.with_suffix(".json")
    save_json(json_path, {"config": config, "metrics": metrics, "weights": path.name})
    return path, json_path


def load_feature_net(path: str | os.PathLike) -> FeatureNet:
    """Load a :class:`FeatureNet` written by :func:`save_feature_net` (eval mode, CPU)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"feature-net weights not found: {path} (train them first with train_feature_net "
            "and save_feature_net, i.e. the pipeline's feature-net rule)"
        )
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if _CONFIG_KEY not in meta:
        raise ValueError(f"{path} is not a navref feature net (no '{_CONFIG_KEY}' metadata)")
    config = FeatureNetConfig(**json.loads(meta[_CONFIG_KEY]))
    model = FeatureNet(config)
    model.load_state_dict(load_file(str(path)))
    return model.eval()


class FeatureNetExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor around a trained :class:`FeatureNet`.

    Input: uint8 ``(B, 3, H, W)`` (torch-fidelity's contract). For a grayscale net the
    three channels are averaged (exact for replicated grayscale); images are resized
    (bilinear, antialiased) to the net's training resolution when they differ, then
    mapped to [-1, 1]. Provides ``"features"`` (``(B, feature_dim)`` float32, used for
    FID, KID and precision/recall) and ``"logits"`` (``(B, num_classes)``).

    Weights come from ``feature_extractor_weights_path`` (required: nothing is ever
    downloaded).
    """

    def __init__(
        self,
        name: str,
        features_list: list[str] | tuple[str, ...],
        feature_extractor_weights_path: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(
                f"feature extractor '{name}' needs feature_extractor_weights_path (a .safetensors "
                "file from save_feature_net); it has no downloadable default"
            )
        self.net = load_feature_net(feature_extractor_weights_path)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3):
            raise ValueError(
                f"{self.name}: expected a uint8 tensor (B, 3, H, W), got "
                f"{getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}"
            )
        conf = self.net.config
        h = x.float()
        if conf.in_channels == 1:
            h = h.mean(dim=1, keepdim=True)
        if tuple(h.shape[-2:]) != (conf.height, conf.width):
            h = F.interpolate(
                h,
                size=(conf.height, conf.width),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        h = h.div(127.5).sub(1.0)
        features, logits = self.net(h)
        out = {"features": features.float(), "logits": logits.float()}
        return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)


def register(name: str = FEATURE_NET_EXTRACTOR) -> str:
    """Add :class:`FeatureNetExtractor` to torch-fidelity's registry under ``name``.

    Idempotent: a second call is a no-op. Raises ValueError if ``name`` is taken by a
    different extractor. Returns ``name``.
    """
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    existing = FEATURE_EXTRACTORS_REGISTRY.get(name)
    if existing is None:
        register_feature_extractor(name, FeatureNetExtractor)
    elif existing is not FeatureNetExtractor:
        raise ValueError(
            f"torch-fidelity feature extractor name '{name}' is already taken by {existing}"
        )
    return name
