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

    v(x, t) = mu + U diag(g_t(s)) U^T (x - t mu),   g_t(s) = (t s - (1 - t)) / (t^2 s + (1 - t)^2),

finite for t < 1 also where s = 0 (a rank-deficient Sigma, e.g. fewer samples than
dimensions); at t = 0 it is mu - x. The one-step prediction x + (1 - t) v is the
posterior mean E[x1 | x_t = x].

Class-conditional control: class means mu_y with ONE shared covariance, the pooled
within-class covariance Sigma_w = S_w / n, S_w = sum_y sum_{i in y} (x_i - mu_y)(x_i - mu_y)^T
(a class-conditional Gaussian with shared covariance, as in linear discriminant analysis;
maximum likelihood, divided by n). The derivation above holds for each class with
mu = mu_y and Sigma = Sigma_w, so

    v(x, t | y) = mu_y + U diag(g_t(s)) U^T (x - t mu_y)

with one eigendecomposition Sigma_w = U diag(s) U^T for every class. Why pooled: one
D x D eigendecomposition per latent space instead of one per class (ImageNet: 1000 classes
in D = 8192 would need 1000 of them and ~0.5 TB of eigenvectors), and a per-class covariance
from ~1300 images per class in D = 8192 is rank-deficient anyway. The unconditional control
(``conditional=False``) is the overall mean and covariance (one class).

