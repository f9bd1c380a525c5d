"""Rule sample_sweep runs once per (sweep, setting) over all seeds, and evaluation once per
sweep (and data set) over all its settings (dry runs only)."""

from __future__ import annotations

import copy

import pytest
from conftest import job_counts, run_snakemake

pytestmark = pytest.mark.slow


def test_one_evaluation_job_per_sweep_writing_every_settings_files(tmp_path, smoke_config):
    """One evaluate_sweep_<kind> job reads every setting's sample sets (all seeds) and writes
    every setting's two files; adding a setting therefore re-evaluates its whole sweep."""
    cfg = copy.deepcopy(smoke_config)
    cfg["sweeps"]["seeds"] = [0, 1, 2]
    proc = run_snakemake(cfg, tmp_path, "-n", "table3", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout)
    # the CFG-interval sweep of the smoke config: 2 settings, each one sampling job writing 3
    # sample sets (one per seed), and one evaluation job reading all 6
    assert jobs["sample_sweep"] == 2 and jobs["evaluate_sweep_cfg_interval"] == 1
    assert not {j for j in jobs if j.startswith("evaluate_")} - {"evaluate_sweep_cfg_interval"}
    for setting in ("none", "0.1-0.3"):
        for seed in (0, 1, 2):
            assert f"samples/cfg_interval/{setting}/seed{seed}.npz" in proc.stdout
        assert f"metrics/cfg_interval/{setting}.parquet" in proc.stdout
        assert f"metrics/cfg_interval/{setting}_bootstrap.parquet" in proc.stdout


def test_a_sweep_over_two_data_sets_is_one_job_per_data_set(tmp_path, smoke_config):
    """A stage-swap sweep may pair the models of one data set in one setting and those of
    another in the next: one evaluation job per (sweep, data set), each reading its own data
    set's reference statistics."""
    cfg = copy.deepcopy(smoke_config)
    cfg["datasets"]["digits_b"] = {**cfg["datasets"]["digits"], "seed": 1}
    cfg["latent_spaces"]["b_pixel"] = {"dataset": "digits_b", "kind": "pixel"}
    cfg["models"]["tiny_b"] = {**copy.deepcopy(cfg["models"]["tiny"]), "space": "b_pixel"}
    cfg["sweeps"]["stage_swap"]["pairs"] = [["tiny", "small"], ["tiny_b", "tiny_b"]]
    proc = run_snakemake(cfg, tmp_path, "-n", "table1", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout)
    evaluate = {j: n for j, n in jobs.items() if j.startswith("evaluate_")}
    assert evaluate == {
        "evaluate_sweep_stage_swap_digits": 1,
        "evaluate_sweep_stage_swap_digits_b": 1,
    }
    assert "evaluation/digits_b/reference.safetensors" in proc.stdout


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("evaluation", "jobs", "per_setting"), ("resources", "evaluate_samples", {"mem_mb": 1000})],
)
def test_removed_evaluation_keys_are_refused(tmp_path, smoke_config, section, key, value):
    """evaluation.jobs (per_setting | per_sweep) and rule evaluate_samples' resources were
    removed with the per-setting layout: a config that still sets them is refused, saying so."""
    cfg = copy.deepcopy(smoke_config)
    cfg.setdefault(section, {})[key] = value
    proc = run_snakemake(cfg, tmp_path, "-n", "--quiet", timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert f"key '{section}.{key}' was removed" in out and "one job per sweep" in out
    assert "Traceback" not in out
