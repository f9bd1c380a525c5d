"""Oracle curves along the linear path: objective gap and posterior concentration vs t.

Path, time convention and CFM target u: :mod:`navref.path` (here t in [0, 1), x0 ~ N(0, I) and
x1 drawn uniformly from the data set). The oracle
v*(x_t, t) and its posterior weights gamma_i come from :mod:`navref.oracle`.

Quantities (paper Fig. 2 and Fig. 3):
- objective gap: E || u - v*(x_t, t) ||^2 / D, the part of the CFM loss that no model can
  remove (a mean over dimensions, i.e. an MSE per coordinate);
- top-1 posterior weight max_i gamma_i(x_t, t), its effective sample size 1 / sum gamma^2
  and its entropy -sum gamma log gamma (nats);
- split time: the first t at which the mean top-1 weight reaches a threshold.

Duplicates: identical training items count as one mode, while the oracle stays that of the
data set as stored. Rows that are byte-identical copies of an earlier row (and, for the
class-conditional oracle, carry its label) count as one mode: the item's first row gets its
multiplicity and the copies 0 as the oracle's ``row_counts`` (posterior weights
gamma_i ∝ c_i exp(l_i); nothing is copied or gathered, a memmap stays on disk;
:func:`navref.metrics.memorization.distinct_rows`, the notion of the memorization metric). So the
oracle velocity, and with it the objective gap, is that of the stored data, duplicates
included (up to float rounding; the queries are drawn from the stored rows, as without
copies), while the top-1 weight, effective sample size and entropy are over distinct items:
an image stored twice has top-1 weight 1, not 0.5, near t = 1 (the summed weight of its
copies), and the split time is where one item, not one row, takes the posterior.
``num_samples`` counts the distinct items and ``num_duplicates`` the rows merged into them.

All functions return tidy pandas DataFrames (one row per t, or per group).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # torch is imported where used: split_times (the report) needs none
    import torch

__all__ = ["objective_curves", "split_times", "synthetic_top1_curve"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _quantile_col(q: float) -> str:
    return f"top1_q{round(q * 100):02d}"


def _check_grid(t_grid: Sequence[float] | np.ndarray) -> np.ndarray:
    grid = np.asarray(t_grid, dtype=np.float64).ravel()
    if grid.size == 0:
        raise ValueError("oracle curves: t_grid is empty; give at least one t in [0, 1)")
    if not np.all(np.isfinite(grid)) or np.any(grid < 0) or np.any(grid >= 1):
        raise ValueError(
            f"oracle curves: every t in t_grid must lie in [0, 1) (v* is undefined at t = 1), "
            f"got {grid.min()}..{grid.max()}; use e.g. a grid ending at 0.99"
        )
    return grid


def _curve_row(t: float, u: torch.Tensor, res: Any, source: torch.Tensor) -> dict[str, float]:
    """One t of the curves: the objective gap ||u - v*||^2 / D (mean and standard error over
    the queries), the top-1 posterior weight (mean and quantiles), effective sample size,
    entropy, and how often the top-1 row is the query's own source row."""
    per_query = (u - res.velocity).double().square().mean(dim=1).cpu().numpy()
    top1 = res.top1_weight.double().cpu().numpy()
    n = len(per_query)
    row = {
        "t": t,
        "gap_mse": float(per_query.mean()),
        "gap_se": float(per_query.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        "top1_mean": float(top1.mean()),
    }
    for q, val in zip(QUANTILES, np.quantile(top1, QUANTILES), strict=True):
        row[_quantile_col(q)] = float(val)
    row["ess_mean"] = float(res.ess.double().mean())
    row["entropy_mean"] = float(res.entropy.double().mean())
    row["top1_is_source"] = float((res.top1_index == source).double().mean())
    return row


def _curves(
    data: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor | None,
    t_grid: Sequence[float] | np.ndarray,
    num_queries: int,
    rng: np.random.Generator,
    conditional: bool,
    chunk_size: int | None,
    device: str | torch.device | None,
) -> pd.DataFrame:
    import torch

    from navref.devices import resident_rows
    from navref.oracle import oracle_posterior
    from navref.path import cfm_target, x_t

    grid = _check_grid(t_grid)
    if num_queries < 1:
        raise ValueError(f"oracle curves: num_queries must be >= 1, got {num_queries}")
    if not isinstance(data, np.ndarray | torch.Tensor) or data.ndim < 1 or data.shape[0] < 1:
        raise ValueError("oracle curves: data must be a non-empty (N, ...) array, memmap or tensor")
    n = data.shape[0]
    if conditional and labels is None:
        raise ValueError("oracle curves: conditional=True needs the data's class labels")
    lab = None
    if conditional:
        lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
        lab = np.asarray(lab)
        if lab.shape != (n,):
            raise ValueError(f"oracle curves: labels must have shape ({n},), got {lab.shape}")
    from navref.metrics.memorization import mode_counts

    counts, first_row = mode_counts(data, lab)
    m = n if counts is None else int(np.count_nonzero(counts))
    dev = torch.device(device) if device is not None else torch.device("cpu")
    # read by every t: on a GPU copied there once when it fits (navref.devices)
    data2 = resident_rows(data.reshape(n, -1), dev)
    dim = data2.shape[1]

    # x1 uniform over the stored rows (copies included: the data distribution of the CFM
    # objective)
    idx = np.sort(rng.integers(0, n, size=num_queries))  # sorted: sequential reads of a memmap
    x0 = torch.from_numpy(rng.standard_normal((num_queries, dim), dtype=np.float32)).to(dev)
    if isinstance(data2, torch.Tensor):
        x1 = data2.index_select(0, torch.from_numpy(idx).to(data2.device))
    else:
        x1 = torch.from_numpy(np.asarray(data2[idx]))
    x1 = x1.to(dev, torch.float32)
    u = cfm_target(x0, x1)
    kw: dict = {}
    if lab is not None:
        kw = {"data_labels": lab, "labels": lab[idx]}
    if counts is not None:
        kw["row_counts"] = counts
    # the row the top-1 index names for each query's own item (its first row)
    idx_t = torch.from_numpy(idx if first_row is None else first_row[idx]).to(dev)

    rows = []
    for t in grid:
        res = oracle_posterior(x_t(x0, x1, t), float(t), data2, chunk_size=chunk_size, **kw)
        rows.append(_curve_row(float(t), u, res, idx_t))
    frame = pd.DataFrame(rows)
    frame["conditional"] = bool(conditional)
    frame["num_queries"] = int(num_queries)
    frame["num_samples"] = int(m)
    frame["num_duplicates"] = int(n - m)
    frame["dim"] = int(dim)
    return frame


def objective_curves(
    data: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor | None,
    t_grid: Sequence[float] | np.ndarray,
    num_queries: int,
    seed: int,
    conditional: bool,
    chunk_size: int | None = None,
    *,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Objective gap and posterior statistics of the oracle per t (paper Fig. 2).

    Queries: ``num_queries`` pairs (x0, x1), x1 drawn uniformly with replacement from the rows
    of ``data`` (N, ...) (numpy array, np.memmap or tensor; flattened to (N, D)), x0 ~ N(0, I),
    both from ``np.random.default_rng(seed)``; the same pairs are used at every t (lower
    variance of differences between t). For each t in ``t_grid`` (in [0, 1)) the queries are
    x_t = (1 - t) x0 + t x1 and, with u = x1 - x0 and v* the oracle velocity
    (class-conditional over x1's class when ``conditional``; ``labels`` (N,) then required):

    - ``gap_mse``: E ||u - v*(x_t, t)||^2 / D, the mean over queries of the per-coordinate MSE,
      and ``gap_se`` its standard error (std over queries / sqrt(num_queries));
    - ``top1_mean`` and ``top1_q05, q25, q50, q75, q95``: mean and quantiles of max_i gamma_i;
    - ``ess_mean``: mean of 1 / sum_i gamma_i^2; ``entropy_mean``: mean posterior entropy (nats);
    - ``top1_is_source``: share of queries whose top-1 sample is their own x1 row.

    Identical items count as one mode (module docstring): byte-identical copies are merged
    into one row with their multiplicity, so ``gap_mse`` is that of the data as stored while
    the top-1 weight, ESS and entropy are over distinct items (``top1_is_source``: the
    query's own item). Also ``t``, ``conditional``, ``num_queries``, ``num_samples`` (M,
    distinct items), ``num_duplicates`` (N - M, rows that are copies) and ``dim`` (D); one
    row per t. ``device`` runs the queries there (data chunks are moved to it).
    """
    rng = np.random.default_rng(seed)
    return _curves(data, labels, t_grid, num_queries, rng, conditional, chunk_size, device)


def synthetic_top1_curve(
    dim: int,
    size: int,
    t_grid: Sequence[float] | np.ndarray,
    num_queries: int,
    seed: int,
    *,
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Top-1 weight (and the other :func:`objective_curves` columns) for synthetic unit
    Gaussian data (paper Fig. 3): ``size`` samples x1 ~ N(0, I_dim) from
    ``make_gaussian(dim, size, num_classes=1, seed=seed)``; queries are drawn from an
    independent stream ``np.random.default_rng([seed, 1])``. Adds the column ``size``
    (= ``num_samples``) beside ``dim``."""
    from navref.data.synthetic import make_gaussian

    data, _ = make_gaussian(dim, size, num_classes=1, seed=seed)
    rng = np.random.default_rng([seed, 1])
    frame = _curves(data, None, t_grid, num_queries, rng, False, chunk_size, device)
    frame["size"] = int(size)
    return frame


def split_times(
    frame: pd.DataFrame,
    group_cols: Sequence[str] | str,
    threshold: float = 0.9,
    value_col: str = "top1_mean",
) -> pd.DataFrame:
    """Per group, the time at which ``value_col`` (default: mean top-1 weight) first reaches
    ``threshold`` on the t grid.

    Columns: the group columns, ``threshold``, ``t_split_grid`` (first grid t with value >=
    threshold), ``t_split`` (linear interpolation of the crossing between that grid point and
    the previous one; equal to the grid t when the first grid point already reaches it) and
    ``reached`` (False, with NaN times, when the threshold is never reached).
    """
    cols = [group_cols] if isinstance(group_cols, str) else list(group_cols)
    missing = [c for c in [*cols, "t", value_col] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"split_times: frame lacks columns {missing}; it has {list(frame.columns)}"
        )
    groups = frame.groupby(cols, sort=True, dropna=False) if cols else [((), frame)]
    out = []
    for key, g in groups:
        g = g.sort_values("t")
        ts = g["t"].to_numpy(dtype=np.float64)
        vs = g[value_col].to_numpy(dtype=np.float64)
        ok = np.isfinite(vs)
        ts, vs = ts[ok], vs[ok]
        hit = np.nonzero(vs >= threshold)[0]
        row = dict(zip(cols, key if isinstance(key, tuple) else (key,), strict=True))
        row["threshold"] = float(threshold)
        if hit.size == 0:
            row.update(t_split_grid=float("nan"), t_split=float("nan"), reached=False)
        else:
            k = int(hit[0])
            t_cross = ts[k]
            if k > 0 and vs[k] != vs[k - 1]:
                t_cross = ts[k - 1] + (threshold - vs[k - 1]) * (ts[k] - ts[k - 1]) / (
                    vs[k] - vs[k - 1]
                )
            row.update(t_split_grid=float(ts[k]), t_split=float(t_cross), reached=True)
        out.append(row)
    return pd.DataFrame(out, columns=[*cols, "threshold", "t_split_grid", "t_split", "reached"])
