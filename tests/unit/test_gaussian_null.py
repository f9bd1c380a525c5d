"""The stage-free control (navref.gaussian_null): its closed-form velocity against a float64
Monte Carlo regression of the CFM target on x_t, per class and with a rank-deficient
covariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.gaussian_null import GaussianVelocity, gaussian_velocity
from navref.path import x1_hat


def _gaussian(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal((d, d))
    return rng.standard_normal(d), a @ a.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.7, 0.95])
def test_velocity_is_the_regression_of_the_cfm_target(t):
    """E[x1 - x0 | x_t] is affine in x_t for Gaussian x1: least squares of u = x1 - x0 on
    (1, x_t) over 400k float64 draws estimates it without the closed form."""
    rng = np.random.default_rng(0)
    d, m = 3, 400_000
    mu, sigma = _gaussian(d, rng)
    x1 = rng.multivariate_normal(mu, sigma, size=m)
    x0 = rng.standard_normal((m, d))
    xt = (1 - t) * x0 + t * x1
    design = np.hstack([np.ones((m, 1)), xt])
    coef, *_ = np.linalg.lstsq(design, x1 - x0, rcond=None)
    queries = rng.standard_normal((5, d)) + t * mu
    mc = np.hstack([np.ones((5, 1)), queries]) @ coef
    s, u = np.linalg.eigh(sigma)
    v = gaussian_velocity(
        torch.from_numpy(queries), t, torch.from_numpy(mu), torch.from_numpy(u), torch.from_numpy(s)
    ).numpy()
    assert np.abs(v - mc).max() < 0.05, (v, mc)  # MC error ~0.01; a wrong form is off by O(1)


def test_closed_form_limits_and_rank_deficient_classes():
    rng = np.random.default_rng(1)
    d = 6
    data = rng.standard_normal((12, d))  # 2 classes of 6 rows in 6 dims: rank 5 each
    labels = np.repeat([3, 7], 6)
    null = GaussianVelocity(data, labels, conditional=True)
    x = torch.from_numpy(rng.standard_normal((4, d))).float()
    y = torch.tensor([3, 7, 7, 3])
    means = np.stack([data[labels == c].mean(0) for c in (3, 7)])
    want = torch.from_numpy(means[[0, 1, 1, 0]]).float() - x  # t = 0: mu_y - x
    assert torch.allclose(null(x, 0.0, y), want, atol=1e-5)
    v = null(x, 0.98, y)
    assert torch.isfinite(v).all() and v.dtype == x.dtype
    # the one-step prediction is the posterior mean mu + t Sigma C_t^-1 (x - t mu) (solve, no
    # eigendecomposition)
    t, g = 0.4, data[labels == 7]
    mu = g.mean(0)
    sig = (g - mu).T @ (g - mu) / len(g)
    c = t * t * sig + (1 - t) ** 2 * np.eye(d)
    xx = x[1].double().numpy()
    post = mu + t * sig @ np.linalg.solve(c, xx - t * mu)
    got = x1_hat(x[1:2].double(), t, null(x[1:2].double(), t, torch.tensor([7])))[0].numpy()
    assert np.allclose(got, post, atol=1e-10)
    with pytest.raises(ValueError, match="not in data"):
        null(x, 0.5, torch.tensor([0, 3, 3, 3]))
    with pytest.raises(ValueError, match="needs class labels"):
        null(x, 0.5, None)
    # unconditional: one Gaussian over all rows, labels ignored
    flat = GaussianVelocity(data, conditional=False)
    assert torch.allclose(flat(x, 0.0, None), torch.from_numpy(data.mean(0)).float() - x, atol=1e-5)
