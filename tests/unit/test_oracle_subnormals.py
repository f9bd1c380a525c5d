"""The oracle engine meets no subnormal float on realistic queries (no CPU slow path).

Queries on the path x_t = (1 - t) x0 + t x1 for training points x1 give the far-away rows
posterior weights far below 2^-126 of the top weight; before weights below 2^-60 were set to
zero, those weights and their products with the data were subnormal floats, which Intel
CPUs process 17-72x slower (issue 27). These tests count subnormals operation by operation
(``navref.subnormals.SubnormalScan``), so they hold or fail the same on every CPU; the
results are checked against a float64 brute force in tests/unit/test_oracle.py.
"""

from __future__ import annotations

import math

import pytest
import torch

from navref.oracle import WEIGHT_LOG2_FLOOR, oracle_posterior, oracle_velocity
from navref.subnormals import SubnormalScan, count_subnormal

TIMES = (0.2, 0.4, 0.6, 0.8)


@pytest.fixture(scope="module")
def gaussian_data():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(3000, 256, generator=g)
    x1 = data[torch.randint(0, 3000, (64,), generator=g)]
    x0 = torch.randn(64, 256, generator=g)
    labels = torch.arange(3000) % 4
    return data, x0, x1, labels


def _calls(data, labels):
    """Every path through the engine: streamed and single-chunk velocity, statistics,
    class-conditional with contiguous and gathered rows, float64."""
    order = torch.argsort(labels, stable=True)
    sorted_data, sorted_labels = data[order], labels[order]
    return {
        "velocity, streamed": lambda x, t, q: oracle_velocity(x, t, data, chunk_size=512),
        "velocity, one chunk": lambda x, t, q: oracle_velocity(x[:16], t, data[:1000]),
        "posterior statistics": lambda x, t, q: oracle_posterior(x, t, data, chunk_size=512),
        "class-conditional, gathered rows": lambda x, t, q: oracle_posterior(
            x, t, data, data_labels=labels, labels=q, chunk_size=256
        ),
        "class-conditional, contiguous rows": lambda x, t, q: oracle_velocity(
            x, t, sorted_data, data_labels=sorted_labels, labels=q
        ),
        "float64": lambda x, t, q: oracle_posterior(x.double(), t, data, chunk_size=512),
    }


@pytest.mark.parametrize("t", TIMES)
def test_no_operation_meets_a_subnormal_on_path_queries(gaussian_data, t):
    data, x0, x1, labels = gaussian_data
    x = (1 - t) * x0 + t * x1
    q = labels[:64]
    for name, call in _calls(data, labels).items():
        with SubnormalScan() as scan:
            call(x, t, q)
        assert scan.total() == 0, f"{name} at t = {t}: {scan.summary()}"


def test_random_queries_and_a_jump_of_the_running_maximum(gaussian_data):
    """Random queries, and data whose first chunks lie far from the queries so that the
    running maximum jumps by far more than 2^60 (the old sums' rescale factor)."""
    data, x0, x1, _ = gaussian_data
    far_first = torch.cat([data[:1024] + 50.0, data[1024:]])
    with SubnormalScan() as scan:
        oracle_posterior(x0, 0.3, data, chunk_size=512)
        oracle_posterior(0.5 * x0 + 0.5 * x1, 0.5, far_first, chunk_size=512)
    assert scan.total() == 0, scan.summary()


def test_weights_below_the_floor_are_exactly_zero():
    """Two rows at log2-ratios -(floor - 1) and -(floor + 1) of the top row: the first keeps
    its weight 2^-(floor - 1), the second contributes exactly nothing (float64 check)."""
    t = 0.5
    # at x = 0 the logits are l_i = -t^2 ||x1_i||^2 / (2 (1 - t)^2) = -||x1_i||^2 / 2 (t = 0.5):
    # ||x1_i||^2 = 2 gap_i puts row i at natural-log ratio -gap_i to the top row
    ln2 = math.log(2.0)
    gaps = [0.0, (WEIGHT_LOG2_FLOOR - 1) * ln2, (WEIGHT_LOG2_FLOOR + 1) * ln2]
    data = torch.zeros(3, 2, dtype=torch.float64)
    data[:, 0] = torch.tensor([math.sqrt(2.0 * g) for g in gaps], dtype=torch.float64)
    x = torch.zeros(1, 2, dtype=torch.float64)
    res = oracle_posterior(x, t, data)
    kept = 2.0 ** -(WEIGHT_LOG2_FLOOR - 1)
    den = 1.0 + kept
    expected_mean = (data[1, 0] * kept) / den
    assert float(res.mean[0, 0]) == pytest.approx(float(expected_mean), rel=1e-12, abs=0.0)
    assert float(res.top1_weight[0]) == pytest.approx(1.0 / den, rel=1e-15, abs=0.0)
    assert float(res.ess[0]) == pytest.approx(den**2 / (1.0 + kept**2), rel=1e-15, abs=0.0)


def test_the_scan_finds_subnormals_where_there_are_some():
    """The scan can fail: a softmax over logits 100 apart gives subnormal float32 weights,
    and a product of two small normals is flagged."""
    logits = torch.tensor([[0.0, -95.0, -100.0]])
    with SubnormalScan() as scan:
        torch.softmax(logits, dim=1)
    assert scan.outputs and scan.total() >= 2
    tiny = torch.finfo(torch.float32).tiny
    with SubnormalScan() as scan:
        torch.full((2, 2), 1e-20) @ torch.full((2, 2), 1e-20)
    assert scan.products["mm"] == 1
    assert count_subnormal(torch.tensor([tiny, tiny / 2, 0.0, -tiny / 4])) == 2
