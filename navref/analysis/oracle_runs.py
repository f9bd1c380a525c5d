"""The oracle analysis jobs (rules ``oracle_objective``, ``oracle_synthetic`` and
``oracle_tables``): the curves
of :mod:`navref.analysis.oracle_curves` on a latent space's files, and their split times
(read back through :class:`navref.analysis.split_times.SplitTimes`).

Time convention: see :mod:`navref.path` (t = 0 noise, t = 1 data).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from navref.analysis.oracle_curves import objective_curves, split_times, synthetic_top1_curve
from navref.io import save_parquet

__all__ = [
    "objective_of_space",
    "objective_split_times",
    "oracle_tables",
    "space_split_times",
    "synthetic_of_dim",
]


def objective_of_space(
    space_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    conditional: bool,
    seed: int,
    device: str,
    log: logging.Logger,
) -> pd.DataFrame:
    """Objective gap and posterior statistics per t (Fig. 2) on the train split of the
    latent space at ``space_dir``; ``settings`` = ``oracle.objective`` with ``t_grid`` and
    ``chunk_size``. The frame's first column ``space`` names the space."""
    from navref.latents import LatentSpace  # torch: imported by the jobs that use it

    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    n_t = len(settings["t_grid"])
    log.info("oracle data: %s, %d queries, %d times", data.shape, settings["num_queries"], n_t)
    frame = objective_curves(
        data, labels, settings["t_grid"], settings["num_queries"], seed=seed,
        conditional=conditional, chunk_size=settings["chunk_size"], device=device,
    )  # fmt: skip
    frame.insert(0, "space", os.path.basename(os.fspath(space_dir)))
    return frame


def synthetic_of_dim(
    dim: int,
    sizes: Sequence[int],
    out_paths: Sequence[str | os.PathLike],
    settings: Mapping[str, Any],
    seed: int,
    device: str,
    log: logging.Logger,
) -> None:
    """Rule ``oracle_synthetic``: the top-1 posterior weight per t (Fig. 3) of N unit-Gaussian
    samples in ``dim`` dimensions, one table per N in ``sizes`` (``out_paths[i]`` for
    ``sizes[i]``); ``settings`` = ``oracle.synthetic`` with ``t_grid`` and ``chunk_size``.
    Each table is a function of (dim, N, seed) alone (:func:`synthetic_top1_curve` draws its
    data and queries from its own generators), so it does not depend on the other sizes of
    the job. Raises ``ValueError`` when the two lists differ in length."""
    if len(sizes) != len(out_paths):
        raise ValueError(f"synthetic_of_dim: {len(sizes)} sizes but {len(out_paths)} paths")
    for size, path in zip(sizes, out_paths, strict=True):
        log.info("D = %d, N = %d: %d queries", dim, size, settings["num_queries"])
        frame = synthetic_top1_curve(
            int(dim), int(size), settings["t_grid"], settings["num_queries"],
            seed=seed, chunk_size=settings["chunk_size"], device=device,
        )  # fmt: skip
        save_parquet(path, frame)


def objective_split_times(objective: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Split time per (space, conditional) of objective curves (Fig. 2 frames), as rows of
    the split-time table (``curve = "objective"``; see
    :class:`navref.analysis.split_times.SplitTimes`)."""
    frame = split_times(objective, ["space", "conditional"], threshold)
    frame.insert(0, "curve", "objective")
    return frame


def space_split_times(
    objective_paths: Sequence[str], threshold: float, out_path: str, log: logging.Logger
) -> None:
    """Rule ``oracle_split_time``: the split times of one latent space (its objective curves,
    cond and / or uncond) to ``out_path``; the rows equal that space's rows of the aggregate
    table of :func:`oracle_tables`. Curves of more than one space are a ``ValueError``."""
    objective = pd.concat([pd.read_parquet(p) for p in objective_paths], ignore_index=True)
    spaces = sorted(objective["space"].unique())
    if len(spaces) != 1:
        raise ValueError(f"oracle_split_time expects the curves of one space, got {spaces}")
    splits = objective_split_times(objective, threshold)
    log.info("split times of %s (threshold %.2f):\n%s", spaces[0], threshold, splits.to_string())
    save_parquet(out_path, splits)


def oracle_tables(
    objective_paths: Sequence[str],
    synthetic_paths: Sequence[str],
    threshold: float,
    out: Mapping[str, str],
    log: logging.Logger,
) -> None:
    """Gather the oracle curves into ``out["objective"]`` and ``out["synthetic"]`` and write
    every curve's split time (first t where the mean top-1 posterior weight reaches
    ``threshold``) to ``out["split_times"]``."""
    objective = pd.concat([pd.read_parquet(p) for p in objective_paths], ignore_index=True)
    synthetic = pd.concat([pd.read_parquet(p) for p in synthetic_paths], ignore_index=True)
    a = objective_split_times(objective, threshold)
    b = split_times(synthetic, ["dim", "size"], threshold)
    b.insert(0, "curve", "synthetic")
    splits = pd.concat([a, b], ignore_index=True)
    log.info("split times (threshold %.2f):\n%s", threshold, splits.to_string())
    save_parquet(out["objective"], objective)
    save_parquet(out["synthetic"], synthetic)
    save_parquet(out["split_times"], splits)
