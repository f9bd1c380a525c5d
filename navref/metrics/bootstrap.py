"""Per-sample bootstrap replicates of FID, for paired confidence intervals between settings.

Sample i of every setting of one sweep seed starts from the same noise, so the FID of two
settings should be compared on the *same* resampled sample indices: replicate b of every
setting uses row b of :func:`bootstrap_indices` (drawn from the sample count, the replicate
count and the seed only), and the differences of paired replicates give a confidence
interval of the FID difference (percentile bootstrap, Efron & Tibshirani 1993, ch. 13).
The reference statistics stay fixed: only the sample side is resampled.

FID of a resampled set (torch-fidelity's definition, Heusel et al. 2017):

    FID = ||mu_s - mu_r||^2 + tr(S_s) + tr(S_r) - 2 tr((S_s S_r)^{1/2})

with mu_s, S_s the mean and unbiased covariance of the resampled features (duplicates
counted with their multiplicity). The trace of the matrix square root is computed as
``sum(sqrt(eig(R S_s R)))`` with ``R = S_r^{1/2}`` (symmetric, computed once): ``S_s S_r`` is
similar to the symmetric PSD ``R S_s R``, so both have the same eigenvalues. With the
features projected once, ``Y = X R``, ``R S_s R`` is the covariance of the resampled rows of
``Y``; with fewer samples N than feature dimensions d its nonzero eigenvalues are those of
the N x N Gram matrix of the centred rows, so a replicate costs min(N d^2 + d^3, N^2 d + N^3)
instead of the d^3 Schur decomposition of ``scipy.linalg.sqrtm`` per replicate. All in
float64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BOOTSTRAP_STREAM", "bootstrap_indices", "fid_replicates", "sqrt_psd"]

#: Mixed into the seed of :func:`bootstrap_indices` so the resampling stream differs from the
#: sampling noise drawn from the same sweep seed.
BOOTSTRAP_STREAM = 0xB0075


def bootstrap_indices(num_samples: int, num_replicates: int, seed: int) -> np.ndarray:
    """Resampled sample indices ``(num_replicates, num_samples)`` int64, each row N draws
    with replacement from ``range(num_samples)``; a function of (N, B, seed) only, so every
    setting with the same sample count and seed gets the same rows (paired replicates).

    Raises ``ValueError`` for ``num_samples < 2`` (FID needs a covariance) or a negative
    ``num_replicates``."""
    if num_samples < 2:
        raise ValueError(f"bootstrap: need at least 2 samples, got {num_samples}")
    if num_replicates < 0:
        raise ValueError(f"bootstrap: num_replicates must be >= 0, got {num_replicates}")
    rng = np.random.default_rng(np.random.SeedSequence([BOOTSTRAP_STREAM, int(seed)]))
    return rng.integers(0, num_samples, size=(num_replicates, num_samples), dtype=np.int64)


def sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix ``(d, d)`` (eigendecomposition in
    float64; eigenvalues below zero from round-off are clipped to zero)."""
    sym = np.asarray(matrix, dtype=np.float64)
    sym = (sym + sym.T) / 2
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def fid_replicates(
    features: np.ndarray,
    mu_ref: np.ndarray,
    sigma_ref: np.ndarray,
    indices: np.ndarray,
    root: np.ndarray | None = None,
) -> np.ndarray:
    """FID of each resampled sample set against fixed reference statistics.

    ``features``: (N, d) sample features of the FID layer; ``mu_ref`` (d,), ``sigma_ref``
    (d, d): the reference mean and covariance (torch-fidelity's statistics); ``indices``:
    (B, N') int rows into ``features`` (:func:`bootstrap_indices`, N' = N usually);
    ``root``: :func:`sqrt_psd` of ``sigma_ref`` when the caller scores several sets against
    the same reference (computed here otherwise; skipped for B = 0). Returns
    (B,) float64. Raises ``ValueError`` on mismatched shapes, indices out of range or fewer
    than 2 indices per replicate.
    """
    x = np.asarray(features, dtype=np.float64)
    mu_ref = np.asarray(mu_ref, dtype=np.float64)
    sigma_ref = np.asarray(sigma_ref, dtype=np.float64)
    indices = np.asarray(indices)
    if x.ndim != 2 or mu_ref.shape != (x.shape[1],) or sigma_ref.shape != (x.shape[1],) * 2:
        raise ValueError(
            f"fid_replicates: features (N, d), mu_ref (d,), sigma_ref (d, d) expected, got "
            f"{x.shape}, {mu_ref.shape}, {sigma_ref.shape}"
        )
    if indices.ndim != 2 or indices.shape[1] < 2:
        raise ValueError(f"fid_replicates: indices (B, N >= 2) expected, got {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= len(x)):
        raise ValueError(f"fid_replicates: indices outside [0, {len(x)})")
    if not len(indices):
        return np.empty(0, dtype=np.float64)
    root = sqrt_psd(sigma_ref) if root is None else np.asarray(root, dtype=np.float64)
    y = x @ root  # rows of Y = X R: cov(Y rows) = R S_s R
    trace_ref = float(np.trace(sigma_ref))
    out = np.empty(len(indices), dtype=np.float64)
    for b, rows in enumerate(indices):
        out[b] = _fid_one(x, y, mu_ref, trace_ref, rows)
    return out


def _fid_one(
    x: np.ndarray, y: np.ndarray, mu_ref: np.ndarray, trace_ref: float, rows: np.ndarray
) -> float:
    """FID of the rows ``rows`` of ``x`` (``y = x R``): see the module docstring."""
    n, d = len(rows), x.shape[1]
    counts = np.bincount(rows, minlength=len(x)).astype(np.float64)
    used = np.flatnonzero(counts)
    w, xs, ys = counts[used], x[used], y[used]
    mu = w @ xs / n
    xc, yc = xs - mu, ys - w @ ys / n
    trace_s = float(w @ np.einsum("ij,ij->i", xc, xc)) / (n - 1)
    if len(used) < d:  # Gram of the weighted centred rows: sqrt(w_i w_j) y_i . y_j
        ysw = yc * np.sqrt(w)[:, None]
        eig = np.linalg.eigvalsh(ysw @ ysw.T / (n - 1))
    else:
        eig = np.linalg.eigvalsh((yc.T * w) @ yc / (n - 1))
    trace_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu - mu_ref
    return float(diff @ diff) + trace_s + trace_ref - 2 * trace_sqrt
