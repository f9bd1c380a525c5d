"""Tests of the streaming oracle engine against an independent float64 brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from navref.oracle import (
    OracleResult,
    default_chunk_size,
    oracle_posterior,
    oracle_velocity,
    posterior_mean,
)


def brute_force(x, t, data, data_labels=None, labels=None, row_counts=None):
    """Straightforward float64 oracle: softmax over all N of -||x - t x1||^2 / (2 (1-t)^2)
    computed from explicit differences (not the matmul expansion the engine uses); with
    ``row_counts``, weights proportional to c_i times those."""
    x = torch.as_tensor(x).double().reshape(len(x), -1)
    d = torch.as_tensor(np.asarray(data)).double().reshape(len(data), -1)
    tt = torch.as_tensor(t, dtype=torch.float64).expand(x.shape[0]).clone()
    diff = x[:, None, :] - tt[:, None, None] * d[None, :, :]
    logits = -(diff**2).sum(-1) / (2 * (1 - tt[:, None]) ** 2)
    if row_counts is not None:
        logits = logits + torch.log(torch.as_tensor(row_counts, dtype=torch.float64))[None, :]
    if labels is not None:
        dl = torch.as_tensor(np.asarray(data_labels))
        ql = torch.as_tensor(np.asarray(labels))
        logits = logits.masked_fill(dl[None, :] != ql[:, None], -math.inf)
    g = torch.softmax(logits, dim=1)
    mean = g @ d
    v = (mean - x) / (1 - tt[:, None])
    plogp = torch.where(g > 0, g * torch.log(g), torch.zeros_like(g))
    return {
        "velocity": v,
        "mean": mean,
        "top1_weight": g.max(1).values,
        "top1_index": g.argmax(1),
        "top2_weight": g.topk(2, dim=1).values[:, -1] if g.shape[1] > 1 else g[:, 0] * 0,
        "entropy": -plogp.sum(1),
        "ess": 1 / (g**2).sum(1),
    }


def close(a, b, atol, rtol=0.0):
    a = a.double().reshape(b.shape)
    assert torch.allclose(a, b, atol=atol, rtol=rtol), (a - b).abs().max().item()


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(600, 6, generator=g)
    # queries on the path, from data points, plus a few off-path points
    x1 = data[torch.randint(0, 600, (24,), generator=g)]
    x0 = torch.randn(24, 6, generator=g)
    labels = torch.arange(600) % 5
    return data, x1, x0, labels


@pytest.mark.parametrize("t", [0.0, 0.2, 0.5, 0.8, 0.95, 0.999])
@pytest.mark.parametrize("conditional", [False, True])
def test_velocity_matches_brute_force(toy, t, conditional):
    data, x1, x0, labels = toy
    x = (1 - t) * x0 + t * x1
    kw = {}
    q = None
    if conditional:
        q = torch.arange(24) % 5
        kw = {"data_labels": labels, "labels": q}
    ref = brute_force(x, t, data, labels if conditional else None, q)
    v = oracle_velocity(x, t, data, chunk_size=97, **kw)
    assert v.shape == x.shape and v.dtype == x.dtype
    # float32 engine vs float64 reference: logit errors ~ 6e-8 * t|x||x1|/(1-t)^2
    close(v, ref["velocity"], atol=2e-4, rtol=2e-4)
    m = posterior_mean(x, t, data, chunk_size=97, **kw)
    close(m, ref["mean"], atol=1e-4, rtol=1e-4)


def test_float64_is_tight(toy):
    data, x1, x0, _ = toy
    for t in (0.3, 0.9, 0.999):
        x = ((1 - t) * x0 + t * x1).double()
        ref = brute_force(x, t, data)
        v = oracle_velocity(x, t, data.double(), chunk_size=50)
        assert v.dtype == torch.float64
        close(v, ref["velocity"], atol=1e-9, rtol=1e-9)


def test_near_one_off_path_float32_vs_float64():
    """t close to 1 with queries between two data points (split posterior): the float32
    engine must stay finite and close to float64, the float64 path must be exact."""
    g = torch.Generator().manual_seed(1)
    data = torch.randn(200, 4, generator=g)
    t = 0.999
    # midpoints of pairs of (scaled) data points: posterior split over the two
    x = t * 0.5 * (data[:10] + data[10:20]) + 1e-4 * torch.randn(10, 4, generator=g)
    ref = brute_force(x, t, data)
    v32 = oracle_velocity(x, t, data)
    v64 = oracle_velocity(x.double(), t, data.double())
    assert torch.isfinite(v32).all()
    close(v64, ref["velocity"], atol=1e-7, rtol=1e-9)
    # weights are extremely sensitive here (logit scale 1e6); float32 gets them to ~1e-2
    err = (v32.double() - ref["velocity"]).abs().max() / ref["velocity"].abs().max()
    assert err < 0.05, err


def test_per_query_t(toy):
    data, x1, x0, labels = toy
    t = torch.linspace(0, 0.999, 24)
    x = (1 - t[:, None]) * x0 + t[:, None] * x1
    ref = brute_force(x, t, data)
    close(oracle_velocity(x, t, data, chunk_size=64), ref["velocity"], atol=2e-4, rtol=2e-4)
    q = torch.arange(24) % 5
    ref = brute_force(x, t, data, labels, q)
    v = oracle_velocity(x, t.numpy(), data, data_labels=labels, labels=q, chunk_size=64)
    close(v, ref["velocity"], atol=2e-4, rtol=2e-4)


def test_t_zero_is_mean_minus_x(toy):
    data, _, x0, labels = toy
    mean = data.double().mean(0)
    v = oracle_velocity(x0, 0.0, data, chunk_size=128)
    close(v, mean[None] - x0.double(), atol=1e-6)
    q = torch.arange(24) % 5
    v = oracle_velocity(x0, 0.0, data, data_labels=labels, labels=q)
    cls_mean = torch.stack([data[labels == c].double().mean(0) for c in range(5)])
    close(v, cls_mean[q] - x0.double(), atol=1e-6)


def test_single_sample():
    x1 = torch.randn(1, 3, 4)
    x = torch.randn(5, 3, 4)
    for t in (0.0, 0.5, 0.99, 1 - 1e-6):
        v = oracle_velocity(x, t, x1)
        assert v.shape == (5, 3, 4)
        close(v, (x1.double() - x.double()) / (1 - t), atol=1e-5, rtol=1e-5)


def test_gaussian_closed_form():
    """Data x1 ~ N(mu, s^2 I), N large: the oracle approaches the closed-form marginal
    velocity v = (E[x1|x_t] - x) / (1 - t), E[x1|x_t] = mu + t s^2 (x - t mu) / (t^2 s^2 +
    (1-t)^2). Deviation is Monte Carlo error ~ sqrt(posterior var / ess) / (1 - t)."""
    rng = np.random.default_rng(3)
    n, dim, s = 200_000, 2, 0.7
    mu = np.array([1.0, -2.0])
    data = (mu + s * rng.standard_normal((n, dim))).astype(np.float32)
    for t in (0.3, 0.6):
        x0 = rng.standard_normal((64, dim))
        x1 = mu + s * rng.standard_normal((64, dim))
        x = (1 - t) * x0 + t * x1
        post = mu + t * s**2 / (t**2 * s**2 + (1 - t) ** 2) * (x - t * mu)
        v_true = (post - x) / (1 - t)
        res = oracle_posterior(torch.tensor(x, dtype=torch.float32), t, data)
        post_var = s**2 * (1 - t) ** 2 / (t**2 * s**2 + (1 - t) ** 2)
        se = np.sqrt(post_var / res.ess.double().numpy())[:, None] / (1 - t)
        err = np.abs(res.velocity.double().numpy() - v_true)
        assert np.all(err < 6 * se + 1e-4), (err / se).max()
        assert err.mean() < 0.02


def test_chunk_size_and_permutation_invariance(toy):
    data, x1, x0, labels = toy
    t = 0.7
    x = (1 - t) * x0 + t * x1
    base = oracle_posterior(x, t, data, chunk_size=600)
    for c in (1, 7, 256, 10_000):
        r = oracle_posterior(x, t, data, chunk_size=c)
        close(r.velocity, base.velocity.double(), atol=1e-5, rtol=1e-5)
        assert torch.equal(r.top1_index, base.top1_index)
    perm = torch.randperm(600, generator=torch.Generator().manual_seed(5))
    r = oracle_posterior(x, t, data[perm], chunk_size=64)
    close(r.velocity, base.velocity.double(), atol=1e-5, rtol=1e-5)
    assert torch.equal(perm[r.top1_index], base.top1_index)
    q = torch.arange(24) % 5
    rc = oracle_posterior(x, t, data, data_labels=labels, labels=q, chunk_size=13)
    rp = oracle_posterior(x, t, data[perm], data_labels=labels[perm], labels=q, chunk_size=64)
    close(rp.velocity, rc.velocity.double(), atol=1e-5, rtol=1e-5)
    assert torch.equal(perm[rp.top1_index], rc.top1_index)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.6, 0.9, 0.999])
@pytest.mark.parametrize("layout", ["uncond", "cond_interleaved", "cond_sorted"])
def test_posterior_stats_match_brute_force(toy, t, layout):
    data, x1, x0, labels = toy
    x = (1 - t) * x0 + t * x1
    kw, dl, q = {}, None, None
    if layout != "uncond":
        q = torch.arange(24) % 5
        if layout == "cond_sorted":
            order = torch.argsort(labels, stable=True)
            data, labels = data[order], labels[order]
        dl = labels
        kw = {"data_labels": dl, "labels": q}
    ref = brute_force(x, t, data, dl, q)
    r = oracle_posterior(x, t, data, chunk_size=37, **kw)
    assert isinstance(r, OracleResult)
    close(r.velocity, ref["velocity"], atol=2e-4, rtol=2e-4)
    close(r.mean, ref["mean"], atol=1e-4, rtol=1e-4)
    close(r.top1_weight, ref["top1_weight"], atol=1e-4)
    clear = ref["top1_weight"] - ref["top2_weight"] > 1e-3  # argmax not a near-tie
    if t > 0:
        assert torch.equal(r.top1_index[clear], ref["top1_index"][clear])
    close(r.entropy, ref["entropy"], atol=1e-4, rtol=1e-4)
    close(r.ess, ref["ess"], atol=1e-4, rtol=1e-4)
    if t == 0:
        n = 600 if layout == "uncond" else 120
        close(r.top1_weight, torch.full((24,), 1 / n, dtype=torch.float64), atol=1e-7)
        close(r.entropy, torch.full((24,), math.log(n), dtype=torch.float64), atol=1e-5)
        close(r.ess, torch.full((24,), float(n), dtype=torch.float64), atol=1e-3)
    if layout != "uncond":
        assert torch.equal(dl[r.top1_index], q)


def test_memmap_and_numpy_equal_tensor(tmp_path, toy):
    data, x1, x0, labels = toy
    path = tmp_path / "data.npy"
    np.save(path, data.numpy().reshape(600, 2, 3))
    mm = np.load(path, mmap_mode="r")
    x = (0.4 * x0 + 0.6 * x1).reshape(24, 2, 3)
    a = oracle_posterior(x, 0.6, data, chunk_size=100)
    b = oracle_posterior(x, 0.6, mm, chunk_size=100)
    assert torch.allclose(a.velocity, b.velocity, atol=1e-6)
    assert torch.equal(a.top1_index, b.top1_index)
    q = np.arange(24) % 5
    a = oracle_velocity(x, 0.6, data, data_labels=labels, labels=q, chunk_size=30)
    b = oracle_velocity(x, 0.6, mm, data_labels=labels.numpy(), labels=q, chunk_size=30)
    assert torch.allclose(a, b, atol=1e-6)
    # float64 numpy input and float16 storage (upcast per chunk)
    c = oracle_velocity(x, 0.6, np.asarray(mm, dtype=np.float64), chunk_size=100)
    assert torch.allclose(c, oracle_velocity(x, 0.6, data), atol=1e-5)
    half = data.half()
    d16 = oracle_velocity(x, 0.6, half, chunk_size=100)
    # the same values in float32 through the same (chunked streaming) path
    d32 = oracle_velocity(x, 0.6, half.float().numpy(), chunk_size=100)
    assert torch.allclose(d16, d32, atol=1e-6)
    assert torch.allclose(oracle_velocity(x, 0.6, half.numpy()), d32, atol=1e-5)


def test_large_dim_finite():
    g = torch.Generator().manual_seed(2)
    data = torch.randn(40, 16384, generator=g)
    x0 = torch.randn(3, 16384, generator=g)
    for t in (0.0, 0.5, 0.99, 1 - 1e-6):
        x = (1 - t) * x0 + t * data[:3]
        r = oracle_posterior(x, t, data, chunk_size=16)
        for f in (r.velocity, r.mean, r.top1_weight, r.entropy, r.ess):
            assert torch.isfinite(f).all()
        if t > 0:
            assert torch.equal(r.top1_index, torch.arange(3))
            # one-hot posterior: v* = (x1 - x) / (1 - t) for the float32 x actually passed
            ref = (data[:3].double() - x.double()) / (1 - t)
            close(r.velocity, ref, atol=1e-5 * ref.abs().max().item(), rtol=1e-5)


def test_errors(toy):
    data, x1, x0, labels = toy
    for bad_t in (1.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="t must lie in"):
            oracle_velocity(x0, bad_t, data)
    with pytest.raises(ValueError, match="t must lie in"):
        oracle_velocity(x0, torch.full((24,), 0.5).index_fill(0, torch.tensor([3]), 1.0), data)
    with pytest.raises(ValueError, match="shape"):
        oracle_velocity(x0, torch.rand(5), data)
    with pytest.raises(ValueError, match="features"):
        oracle_velocity(x0, 0.5, data[:, :5])
    with pytest.raises(ValueError, match="floating"):
        oracle_velocity(x0, 0.5, data.long())
    with pytest.raises(ValueError, match="both"):
        oracle_velocity(x0, 0.5, data, labels=torch.zeros(24, dtype=torch.long))
    with pytest.raises(ValueError, match="empty class"):
        oracle_velocity(x0, 0.5, data, data_labels=labels, labels=torch.full((24,), 7))
    with pytest.raises(ValueError, match="data_labels must have shape"):
        oracle_velocity(x0, 0.5, data, data_labels=labels[:10], labels=labels[:24])
    bad = data.clone()
    bad[457, 2] = float("nan")
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x0, 0.5, bad, chunk_size=100)
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x0, 0.0, bad.numpy(), data_labels=labels, labels=labels[:24] * 0 + 2)
    bad[457, 2] = float("inf")
    with pytest.raises(ValueError, match="row 457"):
        oracle_posterior(x0, 0.5, bad, chunk_size=64)
    xn = x0.clone()
    xn[0, 0] = float("nan")
    with pytest.raises(ValueError, match="x contains NaN"):
        oracle_velocity(xn, 0.5, data)
    with pytest.raises(ValueError, match="torch.Tensor"):
        oracle_velocity(x0.numpy(), 0.5, data)
    with pytest.raises(ValueError, match="chunk_size"):
        oracle_velocity(x0, 0.5, data, chunk_size=0)


@pytest.mark.parametrize("t", [0.0, 0.3, 0.8, 0.999])
def test_single_chunk_softmax_path(toy, monkeypatch, t):
    """When the data (of a class) fit in one chunk and only the velocity is asked, the
    engine takes one fused softmax instead of the online one; both must agree with the
    float64 brute force, for one t and per-query t, conditional and not."""
    import navref.oracle as oracle

    data, x1, x0, labels = toy
    x = (1 - t) * x0 + t * x1
    calls = []
    real = oracle._single_chunk_mean
    monkeypatch.setattr(oracle, "_single_chunk_mean", lambda *a: calls.append(1) or real(*a))
    q = torch.arange(24) % 5
    tv = torch.linspace(0, t, 24)
    xv = (1 - tv[:, None]) * x0 + tv[:, None] * x1
    cases = [
        (x, t, {}, brute_force(x, t, data)),
        (x, t, {"data_labels": labels, "labels": q}, brute_force(x, t, data, labels, q)),
        (xv, tv, {}, brute_force(xv, tv, data)),
    ]
    for xq, tq, kw, ref in cases:
        n = len(calls)
        single = oracle_velocity(xq, tq, data, **kw)
        assert len(calls) > n
        chunked = oracle_velocity(xq, tq, data, chunk_size=37, **kw)
        close(single, ref["velocity"], atol=2e-4, rtol=2e-4)
        close(single, chunked.double(), atol=2e-4, rtol=2e-4)
        close(oracle_velocity(xq.double(), tq, data.double(), **kw), ref["velocity"], 1e-9, 1e-9)
    n = len(calls)
    oracle_posterior(x, t, data)  # statistics need the online pass
    oracle_velocity(x, t, data, chunk_size=599)
    assert len(calls) == n
    bad = data.clone()
    bad[457, 2] = float("nan")
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x, t, bad)
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x, t, bad, data_labels=labels, labels=q * 0 + 2)


@pytest.mark.parametrize("deferred", [False, True])
def test_accelerator_code_paths_on_cpu(toy, monkeypatch, deferred):
    """The CUDA branches (deferred NaN check, full argmax per chunk) run here on CPU."""
    import navref.oracle as oracle

    monkeypatch.setattr(oracle, "_syncs_are_costly", lambda device: deferred)
    data, x1, x0, labels = toy
    x = 0.3 * x0 + 0.7 * x1
    q = torch.arange(24) % 5
    ref = brute_force(x, 0.7, data, labels, q)
    r = oracle_posterior(x, 0.7, data, data_labels=labels, labels=q, chunk_size=11)
    close(r.velocity, ref["velocity"], atol=2e-4, rtol=2e-4)
    assert torch.equal(r.top1_index, ref["top1_index"])
    bad = data.clone()
    bad[457, 2] = float("nan")
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x, 0.5, bad, chunk_size=100)
    with pytest.raises(ValueError, match="row 457"):
        oracle_velocity(x, 0.5, bad, data_labels=labels, labels=q * 0 + 2, chunk_size=7)


def test_default_chunk_size():
    assert default_chunk_size(64, 256) * 256 <= (1 << 22)
    assert default_chunk_size(16384, 256) >= 256
    assert default_chunk_size(4096, 1) * 4096 <= (1 << 23)
    empty = oracle_velocity(torch.zeros(0, 6), 0.5, torch.randn(10, 6))
    assert empty.shape == (0, 6)


@pytest.mark.parametrize("single_chunk", [True, False])
def test_results_equal_inside_bf16_autocast(toy, single_chunk):
    """A caller's bf16 autocast region must not reach the oracle's matrix products."""
    data, x1, x0, labels = toy
    x = 0.3 * x0 + 0.7 * x1
    chunk = None if single_chunk else 64
    plain = oracle_posterior(x, 0.7, data, data_labels=labels, labels=labels[:24], chunk_size=chunk)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.mm(x, x.T).dtype == torch.bfloat16  # autocast is really on here
        auto = oracle_posterior(
            x, 0.7, data, data_labels=labels, labels=labels[:24], chunk_size=chunk
        )
        velocity = oracle_velocity(x, 0.7, data, chunk_size=chunk)
        mean = posterior_mean(x, 0.7, data, chunk_size=chunk)
    for field in ("velocity", "mean", "top1_weight", "top1_index", "entropy", "ess"):
        assert torch.equal(getattr(plain, field), getattr(auto, field)), field
    assert torch.equal(velocity, oracle_velocity(x, 0.7, data, chunk_size=chunk))
    assert torch.equal(mean, posterior_mean(x, 0.7, data, chunk_size=chunk))


# ------------------------------------------------------------------ row multiplicities


@pytest.fixture(scope="module")
def dup_toy(toy):
    """150 distinct rows with counts 1-4, and the same data with the copies stored (in a
    shuffled order); class labels of the distinct rows and of the stored rows."""
    data, x1, x0, labels = toy
    g = torch.Generator().manual_seed(3)
    base, base_labels = data[:150], labels[:150]
    counts = torch.randint(1, 5, (150,), generator=g)
    src = torch.repeat_interleave(torch.arange(150), counts)
    src = src[torch.randperm(src.numel(), generator=g)]
    # queries on the path towards distinct rows, some of them duplicated
    x1q = base[torch.randint(0, 150, (24,), generator=g)]
    return base, base_labels, counts, data[:150][src], base_labels[src], src, x1q, x0


@pytest.mark.parametrize("t", [0.0, 0.3, 0.8, 0.95])
@pytest.mark.parametrize("layout", ["uncond", "cond_interleaved", "cond_sorted"])
@pytest.mark.parametrize("chunk_size", [None, 17])  # one fused softmax / streamed
def test_row_counts_equal_duplicated_data(dup_toy, t, layout, chunk_size):
    """Deduplicated rows with their counts give the velocity and posterior mean of the data
    stored with its duplicates (float32 rounding), in both engine paths and per class."""
    base, base_labels, counts, dup, dup_labels, _, x1q, x0 = dup_toy
    x = (1 - t) * x0 + t * x1q
    kw_b, kw_d = {}, {}
    if layout != "uncond":
        q = torch.arange(24) % 5
        if layout == "cond_sorted":  # class rows contiguous: sliced, not gathered
            order = torch.argsort(base_labels, stable=True)
            base, base_labels, counts = base[order], base_labels[order], counts[order]
        kw_b = {"data_labels": base_labels, "labels": q}
        kw_d = {"data_labels": dup_labels, "labels": q}
    ref = brute_force(x, t, dup, kw_d.get("data_labels"), kw_d.get("labels"))
    ref_c = brute_force(x, t, base, kw_b.get("data_labels"), kw_b.get("labels"), row_counts=counts)
    close(ref_c["velocity"], ref["velocity"], atol=1e-9, rtol=1e-9)  # the reference itself
    v_dup = oracle_velocity(x, t, dup, chunk_size=chunk_size, **kw_d)
    for tq in (t, torch.full((24,), t)):  # scalar and per-query t
        v = oracle_velocity(x, tq, base, chunk_size=chunk_size, row_counts=counts, **kw_b)
        m = posterior_mean(x, tq, base, chunk_size=chunk_size, row_counts=counts, **kw_b)
        close(v, ref["velocity"], atol=2e-4, rtol=2e-4)
        close(m, ref["mean"], atol=1e-4, rtol=1e-4)
        close(v, v_dup.double(), atol=2e-4, rtol=2e-4)
    r = oracle_posterior(x, t, base, chunk_size=chunk_size, row_counts=counts.numpy(), **kw_b)
    close(r.velocity, ref["velocity"], atol=2e-4, rtol=2e-4)
    close(r.mean, ref["mean"], atol=1e-4, rtol=1e-4)
    v64 = oracle_velocity(
        x.double(), t, base.double(), chunk_size=chunk_size, row_counts=counts, **kw_b
    )
    close(v64, ref["velocity"], atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("t", [0.0, 0.5, 0.8, 0.95])
@pytest.mark.parametrize("conditional", [False, True])
def test_row_counts_statistics_count_modes(dup_toy, t, conditional):
    """With counts, the top-1 weight is the summed weight of the copies of the heaviest
    distinct row in the brute force over the duplicated data; entropy and effective sample
    size are those of the weights summed per distinct row."""
    base, base_labels, counts, dup, dup_labels, src, x1q, x0 = dup_toy
    x = (1 - t) * x0 + t * x1q
    kw_b, kw_d, q = {}, {}, None
    if conditional:
        q = torch.arange(24) % 5
        kw_b = {"data_labels": base_labels, "labels": q}
        kw_d = {"data_labels": dup_labels, "labels": q}
    # brute-force weights over the stored rows (duplicates included), summed per distinct row
    g_dup = torch.softmax(_brute_logits(x, t, dup, kw_d.get("data_labels"), q), dim=1)
    modes = torch.zeros(24, 150, dtype=torch.float64).index_add_(1, src, g_dup)
    r = oracle_posterior(x, t, base, chunk_size=17, row_counts=counts, **kw_b)
    close(r.top1_weight, modes.max(1).values, atol=1e-4)
    top2 = modes.topk(2, dim=1).values
    clear = top2[:, 0] - top2[:, 1] > 1e-3  # argmax not a near-tie
    if t > 0:
        assert torch.equal(r.top1_index[clear], modes.argmax(1)[clear])
    plogp = torch.where(modes > 0, modes * torch.log(modes), torch.zeros_like(modes))
    close(r.entropy, -plogp.sum(1), atol=1e-4, rtol=1e-4)
    close(r.ess, 1 / (modes**2).sum(1), atol=1e-4, rtol=1e-4)
    ref_c = brute_force(x, t, base, kw_b.get("data_labels"), q, row_counts=counts)
    close(r.top1_weight, ref_c["top1_weight"], atol=1e-4)
    r_dup = oracle_posterior(x, t, dup, chunk_size=17, **kw_d)
    if t == 0 and not conditional:  # the prior over modes: the normalised counts
        w = counts.double()
        close(r.top1_weight, (w.max() / w.sum()).expand(24), atol=1e-7)
    if t == 0.95 and not conditional:  # near the data: one mode takes all, split evenly
        # over its stored copies (class-conditional queries head to other classes' rows)
        assert (r.top1_weight > 0.99).all()
        close(r_dup.top1_weight * counts[r.top1_index], r.top1_weight.double(), atol=1e-3)


def _brute_logits(x, t, data, data_labels=None, labels=None):
    """The float64 logits of :func:`brute_force` (masked to the query's class)."""
    x = torch.as_tensor(x).double().reshape(len(x), -1)
    d = torch.as_tensor(np.asarray(data)).double().reshape(len(data), -1)
    tt = torch.as_tensor(t, dtype=torch.float64).expand(x.shape[0]).clone()
    logits = -((x[:, None, :] - tt[:, None, None] * d[None]) ** 2).sum(-1)
    logits = logits / (2 * (1 - tt[:, None]) ** 2)
    if labels is not None:
        dl = torch.as_tensor(np.asarray(data_labels))
        logits = logits.masked_fill(dl[None, :] != torch.as_tensor(labels)[:, None], -math.inf)
    return logits


def test_row_counts_float_and_ones(toy):
    """Float multiplicities weight the rows; all-ones counts equal no counts."""
    data, x1, x0, _ = toy
    x = 0.4 * x0 + 0.6 * x1
    c = torch.rand(600, generator=torch.Generator().manual_seed(4)) * 3 + 0.1
    ref = brute_force(x, 0.6, data, row_counts=c)
    r = oracle_posterior(x, 0.6, data, chunk_size=64, row_counts=c)
    close(r.velocity, ref["velocity"], atol=2e-4, rtol=2e-4)
    close(r.top1_weight, ref["top1_weight"], atol=1e-4)
    close(r.ess, ref["ess"], atol=1e-4, rtol=1e-4)
    close(oracle_velocity(x, 0.6, data, row_counts=c), ref["velocity"], atol=2e-4, rtol=2e-4)
    ones = np.ones(600, dtype=np.int64)
    assert torch.equal(
        oracle_velocity(x, 0.6, data, row_counts=ones), oracle_velocity(x, 0.6, data)
    )


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        (np.ones(599), r"shape \(N,\) = \(600,\)"),
        (np.ones((600, 1)), r"shape \(N,\)"),
        (np.zeros(600), "positive count"),
        (np.r_[np.ones(599), -1.0], r"non-negative and finite.*rows \[599\]"),
        (np.r_[np.ones(599), np.nan], "non-negative and finite"),
        (np.r_[np.ones(599), np.inf], "non-negative and finite"),
        (np.ones(600, dtype=bool), "integers or floats"),
        (np.array(["1"] * 600), "integers or floats"),
    ],
)
def test_row_counts_errors(toy, counts, match):
    data, x1, x0, labels = toy
    x = 0.5 * x0 + 0.5 * x1
    q = torch.arange(24) % 5
    for fn in (oracle_velocity, posterior_mean, oracle_posterior):
        with pytest.raises(ValueError, match=match):
            fn(x, 0.5, data, row_counts=counts)
        with pytest.raises(ValueError, match=match):
            fn(
                x,
                0.5,
                data,
                data_labels=labels,
                labels=q,
                row_counts=torch.as_tensor(counts) if counts.dtype.kind != "U" else counts,
            )


