"""Tests of navref.sweeps.paired: the paired bootstrap of an FID difference against a
brute-force loop and on a constructed case with a known answer, and the choice of method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from navref.sweeps import paired


def _frame(values: np.ndarray, seeds, reps) -> pd.DataFrame:
    return pd.DataFrame(values, index=list(seeds), columns=list(reps))


def test_bootstrap_matches_brute_force():
    rng = np.random.default_rng(0)
    b_reps = 41  # quantiles 2.5 % / 97.5 % fall on order statistics 1 and 39 exactly
    rep_a = _frame(rng.normal(10, 1, (4, b_reps)), [0, 1, 2, 3], range(b_reps))
    rep_b = _frame(rng.normal(9, 1, (3, b_reps + 2)), [2, 0, 1], range(b_reps + 2))
    rep_a.loc[3] = np.nan  # seed 3 has no partner in b anyway
    point_a = pd.Series([10.2, 9.7, 10.4, 11.0], index=[0, 1, 2, 3])
    point_b = pd.Series([9.1, 8.8, 9.5], index=[0, 1, 2])

    d = []  # brute force: loop over replicates and shared seeds
    for r in range(b_reps):
        total = 0.0
        for s in (0, 1, 2):
            total += rep_a.loc[s, r] - rep_b.loc[s, r]
        d.append(total / 3)
    d.sort()
    point = sum(point_a[s] - point_b[s] for s in (0, 1, 2)) / 3

    got = paired.bootstrap_difference(rep_a, rep_b, point_a, point_b, kind="percentile")
    assert got.method == paired.BOOTSTRAP and got.n == 3 and got.replicates == b_reps
    assert np.isclose(got.mean, point) and np.isclose(got.reference, point_b.mean())
    assert np.isclose(got.low, d[1]) and np.isclose(got.high, d[39])
    centred = paired.bootstrap_difference(rep_a, rep_b, point_a, point_b)  # the default
    shift = point - sum(d) / len(d)
    assert np.isclose(centred.low, d[1] + shift) and np.isclose(centred.high, d[39] + shift)
    basic = paired.bootstrap_difference(rep_a, rep_b, point_a, point_b, kind="basic")
    assert np.isclose(basic.low, 2 * point - d[39]) and np.isclose(basic.high, 2 * point - d[1])
    with pytest.raises(ValueError, match="kind"):
        paired.bootstrap_difference(rep_a, rep_b, point_a, point_b, kind="bca")


def test_centred_interval_contains_the_full_sets_difference_despite_resampling_bias():
    """Resampled sets hold duplicates, which biases each replicate's FID upward; the centred
    interval is located on the full sets' difference, the percentile one can miss it."""
    rng = np.random.default_rng(0)
    n, dim = 300, 16
    ref = rng.normal(size=(4000, dim))
    mu, cov = ref.mean(0), np.cov(ref, rowvar=False)
    base = rng.normal(size=(n, dim))
    sets = {"a": base + 0.2, "b": 1.3 * base}
    point, reps = _replicates(sets, mu, cov, 60, seed=1)
    rep_a, rep_b = (_frame(reps[k][None], [0], range(60)) for k in "ab")
    pa, pb = (pd.Series([point[k]], index=[0]) for k in "ab")
    got = paired.bootstrap_difference(rep_a, rep_b, pa, pb)
    d = point["a"] - point["b"]
    assert got.low <= d <= got.high
    pct = paired.bootstrap_difference(rep_a, rep_b, pa, pb, kind="percentile")
    assert np.isclose(got.high - got.low, pct.high - pct.low)  # same spread, other location
    assert not np.isclose(got.low, pct.low)


