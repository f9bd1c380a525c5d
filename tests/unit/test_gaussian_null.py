"""The stage-free control (navref.gaussian_null): its closed-form velocity against a float64
Monte Carlo regression of the CFM target on x_t (one Gaussian, and class means with a
shared covariance), the streamed pooled statistics against numpy float64, a rank-deficient
covariance, and the file of rule gaussian_control."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.gaussian_null import (
    GaussianControl,
    GaussianVelocity,
    ScatterAccumulator,
    array_chunks,
    fit_gaussian,
    gaussian_velocity,
)
from navref.io import ArtefactError
from navref.path import x1_hat


def _gaussian(d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.standard_normal((d, d))
    return rng.standard_normal(d), a @ a.T / d + 0.1 * np.eye(d)


def _mc_velocity(x1, x0, t, queries, extra=None):
    """Least squares of u = x1 - x0 on (1, x_t[, extra]) over the draws, at ``queries``."""
    m = len(x1)
    xt = (1 - t) * x0 + t * x1
    cols = [np.ones((m, 1)), xt] + ([extra] if extra is not None else [])
    coef, *_ = np.linalg.lstsq(np.hstack(cols), x1 - x0, rcond=None)
    return coef


@pytest.mark.parametrize("t", [0.0, 0.3, 0.7, 0.95])
def test_velocity_is_the_regression_of_the_cfm_target(t):
    """E[x1 - x0 | x_t] is affine in x_t for Gaussian x1: least squares of u = x1 - x0 on
    (1, x_t) over 400k float64 draws estimates it without the closed form."""
    rng = np.random.default_rng(0)
    d, m = 3, 400_000
    mu, sigma = _gaussian(d, rng)
    x1 = rng.multivariate_normal(mu, sigma, size=m)
    x0 = rng.standard_normal((m, d))
    coef = _mc_velocity(x1, x0, t, None)
    queries = rng.standard_normal((5, d)) + t * mu
    mc = np.hstack([np.ones((5, 1)), queries]) @ coef
    s, u = np.linalg.eigh(sigma)
    v = gaussian_velocity(
        torch.from_numpy(queries), t, torch.from_numpy(mu), torch.from_numpy(u), torch.from_numpy(s)
    ).numpy()
    assert np.abs(v - mc).max() < 0.05, (v, mc)  # MC error ~0.01; a wrong form is off by O(1)


@pytest.mark.parametrize("t", [0.2, 0.8])
def test_class_means_with_shared_covariance_is_the_conditional_regression(t):
    """With class means and one shared covariance, E[x1 - x0 | x_t, y] is affine in (x_t,
    one-hot y): least squares over 3 classes x 200k float64 draws, against the velocity with
    the row's class mean (gaussian_velocity with a (B, D) mean)."""
    rng = np.random.default_rng(2)
    d, m, c = 3, 600_000, 3
    _, sigma = _gaussian(d, rng)
    mus = 2.0 * rng.standard_normal((c, d))
    y = rng.integers(0, c, size=m)
    x1 = mus[y] + rng.multivariate_normal(np.zeros(d), sigma, size=m)
    x0 = rng.standard_normal((m, d))
    onehot = np.eye(c)[y][:, 1:]  # class 0 in the intercept
    coef = _mc_velocity(x1, x0, t, None, extra=onehot)
    qy = np.array([0, 1, 2, 2, 1])
    queries = rng.standard_normal((5, d)) + t * mus[qy]
    mc = np.hstack([np.ones((5, 1)), queries, np.eye(c)[qy][:, 1:]]) @ coef
    s, u = np.linalg.eigh(sigma)
    v = gaussian_velocity(
        torch.from_numpy(queries), t, torch.from_numpy(mus[qy]), torch.from_numpy(u),
        torch.from_numpy(s),
    ).numpy()  # fmt: skip
    assert np.abs(v - mc).max() < 0.05, (v, mc)