@pytest.mark.parametrize("chunk_size", [None, 64])
def test_zero_counts_are_the_rows_dropped(toy, chunk_size):
    """A row of count 0 has weight exactly 0: the same posterior as without the row (float64
    brute force on the kept rows), top-1 index a kept row; a queried class whose rows all have
    count 0 is refused."""
    data, x1, x0, labels = toy
    x = (0.4 * x0 + 0.6 * x1).double()
    counts = np.ones(600)
    counts[::3] = 0.0
    kept = np.nonzero(counts)[0]
    ref = brute_force(x, 0.6, data[kept])
    r = oracle_posterior(x, 0.6, data, chunk_size=chunk_size, row_counts=counts)
    close(r.velocity, ref["velocity"], atol=1e-9)
    close(r.ess, ref["ess"], atol=1e-9, rtol=1e-9)
    assert torch.equal(r.top1_index, torch.from_numpy(kept)[ref["top1_index"]])
    v = oracle_velocity(x, 0.6, data, chunk_size=chunk_size, row_counts=counts)
    close(v, ref["velocity"], atol=1e-9)
    q = torch.arange(24) % 5
    dead = np.where(labels.numpy() == 3, 0.0, 1.0)
    with pytest.raises(ValueError, match="a queried class"):
        oracle_velocity(x, 0.6, data, data_labels=labels, labels=q, row_counts=dead)