The statistics are streamed (:class:`ScatterAccumulator`: per-chunk float64 sums and X^T X,
the class-mean outer products subtracted at the end: S_w = sum_y (sum_{i in y} x_i x_i^T -
n_y mu_y mu_y^T)) and eigendecomposed once per latent space (or, with no more rows than
dimensions, the thin SVD of the within-class centred rows: D x n eigenvectors, eigenvalue 0
in the directions left out, which :func:`gaussian_velocity` handles exactly) by rule
``gaussian_control`` (:func:`navref.probe_runs.run_gaussian_control`), which
writes them as a :class:`GaussianControl` (``gaussian_control.safetensors`` + ``.json``);
the probe jobs load that file (:meth:`GaussianControl.load`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from navref.io import artefact_error, atomic_path, save_json

__all__ = [
    "GaussianControl",
    "GaussianVelocity",
    "ScatterAccumulator",
    "fit_gaussian",
    "gaussian_velocity",
]

#: the rule that writes :class:`GaussianControl` files (named in load errors)
RULE = "gaussian_control"
_TENSORS = ("classes", "counts", "means", "eigvecs", "eigvals")


def gaussian_velocity(
    x: Tensor, t: float, mean: Tensor, eigvecs: Tensor, eigvals: Tensor
) -> Tensor:
    """The exact velocity of the linear path towards N(mean, U diag(eigvals) U^T) (module
    docstring): x (B, D), mean (D,) or (B, D) (one mean per row: the class-conditional
    control), eigvecs U (D, r) with orthonormal eigenvectors in its columns, eigvals s (r,);
    r < D: the directions orthogonal to U have eigenvalue 0 (a thin eigendecomposition of a
    rank-deficient covariance): U diag(g(s)) U^T + g(0) (I - U U^T) = U diag(g(s) - g(0))
    U^T + g(0) I, exact. Returns (B, D) in x's dtype, computed in the dtype of ``eigvecs``
    on x's device. t in [0, 1)."""
    if not 0.0 <= t < 1.0:
        raise ValueError(f"gaussian_velocity: t must be in [0, 1), got {t}")
    dt, dev = eigvecs.dtype, x.device
    u = eigvecs.to(dev)
    mean = mean.to(device=dev, dtype=dt)
    s = eigvals.to(device=dev, dtype=dt).clamp_min(0.0)
    gain = (t * s - (1.0 - t)) / (t * t * s + (1.0 - t) ** 2)
    xc = x.to(dt) - t * mean
    if u.shape[1] == u.shape[0]:
        return (mean + ((xc @ u) * gain) @ u.T).to(x.dtype)
    g0 = -1.0 / (1.0 - t)  # g(0)
    return (mean + ((xc @ u) * (gain - g0)) @ u.T + g0 * xc).to(x.dtype)


class ScatterAccumulator:
    """Streamed per-class sums and the within-class scatter of rows (x, y), in float64 on
    ``device``: :meth:`update` per chunk, :meth:`result` / :meth:`eigen` at the end. Rows
    are shifted by the first chunk's mean before they are summed (the scatter does not
    depend on the shift; it keeps X^T X free of the cancellation of a large common mean).
    Labels: non-negative integers, any number of classes (the sums grow with the largest
    label seen).

    While at most ``keep_rows`` rows (default: D) have come, the shifted rows themselves are
    kept (no more memory than X^T X) and :meth:`eigen` takes the thin SVD of the
    within-class centred rows (n x D: O(n^2 D), rank <= n - C); beyond that X^T X (D x D) is
    accumulated and eigendecomposed (O(D^3)). The two give the same Gaussian."""

    def __init__(self, device: str | torch.device = "cpu", keep_rows: int | None = None) -> None:
        self.device = torch.device(device)
        self.keep_rows = keep_rows
        self.shift: Tensor | None = None
        self.gram: Tensor | None = None  # sum of (x - shift)(x - shift)^T, once rows are not kept
        self.rows: list[tuple[Tensor, Tensor]] | None = []  # kept (x - shift, y)
        self.sums: Tensor | None = None  # (C, D) sum of x - shift per label
        self.counts: Tensor | None = None  # (C,)

    def update(self, x: Any, y: Any) -> None:
        """Add rows ``x`` (n, ...) flattening to (n, D) with labels ``y`` (n,)."""
        if not isinstance(x, Tensor):
            arr = np.asarray(x)  # a read-only memmap slice is copied (torch needs writable)
            x = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
        x = x.reshape(len(x), -1).to(device=self.device, dtype=torch.float64)
        y = torch.as_tensor(np.asarray(y) if not isinstance(y, Tensor) else y)
        y = y.reshape(-1).to(device=self.device, dtype=torch.long)
        if len(y) != len(x):
            raise ValueError(f"ScatterAccumulator: {len(y)} labels for {len(x)} rows")
        if len(x) == 0:
            return
        if bool((y < 0).any()):
            raise ValueError("ScatterAccumulator: labels must be non-negative")
        d = x.shape[1]
        if self.shift is None:
            self.shift = x.mean(dim=0)
            self.sums = torch.zeros(0, d, dtype=torch.float64, device=self.device)
            self.counts = torch.zeros(0, dtype=torch.long, device=self.device)
            if self.keep_rows is None:
                self.keep_rows = d
        elif d != self.shift.shape[0]:
            raise ValueError(f"ScatterAccumulator: rows of {d} features after {len(self.shift)}")
        c = int(y.max()) + 1
        if c > len(self.counts):
            grow = c - len(self.counts)
            self.sums = torch.cat([self.sums, self.sums.new_zeros(grow, d)])
            self.counts = torch.cat([self.counts, self.counts.new_zeros(grow)])
        xc = x - self.shift
        self.sums.index_add_(0, y, xc)
        self.counts += torch.bincount(y, minlength=len(self.counts))
        if self.rows is not None and int(self.counts.sum()) <= self.keep_rows:
            self.rows.append((xc, y))
            return
        if self.gram is None:  # too many rows to keep: X^T X from here on
            self.gram = torch.zeros(d, d, dtype=torch.float64, device=self.device)
            for kept, _ in self.rows or []:
                self.gram.addmm_(kept.T, kept)
            self.rows = None
        self.gram.addmm_(xc.T, xc)

    def _stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if self.shift is None:
            raise ValueError("ScatterAccumulator: no rows")
        classes = torch.nonzero(self.counts).reshape(-1)
        counts, sums = self.counts[classes], self.sums[classes]
        return classes, counts, sums, sums / counts[:, None].double()

    def _centred_rows(self) -> Tensor:
        """The kept rows minus their class means (n, D)."""
        x = torch.cat([r for r, _ in self.rows])
        y = torch.cat([lab for _, lab in self.rows])
        means = self.sums / self.counts.clamp_min(1)[:, None].double()
        return x - means[y]

    def result(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(classes (C,), counts (C,), means (C, D), within-class scatter S_w (D, D)) of the
        labels seen, float64 on ``device``: S_w = sum_y (sum_{i in y} x_i x_i^T -
        n_y mu_y mu_y^T) (on the shifted rows), symmetrised."""
        classes, counts, sums, centred = self._stats()
        if self.rows is not None:
            xc = self._centred_rows()
            scatter = xc.T @ xc
        else:
            scatter = self.gram - sums.T @ centred
        return classes, counts, centred + self.shift, 0.5 * (scatter + scatter.T)

    def eigen(self) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(classes, counts, means, eigvecs (D, r), eigvals (r,)) of the covariance
        S_w / n, float64 on ``device``, eigenvalues clipped at 0: r = D (eigh of the D x D
        covariance) or, with the rows kept, r = n (thin SVD of the centred rows; the
        directions it leaves out have eigenvalue 0)."""
        if self.rows is None:
            classes, counts, means, scatter = self.result()
            s, u = torch.linalg.eigh(scatter / counts.sum().double())
            return classes, counts, means, u, s.clamp_min(0.0)
        classes, counts, _, centred = self._stats()
        xc = self._centred_rows()
        _, sv, vh = torch.linalg.svd(xc, full_matrices=False)
        n = counts.sum().double()
        return classes, counts, centred + self.shift, vh.T, sv * sv / n


@dataclass
class GaussianControl:
    """The stage-free control's Gaussian: class labels ``classes`` (C,) int64, row counts
    ``counts`` (C,), class means ``means`` (C, D) and the eigendecomposition of the shared
    (pooled within-class, maximum-likelihood) covariance, ``eigvecs`` (D, r) in columns and
    ``eigvals`` (r,) >= 0 (r = D, or r = n < D: a thin one, eigenvalue 0 elsewhere), all float64 on the CPU; ``conditional``: class means (else one
    "class" 0, the overall mean and covariance)."""

    classes: Tensor
    counts: Tensor
    means: Tensor
    eigvecs: Tensor
    eigvals: Tensor
    conditional: bool = True

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def covariance(self) -> Tensor:
        """The shared covariance U diag(s) U^T (D, D) float64 (for checks; D^2 memory)."""
        return (self.eigvecs * self.eigvals) @ self.eigvecs.T

    def meta(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "dim": self.dim,
            "num_classes": len(self.classes),
            "conditional": self.conditional,
            "covariance": "pooled within-class, maximum likelihood (scatter / n)"
            if self.conditional
            else "overall, maximum likelihood (scatter / n)",
            "min_eigval": float(self.eigvals.min()),
            "max_eigval": float(self.eigvals.max()),
            "eigvecs": list(self.eigvecs.shape),
            "rank": int((self.eigvals > self.eigvals.max() * self.dim * 1e-15).sum()),
        }

    def save(self, path: str | os.PathLike, meta_path: str | os.PathLike | None = None) -> None:
        """Write the tensors to ``path`` (safetensors) and :meth:`meta` to ``meta_path``
        (JSON), each atomically (:func:`navref.io.atomic_path`)."""
        from safetensors.torch import save_file

        tensors = {k: getattr(self, k).detach().cpu().contiguous() for k in _TENSORS}
        with atomic_path(path, suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"conditional": str(self.conditional)})
        if meta_path is not None:
            save_json(meta_path, self.meta())

    @classmethod
    def load(cls, path: str | os.PathLike) -> GaussianControl:
        """Read a file of :meth:`save`; a missing, damaged or inconsistent file raises
        :class:`navref.io.ArtefactError` naming it and rule ``gaussian_control``."""
        from safetensors import safe_open

        if not Path(path).exists():
            raise artefact_error(path, RULE, "does not exist")
        try:
            with safe_open(str(path), framework="pt") as f:
                tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
                meta = f.metadata() or {}
        except Exception as err:  # safetensors raises its own error types
            raise artefact_error(
                path, RULE, f"is not a complete safetensors file ({err})"
            ) from None
        missing = [k for k in _TENSORS if k not in tensors]
        if missing:
            raise artefact_error(path, RULE, f"lacks {missing}")
        c, d = tensors["means"].shape if tensors["means"].dim() == 2 else (-1, -1)
        vecs = tensors["eigvecs"]
        r = vecs.shape[1] if vecs.dim() == 2 and 1 <= vecs.shape[1] <= d else -1
        shapes = {"classes": (c,), "counts": (c,), "eigvecs": (d, r), "eigvals": (r,)}
        for k, shape in shapes.items():
            if c < 1 or tuple(tensors[k].shape) != shape:
                raise artefact_error(path, RULE, f"{k} has shape {tuple(tensors[k].shape)}")
        for k in ("means", "eigvecs", "eigvals"):
            if not bool(torch.isfinite(tensors[k]).all()):
                raise artefact_error(path, RULE, f"{k} holds NaN or infinity")
        return cls(
            tensors["classes"].long(),
            tensors["counts"].long(),
            tensors["means"].double(),
            tensors["eigvecs"].double(),
            tensors["eigvals"].double(),
            meta.get("conditional", "True") == "True",
        )


def fit_gaussian(
    chunks: Iterable[tuple[Any, Any]],
    conditional: bool = True,
    device: str | torch.device = "cpu",
    keep_rows: int | None = None,
) -> GaussianControl:
    """The control of rows streamed as (x, y) chunks (:class:`ScatterAccumulator` on
    ``device``, one float64 eigendecomposition there, or a thin SVD while at most
    ``keep_rows`` rows came, default D): class means and the pooled within-class covariance,
    or (``conditional=False``, labels ignored) the overall mean and covariance."""
    acc = ScatterAccumulator(device, keep_rows)
    for x, y in chunks:
        if not conditional:
            y = torch.zeros(len(x), dtype=torch.long)
        acc.update(x, y)
    classes, counts, means, u, s = acc.eigen()
    return GaussianControl(classes.cpu(), counts.cpu(), means.cpu(), u.cpu(), s.cpu(), conditional)


def array_chunks(
    data: Any, labels: Any = None, chunk_rows: int = 4096
) -> Iterable[tuple[Any, Any]]:
    """(rows, labels) of an (N, ...) array or memmap in chunks of ``chunk_rows`` (labels
    zero when None)."""
    n = len(data)
    lab = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if len(lab) != n:
        raise ValueError(f"array_chunks: {len(lab)} labels for {n} rows")
    for s in range(0, n, chunk_rows):
        yield np.asarray(data[s : s + chunk_rows]), lab[s : s + chunk_rows]


class GaussianVelocity:
    """A :class:`navref.sampling.VelocityProvider` of a :class:`GaussianControl`: per row,
    the exact velocity towards N(mu_y, Sigma_w) (labels y needed when conditional), or
    towards N(mu, Sigma) when not. Computed in float64 on x's device (the control's tensors
    are moved there once); the state x is (B, ...) with prod(...) = D and keeps its shape
    and dtype."""

    def __init__(self, control: GaussianControl) -> None:
        self.control = control
        self.conditional = control.conditional
        self.classes = control.classes.cpu()
        self._on: dict[torch.device, tuple[Tensor, Tensor, Tensor]] = {}

    @classmethod
    def fit(
        cls, data: Any, data_labels: Any = None, conditional: bool = True, chunk_rows: int = 4096
    ) -> GaussianVelocity:
        """The velocity of the control fitted in memory (:func:`fit_gaussian`) on ``data``
        (N, ...) and ``data_labels`` (N,)."""
        if len(data) < 1:
            raise ValueError("GaussianVelocity: no data rows")
        if conditional and data_labels is None:
            raise ValueError("GaussianVelocity(conditional=True) needs data_labels")
        chunks = array_chunks(data, data_labels if conditional else None, chunk_rows)
        return cls(fit_gaussian(chunks, conditional))

    @classmethod
    def load(cls, path: str | os.PathLike) -> GaussianVelocity:
        return cls(GaussianControl.load(path))

    def _tensors(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        if device not in self._on:
            c = self.control
            self._on[device] = (c.means.to(device), c.eigvecs.to(device), c.eigvals.to(device))
        return self._on[device]

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
        flat = x.reshape(x.shape[0], -1).detach()
        means, u, s = self._tensors(flat.device)
        k = self._class_index(y, x.shape[0]).to(flat.device)
        v = gaussian_velocity(flat.double(), float(t), means[k], u, s)
        return v.reshape(x.shape).to(dtype=x.dtype)
