"""Training seeds as replicates (issue 24, item 1) through the workflow, on the micro config:
a model with ``train.seeds: [0, 1]`` trains twice, its loss curves and its sweep runs are
per training replicate, the metrics and replicates tables carry ``train_replicate``, Table 2
shows the training spread. Replicate 0 is the model a config
without ``seeds`` trains: an identical entry ``tiny_plain`` (``seed: 0``) gets the same
weights, bit for bit."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from conftest import job_counts, run_snakemake
from safetensors.numpy import load_file

pytestmark = pytest.mark.slow


def _seeds_config(smoke: dict) -> dict:
    """configs/smoke.yaml with one model of training seeds [0, 1] (``tiny``), its twin
    without seeds (``tiny_plain``) and one small sweep (two timestep shifts, two sampling
    seeds) that samples with ``tiny``."""
    config = copy.deepcopy(smoke)
    train = {k: v for k, v in smoke["models"]["tiny"]["train"].items() if k != "seed"}
    config["models"] = {
        "tiny": {**smoke["models"]["tiny"], "train": {**train, "seeds": [0, 1]}},
        "tiny_plain": {**smoke["models"]["tiny"], "train": {**train, "seed": 0}},
    }
    config["sweeps"] = {
        "num_samples": 40,
        "seeds": [0, 1],
        "timestep_shift": {"model": "tiny", "shifts": [0.5, 1.0], "steps": 10},
    }
    return config


def test_one_training_seed_plans_what_a_seed_plans(smoke_config, tmp_path):
    """``seeds: [0]`` is ``seed: 0``: the same jobs (a dry run of each)."""
    counts = []
    for train in ({"seed": 0}, {"seeds": [0]}):
        config = copy.deepcopy(smoke_config)
        for model in config["models"].values():
            model["train"] = {**{k: v for k, v in model["train"].items() if k != "seed"}, **train}
        proc = run_snakemake(config, tmp_path / str(len(counts)), "-n", timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        counts.append(job_counts(proc.stdout + proc.stderr))
    assert counts[0] == counts[1] and counts[0]["train_model"] == 2


#: what the test reads (not the whole DAG: figures, other probes and claims are the smoke
#: run's; this keeps the test to about a minute)
TARGETS = [
    "training/train_logs.parquet",
    "probes/loss_curves.parquet",
    "metrics/sweeps.parquet",
    "metrics/timestep_shift_bootstrap.parquet",
    "tables/table2.parquet",
]


def test_training_seeds_run_per_replicate(smoke_config, tmp_path):
    config = _seeds_config(smoke_config)
    targets = [f"results/smoke/{t}" for t in TARGETS]
    proc = run_snakemake(config, tmp_path, "--cores", "2", *targets, timeout=1500)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    r = tmp_path / "results" / "smoke"

    # one train_model job per replicate; replicate 0 is the entry without seeds
    logs = pd.read_parquet(r / "training/train_logs.parquet")
    assert set(logs["model"]) == {"tiny", "tiny_seed1", "tiny_plain"}
    weights = {m: load_file(r / f"models/{m}/model.safetensors") for m in set(logs["model"])}
    assert weights["tiny"].keys() == weights["tiny_plain"].keys()
    assert all((weights["tiny"][k] == weights["tiny_plain"][k]).all() for k in weights["tiny"])
    assert any((weights["tiny"][k] != weights["tiny_seed1"][k]).any() for k in weights["tiny"])

    # the loss curves cover every replicate and name the entry and the replicate
    curves = pd.read_parquet(r / "probes/loss_curves.parquet")
    ids = curves.groupby("model")[["base_model", "train_replicate"]].agg(set)
    assert ids.to_dict("index") == {
        "tiny": {"base_model": {"tiny"}, "train_replicate": {0}},
        "tiny_seed1": {"base_model": {"tiny"}, "train_replicate": {1}},
        "tiny_plain": {"base_model": {"tiny_plain"}, "train_replicate": {0}},
    }
    assert curves["train_replicate"].dtype.kind == "i"

    # the sweep runs per training replicate: replicate 0 at the setting's own paths
    for key in ("s0.5", "s1", "s0.5_train1", "s1_train1"):
        assert (r / f"samples/timestep_shift/{key}/seed1.npz").exists(), key
        assert (r / f"metrics/timestep_shift/{key}.parquet").exists(), key
    sweeps = pd.read_parquet(r / "metrics/sweeps.parquet")
    assert sweeps["train_replicate"].dtype.kind == "i" and set(sweeps["setting"]) == {"s0.5", "s1"}
    assert sorted(map(tuple, sweeps[["setting", "train_replicate", "seed"]].to_numpy())) == [
        (s, t, k) for s in ("s0.5", "s1") for t in (0, 1) for k in (0, 1)
    ]
    assert set(sweeps["model"]) == {"tiny"}  # the config's entry; train_replicate tells which
    assert (sweeps.groupby("train_replicate")["fid"].mean().diff().abs().iloc[1]) > 0
    reps = pd.read_parquet(r / "metrics/timestep_shift_bootstrap.parquet")
    assert "train_replicate" in reps.columns and set(reps["train_replicate"]) == {0, 1}
    assert not reps[["setting", "train_replicate", "seed", "replicate"]].duplicated().any()

    # Table 2: the training spread beside the sampling spread
    t2 = pd.read_parquet(r / "tables/table2.parquet")
    assert (t2["n_train"] == 2).all() and (t2["n_seeds"] == 2).all()
    assert t2["fid_std_train"].notna().all() and t2["fid_std"].notna().all()