def _pooled_np(data: np.ndarray, labels: np.ndarray):
    """Classes, means and the pooled within-class ML covariance via np.cov, float64."""
    classes = np.unique(labels)
    means = np.stack([data[labels == k].mean(0) for k in classes])
    n = len(data)
    cov = sum(
        np.cov(data[labels == k], rowvar=False, bias=True) * (labels == k).sum() for k in classes
    )
    return classes, means, cov / n


@pytest.mark.parametrize("chunk_rows", [7, 50, 1000])
def test_streamed_pooled_statistics_equal_numpy_float64(chunk_rows, tmp_path):
    rng = np.random.default_rng(3)
    n, d = 333, 9
    labels = rng.choice([0, 2, 5, 6], size=n)  # a label not used (1, 3, 4): no class
    data = (rng.standard_normal((n, d)) * 0.3 + 40.0 + labels[:, None]).astype(np.float32)
    control = fit_gaussian(array_chunks(data, labels, chunk_rows))
    classes, means, cov = _pooled_np(data.astype(np.float64), labels)
    assert control.classes.tolist() == classes.tolist()
    assert control.counts.tolist() == [(labels == k).sum() for k in classes]
    np.testing.assert_allclose(control.means.numpy(), means, rtol=0, atol=1e-12)
    # a common mean of 40 with spread 0.3: the shift keeps X^T X free of its cancellation
    np.testing.assert_allclose(control.covariance().numpy(), cov, rtol=0, atol=1e-12)
    assert control.eigvecs.dtype == torch.float64 and control.n == n and control.dim == d
    # the scatter itself: sum_y (sum x x^T - n_y mu_y mu_y^T), any chunking, vs at once
    acc = ScatterAccumulator()
    acc.update(data, labels)
    *_, scatter = acc.result()
    np.testing.assert_allclose(scatter.numpy(), cov * n, rtol=0, atol=1e-10)
    # from a read-only memmap (the latents as stored): the same numbers
    np.save(tmp_path / "d.npy", data)
    mm = np.load(tmp_path / "d.npy", mmap_mode="r")
    again = fit_gaussian(array_chunks(mm, labels, chunk_rows))
    assert torch.equal(again.means, control.means) and torch.equal(again.eigvals, control.eigvals)
    # unconditional: the overall mean and covariance
    flat = fit_gaussian(array_chunks(data, labels, chunk_rows), conditional=False)
    assert flat.classes.tolist() == [0] and not flat.conditional
    np.testing.assert_allclose(flat.means[0].numpy(), data.astype(np.float64).mean(0), atol=1e-12)
    want = np.cov(data.astype(np.float64), rowvar=False, bias=True)
    np.testing.assert_allclose(flat.covariance().numpy(), want, rtol=0, atol=1e-12)


def test_closed_form_limits_and_rank_deficient_pooled_covariance():
    rng = np.random.default_rng(1)
    d = 12
    data = rng.standard_normal((10, d))  # 2 classes of 5 rows in 12 dims: pooled rank 8
    labels = np.repeat([3, 7], 5)
    null = GaussianVelocity.fit(data, labels, conditional=True, chunk_rows=3)
    assert int((null.control.eigvals > 1e-10).sum()) == 8
    x = torch.from_numpy(rng.standard_normal((4, d))).float()
    y = torch.tensor([3, 7, 7, 3])
    means = np.stack([data[labels == c].mean(0) for c in (3, 7)])
    want = torch.from_numpy(means[[0, 1, 1, 0]]).float() - x  # t = 0: mu_y - x
    assert torch.allclose(null(x, 0.0, y), want, atol=1e-5)
    v = null(x, 0.98, y)
    assert torch.isfinite(v).all() and v.dtype == x.dtype and v.shape == x.shape
    # the one-step prediction is the posterior mean mu_y + t Sigma_w C_t^-1 (x - t mu_y)
    # (solve, no eigendecomposition), with the pooled covariance for every class
    _, _, sig = _pooled_np(data, labels)
    for t in (0.4, 0.9):
        c = t * t * sig + (1 - t) ** 2 * np.eye(d)
        for row, cls, mu in ((1, 7, means[1]), (0, 3, means[0])):
            xx = x[row].double().numpy()
            post = mu + t * sig @ np.linalg.solve(c, xx - t * mu)
            got = x1_hat(x[row : row + 1].double(), t, null(x[row : row + 1].double(), t,
                         torch.tensor([cls])))[0].numpy()  # fmt: skip
            assert np.allclose(got, post, atol=1e-10), (t, cls)
    # a batch of mixed classes gives each row what it gives alone
    both = null(x.double(), 0.6, y)
    for i in range(4):
        assert torch.allclose(both[i : i + 1], null(x[i : i + 1].double(), 0.6, y[i : i + 1]))
    with pytest.raises(ValueError, match="not in data"):
        null(x, 0.5, torch.tensor([0, 3, 3, 3]))
    with pytest.raises(ValueError, match="needs class labels"):
        null(x, 0.5, None)
    # unconditional: one Gaussian over all rows, labels ignored
    flat = GaussianVelocity.fit(data, conditional=False)
    assert torch.allclose(flat(x, 0.0, None), torch.from_numpy(data.mean(0)).float() - x, atol=1e-5)


