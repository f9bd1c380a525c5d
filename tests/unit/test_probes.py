"""Tests for navref.probes: loss curves, intermediate predictions, mixed sampling, unseen data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from navref.oracle import oracle_velocity
from navref.path import x_t
from navref.probes import (
    intermediate_predictions,
    loss_curves,
    mixed_sampling,
    model_free_controls,
    unseen_resume,
)
from navref.sampling import ModelVelocity, OracleVelocity, make_noise, uniform_grid

SHAPE = (2, 3, 3)
D = 18


def ref_oracle_velocity(x, t, data, data_labels, labels):
    """Independent float64 brute-force class-conditional oracle velocity."""
    x = x.double().reshape(x.shape[0], -1)
    data = torch.as_tensor(data).double().reshape(len(data), -1)
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        rows = data[torch.as_tensor(data_labels) == int(labels[b])]
        w = torch.softmax(-((x[b] - t * rows) ** 2).sum(1) / (2 * (1 - t) ** 2), 0)
        out[b] = (w @ rows - x[b]) / (1 - t)
    return out


class OracleModel(nn.Module):
    """A 'trained model' that IS the class-conditional oracle of its data."""

    def __init__(self, data, data_labels):
        super().__init__()
        self.data, self.data_labels = data, data_labels

    def forward(self, x, t, y):
        return oracle_velocity(x, float(t[0]), self.data, data_labels=self.data_labels, labels=y)


class GaussianModel(nn.Module):
    """Exact velocity for data x1 ~ N(0, I): E[x1 | x_t] = t x_t / ((1 - t)^2 + t^2). It never
    memorizes (it knows only the distribution, not the training set)."""

    def forward(self, x, t, y):
        t = t.double()[:, None, None, None]
        x1_hat = t * x / ((1 - t) ** 2 + t**2)
        return ((x1_hat - x) / (1 - t)).to(x.dtype)


@pytest.fixture(scope="module")
def toy():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(24, *SHAPE, generator=g)
    labels = torch.arange(24) % 3
    return data, labels


def test_loss_curves_oracle_model_has_zero_oracle_loss_and_cfm_equals_gap(toy):
    data, labels = toy
    flat = data.reshape(24, -1)
    model = OracleModel(flat, labels)
    ts = [0.0, 0.2, 0.5, 0.9]
    df = loss_curves(
        model, data, labels, 3, ts, num_samples=40, seed=3, batch_size=16, include_gap=True
    )
    assert list(df.columns) == ["t", "loss_kind", "mean", "std", "n", "ci_low", "ci_high"]
    assert set(df["loss_kind"]) == {"cfm", "oracle", "gap"} and len(df) == 12
    assert (df["n"] == 40).all()
    orc = df[df.loss_kind == "oracle"]
    assert orc["mean"].abs().max() < 1e-8
    # independent reference for the CFM loss: same draws, float64 brute-force oracle
    idx = np.random.default_rng(3).integers(0, 24, size=40)
    x0 = make_noise((40, *SHAPE), seed=3).double()
    x1 = data[idx].double()
    for t in ts:
        xt = (1 - t) * x0 + t * x1
        vs = ref_oracle_velocity(xt, t, flat, labels, labels[idx])
        gap = ((x1 - x0).reshape(40, -1) - vs).pow(2).mean(1).numpy()
        row = df[(df.t == t) & (df.loss_kind == "cfm")].iloc[0]
        assert row["mean"] == pytest.approx(gap.mean(), rel=1e-4)
        assert row["std"] == pytest.approx(gap.std(ddof=1), rel=1e-3)
        half = 1.959964 * row["std"] / np.sqrt(40)
        assert row["ci_low"] == pytest.approx(row["mean"] - half, rel=1e-6)
        assert row["ci_high"] == pytest.approx(row["mean"] + half, rel=1e-6)
        grow = df[(df.t == t) & (df.loss_kind == "gap")].iloc[0]
        assert grow["mean"] == pytest.approx(gap.mean(), rel=1e-4)
    # at t = 0 the oracle is mean(x1 | y) - x0, so the gap equals the within-class variance
    assert df[(df.t == 0.0) & (df.loss_kind == "cfm")]["mean"].iloc[0] > 0.3


def test_loss_curves_zero_model_gives_target_energy(toy):
    data, labels = toy
    zero = lambda x, t, y: torch.zeros_like(x)  # noqa: E731
    df = loss_curves(
        zero, data.numpy(), labels.numpy(), 3, [0.3], num_samples=25, seed=1, batch_size=7
    )
    idx = np.random.default_rng(1).integers(0, 24, size=25)
    u = data[idx].double() - make_noise((25, *SHAPE), seed=1).double()
    ref = u.reshape(25, -1).pow(2).mean(1)
    assert df[df.loss_kind == "cfm"]["mean"].iloc[0] == pytest.approx(ref.mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        loss_curves(zero, data, labels, 3, [1.0], num_samples=2, seed=0)


def test_intermediate_predictions(toy):
    data, labels = toy
    prov = OracleVelocity(data.reshape(24, -1), labels)
    y = torch.tensor([0, 1, 2, 2])
    noise = make_noise((4, *SHAPE), seed=2)
    res = intermediate_predictions(prov, uniform_grid(20), noise, y, [0.0, 0.5, 0.95, 1.0])
    assert res.predictions.shape == (4, 4, *SHAPE)
    assert list(res.table.columns) == ["t", "mse", "rel_l2", "rel_l2_std", "n"]
    # the one-step prediction at t = 0 is the class mean of the training data (Fig. 4)
    class_means = torch.stack([data[labels == c].mean(0) for c in range(3)])
    torch.testing.assert_close(res.predictions[0], class_means[y], rtol=1e-4, atol=1e-5)
    tab = res.table.set_index("t")
    assert tab.loc[1.0, "mse"] == 0.0 and tab.loc[0.95, "rel_l2"] < 1e-3
    assert tab.loc[0.0, "rel_l2"] > tab.loc[0.5, "rel_l2"]
    # independent check of the table values at t = 0
    f = res.final.reshape(4, -1).double()
    d = class_means[y].reshape(4, -1).double() - f
    assert tab.loc[0.0, "mse"] == pytest.approx(d.pow(2).mean().item(), rel=1e-4)
    rel = (d.norm(dim=1) / f.norm(dim=1)).mean().item()
    assert tab.loc[0.0, "rel_l2"] == pytest.approx(rel, rel=1e-4)


def test_mixed_sampling_memorizes_late_and_generalizes_early(toy):
    data, labels = toy
    flat = data.reshape(24, -1)
    oracle = OracleVelocity(flat, labels)
    model = ModelVelocity(GaussianModel(), 3, "cond")
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    noise = make_noise((8, *SHAPE), seed=11)
    res = mixed_sampling(oracle, model, 1.0, 25, noise, y, flat, labels)
    s = res.summary.iloc[0]
    assert s["memorization_share"] == 1.0 and s["match_share"] == 1.0
    assert s["nn_same_class_share"] == 1.0 and s["mean_top1_weight"] > 0.99
    assert s["handover_t"] == pytest.approx(24 / 25) and s["mean_nn1_dist"] < 1e-3
    assert res.per_sample["matched"].all() and len(res.per_sample) == 8

    res0 = mixed_sampling(oracle, model, 0.0, 25, noise, y, flat, labels).summary.iloc[0]
    assert res0["memorization_share"] == 0.0 and np.isnan(res0["match_share"])
    assert res0["mean_top1_weight"] == pytest.approx(1 / 8)  # uniform over the 8 class samples
    assert res0["mean_nn1_dist"] > 1.0

    # an off-grid tau is inserted into the grid; handover happens exactly there
    mid = mixed_sampling(oracle, model, 0.33, 10, noise, y, flat, labels)
    assert mid.summary["handover_t"].iloc[0] == pytest.approx(0.33)
    assert mid.summary["steps"].iloc[0] == 11
    with pytest.raises(ValueError, match="tau"):
        mixed_sampling(oracle, model, 1.5, 10, noise, y, flat, labels)


def test_unseen_resume_stays_near_source_late(toy):
    data, labels = toy
    flat = data.reshape(24, -1)
    model = ModelVelocity(GaussianModel(), 3, "cond")
    g = torch.Generator().manual_seed(5)
    val = torch.randn(6, *SHAPE, generator=g)
    val_y = torch.tensor([0, 1, 2, 0, 1, 2])
    late = unseen_resume(model, 0.96, 50, val, val_y, seed=0, train_data=flat)
    s = late.summary.iloc[0]
    assert s["steps"] == 2 and s["closer_to_source_share"] == 1.0
    assert s["mean_rel_dist_to_source"] < 0.1 and s["memorization_share"] == 0.0
    early = unseen_resume(model, 0.0, 50, val, val_y, seed=0, train_data=flat).summary.iloc[0]
    assert early["mean_rel_dist_to_source"] > 0.5 and early["steps"] == 50
    one = unseen_resume(model, 1.0, 50, val, val_y, seed=0, train_data=flat)
    assert one.summary["mean_dist_to_source"].iloc[0] == 0.0
    torch.testing.assert_close(one.samples, val)
    # independent check of the reported distances
    d = (late.samples.double() - val.double()).reshape(6, -1).norm(dim=1).numpy()
    np.testing.assert_allclose(late.per_sample["dist_to_source"], d, rtol=1e-9)
    nn = torch.cdist(late.samples.reshape(6, -1).double(), flat.double()).min(1).values.numpy()
    np.testing.assert_allclose(late.per_sample["nn1_dist"], nn, rtol=1e-9)


def _brute_memorized(q, train, thr=1 / 3):
    """Independent brute force: NN1/NN2 distance ratio < thr (rows distinct)."""
    d = torch.cdist(q.reshape(len(q), -1).double(), train.reshape(len(train), -1).double())
    two = d.topk(2, largest=False).values
    return (two[:, 0] / two[:, 1] < thr).numpy()


def test_model_free_controls_state_and_straight_line(toy):
    data, _ = toy
    flat = data.reshape(24, -1)
    x0 = make_noise((6, D), seed=3)
    x1 = flat[[0, 5, 7, 11, 13, 20]]
    t = 0.3
    state = x_t(x0, x1, t)  # on the straight line from its own noise
    c = model_free_controls(state, x0, t, flat)
    # the line's extrapolation lands on x1 exactly: all memorized; the state: brute force
    assert c["extrapolation_memorization_share"] == 1.0
    assert c["state_memorization_share"] == pytest.approx(_brute_memorized(state, flat).mean())
    # off the line the extrapolation is x_t + (1 - t)(x_t - x0)/t, checked by brute force
    bent = state + 0.5 * make_noise((6, D), seed=4)
    want = bent + (1 - t) * (bent - x0) / t
    c = model_free_controls(bent, x0, t, flat)
    assert c["extrapolation_memorization_share"] == pytest.approx(
        _brute_memorized(want, flat).mean()
    )
    assert np.isnan(model_free_controls(x0, x0, 0.0, flat)["extrapolation_memorization_share"])


def test_mixed_sampling_reports_controls_and_threshold_shares(toy):
    data, labels = toy
    flat = data.reshape(24, -1)
    oracle = OracleVelocity(flat, labels)
    model = ModelVelocity(GaussianModel(), 3, "cond")
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    noise = make_noise((8, *SHAPE), seed=11)
    res = mixed_sampling(oracle, model, 0.6, 25, noise, y, flat, labels)
    s, r = res.summary.iloc[0], res.per_sample["ratio"].to_numpy()
    for key, thr in [("q25", 0.25), ("q33", 1 / 3), ("q50", 0.5)]:
        assert s[f"memorization_share_{key}"] == pytest.approx((r < thr).mean())
    assert s["memorization_share_q33"] == s["memorization_share"]
    for key in ("state_memorization_share", "extrapolation_memorization_share"):
        assert 0.0 <= s[key] <= 1.0


def test_unseen_resume_source_memorized(toy):
    data, _ = toy
    flat = data.reshape(24, -1)
    model = ModelVelocity(GaussianModel(), 3, "cond")
    val = data[:4] + 0.01  # near training rows 0-3
    y = torch.tensor([0, 1, 2, 0])
    one = unseen_resume(model, 1.0, 50, val, y, seed=0, train_data=flat)
    # the result is its source: within 1/3 of any training image's distance
    assert one.summary["source_memorization_share"].iloc[0] == 1.0
    # a source given elsewhere (far away) is never the memorized one
    far = unseen_resume(model, 1.0, 50, val, y, seed=0, train_data=flat, source=val + 100.0)
    assert far.summary["source_memorization_share"].iloc[0] == 0.0
    assert far.summary["closer_to_source_share"].iloc[0] == 0.0
    late = unseen_resume(model, 0.9, 50, val, y, seed=0, train_data=flat)
    p = late.per_sample
    want = p["dist_to_source"] < p["nn1_dist"] / 3
    assert late.summary["source_memorization_share"].iloc[0] == pytest.approx(want.mean())


def test_loss_curves_of_a_trainable_model_need_no_grad(toy):
    """A real module (parameters that require grad) is evaluated without autograd."""
    data, labels = toy
    scale = torch.nn.Parameter(torch.tensor(0.5))

    def model(x, t, y):
        return scale * x

    df = loss_curves(model, data.numpy(), labels.numpy(), 3, [0.3], num_samples=5, seed=0)
    assert np.isfinite(df["mean"]).all() and len(df) == 2


def test_mixed_sampling_counts_a_duplicated_item_as_one_mode(toy):
    """Training items stored twice or three times: the handover top-1 weight is the summed
    weight of the copies (one mode: ~1 near t = 1, not 1/2 or 1/3), its index the item's
    first row, while the oracle (trajectory, velocity) is that of the data as stored."""
    data, labels = toy
    copies = [0, 1, 1, 5]  # row 1 (class 1) stored three times
    stored = torch.cat([data, data[copies]]).reshape(28, -1)
    stored_labels = torch.cat([labels, labels[copies]])
    oracle = OracleVelocity(stored, stored_labels)
    model = ModelVelocity(GaussianModel(), 3, "cond")
    # noise heading for the duplicated rows: the oracle lands on them near t = 1
    x = (
        0.05 * make_noise((8, *SHAPE), seed=11).reshape(8, -1)
        + 0.95 * stored[[0, 1, 5, 3, 4, 2, 0, 1]]
    )
    y = stored_labels[[0, 1, 5, 3, 4, 2, 0, 1]]
    plain = oracle.stats(x, 0.95, y)
    modes = oracle.stats(x, 0.95, y, count_modes=True)
    torch.testing.assert_close(modes.velocity, plain.velocity, rtol=1e-4, atol=1e-4)
    assert (modes.top1_weight > 0.99).all()
    dup = torch.tensor([True, True, True, False, False, False, True, True])
    assert (plain.top1_weight[dup] < 0.51).all()  # split over the copies without modes
    assert modes.top1_index.tolist() == [0, 1, 5, 3, 4, 2, 0, 1]  # first rows
    # t = 0: the prior over the class's items, c_i / N_class (class 1: row 1 three times
    # among 10 rows; class 2: row 5 twice among 9)
    t0 = oracle.stats(torch.zeros(2, D), 0.0, torch.tensor([1, 2]), count_modes=True)
    torch.testing.assert_close(t0.top1_weight, torch.tensor([3 / 10, 2 / 9]))
    # the probe: oracle up to t = 1 from noise, handover statistics counting modes
    noise = make_noise((8, *SHAPE), seed=11)
    res = mixed_sampling(oracle, model, 1.0, 25, noise, y, stored, stored_labels)
    per = res.per_sample
    assert res.summary["mean_top1_weight"].iloc[0] > 0.99
    assert (per["handover_top1_index"] < 24).all() and per["matched"].all()
    # as without the copies
    base = mixed_sampling(OracleVelocity(data.reshape(24, -1), labels), model, 1.0, 25, noise, y,
                          data.reshape(24, -1), labels)  # fmt: skip
    assert base.summary["mean_top1_weight"].iloc[0] > 0.99
