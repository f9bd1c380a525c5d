"""Tests for navref.sampling: Euler integration, providers, time grids, noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from navref.sampling import (
    ModelVelocity,
    OracleVelocity,
    Piecewise,
    grid_with_point,
    interval_grid,
    make_noise,
    sample,
    share_below,
    shifted_grid,
    stagewise_grid,
    switch_at,
    uniform_grid,
)


def ref_oracle_velocity(x, t, data, data_labels=None, labels=None):
    """Independent float64 brute-force oracle: v* = (sum_i gamma_i x1_i - x) / (1 - t)."""
    x = x.double().reshape(x.shape[0], -1)
    data = torch.as_tensor(np.asarray(data)).double()
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        rows = data
        if labels is not None:
            rows = data[torch.as_tensor(np.asarray(data_labels)) == int(labels[b])]
        logits = -((x[b] - t * rows) ** 2).sum(1) / (2 * (1 - t) ** 2)
        w = torch.softmax(logits, 0)
        out[b] = (w @ rows - x[b]) / (1 - t)
    return out


class FieldProvider:
    """v = c + a x + f(t); records the times it is called at."""

    def __init__(self, c=0.0, a=0.0, f=None):
        self.c, self.a, self.f, self.calls = c, a, f, []

    def __call__(self, x, t, y):
        assert isinstance(t, float)
        self.calls.append(t)
        v = self.c + self.a * x
        if self.f is not None:
            v = v + self.f(t)
        return v + 0 * x


class ToyModel(nn.Module):
    """v = a x + t b + emb[y]; class-dependent so CFG has an effect. Counts forward batch sizes."""

    def __init__(self, num_classes=3, shape=(2, 4, 4)):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.a = nn.Parameter(torch.tensor(-0.3))
        self.b = nn.Parameter(torch.randn(shape, generator=g))
        self.emb = nn.Parameter(torch.randn((num_classes + 1, *shape), generator=g))
        self.batches: list[tuple[int, float]] = []

    def forward(self, x, t, y):
        assert t.shape == (x.shape[0],) and t.dtype == torch.float32
        self.batches.append((x.shape[0], float(t[0])))
        return self.a * x + t[:, None, None, None] * self.b + self.emb[y]


# ----------------------------------------------------------------------------- integration


@pytest.mark.parametrize("grid", [uniform_grid(7), shifted_grid(9, 0.3), stagewise_grid(0.2, 3, 5)])
def test_constant_and_time_only_fields_are_exact(grid):
    x0 = make_noise((3, 5), seed=1).double()
    c = torch.linspace(-1, 1, 5, dtype=torch.float64)
    out = sample(FieldProvider(c=c), grid, x0, None)
    torch.testing.assert_close(out, x0 + c, rtol=0, atol=1e-12)
    # time-only field: Euler gives the left Riemann sum of f over the grid
    f = lambda t: math.sin(3 * t) + t**2  # noqa: E731
    out = sample(FieldProvider(f=f), grid, x0, None)
    g = grid.tolist()
    riemann = sum(f(g[k]) * (g[k + 1] - g[k]) for k in range(len(g) - 1))
    torch.testing.assert_close(out, x0 + riemann, rtol=0, atol=1e-12)


def test_linear_field_matches_product_formula():
    grid = shifted_grid(11, 0.5)
    x0 = make_noise((4, 3), seed=2).double()
    a = 0.7
    out = sample(FieldProvider(a=a), grid, x0, None)
    factor = np.prod([1 + a * d for d in np.diff(grid.numpy())])
    torch.testing.assert_close(out, x0 * factor, rtol=1e-12, atol=0)
    # and Euler converges to exp(a) as the grid refines
    fine = sample(FieldProvider(a=a), uniform_grid(4000), x0, None)
    torch.testing.assert_close(fine, x0 * math.exp(a), rtol=2e-4, atol=0)


def test_velocity_never_evaluated_at_last_grid_point():
    p = FieldProvider(c=1.0)
    grid = uniform_grid(5)
    sample(p, grid, torch.zeros(2, 3), None)
    assert p.calls == pytest.approx(grid[:-1].tolist())
    assert max(p.calls) < 1.0


def test_trajectory_records_states_and_one_step_predictions():
    a = -0.5
    grid = uniform_grid(10)
    x0 = make_noise((3, 4), seed=3).double()
    traj = sample(
        FieldProvider(a=a), grid, x0, None, record_at=[0.0, 0.3, 1.0], return_trajectory=True
    )
    assert traj.times == pytest.approx([0.0, 0.3, 1.0])
    factor_03 = (1 + a * 0.1) ** 3
    torch.testing.assert_close(traj.states[1], x0 * factor_03)
    torch.testing.assert_close(traj.predictions[1], x0 * factor_03 * (1 + 0.7 * a))
    torch.testing.assert_close(traj.predictions[0], x0 * (1 + a))  # x0 + 1 * v(x0, 0)
    torch.testing.assert_close(traj.predictions[2], traj.final)
    torch.testing.assert_close(traj.final, x0 * (1 + a * 0.1) ** 10)
    with pytest.raises(ValueError, match="not a grid point"):
        sample(FieldProvider(), grid, x0, None, record_at=[0.35], return_trajectory=True)


# ----------------------------------------------------------------------------- oracle


def test_oracle_velocity_provider_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(12, 8, generator=g)
    data_labels = torch.arange(12) % 3
    x = torch.randn(5, 2, 2, 2, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1])
    for t in (0.0, 0.3, 0.9):
        v = OracleVelocity(data, data_labels)(x, t, y)
        ref = ref_oracle_velocity(x, t, data, data_labels, y).reshape(x.shape)
        torch.testing.assert_close(v.double(), ref, rtol=1e-4, atol=1e-4)
    v = OracleVelocity(data, conditional=False)(x, 0.5, None)
    torch.testing.assert_close(
        v.double(), ref_oracle_velocity(x, 0.5, data).reshape(x.shape), rtol=1e-4, atol=1e-4
    )


def test_oracle_only_sampler_retrieves_a_training_sample_of_the_class():
    g = torch.Generator().manual_seed(1)
    n, d = 10, 32
    data = torch.randn(n, d, generator=g)
    data_labels = torch.arange(n) % 2
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    noise = make_noise((6, d), seed=5)
    out = sample(OracleVelocity(data, data_labels), uniform_grid(50), noise, y)
    dist = torch.cdist(out.double(), data.double())
    nn = dist.argmin(1)
    assert dist.min(1).values.max() < 1e-3  # ends on a training point (up to float32)
    assert torch.equal(data_labels[nn], y)  # ... of the requested class
    assert dist.topk(2, largest=False).values[:, 1].min() > 1.0


# ----------------------------------------------------------------------------- composition


def test_piecewise_switches_at_the_right_step():
    a, b, c = FieldProvider(c=1.0), FieldProvider(c=2.0), FieldProvider(c=3.0)
    grid = uniform_grid(10)
    out = sample(
        Piecewise([(0.0, a), (0.3, b), (0.7, c)]),
        grid,
        torch.zeros(1, 1, dtype=torch.float64),
        None,
    )
    assert a.calls == pytest.approx([0.0, 0.1, 0.2])
    assert b.calls == pytest.approx([0.3, 0.4, 0.5, 0.6])
    assert c.calls == pytest.approx([0.7, 0.8, 0.9])
    torch.testing.assert_close(
        out, torch.tensor([[0.3 * 1 + 0.4 * 2 + 0.3 * 3]], dtype=torch.float64)
    )

    first, second = FieldProvider(), FieldProvider()
    sample(switch_at(0.2, first, second), stagewise_grid(0.2, 4, 6), torch.zeros(1, 1), None)
    assert len(first.calls) == 4 and len(second.calls) == 6
    assert second.calls[0] == pytest.approx(0.2)
    assert switch_at(0.0, first, second) is second and switch_at(1.0, first, second) is first
    with pytest.raises(ValueError):
        Piecewise([(0.1, a)])
    with pytest.raises(ValueError):
        Piecewise([(0.0, a), (0.5, b), (0.5, c)])


def test_model_velocity_modes():
    model = ToyModel()
    x = make_noise((4, 2, 4, 4), seed=0)
    y = torch.tensor([0, 1, 2, 1])
    tv = torch.full((4,), 0.4)
    null = torch.full_like(y, 3)
    with torch.no_grad():
        v_c, v_u = model(x, tv, y), model(x, tv, null)
        torch.testing.assert_close(ModelVelocity(model, 3, "cond")(x, 0.4, y), v_c)
        torch.testing.assert_close(ModelVelocity(model, 3, "uncond")(x, 0.4, y), v_u)
        torch.testing.assert_close(ModelVelocity(model, 3, "uncond")(x, 0.4, None), v_u)
        cfg = ModelVelocity(model, 3, "cfg", cfg_scale=2.5)(x, 0.4, y)
        torch.testing.assert_close(cfg, v_u + 2.5 * (v_c - v_u))
    with pytest.raises(ValueError, match="mode"):
        ModelVelocity(model, 3, "guided")
    with pytest.raises(ValueError, match="labels"):
        ModelVelocity(model, 3, "cond")(x, 0.4, None)


def test_cfg_interval_guides_exactly_inside_closed_interval():
    model = ToyModel()
    grid = uniform_grid(10)
    x0 = make_noise((3, 2, 4, 4), seed=4)
    y = torch.tensor([0, 2, 1])
    prov = ModelVelocity(model, 3, "cfg", cfg_scale=3.0, cfg_interval=(0.2, 0.5))
    out = sample(prov, grid, x0, y)
    # one forward per step; double batch exactly at t in {0.2, 0.3, 0.4, 0.5}
    assert len(model.batches) == 10
    doubled = [t for bs, t in model.batches if bs == 6]
    assert doubled == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert all(bs == 3 for bs, t in model.batches if bs != 6)
    # reference: manual Euler with guidance on those steps only
    x = x0.clone()
    with torch.no_grad():
        for t0, t1 in zip(grid[:-1].tolist(), grid[1:].tolist(), strict=True):
            tv = torch.full((3,), t0)
            v = model(x, tv, y)
            if 0.2 - 1e-9 <= t0 <= 0.5 + 1e-9:
                v_u = model(x, tv, torch.full_like(y, 3))
                v = v_u + 3.0 * (v - v_u)
            x = x + (t1 - t0) * v
    torch.testing.assert_close(out, x)


# ----------------------------------------------------------------------------- grids


def test_grids():
    torch.testing.assert_close(
        uniform_grid(4), torch.tensor([0, 0.25, 0.5, 0.75, 1], dtype=torch.float64)
    )
    g = stagewise_grid(0.1, 25, 25)
    assert g.numel() == 51 and g[25].item() == 0.1 and g[0] == 0 and g[-1] == 1
    assert torch.all(g[1:] > g[:-1])
    np.testing.assert_allclose(np.diff(g[:26].numpy()), 0.1 / 25, rtol=1e-9)
    np.testing.assert_allclose(np.diff(g[25:].numpy()), 0.9 / 25, rtol=1e-9)
    assert share_below(g, 0.1) == 0.5
    for s in (0.1, 0.5, 1.0, 3.0):
        tn = np.arange(51) / 50
        np.testing.assert_allclose(
            shifted_grid(50, s).numpy(), s * tn / (1 + (s - 1) * tn), rtol=1e-12
        )
    assert shifted_grid(10, 0.3)[3] < uniform_grid(10)[3] < shifted_grid(10, 3.0)[3]
    torch.testing.assert_close(
        interval_grid(0.4, 1.0, 3), torch.tensor([0.4, 0.6, 0.8, 1.0], dtype=torch.float64)
    )
    gp = grid_with_point(uniform_grid(4), 0.3)
    assert gp.tolist() == pytest.approx([0, 0.25, 0.3, 0.5, 0.75, 1])
    assert grid_with_point(uniform_grid(5), 0.2).numel() == 6
    with pytest.raises(ValueError, match="increase"):
        sample(FieldProvider(), torch.tensor([0.0, 0.5, 0.5, 1.0]), torch.zeros(1, 1), None)


@pytest.mark.parametrize(
    ("s", "paper_pct"), [(4, 6), (2, 12), (1, 22), (0.7, 28), (0.5, 34), (0.3, 46), (0.1, 72)]
)
def test_share_below_reproduces_paper_table2(s, paper_pct):
    grid = shifted_grid(50, s)
    # The paper's shares are the 50 velocity evaluations t_m (not t_n) with t_m <= 0.2:
    # exact with the inclusive count; the strict count differs only for uniform (20 % vs 22 %).
    assert share_below(grid, 0.2, inclusive=True) * 100 == pytest.approx(paper_pct, abs=1e-9)
    assert abs(share_below(grid, 0.2) * 100 - paper_pct) <= 2 + 1e-9
    # the share of the *unshifted* t_n below 0.2 is always 20 %: not what the table reports
    assert share_below(uniform_grid(50), 0.2) == pytest.approx(0.2)


# ----------------------------------------------------------------------------- noise


def test_noise_and_samples_independent_of_batch_size():
    full = make_noise((10, 2, 4, 4), seed=7)
    part = make_noise((4, 2, 4, 4), seed=7, start_index=3)
    torch.testing.assert_close(full[3:7], part, rtol=0, atol=0)
    assert not torch.equal(make_noise((2, 3), seed=8), make_noise((2, 3), seed=7)[:2])
    assert full.std().item() == pytest.approx(1.0, abs=0.15)
    model = ToyModel()
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    prov = ModelVelocity(model, 3, "cfg", cfg_scale=2.0, cfg_interval=(0.1, 0.6))
    grid = uniform_grid(8)
    whole = sample(prov, grid, full, y)
    halves = torch.cat(
        [
            sample(prov, grid, make_noise((6, 2, 4, 4), seed=7), y[:6]),
            sample(prov, grid, make_noise((4, 2, 4, 4), seed=7, start_index=6), y[6:]),
        ]
    )
    torch.testing.assert_close(whole, halves, rtol=1e-6, atol=1e-6)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="labels"):
        sample(
            FieldProvider(), uniform_grid(2), torch.zeros(3, 2), torch.zeros(2, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="shape"):
        sample(lambda x, t, y: x[:1], uniform_grid(2), torch.zeros(3, 2), None)
    with pytest.raises(ValueError, match="data_labels"):
        OracleVelocity(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="cfg_interval"):
        ModelVelocity(ToyModel(), 3, "cfg", cfg_interval=(0.5, 0.2))
    with pytest.raises(ValueError, match="lie in"):
        sample(FieldProvider(), torch.tensor([0.0, 1.5]), torch.zeros(1, 1), None)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_dit_samples_do_not_depend_on_the_cpu_batch_size(precision):
    """The claim behind ``sweeps.batch_size`` being a speed choice only: a DiT's CFG samples
    (guided inside an interval, so forwards of B and 2B rows) are the same when the same
    noise is sampled in other chunks, in float32 and under bf16 autocast, with one thread.
    Bitwise where the CPU's matmul kernels do not depend on the row count (this project's
    AMD EPYC with torch 2.14.1, in both precisions; ``benchmarks/sampler_bench.py
    --scan-batches`` reports it); up to rounding elsewhere (fp32 differed by 2.4e-7 on an
    Intel host of an H200 with torch 2.11, bf16 was bitwise). The tolerances are far below
    what a misassigned noise row, label or guidance interval would give (order 1)."""
    from navref.models import DiTConfig, build_model
    from navref.precision import autocast

    torch.manual_seed(0)
    conf = DiTConfig(depth=2, hidden_size=64, num_heads=2, patch_size=2, input_size=8,
                     in_channels=4, num_classes=10)  # fmt: skip
    model = build_model(conf).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    prov = ModelVelocity(model, 10, "cfg", cfg_scale=2.5, cfg_interval=(0.2, 0.6))
    grid, n = uniform_grid(10), 70
    noise, y = make_noise((n, 4, 8, 8), seed=3), torch.arange(n) % 10

    def chunked(b: int) -> torch.Tensor:
        with torch.no_grad(), autocast("cpu", precision):
            return torch.cat([sample(prov, grid, noise[i : i + b], y[i : i + b])
                              for i in range(0, n, b)])  # fmt: skip

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the sampling jobs run on the CPU (one thread per job)
    try:
        whole = chunked(n)
        for b in (64, 32, 7):
            out = chunked(b)
            diff = (out - whole).abs().max().item()
            assert diff <= (1e-5 if precision == "fp32" else 5e-2), f"batch {b} vs {n}: {diff}"
    finally:
        torch.set_num_threads(threads)