def test_control_file_round_trip_and_damage(tmp_path):
    rng = np.random.default_rng(4)
    data = rng.standard_normal((40, 5)).astype(np.float32)
    labels = rng.integers(0, 3, size=40)
    control = fit_gaussian(array_chunks(data, labels, 16))
    path, meta = tmp_path / "c.safetensors", tmp_path / "c.json"
    control.save(path, meta)
    back = GaussianControl.load(path)
    for k in ("classes", "counts", "means", "eigvecs", "eigvals"):
        assert torch.equal(getattr(back, k), getattr(control, k)), k
    assert back.conditional
    import json

    info = json.loads(meta.read_text())
    assert (info["n"], info["dim"], info["num_classes"]) == (40, 5, 3)
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.equal(GaussianVelocity(back)(x, 0.5, y), GaussianVelocity(control)(x, 0.5, y))
    # a thin control (fewer rows than dimensions: D x n eigenvectors) round-trips too
    small = fit_gaussian(array_chunks(data[:4], labels[:4], 16))
    small.save(tmp_path / "s.safetensors")
    assert GaussianControl.load(tmp_path / "s.safetensors").eigvecs.shape == (5, 4)
    # cut short / missing: named, with the rule to rerun
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtefactError, match="gaussian_control"):
        GaussianControl.load(path)
    with pytest.raises(ArtefactError, match="does not exist"):
        GaussianControl.load(tmp_path / "none.safetensors")


def test_thin_svd_of_few_rows_equals_the_full_eigendecomposition():
    """n <= D rows (the miniatures): the thin SVD of the centred rows (D x n eigenvectors,
    eigenvalue 0 elsewhere) gives the Gaussian and velocity of the full D x D eigh."""
    rng = np.random.default_rng(5)
    n, d = 30, 64
    data = rng.standard_normal((n, d)) + 3.0
    labels = rng.integers(0, 4, size=n)
    thin = fit_gaussian(array_chunks(data, labels, 7))  # keep_rows default D: rows kept
    full = fit_gaussian(array_chunks(data, labels, 7), keep_rows=0)  # X^T X from the start
    assert thin.eigvecs.shape == (d, n) and full.eigvecs.shape == (d, d)
    _, _, cov = _pooled_np(data, labels)
    for c in (thin, full):
        np.testing.assert_allclose(c.covariance().numpy(), cov, rtol=0, atol=1e-12)
    x, y = torch.from_numpy(rng.standard_normal((8, d))), torch.from_numpy(labels[:8])
    for t in (0.0, 0.3, 0.9):
        a, b = GaussianVelocity(thin)(x, t, y), GaussianVelocity(full)(x, t, y)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    # crossing keep_rows while streaming: the kept rows go into X^T X
    mid = fit_gaussian(array_chunks(data, labels, 7), keep_rows=10)
    assert mid.eigvecs.shape == (d, d)
    np.testing.assert_allclose(mid.covariance().numpy(), cov, rtol=0, atol=1e-12)
