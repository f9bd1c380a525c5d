"""Sample-quality metrics (FID, KID, precision/recall) through torch-fidelity, offline.

Two routes compute the same numbers:

* the pipeline route: :func:`reference_statistics` extracts the real data's features
  once and saves them (a pipeline output); :func:`compute_metrics` extracts the
  samples' features and evaluates torch-fidelity's metric functions
  (``fid_statistics_to_metric``, ``kid_featuresdict_to_metric``,
  ``prc_featuresdict_to_metric``) against the saved reference;
* the direct route: :func:`calculate_metrics_direct` calls
  ``torch_fidelity.calculate_metrics`` on both image sets (used to cross-check).

Definitions (torch-fidelity's): FID = ||mu_s - mu_r||^2 + tr(S_s + S_r - 2 (S_s S_r)^1/2)
over Gaussian fits of the features; KID = unbiased MMD^2 with the cubic polynomial
kernel k(a, b) = (a.b / d + 1)^3, mean/std over ``kid_subsets`` random subsets of
``kid_subset_size``; precision = share of samples inside the union of the real
features' k-NN balls, recall = share of real features inside the samples' k-NN balls
(k = ``prc_neighborhood``). Input 1 is always the samples, input 2 the real data.

Nothing here downloads: every extractor needs an existing weights file, checked before
any work (:func:`check_feature_extractor`), and torch-fidelity's cache is always off.
Images are uint8 ``(N, H, W, C)``, C in {1, 3}; grayscale is replicated to 3 channels.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file
from torch.utils.data import Dataset
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_featuresdict_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_featuresdict_to_metric,
)
from torch_fidelity.metric_prc import (
    KEY_METRIC_F_SCORE,
    KEY_METRIC_PRECISION,
    KEY_METRIC_RECALL,
)

from navref.io import artefact_error, atomic_path, check_finite
from navref.metrics.feature_net import FEATURE_NET_EXTRACTOR, register
from navref.metrics.prc import knn_radii, precision_recall

#: torch-fidelity's Inception-v3 port (the paper's gFID network).
INCEPTION = "inception-v3-compat"
#: Extractors usable offline from a local weights file (all others download or JIT-load).
SUPPORTED_EXTRACTORS = (FEATURE_NET_EXTRACTOR, INCEPTION, "vgg16")

_METRIC_KEYS = {
    KEY_METRIC_FID: "fid",
    KEY_METRIC_KID_MEAN: "kid_mean",
    KEY_METRIC_KID_STD: "kid_std",
    KEY_METRIC_PRECISION: "precision",
    KEY_METRIC_RECALL: "recall",
    KEY_METRIC_F_SCORE: "f_score",
}
_META_KEY = "navref_reference"


class UInt8ImageDataset(Dataset):
    """Dataset over a uint8 array ``(N, H, W, C)`` yielding uint8 tensors ``(3, H, W)``.

    One-channel images are replicated to three channels (torch-fidelity's input contract).
    """

    def __init__(self, images_uint8: np.ndarray, rows: np.ndarray | None = None) -> None:
        self.images = _check_images(images_uint8, "images")
        self.rows = np.arange(len(self.images)) if rows is None else np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = torch.from_numpy(np.array(self.images[self.rows[i]])).permute(2, 0, 1)
        return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x.contiguous()


def _check_images(images: Any, what: str) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.cpu().numpy()
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected a uint8 numpy array (N, H, W, C), got "
            f"{getattr(images, 'dtype', type(images))}; convert with "
            "np.clip(np.round(x), 0, 255).astype(np.uint8)"
        )
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"{what}: expected shape (N, H, W, C) with C in (1, 3), got {images.shape}"
        )
    if len(images) < 2:
        raise ValueError(f"{what}: need at least 2 images for FID/KID, got {len(images)}")
    return images


def check_feature_extractor(feature_extractor: str, weights_path: str | os.PathLike | None) -> Path:
    """Validate an extractor name and its local weights file; call it first in a job.

    Raises ValueError for an unsupported name or a missing path (no extractor may fall
    back to downloading), FileNotFoundError for a path that does not exist. For
    torch-fidelity's own extractors (which load the file with a full-pickle
    ``torch.load``) the file is first opened with ``torch.load(weights_only=True)`` so a
    file holding anything but tensors is rejected before it could execute code.
    Registers the navref feature net with torch-fidelity. Returns the path.
    """
    if feature_extractor not in SUPPORTED_EXTRACTORS:
        raise ValueError(
            f"feature extractor '{feature_extractor}' is not supported offline; "
            f"use one of {SUPPORTED_EXTRACTORS}"
        )
    if weights_path is None or str(weights_path) == "":
        raise ValueError(
            f"feature extractor '{feature_extractor}' needs a local weights file "
            "(feature_extractor_weights_path); downloading is disabled. "
            + (
                "Put torch-fidelity's weights-inception-2015-12-05-6726825d.pth on disk "
                "and set its path in the config."
                if feature_extractor == INCEPTION
                else "Train and save the feature net first."
            )
        )
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights for feature extractor '{feature_extractor}' not found: {path}; "
            "fix the path in the config (nothing will be downloaded)"
        )
    if feature_extractor == FEATURE_NET_EXTRACTOR:
        register()
    else:
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(
                f"{path} is not a plain PyTorch state dict loadable with weights_only=True "
                f"({type(err).__name__}); refusing to unpickle it"
            ) from err
    return path


def _device(device: str | torch.device | None) -> bool:
    """Resolve ``device`` to torch-fidelity's ``cuda`` flag (None: CUDA if available)."""
    if device is None:
        return torch.cuda.is_available()
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device}")
    return kind == "cuda"


