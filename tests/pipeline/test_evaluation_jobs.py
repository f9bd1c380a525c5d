"""Rules sample_sweep and evaluate_samples run once per (sweep, setting) over all seeds (dry
runs only)."""

from __future__ import annotations

import copy

import pytest
from conftest import job_counts, run_snakemake

pytestmark = pytest.mark.slow


def test_one_evaluation_job_per_setting_over_all_seeds(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["sweeps"]["seeds"] = [0, 1, 2]
    proc = run_snakemake(cfg, tmp_path, "-n", "table3", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout)
    # the CFG-interval sweep of the smoke config: 2 settings, each one sampling job writing 3
    # sample sets (one per seed) and one evaluation job reading them
    assert jobs["sample_sweep"] == 2 and jobs["evaluate_samples"] == 2
    for setting in ("none", "0.1-0.3"):
        for seed in (0, 1, 2):
            assert f"samples/cfg_interval/{setting}/seed{seed}.npz" in proc.stdout
        assert f"metrics/cfg_interval/{setting}.parquet" in proc.stdout
        assert f"metrics/cfg_interval/{setting}_bootstrap.parquet" in proc.stdout


def test_per_sweep_evaluation_is_one_job_writing_every_settings_files(tmp_path, smoke_config):
    """evaluation.jobs: per_sweep (the default config's choice): one evaluate_sweep_<kind>
    job per sweep reads every setting's sample sets and writes the same files as the
    per-setting jobs; adding a setting therefore re-evaluates its whole sweep."""
    cfg = copy.deepcopy(smoke_config)
    cfg.setdefault("evaluation", {})["jobs"] = "per_sweep"
    proc = run_snakemake(cfg, tmp_path, "-n", "table3", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = job_counts(proc.stdout)
    assert jobs["sample_sweep"] == 2 and jobs["evaluate_sweep_cfg_interval"] == 1
    assert "evaluate_samples" not in jobs and "evaluate_sweep_stage_swap" not in jobs
    for setting in ("none", "0.1-0.3"):
        assert f"metrics/cfg_interval/{setting}.parquet" in proc.stdout
        assert f"metrics/cfg_interval/{setting}_bootstrap.parquet" in proc.stdout
