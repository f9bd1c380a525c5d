"""navref.metrics.bootstrap: paired resampling and FID replicates vs scipy / torch-fidelity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from navref.metrics.bootstrap import bootstrap_indices, fid_replicates, sqrt_psd


def _fid_scipy(x: np.ndarray, mu_ref: np.ndarray, sigma_ref: np.ndarray) -> float:
    """Reference FID (float64, scipy's Schur sqrtm, as torch-fidelity computes it)."""
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    covmean = linalg.sqrtm(sigma @ sigma_ref).real
    diff = mu - mu_ref
    return float(diff @ diff + np.trace(sigma) + np.trace(sigma_ref) - 2 * np.trace(covmean))


def _data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(4 * d + 50, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    x = 0.3 + rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) / np.sqrt(d)
    return x, ref.mean(0), np.cov(ref, rowvar=False)


def test_indices_are_a_function_of_n_b_seed_only():
    a = bootstrap_indices(50, 7, seed=3)
    assert a.shape == (7, 50) and a.dtype == np.int64
    assert a.min() >= 0 and a.max() < 50
    np.testing.assert_array_equal(a, bootstrap_indices(50, 7, seed=3))
    assert not np.array_equal(a, bootstrap_indices(50, 7, seed=4))
    assert bootstrap_indices(50, 0, seed=3).shape == (0, 50)
    with pytest.raises(ValueError, match="at least 2 samples"):
        bootstrap_indices(1, 5, seed=0)


@pytest.mark.parametrize("n, d", [(40, 16), (12, 16)])  # N > d (d x d) and N < d (Gram)
def test_replicates_match_scipy_fid_of_the_resampled_features(n, d):
    x, mu_ref, sigma_ref = _data(n, d)
    idx = bootstrap_indices(n, 5, seed=1)
    got = fid_replicates(x.astype(np.float32), mu_ref, sigma_ref, idx)
    want = [_fid_scipy(x.astype(np.float32).astype(np.float64)[r], mu_ref, sigma_ref) for r in idx]
    # with N < d the product S_s S_r is singular and scipy's sqrtm is accurate to ~1e-8 only
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert len(set(np.round(got, 8))) == 5  # replicates differ


def test_identity_resample_is_torch_fidelitys_fid():
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    x, mu_ref, sigma_ref = _data(60, 24, seed=2)
    stats = {"mu": x.mean(0), "sigma": np.cov(x, rowvar=False)}
    fid = fid_statistics_to_metric(stats, {"mu": mu_ref, "sigma": sigma_ref}, False)
    got = fid_replicates(x, mu_ref, sigma_ref, np.arange(60)[None])
    assert got[0] == pytest.approx(fid["frechet_inception_distance"], rel=1e-9)


def test_sqrt_psd_squares_back():
    _, _, sigma = _data(5, 10, seed=3)
    root = sqrt_psd(sigma)
    np.testing.assert_allclose(root @ root, sigma, atol=1e-10)
    np.testing.assert_allclose(root, root.T)


def test_bad_shapes_are_refused():
    x, mu_ref, sigma_ref = _data(10, 4)
    with pytest.raises(ValueError, match="features"):
        fid_replicates(x, mu_ref[:3], sigma_ref, bootstrap_indices(10, 2, 0))
    with pytest.raises(ValueError, match="outside"):
        fid_replicates(x, mu_ref, sigma_ref, np.full((1, 10), 10))