@contextmanager
def executor(device: str | torch.device | None) -> Iterator[bool]:
    """torch-fidelity's ``cuda`` flag for ``device`` (:func:`_device`), with ``device`` the
    current CUDA device and TF32 off (:func:`full_float32`) inside the block.

    torch-fidelity (0.4.0) takes no device, only ``cuda=True``, and then moves its network
    and batches with ``.cuda()``: to the *current* device. For ``cuda:N`` that is made GPU N
    for the duration (``torch.cuda.device(N)``, the previous one restored after); ``cuda``
    without an index keeps the current one."""
    cuda = _device(device)
    index = torch.device(device).index if cuda and device is not None else None
    with full_float32():
        if index is None:
            yield cuda
            return
        with torch.cuda.device(index):
            yield cuda


def _layers(feature_extractor: str) -> dict[str, str]:
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    cls = FEATURE_EXTRACTORS_REGISTRY[feature_extractor]
    return {m: cls.get_default_feature_layer_for_metric(m) for m in ("fid", "kid", "prc")}


def extract_features(
    images_uint8: np.ndarray,
    feature_extractor: str,
    weights_path: str | os.PathLike | None,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> dict[str, torch.Tensor]:
    """Features of ``images_uint8`` for the FID / KID / PRC layers of the extractor.

    Uses torch-fidelity's ``create_feature_extractor`` and
    ``get_featuresdict_from_dataset`` (no cache, no worker processes) on ``device``
    (``cuda:N``: GPU N) with TF32 off (:func:`executor`). Returns
    ``{layer: float32 tensor (N, D)}``.
    """
    path = check_feature_extractor(feature_extractor, weights_path)
    return _extract(images_uint8, feature_extractor, path, batch_size, device, verbose)


def _extract(
    images_uint8: np.ndarray,
    feature_extractor: str,
    path: Path,
    batch_size: int,
    device: str | torch.device | None,
    verbose: bool,
    rows: np.ndarray | None = None,
) -> dict[str, torch.Tensor]:
    """:func:`extract_features` after :func:`check_feature_extractor` has passed; only the
    images ``rows`` (all when None), read lazily (memmaps stay on disk)."""
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    dataset = UInt8ImageDataset(images_uint8, rows)
    layers = sorted(set(_layers(feature_extractor).values()))
    with executor(device) as cuda:
        extractor = create_feature_extractor(
            feature_extractor,
            layers,
            cuda=cuda,
            feature_extractor_weights_path=str(path),
            feature_extractor_compile=False,
            verbose=verbose,
        )
        return get_featuresdict_from_dataset(
            dataset, extractor, batch_size, cuda, save_cpu_ram=True, verbose=verbose
        )


@contextmanager
def full_float32() -> Iterator[None]:
    """TF32 off for matmuls and cuDNN convolutions inside (restored after): FID features
    must match the float32 reference implementation (TF32 keeps 10 mantissa bits and
    shifts Inception features by ~1e-3 relative; PyTorch enables it for cuDNN by default)."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def reference_rows(num_images: int, reference_size: int | None, seed: int) -> np.ndarray:
    """The rows of the reference set: all ``num_images`` when ``reference_size`` is None or
    not smaller, else a sorted uniform draw without replacement from
    ``np.random.default_rng(seed)`` (a fixed-size reference batch, as ADM's evaluator,
    Dhariwal & Nichol 2021, uses 50K real images)."""
    if reference_size is None or reference_size >= num_images:
        return np.arange(num_images)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_images, size=int(reference_size), replace=False))


def reference_statistics(
    images_uint8: np.ndarray,
    feature_extractor: str,
    weights_path: str | os.PathLike | None,
    *,
    out_path: str | os.PathLike | None = None,
    reference_size: int | None = None,
    prc_neighborhood: int = 3,
    batch_size: int = 64,
    seed: int = 2020,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Features, FID statistics and precision/recall radii of the real images, computed
    once per data set and optionally saved to ``out_path``.

    The reference set is :func:`reference_rows` (``reference_size`` images, all by
    default). Returns ``{"feature_extractor": str, "layers": {metric: layer},
    "num_images": int, "features": {layer: float32 (N, D)}, "mu": (D,), "sigma": (D, D),
    "prc_radii": float32 (N,), "prc_neighborhood": int}`` (mu/sigma of the FID layer, by
    torch-fidelity's ``fid_featuresdict_to_statistics``; radii of the PRC layer by
    :func:`navref.metrics.prc.knn_radii`; numpy). ``out_path`` (``.safetensors``) is
    written atomically; read it with :func:`load_reference_statistics`.
    """
    path = check_feature_extractor(feature_extractor, weights_path)
    _check_images(images_uint8, "reference images")
    if out_path is not None and Path(out_path).suffix != ".safetensors":
        raise ValueError(f"reference_statistics: out_path must end in .safetensors, got {out_path}")
    rows = reference_rows(len(images_uint8), reference_size, seed)
    feats = _extract(images_uint8, feature_extractor, path, batch_size, device, verbose, rows)
    layers = _layers(feature_extractor)
    stats = fid_featuresdict_to_statistics(feats, layers["fid"])
    radii = knn_radii(feats[layers["prc"]], prc_neighborhood)
    ref = {
        "feature_extractor": feature_extractor,
        "layers": layers,
        "num_images": len(rows),
        "features": {k: v.numpy() for k, v in feats.items()},
        "mu": stats["mu"],
        "sigma": stats["sigma"],
        "prc_radii": radii.numpy(),
        "prc_neighborhood": int(prc_neighborhood),
    }
    check_finite(ref["mu"], "reference FID mean", "rerun rule reference_stats")
    check_finite(ref["sigma"], "reference FID covariance", "rerun rule reference_stats")
    if out_path is not None:
        save_reference_statistics(out_path, ref)
    return ref


def save_reference_statistics(path: str | os.PathLike, ref: dict[str, Any]) -> None:
    """Write a :func:`reference_statistics` dict to ``path`` (safetensors, atomic)."""
    tensors = {f"features.{k}": np.ascontiguousarray(v) for k, v in ref["features"].items()}
    tensors["fid.mu"] = np.ascontiguousarray(ref["mu"])
    tensors["fid.sigma"] = np.ascontiguousarray(ref["sigma"])
    tensors["prc.radii"] = np.ascontiguousarray(ref["prc_radii"])
    keys = ("feature_extractor", "layers", "num_images", "prc_neighborhood")
    meta = {k: ref[k] for k in keys}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(meta)})


