"""navref.path against float64 closed forms written out element by element."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navref.path import cfm_target, x1_hat, x_t


def _draws(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, x1, v = (rng.standard_normal((3, 2, 4, 4)) for _ in range(3))
    t = np.array([0.0, 0.37, 1.0])
    return x0, x1, v, t


def test_x_t_and_target_match_closed_forms_per_element():
    x0, x1, v, t = _draws()
    ref_xt = np.empty_like(x0)
    for b, tb in enumerate(t):  # x_t = (1 - t) x0 + t x1, sample by sample
        ref_xt[b] = (1.0 - tb) * x0[b] + tb * x1[b]
    tt = torch.from_numpy(t).view(-1, 1, 1, 1)  # (B, 1, 1, 1) broadcasts over (C, H, W)
    got = x_t(torch.from_numpy(x0), torch.from_numpy(x1), tt)
    np.testing.assert_allclose(got.numpy(), ref_xt, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(got[0].numpy(), x0[0])  # t = 0: noise
    np.testing.assert_array_equal(got[2].numpy(), x1[2])  # t = 1: data
    u = cfm_target(torch.from_numpy(x0), torch.from_numpy(x1))
    np.testing.assert_array_equal(u.numpy(), x1 - x0)


def test_x1_hat_is_one_euler_step_to_t_equals_1():
    x0, x1, v, t = _draws(1)
    tt = torch.from_numpy(t).view(-1, 1, 1, 1)
    xt = x_t(torch.from_numpy(x0), torch.from_numpy(x1), tt)
    got = x1_hat(xt, tt, torch.from_numpy(v))
    ref = np.stack([xt[b].numpy() + (1.0 - tb) * v[b] for b, tb in enumerate(t)])
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-15)
    # with the exact CFM velocity, the one-step prediction recovers the data
    exact = x1_hat(xt, tt, cfm_target(torch.from_numpy(x0), torch.from_numpy(x1)))
    np.testing.assert_allclose(exact.numpy(), x1, rtol=0, atol=1e-14)


@pytest.mark.parametrize("t", [0.25, 0.8])
def test_python_float_time_equals_tensor_time(t):
    x0, x1, v, _ = _draws(2)
    a, b = torch.from_numpy(x0), torch.from_numpy(x1)
    tt = torch.full((3, 1, 1, 1), t, dtype=torch.float64)
    assert torch.equal(x_t(a, b, t), x_t(a, b, tt))
    assert torch.equal(x1_hat(a, t, b), x1_hat(a, tt, b))
