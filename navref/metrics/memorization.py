"""Exact nearest neighbours and the memorization metric.

A generated sample x is called *memorized* when its nearest training image is much closer
than the second nearest distinct one: ||x - NN1|| / ||x - NN2|| < threshold, 1/3 by default
(Yoon et al. 2023, "Diffusion probabilistic models generalize when they fail to memorize",
ICML workshop; Gu et al. 2023, "On memorization in diffusion models", arXiv:2310.02664,
Sec. 3: l2 distance in pixel space, ratio to the second neighbour < 1/3). The paper's
App. F does not give its metric. navref applies it in one place and one space for every
caller: :func:`pixel_memorization`, decoded uint8 images (optionally area-downsampled, see
``downsample_images``) against the real train split, used by ``evaluate_sweep_<kind>`` and by the
mixed-sampling / unseen-resume probes alike; its sensitivity to the threshold is reported at
:data:`SENSITIVITY_THRESHOLDS` (1/4, 1/3, 1/2).

The lower-level functions take Euclidean (L2) distances in whatever space the caller passes
(flattened latents or pixels). Both sets are (n, D) arrays, tensors or numpy memmaps (anything with more than 2
dims is flattened per row); the training set is streamed in chunks, so memory stays bounded
by ``chunk_size`` rows of it plus one (query chunk x chunk) distance block.

Exactness: candidates are found with the float32 expansion ||q||^2 - 2 <q, x> + ||x||^2
(one matrix product per chunk), keeping ``k + margin`` candidates per query; the candidates
are then re-ranked by direct float64 differences ||q - x||. The returned distances are
therefore float64-exact, and the ranking is exact unless more than ``margin`` training
points lie within the float32 rounding error of the k-th distance.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm import tqdm

from navref.io import atomic_path

DEFAULT_THRESHOLD = 1.0 / 3.0
#: thresholds at which every memorization share is also reported (column suffixes)
SENSITIVITY_THRESHOLDS = {"q25": 0.25, "q33": 1.0 / 3.0, "q50": 0.5}
_RERANK_ROWS = 256  # queries per float64 re-ranking batch


def _rows(a: Any) -> int:
    return int(a.shape[0])


def _dim(a: Any) -> int:
    return int(np.prod(a.shape[1:])) if len(a.shape) > 1 else 1


def _chunk(a: Any, start: int, stop: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Rows [start, stop) of a tensor / array / memmap as a (rows, D) tensor."""
    if isinstance(a, Tensor):
        c = a[start:stop]
    else:
        c = torch.from_numpy(np.array(a[start:stop], copy=True))  # own, writable copy
    return c.reshape(c.shape[0], -1).to(device=device, dtype=dtype)


def _gather(a: Any, idx: np.ndarray, device: torch.device, dtype: torch.dtype) -> Tensor:
    """Rows ``idx`` (any shape) of ``a`` as a tensor of shape idx.shape + (D,)."""
    flat = idx.reshape(-1)
    if isinstance(a, Tensor):
        rows = a[torch.as_tensor(flat, device=a.device)]
    else:
        uniq, inv = np.unique(flat, return_inverse=True)  # sorted reads suit memmaps
        rows = torch.from_numpy(np.array(a[uniq], copy=True))[torch.from_numpy(inv.reshape(-1))]
    rows = rows.reshape(flat.shape[0], -1).to(device=device, dtype=dtype)
    return rows.reshape(*idx.shape, rows.shape[-1])


