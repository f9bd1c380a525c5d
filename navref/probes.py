"""Probes of a trained flow model against the oracle velocity (Figs. 4-8 of the paper).

Path, time convention and CFM target: :mod:`navref.path`. Oracle velocity
v*(x, t) = (E[x1 | x_t = x] - x) / (1 - t) (class-conditional: posterior over the class's
training samples only).

All functions are pure: they take tensors / arrays, return tensors and tidy pandas
DataFrames, write nothing. Distances are Euclidean in the space the caller passes: the
samples are flattened per row (or mapped by ``embed``, e.g. a decoder to pixels) and compared
with ``train_data`` rows, which must live in that same space.

- :func:`loss_curves` -- CFM loss and oracle loss of a model vs t (Fig. 7, 9).
- :func:`intermediate_predictions` -- x1_hat = x_t + (1 - t) v(x_t, t) along the trajectory
  and how far it is from the final sample (Fig. 4, 8).
- :func:`mixed_sampling` -- oracle for t < tau, model after (Fig. 5).
- :func:`unseen_resume` -- start from x_tau built on validation data, model from tau (Fig. 6).

The stage-free control of claims 4 and 10 (:mod:`navref.gaussian_null`) is run by the same
functions with its velocity in place of the model's (:func:`intermediate_predictions`) or
beside it (``null_provider`` of :func:`mixed_sampling`).

Memorization (NN1/NN2 < 1/3, :mod:`navref.metrics.memorization`) is judged in the space
``embed`` maps to; the probe jobs (:mod:`navref.probe_runs`) pass the decoder to uint8 pixels
and the real train split, the same metric as ``evaluate_sweep_<kind>``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm import tqdm

from navref.devices import resident_rows
from navref.metrics.memorization import (
    DEFAULT_THRESHOLD,
    duplicate_groups,
    memorization_table,
    threshold_shares,
)
from navref.path import cfm_target, x1_hat, x_t
from navref.sampling import (
    TIME_TOL,
    ModelVelocity,
    VelocityProvider,
    grid_with_point,
    make_noise,
    sample,
    uniform_grid,
)

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


# ----------------------------------------------------------------------------- helpers


def _flat_rows(a: Any) -> Any:
    """View an (N, ...) tensor / array / memmap as (N, D) without copying when possible."""
    if len(a.shape) == 2:
        return a
    return a.reshape(a.shape[0], -1)


def _take_rows(a: Any, idx: np.ndarray, device: torch.device) -> Tensor:
    """Rows ``idx`` of a tensor / array / memmap as a float32 tensor on ``device``."""
    if isinstance(a, Tensor):
        return a[torch.as_tensor(idx, device=a.device)].to(device=device, dtype=torch.float32)
    uniq, inv = np.unique(idx, return_inverse=True)  # sorted reads suit memmaps
    rows = torch.from_numpy(np.array(a[uniq], dtype=np.float32, copy=True))
    return rows[torch.from_numpy(inv.reshape(-1))].to(device)


def _labels_cpu(a: Any) -> Tensor:
    """Class labels (tensor, array or list) as a CPU int64 tensor."""
    if isinstance(a, Tensor):
        return a.detach().to("cpu", torch.long)
    return torch.from_numpy(np.asarray(a).astype(np.int64))


def _model_device(model: Any) -> torch.device:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


def _summary_row(t: float, kind: str, values: np.ndarray) -> dict[str, Any]:
    n = int(values.size)
    mean = float(values.mean())
    std = float(values.std(ddof=1)) if n > 1 else float("nan")
    half = Z95 * std / math.sqrt(n) if n > 1 else float("nan")
    return {
        "t": float(t),
        "loss_kind": kind,
        "mean": mean,
        "std": std,
        "n": n,
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


def _embed(x: Tensor, embed: Callable[[Tensor], Tensor] | None) -> Tensor:
    e = embed(x) if embed is not None else x
    return e.reshape(e.shape[0], -1)


def _run(provider: VelocityProvider, grid: Tensor, x: Tensor, labels: Tensor | None) -> Tensor:
    """Euler over ``grid`` (identity when the grid has fewer than 2 points)."""
    if grid.numel() < 2:
        return x
    return sample(provider, grid, x, labels, progress=True)


def _grid_index(grid: Tensor, t: float) -> int:
    j = int(torch.argmin((grid - t).abs()))
    if abs(grid[j].item() - t) > TIME_TOL:
        raise ValueError(f"time {t} is not a point of the grid")
    return j


# ----------------------------------------------------------------------------- loss curves


def _check_loss_curve_inputs(
    t_grid: Any, latents: Any, labels: Any, num_samples: int, oracle_data: Any, oracle_labels: Any
) -> tuple[list[float], int, Tensor]:
    """(distinct times, latent rows, labels on the CPU) of :func:`loss_curves`, checked;
    ``ValueError`` naming the problem otherwise."""
    ts = list(dict.fromkeys(torch.as_tensor(t_grid, dtype=torch.float64).flatten().tolist()))
    if not ts or any(not 0.0 <= t < 1.0 for t in ts):
        raise ValueError(
            f"loss_curves: t_grid must be non-empty with every t in [0, 1) (the oracle is "
            f"singular at t = 1), got {ts}"
        )
    n_rows = int(latents.shape[0])
    if n_rows < 1 or num_samples < 1:
        raise ValueError(
            f"loss_curves: need latent rows and num_samples >= 1, got {n_rows}, {num_samples}"
        )
    all_labels = _labels_cpu(labels)
    if all_labels.shape != (n_rows,):
        raise ValueError(
            f"loss_curves: labels must have shape ({n_rows},), one per latent row, got "
            f"{tuple(all_labels.shape)}"
        )
    if oracle_data is not None and oracle_labels is None:
        raise ValueError(
            "loss_curves: pass oracle_labels with oracle_data (the oracle is class-conditional)"
        )
    return ts, n_rows, all_labels


@torch.inference_mode()
def loss_curves(
    model: Callable[[Tensor, Tensor, Tensor], Tensor],
    latents: Any,
    labels: Any,
    num_classes: int,
    t_grid: Any,
    num_samples: int,
    seed: int,
    *,
    oracle_data: Any = None,
    oracle_labels: Any = None,
    batch_size: int = 256,
    chunk_size: int | None = None,
    device: torch.device | str | None = None,
    include_gap: bool = False,
    autocast: torch.dtype | None = None,
    forward_batch_size: int | None = None,
) -> pd.DataFrame:
    """CFM loss and oracle loss of ``model`` per time t (Fig. 7, 9).

    For each t in ``t_grid`` (each in [0, 1)), with pairs (x0, x1) drawn once and reused at
    every t (common random numbers: x1 = ``latents[i]``, i uniform over the rows, and
    x0 ~ N(0, I) from :func:`navref.sampling.make_noise` with ``seed``), x_t = (1 - t) x0 + t x1:

    - ``cfm``:    ||v_theta(x_t, t, y) - (x1 - x0)||^2 / D
    - ``oracle``: ||v_theta(x_t, t, y) - v*(x_t, t | y)||^2 / D, the class-conditional oracle of
      ``oracle_data`` / ``oracle_labels`` (default: ``latents`` / ``labels``),
    - ``gap`` (only with ``include_gap``): ||(x1 - x0) - v*(x_t, t | y)||^2 / D, the objective
      gap of Fig. 2a,

    i.e. per-sample MSE (mean over the D dimensions). The model is evaluated conditionally
    (no CFG), t as a (B,) float tensor, under ``torch.autocast(autocast)`` when given; put it in
    eval mode first, on rows of ``forward_batch_size`` (default: ``batch_size``) at a time:
    speed only, as the model's rows do not depend on their batch (bitwise on the CPU with
    one thread in float32), whereas the oracle sees whole batches of ``batch_size`` rows and
    its last bits depend on them. ``device`` defaults to the model's. ``latents`` is (N, C, H, W)
    as the model expects (tensor, array or memmap); the oracle data may be (N, D) or (N, ...).

    Returns a tidy DataFrame with columns ``t, loss_kind, mean, std, n, ci_low, ci_high``
    (95 % normal-approximation interval mean +- 1.96 std / sqrt(n)).
    """
    from navref.oracle import oracle_velocity

    ts, n_rows, all_labels = _check_loss_curve_inputs(
        t_grid, latents, labels, num_samples, oracle_data, oracle_labels
    )
    o_labels = all_labels if oracle_labels is None else _labels_cpu(oracle_labels)
    dev = torch.device(device) if device is not None else _model_device(model)
    # read by every t: on a GPU copied there once when it fits (navref.devices)
    o_data = resident_rows(_flat_rows(latents if oracle_data is None else oracle_data), dev)
    provider = ModelVelocity(model, num_classes, mode="cond", autocast=autocast)
    step = forward_batch_size or batch_size

    def velocity(xt: Tensor, t: float, y: Tensor) -> Tensor:
        parts = [provider(xt[i : i + step], t, y[i : i + step]) for i in range(0, len(xt), step)]
        return torch.cat(parts).float()

    idx = np.random.default_rng(seed).integers(0, n_rows, size=num_samples)
    shape = tuple(latents.shape[1:])

    kinds = ["cfm", "oracle"] + (["gap"] if include_gap else [])
    per = {(t, k): [] for t in ts for k in kinds}
    batches = range(0, num_samples, batch_size)
    for s in tqdm(batches, desc="loss curves", unit="batch", file=sys.stderr, mininterval=5):
        e = min(num_samples, s + batch_size)
        x1 = _take_rows(latents, idx[s:e], dev)
        y = all_labels[torch.as_tensor(idx[s:e])].to(device=dev, dtype=torch.long)
        x0 = make_noise((e - s, *shape), seed, start_index=s, device=dev)
        u = cfm_target(x0, x1)
        for t in ts:
            xt = x_t(x0, x1, t)
            v = velocity(xt, t, y)
            vs = oracle_velocity(
                xt, t, o_data, data_labels=o_labels, labels=y, chunk_size=chunk_size
            ).to(device=dev, dtype=torch.float32)
            per[(t, "cfm")].append((v - u).pow(2).flatten(1).mean(1).cpu().double())
            per[(t, "oracle")].append((v - vs).pow(2).flatten(1).mean(1).cpu().double())
            if include_gap:
                per[(t, "gap")].append((u - vs).pow(2).flatten(1).mean(1).cpu().double())
    rows = [_summary_row(t, k, torch.cat(per[(t, k)]).numpy()) for t in ts for k in kinds]
    return pd.DataFrame(rows, columns=["t", "loss_kind", "mean", "std", "n", "ci_low", "ci_high"])


# ----------------------------------------------------------------------------- intermediates


class IntermediateResult(NamedTuple):
    """``times`` (R,), ``predictions`` (R, B, ...) x1_hat at those times, ``final`` (B, ...)
    samples, ``table`` one row per time: ``t, mse, rel_l2, rel_l2_std, n``."""

    times: list[float]
    predictions: Tensor
    final: Tensor
    table: pd.DataFrame


def intermediate_predictions(
    provider: VelocityProvider,
    grid: Any,
    noise: Tensor,
    labels: Tensor | None,
    record_t: Any,
) -> IntermediateResult:
    """One-step predictions x1_hat = x_t + (1 - t) v(x_t, t) at the grid times ``record_t``
    (Fig. 4, 8) and how settled they are: per t, ``mse`` = mean over samples of
    ||x1_hat - x_final||^2 / D and ``rel_l2`` = mean of ||x1_hat - x_final|| / ||x_final||
    (``rel_l2_std`` its sample std). A record time of 1 gives the final sample itself."""
    traj = sample(provider, grid, noise, labels, record_at=record_t, return_trajectory=True)
    final = traj.final
    f = final.reshape(final.shape[0], -1).double()
    fn = torch.linalg.vector_norm(f, dim=1).clamp_min(1e-30)
    rows = []
    for t, p in zip(traj.times, traj.predictions, strict=True):
        d = p.reshape(p.shape[0], -1).double() - f
        rel = torch.linalg.vector_norm(d, dim=1) / fn
        rows.append(
            {
                "t": float(t),
                "mse": float(d.pow(2).mean()),
                "rel_l2": float(rel.mean()),
                "rel_l2_std": float(rel.std()) if rel.numel() > 1 else float("nan"),
                "n": int(p.shape[0]),
            }
        )
    return IntermediateResult(
        times=list(traj.times),
        predictions=torch.stack(traj.predictions),
        final=final,
        table=pd.DataFrame(rows, columns=["t", "mse", "rel_l2", "rel_l2_std", "n"]),
    )


# ----------------------------------------------------------------------------- mixed sampling


class ProbeResult(NamedTuple):
    """``samples`` (B, ...) final samples, ``summary`` a one-row DataFrame, ``per_sample`` one
    row per sample."""

    samples: Tensor
    summary: pd.DataFrame
    per_sample: pd.DataFrame


def _nn_table(x: Tensor, embed, train_data: Any, threshold: float, groups, chunk: int):
    return memorization_table(
        _embed(x, embed), _flat_rows(train_data), threshold, chunk_size=chunk, groups=groups
    )


def model_free_controls(
    x_h: Tensor,
    noise: Tensor,
    t_h: float,
    train_data: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    embed: Callable[[Tensor], Tensor] | None = None,
    groups: np.ndarray | None = None,
    nn_chunk_size: int = 8192,
) -> dict[str, float]:
    """Memorization shares of two model-free stand-ins for the sample at handover time t_h
    (controls of claim 4; issue 15):

    - ``state_memorization_share``: the state x_{t_h} itself, no model;
    - ``extrapolation_memorization_share``: its straight-line extrapolation to t = 1 along
      the line from its own noise x0, x1_hat = x_t + (1 - t) (x_t - x0) / t
      (:func:`navref.path.x1_hat` with v = (x_t - x0) / t, the CFM target that the straight
      path x_t = (1 - t) x0 + t x1 implies); NaN at t_h = 0, where it is undefined.

    What mixed sampling memorizes beyond these is attributable to the model."""
    out = {
        "state_memorization_share": float(
            _nn_table(x_h, embed, train_data, threshold, groups, nn_chunk_size)["memorized"].mean()
        )
    }
    if t_h <= TIME_TOL:
        out["extrapolation_memorization_share"] = float("nan")
        return out
    x_line = x1_hat(x_h, t_h, (x_h - noise) / t_h)
    tab = _nn_table(x_line, embed, train_data, threshold, groups, nn_chunk_size)
    out["extrapolation_memorization_share"] = float(tab["memorized"].mean())
    return out


def _handover(
    oracle_provider: Any,
    model_provider: VelocityProvider,
    tau: float,
    grid_n: int,
    noise: Tensor,
    labels: Tensor | None,
) -> tuple[Tensor, int, Tensor, Any, Tensor]:
    """Euler with the oracle up to the handover step k, then with the model (oracle only
    for tau = 1, handing over at the last evaluated step): (grid with tau inserted, k,
    x at the handover, the oracle's posterior statistics there with identical training
    items counted as one mode, final samples)."""
    grid = uniform_grid(grid_n)
    if TIME_TOL < tau < 1.0 - TIME_TOL:
        grid = grid_with_point(grid, tau)
    if tau >= 1.0 - TIME_TOL:
        k, second = grid.numel() - 2, oracle_provider
    else:
        k, second = (0 if tau <= TIME_TOL else _grid_index(grid, tau)), model_provider
    x_h = _run(oracle_provider, grid[: k + 1], noise, labels)
    stats = oracle_provider.stats(x_h, grid[k].item(), labels, count_modes=True)
    return grid, k, x_h, stats, _run(second, grid[k:], x_h, labels)


def _same_class_share(per: pd.DataFrame, labels: Any, train_labels: Any) -> float:
    """Share of samples whose nearest training row has the sample's label (adds the column
    ``nn_same_class`` to ``per``); NaN without labels."""
    if labels is None or train_labels is None:
        return float("nan")
    tl = np.asarray(train_labels.cpu() if isinstance(train_labels, Tensor) else train_labels)
    lab = labels.cpu().numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    per["nn_same_class"] = tl[per["nn1_index"].to_numpy()] == lab
    return float(per["nn_same_class"].mean())


def mixed_sampling(
    oracle_provider: Any,
    model_provider: VelocityProvider,
    tau: float,
    grid_n: int,
    noise: Tensor,
    labels: Tensor | None,
    train_data: Any,
    train_labels: Any = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    embed: Callable[[Tensor], Tensor] | None = None,
    nn_chunk_size: int = 8192,
    null_provider: VelocityProvider | None = None,
) -> ProbeResult:
    """Mixed sampling (Fig. 5): Euler with the oracle for t < tau, then with the model.

    The grid is ``uniform_grid(grid_n)`` with tau inserted when it is not a grid point, so the
    handover happens exactly at tau. ``oracle_provider`` is an
    :class:`navref.sampling.OracleVelocity` (anything with ``__call__`` and
    ``stats(x, t, y, count_modes=...)``);
    ``train_data`` (N, D) must be row-aligned with its data so that the oracle's top-1 index
    names a row of ``train_data``, and in the space of ``embed(samples)`` (default: the
    flattened samples).

    Handover statistics are the oracle posterior at (x_tau, tau), identical training items
    (byte-identical rows of the oracle's data, with their label when conditional) counted as
    one mode (``OracleVelocity.stats(count_modes=True)``: the trajectory is the oracle of the
    data as stored; ``handover_top1_weight`` sums the weight of the copies and
    ``handover_top1_index`` is the item's first row): for tau = 1 (oracle only)
    at the last evaluated step (x, grid[-2]); for tau = 0 (model only) at (noise, 0), where
    all weights of a class tie, so the top-1 index is meaningless and ``match_share`` is NaN.

    Summary columns: ``tau, handover_t, steps, n, match_share`` (share of samples whose
    nearest training row is the oracle's top-1 at handover), ``mean_top1_weight``,
    ``mean_nn1_dist``, ``memorization_share`` (NN1/NN2 distance ratio < ``threshold``), its
    sensitivity ``memorization_share_q25`` / ``_q33`` / ``_q50`` (ratio < 1/4, 1/3, 1/2), the
    model-free controls at the handover (:func:`model_free_controls`:
    ``state_memorization_share``, ``extrapolation_memorization_share``) and
    ``nn_same_class_share`` (NN1 has the sample's label; NaN without labels), and
    ``null_memorization_share``: the same resume from the same x_tau over the same steps with
    ``null_provider`` in place of the model (the stage-free Gaussian of
    :class:`navref.gaussian_null.GaussianVelocity`, which sees only x_tau; for tau = 1 the
    oracle-only samples; NaN without a ``null_provider``).
    """
    tau = float(tau)
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"mixed_sampling: tau must be in [0, 1], got {tau}")
    if not hasattr(oracle_provider, "stats"):
        raise ValueError("mixed_sampling: oracle_provider must offer .stats (use OracleVelocity)")
    grid, k, x_h, stats, samples = _handover(
        oracle_provider, model_provider, tau, grid_n, noise, labels
    )
    handover_t = grid[k].item()

    top1_idx = stats.top1_index.cpu().numpy().astype(np.int64)
    top1_w = stats.top1_weight.double().cpu().numpy()
    groups = duplicate_groups(train_data, nn_chunk_size)
    table = _nn_table(samples, embed, train_data, threshold, groups, nn_chunk_size)
    controls = model_free_controls(
        x_h, noise, handover_t, train_data,
        threshold=threshold, embed=embed, groups=groups, nn_chunk_size=nn_chunk_size,
    )  # fmt: skip
    per = table.assign(
        handover_top1_index=top1_idx,
        handover_top1_weight=top1_w,
        matched=table["nn1_index"].to_numpy() == top1_idx,
    )
    same = _same_class_share(per, labels, train_labels)
    null_share = float("nan")
    if null_provider is not None:
        null_samples = (
            samples if tau >= 1.0 - TIME_TOL else _run(null_provider, grid[k:], x_h, labels)
        )
        null_table = _nn_table(null_samples, embed, train_data, threshold, groups, nn_chunk_size)
        null_share = float(null_table["memorized"].mean())
    summary = pd.DataFrame(
        [
            {
                "tau": tau,
                "handover_t": handover_t,
                "steps": grid.numel() - 1,
                "n": len(per),
                "match_share": float(per["matched"].mean()) if tau > TIME_TOL else float("nan"),
                "mean_top1_weight": float(top1_w.mean()),
                "mean_nn1_dist": float(per["nn1_dist"].mean()),
                "memorization_share": float(per["memorized"].mean()),
                **threshold_shares(per["ratio"]),
                **controls,
                "nn_same_class_share": same,
                "null_memorization_share": null_share,
            }
        ]
    )
    return ProbeResult(samples=samples, summary=summary, per_sample=per)


# ----------------------------------------------------------------------------- unseen data


def _source_distances(
    samples: Tensor,
    x1: Tensor,
    source: Any,
    train_data: Any,
    threshold: float,
    embed: Callable[[Tensor], Tensor] | None,
    nn_chunk_size: int,
) -> pd.DataFrame:
    """Per sample: the nearest training rows (:func:`memorization_table`) and the distance
    to its own validation source (``source``, else ``embed(x1)``), absolute and relative to
    the source's norm, with ``closer_to_source`` and ``source_memorized`` (source distance
    below ``threshold`` x NN1)."""
    e_s = _embed(samples, embed).double()
    e_v = _embed(x1, embed) if source is None else torch.as_tensor(np.asarray(source))
    e_v = e_v.reshape(e_v.shape[0], -1).to(device=e_s.device, dtype=torch.float64)
    d_src = torch.linalg.vector_norm(e_s - e_v, dim=1).cpu().numpy()
    rel = d_src / torch.linalg.vector_norm(e_v, dim=1).clamp_min(1e-30).cpu().numpy()
    table = memorization_table(e_s, _flat_rows(train_data), threshold, chunk_size=nn_chunk_size)
    nn1 = table["nn1_dist"].to_numpy()
    return table.assign(
        dist_to_source=d_src,
        rel_dist_to_source=rel,
        closer_to_source=d_src < nn1,
        source_memorized=d_src < threshold * nn1,
    )


def unseen_resume(
    model_provider: VelocityProvider,
    tau: float,
    grid_n: int,
    val_x1: Any,
    val_labels: Any,
    seed: int,
    train_data: Any,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    embed: Callable[[Tensor], Tensor] | None = None,
    source: Any = None,
    start_index: int = 0,
    device: torch.device | str | None = None,
    nn_chunk_size: int = 8192,
) -> ProbeResult:
    """Resume generation from unseen data (Fig. 6).

    x_tau = (1 - tau) x0 + tau x1_val with x0 = ``make_noise(val_x1.shape, seed, start_index)``,
    then Euler with the model over the points of ``uniform_grid(grid_n)`` after tau (tau
    prepended), i.e. the remaining steps of the full schedule. tau = 1 returns the validation
    latents themselves.

    Per sample: ``dist_to_source`` = ||e(x) - e(x1_val)||, ``rel_dist_to_source`` (divided by
    ||e(x1_val)||), nearest training row (``nn1_index``, ``nn1_dist``, ``ratio``,
    ``memorized``), ``closer_to_source`` (dist_to_source < nn1_dist) and
    ``source_memorized`` (dist_to_source < ``threshold`` x nn1_dist: the memorization test
    against the train split plus the sample's own source, which the source wins; the
    unseen-data control of claim 4), with e = ``embed`` (default: flatten) and the source
    e(x1_val), or ``source`` (rows in e's space, e.g. the real validation images) when given.
    Summary columns: ``tau, steps, n, mean_dist_to_source, mean_rel_dist_to_source,
    mean_nn1_dist, memorization_share, memorization_share_q25 / _q33 / _q50,
    closer_to_source_share, source_memorization_share``.
    """
    tau = float(tau)
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"unseen_resume: tau must be in [0, 1], got {tau}")
    dev = (
        torch.device(device)
        if device is not None
        else (val_x1.device if isinstance(val_x1, Tensor) else torch.device("cpu"))
    )
    x1 = torch.as_tensor(np.asarray(val_x1) if not isinstance(val_x1, Tensor) else val_x1)
    x1 = x1.to(device=dev, dtype=torch.float32)
    y = None if val_labels is None else _labels_cpu(val_labels).to(dev)
    x0 = make_noise(tuple(x1.shape), seed, start_index, device=dev)
    x_tau = x_t(x0, x1, tau)
    grid = uniform_grid(grid_n)
    if tau >= 1.0 - TIME_TOL:
        samples, steps = x1.clone(), 0
    else:
        grid = grid_with_point(grid, tau) if tau > TIME_TOL else grid
        sub = grid[_grid_index(grid, tau) :]
        samples, steps = _run(model_provider, sub, x_tau, y), sub.numel() - 1

    per = _source_distances(samples, x1, source, train_data, threshold, embed, nn_chunk_size)
    summary = pd.DataFrame(
        [
            {
                "tau": tau,
                "steps": steps,
                "n": len(per),
                "mean_dist_to_source": float(per["dist_to_source"].mean()),
                "mean_rel_dist_to_source": float(per["rel_dist_to_source"].mean()),
                "mean_nn1_dist": float(per["nn1_dist"].mean()),
                "memorization_share": float(per["memorized"].mean()),
                **threshold_shares(per["ratio"]),
                "closer_to_source_share": float(per["closer_to_source"].mean()),
                "source_memorization_share": float(per["source_memorized"].mean()),
            }
        ]
    )
    return ProbeResult(samples=samples, summary=summary, per_sample=per)
