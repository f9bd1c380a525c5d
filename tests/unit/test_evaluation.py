"""navref.evaluation.evaluate_settings: one job over all seeds of a setting gives the rows a
job per seed gives, and FID bootstrap replicates on the same features, paired by seed."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from navref.evaluation import BOOTSTRAP_COLUMNS, evaluate_settings
from navref.metrics.bootstrap import bootstrap_indices, fid_replicates
from navref.metrics.feature_net import (
    FEATURE_NET_EXTRACTOR,
    FeatureNet,
    FeatureNetConfig,
    save_feature_net,
)
from navref.metrics.fidelity import (
    compute_metrics,
    extract_features,
    load_reference_statistics,
    reference_statistics,
)
from navref.metrics.memorization import memorization_metrics, to_pixels

N = 24  # samples per seed


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("evaluation")
    torch.manual_seed(0)
    net = FeatureNet(FeatureNetConfig(1, 8, 8, 10, widths=(8, 16), feature_dim=12)).eval()
    weights = tmp / "net.safetensors"
    save_feature_net(net, weights)
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, size=(60, 8, 8, 1), dtype=np.uint8)
    reference_statistics(real, FEATURE_NET_EXTRACTOR, weights, out_path=tmp / "ref.safetensors")
    train = real[:, ::2, ::2]  # stands in for the downsampled train split
    np.save(tmp / "train.npy", train)
    paths = []
    for seed in (0, 1):
        images = rng.integers(0, 256, size=(N, 8, 8, 1), dtype=np.uint8)
        info = json.dumps({"seed": seed, "num_samples": N})
        paths.append(tmp / f"seed{seed}.npz")
        np.savez(paths[-1], images=images, labels=np.zeros(N, int), info=np.array(info))
    inputs = {
        "reference": str(tmp / "ref.safetensors"),
        "feature_net": str(weights),
        "memorization_train": str(tmp / "train.npy"),
    }
    settings = {
        "feature_extractor": FEATURE_NET_EXTRACTOR, "weights_path": None,
        "kid_subset_size": 10, "prc_neighborhood": 3, "batch_size": 16,
        "memorization_resolution": 4, "memorization_threshold": 1 / 3,
        "bootstrap_replicates": 7,
    }  # fmt: skip
    return tmp, paths, inputs, settings


def _run(setup, name, **changes):
    tmp, paths, inputs, settings = setup
    out, boot = tmp / f"{name}.parquet", tmp / f"{name}_bootstrap.parquet"
    log = logging.getLogger("navref.test")
    ids = {"sweep": "cfg_interval", "setting": name}
    group = {"ids": ids, "samples": paths, "metrics": out, "bootstrap": boot}
    evaluate_settings([group], inputs, {**settings, **changes}, "cpu", log)
    return pd.read_parquet(out), pd.read_parquet(boot)


def test_one_row_per_seed_as_a_job_per_seed_computes_it(setup):
    tmp, paths, inputs, settings = setup
    rows, _ = _run(setup, "a")
    assert list(rows["seed"]) == [0, 1] and set(rows["setting"]) == {"a"}
    train = np.load(inputs["memorization_train"])
    for path, (_, row) in zip(paths, rows.iterrows(), strict=True):
        images = np.load(path)["images"]
        alone = compute_metrics(
            images, inputs["reference"], FEATURE_NET_EXTRACTOR, inputs["feature_net"],
            kid_subset_size=10, prc_neighborhood=3, batch_size=16, device="cpu",
        )  # fmt: skip
        for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "num_samples"):
            assert row[key] == alone[key], key
        mem = memorization_metrics(to_pixels(images, 4), train, threshold=1 / 3, device="cpu")
        assert row["memorization_share"] == mem["memorization_share"]


def test_bootstrap_replicates_are_paired_by_seed_and_use_the_fid_features(setup):
    tmp, paths, inputs, settings = setup
    _, boot = _run(setup, "b")
    assert tuple(boot.columns) == BOOTSTRAP_COLUMNS and len(boot) == 2 * 7
    assert [str(t) for t in boot.dtypes] == ["int64", "int64", "float64"]
    ref = load_reference_statistics(inputs["reference"])
    layer = ref["layers"]["fid"]
    for seed, path in enumerate(paths):
        feats = extract_features(
            np.load(path)["images"], FEATURE_NET_EXTRACTOR, inputs["feature_net"],
            batch_size=16, device="cpu",
        )[layer].numpy()  # fmt: skip
        want = fid_replicates(feats, ref["mu"], ref["sigma"], bootstrap_indices(N, 7, seed))
        got = boot[boot["seed"] == seed].sort_values("replicate")
        assert list(got["replicate"]) == list(range(7))
        np.testing.assert_allclose(got["fid"], want, rtol=1e-12)


def test_no_replicates_writes_an_empty_file_with_the_columns(setup):
    rows, boot = _run(setup, "c", bootstrap_replicates=0)
    assert len(rows) == 2 and len(boot) == 0 and tuple(boot.columns) == BOOTSTRAP_COLUMNS


def test_a_sweep_job_writes_each_settings_files_bitwise_as_its_own_job(setup):
    """evaluate_settings (rule evaluate_sweep_<kind>): several settings in one process, the
    feature net and reference loaded once, give each setting exactly the values a job of
    that setting alone writes; the settings' sample sets differ (the
    second setting's seeds are the first's in reverse), so the order matters if any state
    leaked from one setting to the next."""
    tmp, paths, inputs, settings = setup
    want_rows_s1, want_boot_s1 = _run(setup, "s1")
    groups = [
        {"ids": {"sweep": "cfg_interval", "setting": name}, "samples": samples,
         "metrics": tmp / f"sweep_{name}.parquet", "bootstrap": tmp / f"sweep_{name}_b.parquet"}
        for name, samples in (("s1", paths), ("s2", paths[::-1]))
    ]  # fmt: skip
    evaluate_settings(groups, inputs, settings, "cpu", logging.getLogger("navref.test"))
    for group in groups:
        name = group["ids"]["setting"]
        rows, boot = pd.read_parquet(group["metrics"]), pd.read_parquet(group["bootstrap"])
        want_rows, want_boot = want_rows_s1, want_boot_s1
        if name == "s2":  # the same sets in reverse seed order
            want_rows = want_rows.iloc[::-1].reset_index(drop=True).assign(setting="s2")
            want_boot = pd.concat([want_boot[want_boot.seed == s] for s in (1, 0)])
        pd.testing.assert_frame_equal(rows, want_rows, check_exact=True)
        pd.testing.assert_frame_equal(
            boot.reset_index(drop=True), want_boot.reset_index(drop=True), check_exact=True
        )