def load_reference_statistics(path: str | os.PathLike) -> dict[str, Any]:
    """Read a file written by :func:`reference_statistics` (same dict layout)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"reference statistics not found: {path}; run the reference-statistics rule first"
        )
    try:
        with safe_open(str(path), framework="np") as f:
            meta = (f.metadata() or {}).get(_META_KEY)
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as err:
        raise artefact_error(path, "reference_stats", f"is not a complete file ({err})") from None
    if meta is None:
        raise ValueError(f"{path} is not a navref reference-statistics file")
    ref = json.loads(meta)
    ref["features"] = {
        k.removeprefix("features."): v for k, v in arrays.items() if k.startswith("features.")
    }
    ref["mu"], ref["sigma"] = arrays["fid.mu"], arrays["fid.sigma"]
    ref["prc_radii"] = arrays.get("prc.radii")
    fix = f"{path} is damaged; delete it and rerun rule reference_stats"
    for name, array in [("FID mean", ref["mu"]), ("FID covariance", ref["sigma"])]:
        check_finite(array, f"reference {name} in {path}", fix)
    for layer, array in ref["features"].items():
        check_finite(array, f"reference features {layer!r} in {path}", fix)
    if ref["prc_radii"] is not None:
        check_finite(ref["prc_radii"], f"reference precision/recall radii in {path}", fix)
    return ref


def _effective_kid_subset_size(requested: int, n1: int, n2: int) -> int:
    size = min(int(requested), n1, n2)
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per subset, got {n1} and {n2} images")
    if size < requested:
        warnings.warn(
            f"kid_subset_size {requested} exceeds the number of images ({n1} samples, "
            f"{n2} reference); using {size}",
            stacklevel=3,
        )
    return size


def _check_prc(neighborhood: int, n1: int, n2: int) -> None:
    if neighborhood < 1 or neighborhood >= min(n1, n2):
        raise ValueError(
            f"prc_neighborhood must lie in [1, {min(n1, n2) - 1}] for {n1} samples and "
            f"{n2} reference images, got {neighborhood}"
        )


def _check_samples(
    sample_images_uint8: np.ndarray,
    num_reference: int,
    kid_subset_size: int,
    prc_neighborhood: int,
) -> tuple[int, int]:
    """The checks after the extractor's (:func:`check_feature_extractor`) and before any
    feature is extracted: the sample images, the KID subset size (clamped) and the PRC
    neighbourhood. Returns (number of samples, effective KID subset size)."""
    n1 = len(_check_images(sample_images_uint8, "sample images"))
    kid_size = _effective_kid_subset_size(kid_subset_size, n1, num_reference)
    _check_prc(prc_neighborhood, n1, num_reference)
    return n1, kid_size


def _result(
    metrics: dict[str, float], n1: int, n2: int, kid_size: int, feature_extractor: str
) -> dict[str, Any]:
    """torch-fidelity's metric keys renamed, plus what the metrics were computed over."""
    return {
        **{_METRIC_KEYS[k]: float(v) for k, v in metrics.items() if k in _METRIC_KEYS},
        "num_samples": n1,
        "num_reference": n2,
        "kid_subset_size": kid_size,
        "feature_extractor": feature_extractor,
    }


