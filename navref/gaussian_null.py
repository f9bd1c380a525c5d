"""The stage-free control of the probe claims (issue 24, item 2): a Gaussian with the data's
statistics, whose velocity is exact in closed form.

Data x1 ~ N(mu, Sigma) has no navigation/refinement split: its posterior never concentrates
on training items, so whatever a probe shows on it is what the probe shows without stages.
The probe jobs (:mod:`navref.probe_runs`) run the control beside the model, with the same
grid, noise, labels and record times, and write its numbers into the model's rows
(``null_*`` columns); claims 4 and 10 judge the model against it.

Closed form (linear path of :mod:`navref.path`, t = 0 noise, t = 1 data): with
x0 ~ N(0, I) independent of x1 ~ N(mu, Sigma) and x_t = t x1 + (1 - t) x0, the pair
(x1, x_t) is jointly Gaussian with

    E[x_t] = t mu,   C_t := Cov(x_t) = t^2 Sigma + (1 - t)^2 I,
    Cov(x1, x_t) = t Sigma,   Cov(x0, x_t) = (1 - t) I,

so (Gaussian conditioning, e.g. Bishop 2006, Eq. 2.81)

    E[x1 | x_t = x] = mu + t Sigma C_t^{-1} (x - t mu),
    E[x0 | x_t = x] = (1 - t) C_t^{-1} (x - t mu),

and the marginal (oracle) velocity v(x, t) = E[x1 - x0 | x_t = x] (Lipman et al. 2023;
the paper's Theorem 2.1 for a Gaussian instead of a finite set) is

    v(x, t) = mu + (t Sigma - (1 - t) I) C_t^{-1} (x - t mu).

With Sigma = U diag(s) U^T this is, per eigen-direction,

    v(x, t) = mu + U diag((t s - (1 - t)) / (t^2 s + (1 - t)^2)) U^T (x - t mu),

finite for t < 1 also where s = 0 (a rank-deficient Sigma, e.g. fewer samples than
dimensions); at t = 0 it is mu - x. The one-step prediction x + (1 - t) v is the
posterior mean E[x1 | x_t = x]. Class-conditional: mu_y, Sigma_y of the class's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["GaussianVelocity", "gaussian_velocity"]


def gaussian_velocity(
    x: Tensor, t: float, mean: Tensor, eigvecs: Tensor, eigvals: Tensor
) -> Tensor:
    """The exact velocity of the linear path towards N(mean, U diag(eigvals) U^T) (module
    docstring): x (B, D), mean (D,) or (B, D), eigvecs U (D, D) or (B, D, D) with the
    eigenvectors in its columns, eigvals s (D,) or (B, D); returns (B, D) in x's dtype,
    computed in the dtype of ``eigvecs``. t in [0, 1)."""
    if not 0.0 <= t < 1.0:
        raise ValueError(f"gaussian_velocity: t must be in [0, 1), got {t}")
    dt = eigvecs.dtype
    xc = x.to(dt) - t * mean.to(dt)
    s = eigvals.to(dt).clamp_min(0.0)
    gain = (t * s - (1.0 - t)) / (t * t * s + (1.0 - t) ** 2)
    if eigvecs.dim() == 2:
        coef = (xc @ eigvecs) * gain
        out = coef @ eigvecs.T
    else:
        coef = torch.einsum("bd,bde->be", xc, eigvecs) * gain
        out = torch.einsum("be,bde->bd", coef, eigvecs)
    return (mean.to(dt) + out).to(x.dtype)


class GaussianVelocity:
    """A :class:`navref.sampling.VelocityProvider` of the Gaussian with the mean and
    covariance of ``data`` (N, ...) flattening to (N, D): over all rows, or per class
    (``conditional=True``, needs ``data_labels`` (N,) and labels y at call time). The
    covariance is the maximum-likelihood one (divided by N), eigendecomposed once in
    float64; the state x is (B, ...) with prod(...) = D and keeps its shape and dtype."""

    def __init__(self, data: Any, data_labels: Any = None, conditional: bool = True) -> None:
        rows = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
        if rows.shape[0] < 1:
            raise ValueError("GaussianVelocity: no data rows")
        self.conditional = bool(conditional)
        if self.conditional:
            if data_labels is None:
                raise ValueError("GaussianVelocity(conditional=True) needs data_labels")
            labels = np.asarray(data_labels).astype(np.int64).reshape(-1)
            if labels.shape != (rows.shape[0],):
                raise ValueError(
                    f"GaussianVelocity: {labels.shape[0]} labels for {rows.shape[0]} rows"
                )
            classes = np.unique(labels)
            groups = [rows[labels == c] for c in classes]
        else:
            classes, groups = np.array([0]), [rows]
        self.classes = torch.as_tensor(classes)
        means, vecs, vals = [], [], []
        for g in groups:
            mu = g.mean(axis=0)
            cov = (g - mu).T @ (g - mu) / g.shape[0]
            s, u = np.linalg.eigh(cov)
            means.append(mu)
            vecs.append(u)
            vals.append(np.clip(s, 0.0, None))
        self.mean = torch.from_numpy(np.stack(means))  # (K, D)
        self.eigvecs = torch.from_numpy(np.stack(vecs))  # (K, D, D)
        self.eigvals = torch.from_numpy(np.stack(vals))  # (K, D)

    def _class_index(self, y: Tensor | None, batch: int) -> Tensor:
        if not self.conditional:
            return torch.zeros(batch, dtype=torch.long)
        if y is None:
            raise ValueError("GaussianVelocity(conditional=True) needs class labels y")
        y = y.detach().cpu().long().reshape(-1)
        idx = torch.searchsorted(self.classes, y)
        ok = (idx < len(self.classes)) & (self.classes[idx.clamp_max(len(self.classes) - 1)] == y)
        if not bool(ok.all()):
            raise ValueError(f"GaussianVelocity: labels {sorted(set(y[~ok].tolist()))} not in data")
        return idx

    def __call__(self, x: Tensor, t: float, y: Tensor | None) -> Tensor:
        flat = x.reshape(x.shape[0], -1).detach().cpu()
        k = self._class_index(y, x.shape[0])
        out = torch.empty(flat.shape, dtype=torch.float64)
        for c in torch.unique(k).tolist():
            rows = k == c
            out[rows] = gaussian_velocity(
                flat[rows].double(), float(t), self.mean[c], self.eigvecs[c], self.eigvals[c]
            )
        return out.reshape(x.shape).to(device=x.device, dtype=x.dtype)