def _default_device(queries: Any, device: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(queries, Tensor):
        return queries.device
    return torch.device("cpu")


def nearest_neighbours(
    queries: Any,
    train: Any,
    k: int = 2,
    chunk_size: int = 8192,
    query_chunk_size: int = 4096,
    margin: int = 8,
    device: torch.device | str | None = None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest training rows (L2) of each query row.

    ``queries`` (n, D...) and ``train`` (N, D...) are tensors, numpy arrays or memmaps with the
    same number of features. Returns ``(dists, idx)``: float64 (n, k) distances in increasing
    order and int64 (n, k) row indices into ``train``. Computation runs on ``device`` (default:
    the queries' device, CPU for arrays), ``query_chunk_size`` queries x ``chunk_size`` training
    rows at a time. With ``groups`` (from :func:`duplicate_groups`) the k neighbours are k
    *distinct* training images: of identical rows only the first is ever returned.
    """
    n, n_train = _rows(queries), _rows(train)
    distinct = n_train if groups is None else len(np.unique(groups))
    if distinct < k:
        raise ValueError(
            f"nearest_neighbours: k={k} exceeds the number of distinct training rows {distinct}"
        )
    if k < 1:
        raise ValueError(f"nearest_neighbours: k must be >= 1, got {k}")
    if _dim(queries) != _dim(train):
        raise ValueError(
            f"nearest_neighbours: queries have {_dim(queries)} features per row but the training "
            f"set has {_dim(train)}; pass both in the same space (e.g. both flattened latents)"
        )
    dev = _default_device(queries, device)
    kk = min(distinct, k + max(0, margin))
    copy = None if groups is None else torch.from_numpy(groups != np.arange(n_train)).to(dev)
    out_d = np.empty((n, k), dtype=np.float64)
    out_i = np.empty((n, k), dtype=np.int64)
    for qs in range(0, n, query_chunk_size):
        qe = min(n, qs + query_chunk_size)
        qd = _chunk(queries, qs, qe, dev, torch.float64)
        q = qd.float()
        q_sq = (q * q).sum(1, keepdim=True)
        best_d = torch.empty((qe - qs, 0), device=dev)
        best_i = torch.empty((qe - qs, 0), dtype=torch.long, device=dev)
        for ts in range(0, n_train, chunk_size):
            te = min(n_train, ts + chunk_size)
            x = _chunk(train, ts, te, dev, torch.float32)
            d2 = q_sq - 2.0 * (q @ x.T) + (x * x).sum(1)[None, :]
            if copy is not None:  # a copy of an earlier row is never a candidate
                d2[:, copy[ts:te]] = float("inf")
            cand_d = torch.cat([best_d, d2], 1)
            cand_i = torch.cat([best_i, torch.arange(ts, te, device=dev).expand(qe - qs, -1)], 1)
            best_d, pos = torch.topk(cand_d, min(kk, cand_d.shape[1]), dim=1, largest=False)
            best_i = torch.gather(cand_i, 1, pos)
        # re-rank the candidates by direct float64 differences, in small sub-batches
        cand = best_i.cpu().numpy()
        exact = np.empty(cand.shape, dtype=np.float64)
        for rs in range(0, qe - qs, _RERANK_ROWS):
            re_ = min(qe - qs, rs + _RERANK_ROWS)
            rows = _gather(train, cand[rs:re_], dev, torch.float64)  # (r, kk, D)
            diff = rows - qd[rs:re_, None, :]
            exact[rs:re_] = torch.linalg.vector_norm(diff, dim=2).cpu().numpy()
        # order by distance, ties by training index (deterministic)
        pre = np.argsort(cand, axis=1, kind="stable")
        cand = np.take_along_axis(cand, pre, 1)
        exact = np.take_along_axis(exact, pre, 1)
        order = np.argsort(exact, axis=1, kind="stable")[:, :k]
        out_d[qs:qe] = np.take_along_axis(exact, order, 1)
        out_i[qs:qe] = np.take_along_axis(cand, order, 1)
    return out_d, out_i


def duplicate_groups(train: Any, chunk_size: int = 8192) -> np.ndarray:
    """int64 (N,): for each training row, the index of the first row identical to it
    (its own index when it has no earlier copy). Rows are compared byte for byte."""
    digests = []
    for s in range(0, _rows(train), chunk_size):
        block = train[s : s + chunk_size]
        block = block.cpu().numpy() if isinstance(block, Tensor) else np.asarray(block)
        block = np.ascontiguousarray(block).reshape(len(block), -1)
        digests += [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in block]
    _, first, inverse = np.unique(np.array(digests, dtype="S16"), return_index=True,
                                  return_inverse=True)  # fmt: skip
    return first[inverse.reshape(-1)].astype(np.int64)


def distinct_rows(
    data: Any,
    labels: Any = None,
    chunk_size: int = 8192,
    *,
    return_inverse: bool = False,
    return_counts: bool = False,
) -> np.ndarray | tuple[np.ndarray, ...]:
    """int64 (M,), ascending: the index of the first row of each distinct training item,
    rows compared byte for byte as in :func:`duplicate_groups` (the one notion of "the same
    image" of navref); with ``labels`` (N,) an item is a (row, label) pair, so a copy under
    another class stays an item of that class. M = N when nothing is stored twice.

    As ``np.unique``: with ``return_inverse`` also the int64 (N,) position in the result of
    each row's item (``data[first[inverse]]`` equals ``data`` byte for byte), with
    ``return_counts`` the int64 (M,) multiplicity of each item (its number of rows; they sum
    to N); returned in that order after the indices."""
    groups = duplicate_groups(data, chunk_size)
    if labels is None:
        first, inverse = np.unique(groups, return_inverse=True)
    else:
        lab = np.asarray(labels.cpu() if isinstance(labels, Tensor) else labels).astype(np.int64)
        _, first, inv = np.unique(
            np.stack([groups, lab], axis=1), axis=0, return_index=True, return_inverse=True
        )
        order = np.argsort(first, kind="stable")  # items by their first row
        first = first[order]
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        inverse = rank[inv.reshape(-1)]
    first = first.astype(np.int64)
    inverse = inverse.reshape(-1).astype(np.int64)
    if not (return_inverse or return_counts):
        return first
    out: tuple[np.ndarray, ...] = (first,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (np.bincount(inverse, minlength=first.size).astype(np.int64),)
    return out


def mode_counts(data: Any, labels: Any = None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Row counts (N,) that make each distinct item of ``data`` (N, ...) one mode of the
    oracle (:func:`distinct_rows`; with ``labels`` an item is a (row, label) pair): its first
    row counts its multiplicity, its later copies 0 (weight exactly 0, as the oracle's
    ``row_counts``; nothing is copied or gathered), and the first row of each row's item
    (N,), the row the oracle's top-1 index names. (None, None) when no row is a copy."""
    keep, item_of_row, counts = distinct_rows(data, labels, return_inverse=True, return_counts=True)
    if len(keep) == _rows(data):
        return None, None
    full = np.zeros(_rows(data), dtype=np.float64)
    full[keep] = counts
    return full, keep[item_of_row]


def memorization_table(
    samples: Any,
    train: Any,
    threshold: float = DEFAULT_THRESHOLD,
    chunk_size: int = 8192,
    device: torch.device | str | None = None,
    groups: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-sample nearest-neighbour table (one row per sample, in order).

    Columns: ``sample`` (row index), ``nn1_index``, ``nn1_dist``, ``nn2_index``, ``nn2_dist``,
    ``ratio`` = nn1_dist / nn2_dist (0 when nn1_dist = 0, i.e. an exact copy),
    ``memorized`` = ratio < threshold. NN2 is the second nearest *distinct* training image:
    a training image stored twice is one image (``groups``: :func:`duplicate_groups` of
    ``train``, computed when not given).
    """
    groups = duplicate_groups(train, chunk_size) if groups is None else groups
    d, i = nearest_neighbours(
        samples, train, k=2, chunk_size=chunk_size, device=device, groups=groups
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[:, 0] == 0, 0.0, d[:, 0] / d[:, 1])
    return pd.DataFrame(
        {
            "sample": np.arange(d.shape[0]),
            "nn1_index": i[:, 0],
            "nn1_dist": d[:, 0],
            "nn2_index": i[:, 1],
            "nn2_dist": d[:, 1],
            "ratio": ratio,
            "memorized": ratio < threshold,
        }
    )


def summarize_memorization(table: pd.DataFrame) -> dict[str, float]:
    """Aggregate a :func:`memorization_table`: ``n``, ``mean_nn1_dist``, ``median_nn1_dist``,
    ``mean_ratio`` and ``memorization_share`` (share of rows with ``memorized``)."""
    return {
        "n": int(len(table)),
        "mean_nn1_dist": float(table["nn1_dist"].mean()),
        "median_nn1_dist": float(table["nn1_dist"].median()),
        "mean_ratio": float(table["ratio"].mean()),
        "memorization_share": float(table["memorized"].mean()),
    }


def threshold_shares(ratio: Any, prefix: str = "memorization_share") -> dict[str, float]:
    """Share of ``ratio`` (NN1/NN2 distance ratios) below each of
    :data:`SENSITIVITY_THRESHOLDS`, keyed ``<prefix>_q25`` / ``_q33`` / ``_q50``."""
    r = np.asarray(ratio, dtype=np.float64)
    return {f"{prefix}_{k}": float((r < thr).mean()) for k, thr in SENSITIVITY_THRESHOLDS.items()}


def to_pixels(images: Any, resolution: int | None = None) -> np.ndarray:
    """Images as the memorization metric compares them: uint8 (N, H, W, C), area-downsampled
    to ``resolution`` x ``resolution`` when given (the train split must be prepared alike:
    rule ``memorization_train``)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(
            f"pixel memorization takes uint8 images (N, H, W, C), got {images.dtype} "
            f"{images.shape}; decode latents first (LatentSpace.decode)"
        )
    return downsample_images(images, int(resolution)) if resolution else images


def pixel_memorization(
    images: Any,
    train: Any,
    threshold: float = DEFAULT_THRESHOLD,
    resolution: int | None = None,
    device: torch.device | str | None = None,
    groups: np.ndarray | None = None,
    chunk_size: int = 8192,
) -> pd.DataFrame:
    """The memorization metric of navref: :func:`memorization_table` of decoded uint8
    ``images`` (downsampled to ``resolution`` when given, see :func:`to_pixels`) against the
    uint8 train split ``train`` (already at that resolution), distances in 0-255 pixel units."""
    return memorization_table(
        to_pixels(images, resolution), train, threshold, chunk_size, device, groups
    )


def memorization_metrics(
    samples: Any,
    train: Any,
    threshold: float = DEFAULT_THRESHOLD,
    chunk_size: int = 8192,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Memorization summary of ``samples`` against ``train`` (see :func:`summarize_memorization`);
    also reports the ``threshold`` used and ``train_duplicates``, the number of training rows
    that are byte-identical copies of an earlier row."""
    groups = duplicate_groups(train, chunk_size)
    table = memorization_table(samples, train, threshold, chunk_size, device, groups)
    out = summarize_memorization(table)
    out["threshold"] = float(threshold)
    out.update(threshold_shares(table["ratio"]))
    out["train_duplicates"] = int((groups != np.arange(len(groups))).sum())
    return out


def downsample_images(images: Any, resolution: int, batch_size: int = 1024) -> np.ndarray:
    """uint8 images (N, H, W, C) -> uint8 (N, r, r, C), r = ``resolution``, by area
    averaging (adaptive average pooling: exact block means when r divides H and W), rounded
    to the nearest integer. Reads ``images`` (an array or memmap) ``batch_size`` rows at a
    time. Memorization at ImageNet scale compares samples with the train split in this
    smaller space: 64 px instead of 256 px makes the search 16x cheaper."""
    out = np.empty(_downsampled_shape(images, resolution), dtype=np.uint8)
    _downsample_into(images, resolution, out, batch_size)
    return out


def save_downsampled(
    path: Any, images: Any, resolution: int, batch_size: int = 1024, progress: bool = False
) -> tuple[int, ...]:
    """:func:`downsample_images` streamed into the ``.npy`` file ``path`` (written under a
    temporary name and renamed, so never half-written); memory stays at one batch whatever
    N is. Returns the saved shape."""
    shape = _downsampled_shape(images, resolution)
    with atomic_path(path, suffix=".npy") as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _downsample_into(images, resolution, out, batch_size, progress)
        out.flush()
        del out
    return shape


def _downsampled_shape(images: Any, resolution: int) -> tuple[int, ...]:
    shape = tuple(int(s) for s in images.shape)
    if len(shape) != 4 or getattr(images, "dtype", None) != np.uint8:
        raise ValueError(
            f"downsample_images: expected uint8 images (N, H, W, C), got shape {shape} "
            f"dtype {getattr(images, 'dtype', None)}"
        )
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
        raise ValueError(f"memorization resolution must be an integer, got {resolution!r}")
    if not 1 <= resolution <= min(shape[1], shape[2]):
        raise ValueError(
            f"memorization resolution {resolution} must lie in [1, {min(shape[1], shape[2])}] "
            f"for {shape[1]}x{shape[2]} images; lower it or set it to null (full resolution)"
        )
    return (shape[0], int(resolution), int(resolution), shape[3])


def _downsample_into(
    images: Any, resolution: int, out: np.ndarray, batch_size: int, progress: bool = False
) -> None:
    n = out.shape[0]
    starts = range(0, n, batch_size)
    for s in tqdm(starts, desc="downsample", disable=not progress, mininterval=10):
        x = torch.from_numpy(np.array(images[s : s + batch_size], copy=True))
        x = x.permute(0, 3, 1, 2).float()
        y = torch.nn.functional.adaptive_avg_pool2d(x, resolution)
        out[s : s + batch_size] = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
