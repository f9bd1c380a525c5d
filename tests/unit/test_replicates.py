"""Training seeds as replicates (issue 24, item 1): the expansion of ``train.seeds`` into
replicate models, its config errors, the sweeps' runs per training replicate, and the
``train_replicate`` / ``base_model`` columns of the tables that pair or aggregate them."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from navref.config import ConfigError, check_references, explain
from navref.evaluation import concat_metrics, gather_metrics
from navref.probe_runs import gather_probe_tables
from navref.replicates import (
    Replicate,
    expand_models,
    model_replicates,
    replicate_name,
    replicates_of,
    seeds_problems,
)
from navref.sweeps import paired, plan
from navref.sweeps import table as tab

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def _entry(**train) -> dict:
    return {"space": "s", "arch": {"size": "tiny"}, "train": {"steps": 3, **train}}


def _smoke(seeds: dict[str, list[int]]) -> dict:
    """configs/smoke.yaml with ``train.seeds`` per model (``train.seed`` dropped there)."""
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["models"] = copy.deepcopy(config["models"])
    for name, s in seeds.items():
        train = {k: v for k, v in config["models"][name]["train"].items() if k != "seed"}
        config["models"][name]["train"] = {**train, "seeds": s}
    return config


def test_expansion_names_order_and_seeds():
    models = {"a": _entry(seeds=[3, 1, 7]), "b": _entry(seed=5), "c": _entry()}
    reps = model_replicates(models)
    assert list(reps) == ["a", "a_seed1", "a_seed7", "b", "c"]
    assert reps["a_seed7"] == Replicate("a", 2, 7) and reps["a"] == Replicate("a", 0, 3)
    assert reps["b"] == Replicate("b", 0, 5) and reps["c"] == Replicate("c", 0, None)
    expanded = expand_models(models)
    assert [expanded[m]["train"]["seed"] for m in ("a", "a_seed1", "a_seed7")] == [3, 1, 7]
    assert all("seeds" not in e["train"] for e in expanded.values())
    assert expanded["b"] == models["b"] and expanded["c"] == models["c"]  # untouched
    assert "seeds" in models["a"]["train"]  # the config itself is not changed
    assert replicates_of(models) == {"a": ["a", "a_seed1", "a_seed7"], "b": ["b"], "c": ["c"]}
    assert replicate_name("a", 7) == "a_seed7"
    # seed given as seeds[0]: replicate 0 trains with exactly the entry's settings
    assert expand_models({"a": _entry(seed=3, seeds=[3, 4])})["a"] == _entry(seed=3)


@pytest.mark.parametrize(
    ("models", "match"),
    [
        ({"a": _entry(seed=1, seeds=[0, 1])}, r"train\.seed: 1 is not the first of"),
        ({"a": _entry(seeds=[0, 0])}, "repeats a seed"),
        ({"a": _entry(seeds=[0, 2]), "a_seed2": _entry()}, "'a_seed2', which is already a model"),
    ],
)
def test_seed_errors_name_the_key_and_the_fix(models, match):
    assert any(re.search(match, p) for p in seeds_problems(models))
    with pytest.raises(ValueError, match=match):
        model_replicates(models)


def test_config_errors(tmp_path):
    # the workflow's checks: models of one sweep setting need equally many seeds
    config = _smoke({"tiny": [0, 1]})  # stage swap pairs (tiny, small)
    with pytest.raises(ConfigError, match="'tau0.2_tiny-small' combines models with different"):
        check_references(config)
    config["sweeps"]["stage_swap"]["pairs"] = [["tiny", "tiny"]]
    check_references(config)
    check_references(_smoke({"tiny": [0, 1], "small": [4, 5]}))
    with pytest.raises(ConfigError, match="already a model"):
        check_references(
            {**config, "models": {**config["models"], "tiny_seed1": config["models"]["small"]}}
        )
    # the schema: distinct ints; a released model takes no train block, nor seeds
    assert "seeds" in explain(_smoke({"tiny": [0, 0]}), SCHEMA)
    released = yaml.safe_load((REPO / "configs" / "released.yaml").read_text())
    name = next(m for m, e in released["models"].items() if "pretrained" in e)
    released["models"][name]["train"] = {"steps": 1, "seeds": [0, 1]}
    text = explain(released, SCHEMA)
    assert f"models.{name}: a released model (`pretrained`) is linked, not trained" in text
    assert "train.seeds" in text


def _swap(pairs) -> plan.Sweep:
    return plan.get("stage_swap", {"stage_swap": {"taus": [0.2, 0.5], "pairs": pairs,
                                                  "steps_per_stage": 5}})  # fmt: skip


def test_runs_per_training_replicate():
    sweep = _swap([["a", "b"], ["a", "a"]])
    reps = {"a": ["a", "a_seed4"], "b": ["b", "b_seed9"]}
    runs = sweep.runs(reps)
    assert list(runs) == [
        "tau0.2_a-b", "tau0.2_a-b_train1", "tau0.2_a-a", "tau0.2_a-a_train1",
        "tau0.5_a-b", "tau0.5_a-b_train1", "tau0.5_a-a", "tau0.5_a-a_train1",
    ]  # fmt: skip
    run = runs["tau0.2_a-b_train1"]
    assert (run.setting, run.replicate) == ("tau0.2_a-b", 1)
    assert sweep.models(run.conf) == ["a_seed4", "b_seed9"]
    # replicate 0 is the config's setting, unchanged; without replicates: the settings
    assert runs["tau0.2_a-b"].conf == sweep.settings()["tau0.2_a-b"]
    assert {k: r.conf for k, r in sweep.runs().items()} == sweep.settings()
    # a run branches only from a run of its own replicate (same models before tau)
    branches, base = sweep.run_branches(runs), sweep.branches()
    assert {k: branches[k] for k in base} == base and base["tau0.5_a-a"] is not None
    for key, branch in base.items():
        twin = branches[f"{key}_train1"]
        assert twin == (branch and plan.Branch(f"{branch.parent}_train1", branch.step))
    assert sweep.run_branch_steps(runs, "tau0.2_a-a_train1") == sweep.branch_steps("tau0.2_a-a")
    with pytest.raises(ValueError, match="different numbers of training seeds"):
        sweep.runs({"a": ["a", "a_seed4"]})
    # a run key that another setting already is
    clash = _swap([["a", "b_train1"], ["a", "b"]])
    with pytest.raises(ValueError, match="has the key of another"):
        clash.runs({"a": ["a", "a_seed1"], "b": ["b", "b_seed1"], "b_train1": ["b_train1", "x"]})


def _metrics_file(path, setting, fids, sweep="timestep_shift"):
    rows = [{"sweep": sweep, "setting": setting, "seed": s, "fid": f, "num_samples": 10,
             "shift": 0.5} for s, f in enumerate(fids)]  # fmt: skip
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_metrics_and_replicates_tables_pair_within_training_replicate(tmp_path):
    paths = [
        _metrics_file(tmp_path / "a.parquet", "s0.5", [1.0, 2.0]),
        _metrics_file(tmp_path / "b.parquet", "s0.5_train1", [3.0, 4.0]),
    ]
    meta = {
        "timestep_shift/s0.5": {"setting": "s0.5", "train_replicate": 0, "model": "m"},
        "timestep_shift/s0.5_train1": {"setting": "s0.5", "train_replicate": 1, "model": "m"},
    }
    gather_metrics(paths, meta, tmp_path / "timestep_shift.parquet")
    concat_metrics([tmp_path / "timestep_shift.parquet"], tmp_path / "sweeps.parquet")
    out = pd.read_parquet(tmp_path / "sweeps.parquet")
    assert list(out.columns[:3]) == ["sweep", "setting", "train_replicate"]
    assert out["train_replicate"].dtype == np.int64
    assert out["train_replicate"].tolist() == [0, 0, 1, 1] and set(out["setting"]) == {"s0.5"}
    # a table without the column (no meta for it, or gathered before it existed): all 0
    gather_metrics(paths[:1], {"timestep_shift/s0.5": {"model": "m"}}, tmp_path / "old.parquet")
    assert pd.read_parquet(tmp_path / "old.parquet")["train_replicate"].tolist() == [0, 0]
    pd.read_parquet(paths[0]).to_parquet(tmp_path / "older.parquet")
    concat_metrics([tmp_path / "older.parquet"], tmp_path / "older_all.parquet")
    assert pd.read_parquet(tmp_path / "older_all.parquet")["train_replicate"].tolist() == [0, 0]

    boot = []
    for name, f in (("x0", 5.0), ("x1", 7.0), ("y0", 4.0)):
        frame = pd.DataFrame({"seed": [0, 0], "replicate": [0, 1], "fid": [f, f + 1]})
        boot.append(tmp_path / f"{name}.parquet")
        frame.to_parquet(boot[-1])
    reps = paired.gather_replicates(
        boot, "s", ["x", "x", "y"], tmp_path / "s_bootstrap.parquet", train_replicates=[0, 1, 0]
    )
    assert list(reps.columns) == paired.REPLICATE_COLUMNS
    assert reps["train_replicate"].tolist() == [0, 0, 1, 1, 0, 0]
    assert paired.replicate_matrix(reps, "s", "x").loc[(1, 0), 1] == 8.0
    assert paired.replicate_matrix(reps, "s", "y").index.tolist() == [(0, 0)]  # one replicate
    with pytest.raises(ValueError, match="listed twice"):
        paired.gather_replicates(boot[:2], "s", ["x", "x"], tmp_path / "o", train_replicates=[1, 1])
    # without train_replicates every run is replicate 0
    one = paired.gather_replicates(boot[:1], "s", ["x"], tmp_path / "o1")
    assert one["train_replicate"].tolist() == [0, 0]


def _table_rows(fids: dict[int, list[float]]) -> pd.DataFrame:
    rows = [
        {"sweep": "timestep_shift", "setting": "s0.5", "train_replicate": r, "seed": s,
         "fid": f, "num_samples": 10, "shift": 0.5}
        for r, per_seed in fids.items()
        for s, f in enumerate(per_seed)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_tables_separate_training_and_sampling_spread():
    agg = tab.aggregate_seeds(_table_rows({0: [1.0, 3.0], 1: [5.0, 9.0]}), ["shift"])
    row = agg.iloc[0]
    assert row["fid"] == pytest.approx(4.5)  # mean of the replicate means 2 and 7
    assert row["fid_std"] == pytest.approx((math.sqrt(2) + math.sqrt(8)) / 2)  # sampling
    assert row["fid_std_train"] == pytest.approx(np.std([2.0, 7.0], ddof=1))  # training
    assert (row["n_train"], row["n_seeds"], row["seeds"]) == (2, 2, "0,1")
    # one training replicate: the table is what it was without the column
    one = _table_rows({0: [1.0, 3.0]})
    pd.testing.assert_frame_equal(
        tab.aggregate_seeds(one, ["shift"]),
        tab.aggregate_seeds(one.drop(columns="train_replicate"), ["shift"]),
    )
    assert "n_train" not in tab.aggregate_seeds(one, ["shift"]).columns
    with pytest.raises(ValueError, match="more than once"):
        tab.aggregate_seeds(pd.concat([one, one]), ["shift"])
    # a paired difference pools the (training replicate, seed) units until the two-level
    # bootstrap: replicate 1's seed 0 pairs with replicate 1's seed 0 only
    two = pd.concat(
        [
            _table_rows({0: [1.0, 3.0], 1: [5.0, 9.0]}),
            _table_rows({0: [2.0, 4.0], 1: [7.0, 10.0]}).assign(setting="s1"),
        ]  # fmt: skip
    )
    d = paired.setting_difference(two, None, "timestep_shift", ("s1", "s0.5"))
    # paired t over the R = 2 per-replicate mean differences (1.0 and 1.5), 2 sampling seeds
    assert d.method == paired.PAIRED_T and d.train_replicates == 2 and d.n == 2
    assert d.mean == pytest.approx(1.25)


def test_loss_curves_name_base_model_and_training_replicate(tmp_path):
    curve = pd.DataFrame({"t": [0.0, 0.5], "loss_kind": "oracle", "mean": [0.1, 0.2]})
    paths = []
    for model in ("a", "a_seed3", "b"):
        (tmp_path / model).mkdir()
        paths.append(str(tmp_path / model / "ema.parquet"))
        curve.to_parquet(paths[-1])
    meta = {m: {"space": "s", "size": "tiny", "target": "cfm", "steps": 3} for m in ("a", "b")}
    meta["a"] |= {"base_model": "a", "train_replicate": 0}
    meta["a_seed3"] = {**meta["a"], "base_model": "a", "train_replicate": 1}
    gather_probe_tables({"loss_curves": paths}, meta, {"loss_curves": tmp_path / "lc.parquet"})
    out = pd.read_parquet(tmp_path / "lc.parquet")
    assert out.groupby("model")["base_model"].first().to_dict() == {
        "a": "a",
        "a_seed3": "a",
        "b": "b",
    }
    assert out.groupby("model")["train_replicate"].first().to_dict() == {
        "a": 0,
        "a_seed3": 1,
        "b": 0,
    }