def compute_metrics(
    sample_images_uint8: np.ndarray,
    reference_path: str | os.PathLike,
    feature_extractor: str,
    weights_path: str | os.PathLike | None,
    *,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    prc_neighborhood: int = 3,
    batch_size: int = 64,
    seed: int = 2020,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """FID, KID (mean, std), precision, recall, F-score of samples vs a saved reference.

    Checks the weights, the reference file (and that it was made with the same
    extractor) and the sample array before extracting anything. ``kid_subset_size`` is
    clamped to the smaller image count (with a warning); ``seed`` drives KID's subset
    draws as torch-fidelity's ``rng_seed``. Returns ``{"fid", "kid_mean", "kid_std",
    "precision", "recall", "f_score", "num_samples", "num_reference",
    "kid_subset_size", "feature_extractor"}``.
    """
    path = check_feature_extractor(feature_extractor, weights_path)
    ref = load_reference_statistics(reference_path)
    if ref["feature_extractor"] != feature_extractor:
        raise ValueError(
            f"{reference_path} holds '{ref['feature_extractor']}' features, not "
            f"'{feature_extractor}'; recompute the reference statistics"
        )
    n2 = ref["num_images"]
    n1, kid_size = _check_samples(sample_images_uint8, n2, kid_subset_size, prc_neighborhood)

    feats = _extract(sample_images_uint8, feature_extractor, path, batch_size, device, verbose)
    for layer, array in feats.items():
        check_finite(array, f"features {layer!r} of the samples", "check the feature network")
    ref_feats = {k: torch.from_numpy(v) for k, v in ref["features"].items()}
    layers = ref["layers"]
    kwargs = {
        "kid_subsets": kid_subsets,
        "kid_subset_size": kid_size,
        "prc_neighborhood": prc_neighborhood,
        "rng_seed": seed,
        "save_cpu_ram": True,
        "verbose": verbose,
    }
    stats = fid_featuresdict_to_statistics(feats, layers["fid"])
    out = fid_statistics_to_metric(stats, {"mu": ref["mu"], "sigma": ref["sigma"]}, verbose)
    out.update(kid_featuresdict_to_metric(feats, ref_feats, layers["kid"], **kwargs))
    out.update(_precision_recall(feats, ref_feats, ref, prc_neighborhood))
    return _result(out, n1, n2, kid_size, feature_extractor)


def _precision_recall(
    feats: dict[str, torch.Tensor],
    ref_feats: dict[str, torch.Tensor],
    ref: dict[str, Any],
    neighborhood: int,
) -> dict[str, float]:
    """Precision/recall with the reference's stored radii (computed once per data set);
    radii of another neighbourhood (or none, in an older file) are recomputed here."""
    layer = ref["layers"]["prc"]
    radii = ref.get("prc_radii")
    if radii is None or ref.get("prc_neighborhood") != neighborhood:
        radii = knn_radii(ref_feats[layer], neighborhood).numpy()
    res = precision_recall(feats[layer], ref_feats[layer], torch.from_numpy(radii), neighborhood)
    return {
        KEY_METRIC_PRECISION: res["precision"],
        KEY_METRIC_RECALL: res["recall"],
        KEY_METRIC_F_SCORE: res["f_score"],
    }


def calculate_metrics_direct(
    sample_images_uint8: np.ndarray,
    reference_images_uint8: np.ndarray,
    feature_extractor: str,
    weights_path: str | os.PathLike | None,
    *,
    kid_subset_size: int = 1000,
    kid_subsets: int = 100,
    prc_neighborhood: int = 3,
    batch_size: int = 64,
    seed: int = 2020,
    device: str | torch.device | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """The same metrics as :func:`compute_metrics` via ``torch_fidelity.calculate_metrics``
    on two in-memory image sets (input1 = samples, input2 = reference), cache off, on
    ``device`` with TF32 off (:func:`executor`)."""
    import torch_fidelity

    path = check_feature_extractor(feature_extractor, weights_path)
    n2 = len(_check_images(reference_images_uint8, "reference images"))
    n1, kid_size = _check_samples(sample_images_uint8, n2, kid_subset_size, prc_neighborhood)
    with executor(device) as cuda:
        out = torch_fidelity.calculate_metrics(
            input1=UInt8ImageDataset(sample_images_uint8),
            input2=UInt8ImageDataset(reference_images_uint8),
            fid=True,
            kid=True,
            prc=True,
            feature_extractor=feature_extractor,
            feature_extractor_weights_path=str(path),
            feature_extractor_compile=False,
            cache=False,
            cuda=cuda,
            batch_size=batch_size,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_size,
            prc_neighborhood=prc_neighborhood,
            rng_seed=seed,
            save_cpu_ram=True,
            datasets_download=False,
            verbose=verbose,
        )
    return _result(out, n1, n2, kid_size, feature_extractor)