def _fid(feats: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> float:
    """Fréchet distance of N(mean, cov of feats) to N(mu, cov), float64 closed form."""
    m, c = feats.mean(0), np.cov(feats, rowvar=False)
    root = linalg.sqrtm(c @ cov).real
    return float(((m - mu) ** 2).sum() + np.trace(c + cov - 2 * root))


def _replicates(sets: dict[str, np.ndarray], mu, cov, n_reps: int, seed: int):
    """FID of each setting's full feature set and of n_reps resamples, the same indices for
    every setting (what the evaluation writes per seed)."""
    rng = np.random.default_rng(seed)
    n = next(iter(sets.values())).shape[0]
    idx = [rng.integers(0, n, n) for _ in range(n_reps)]
    point = {k: _fid(f, mu, cov) for k, f in sets.items()}
    reps = {k: np.array([_fid(f[i], mu, cov) for i in idx]) for k, f in sets.items()}
    return point, reps


def test_shifted_features_give_the_known_sign_with_one_seed():
    rng = np.random.default_rng(1)
    dim, n = 4, 400
    mu, cov = np.zeros(dim), np.eye(dim)
    a = rng.normal(size=(n, dim))
    sets = {"a": a, "b": a + 0.3, "same": a.copy()}  # b: every feature shifted by 0.3
    point, reps = _replicates(sets, mu, cov, n_reps=200, seed=2)

    def one_seed(k: str) -> tuple[pd.Series, pd.DataFrame]:
        return pd.Series([point[k]], index=[0]), _frame(reps[k][None], [0], range(200))

    d = paired.paired_difference(*one_seed("a")[:1], *one_seed("b")[:1], one_seed("a")[1],
                            one_seed("b")[1])  # fmt: skip
    assert d.method == paired.BOOTSTRAP and d.n == 1
    assert d.high < 0 and d.part(lower=True) == "pass" and d.part(lower=False) == "fail"
    assert np.isclose(d.mean, point["a"] - point["b"])
    same = paired.paired_difference(one_seed("a")[0], one_seed("same")[0], one_seed("a")[1],
                               one_seed("same")[1])  # fmt: skip
    assert same.low == same.high == same.mean == 0.0  # identical settings: [0, 0]
    assert same.part(lower=True) is None


def test_pairing_removes_the_shared_noise():
    """b = a + 0.05 in every replicate while the replicates spread by about 1: the paired
    interval is narrow and excludes 0; an unpaired comparison would not."""
    rng = np.random.default_rng(3)
    common = rng.normal(10, 1, (2, 100))
    rep_a = _frame(common, [0, 1], range(100))
    rep_b = _frame(common + 0.05 + rng.normal(0, 0.005, common.shape), [0, 1], range(100))
    pa, pb = rep_a.mean(axis=1), rep_b.mean(axis=1)
    d = paired.paired_difference(pa, pb, rep_a, rep_b)
    assert d.method == paired.BOOTSTRAP and d.high < 0 and d.high - d.low < 0.03
    assert "paired bootstrap 95%, 100 replicates, 2 seeds" in d.text


def test_method_order():
    a, b = pd.Series([3.0, 4.0, 3.5]), pd.Series([2.0, 3.1, 2.4])
    assert paired.paired_difference(a, b).method == paired.PAIRED_T
    one = paired.paired_difference(a.iloc[:1], b.iloc[:1])
    assert one.method == paired.MARGIN and "margin" in one.text and one.part(lower=False) == "pass"
    assert paired.paired_difference(a, pd.Series([1.0], index=[9])).method == paired.NONE
    # replicates without a shared seed fall back to the seeds
    rep = _frame(np.ones((1, 5)), [7], range(5))
    assert paired.paired_difference(a, b, rep, rep).method == paired.PAIRED_T


def test_replicate_matrix_and_setting_difference():
    reps = pd.DataFrame(
        [
            {"sweep": "s", "setting": k, "seed": 0, "replicate": r, "fid": f + 0.1 * r}
            for k, f in (("x", 5.0), ("y", 4.0))
            for r in range(20)
        ]
    )
    m = paired.replicate_matrix(reps, "s", "x")
    assert m.shape == (1, 20) and m.loc[(0, 0), 3] == pytest.approx(5.3)  # (train rep, seed)
    assert (
        paired.replicate_matrix(reps, "s", "z").empty
        and paired.replicate_matrix(None, "s", "x").empty
    )
    with pytest.raises(ValueError, match="twice"):
        paired.replicate_matrix(pd.concat([reps, reps.iloc[:1]]), "s", "x")
    with pytest.raises(ValueError, match="lacks columns"):
        paired.replicate_matrix(reps.drop(columns="replicate"), "s", "x")
    sweeps = pd.DataFrame({"sweep": "s", "setting": ["x", "y"], "seed": 0, "fid": [5.0, 4.0]})
    d = paired.setting_difference(sweeps, reps, "s", ("x", "y"))
    assert d.method == paired.BOOTSTRAP and d.low == pytest.approx(1.0) == d.high
    # a setting missing from the sweep table: both count as one run with the rows' FIDs
    d = paired.setting_difference(sweeps, reps, "s", ("x", "z"), (5.0, 9.0))
    assert d.method == paired.MARGIN and d.mean == -4.0


def test_gather_replicates(tmp_path):
    paths = []
    for setting, f in (("x", 5.0), ("y", 4.0)):
        frame = pd.DataFrame(
            {"seed": [0, 0, 1, 1], "replicate": [0, 1, 0, 1], "fid": [f, f + 1, f + 2, f + 3]}
        )
        paths.append(tmp_path / f"{setting}_bootstrap.parquet")
        frame.to_parquet(paths[-1])
    out = paired.gather_replicates(paths, "s", ["x", "y"], tmp_path / "s_bootstrap.parquet")
    back = pd.read_parquet(tmp_path / "s_bootstrap.parquet")
    assert list(back.columns) == paired.REPLICATE_COLUMNS and len(back) == 8
    pd.testing.assert_frame_equal(back, out, check_dtype=False)
    assert paired.replicate_matrix(back, "s", "y").loc[(0, 1), 1] == 7.0
    other = pd.DataFrame({"seed": [0, 0], "replicate": [0, 5], "fid": [1.0, 2.0]})
    other.to_parquet(tmp_path / "z.parquet")
    with pytest.raises(ValueError, match="other replicate ids"):
        paired.gather_replicates(
            [paths[0], tmp_path / "z.parquet"], "s", ["x", "z"], tmp_path / "o"
        )
    other.drop(columns="fid").to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="lacks columns"):
        paired.gather_replicates([tmp_path / "bad.parquet"], "s", ["b"], tmp_path / "o")
