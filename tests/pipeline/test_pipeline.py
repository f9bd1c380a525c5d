"""The whole DAG on the micro config: outputs, idempotence, and incremental reruns."""

from __future__ import annotations

import base64
import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import job_counts, run_snakemake

pytestmark = pytest.mark.slow


def _config(workdir):
    return yaml.safe_load((workdir / "config.yaml").read_text())


def test_outputs(smoke_run):
    r = smoke_run / "results" / "smoke"  # run_name: smoke
    cfg = _config(smoke_run)
    data = np.load(r / "data/digits/data.npy")
    assert data.shape[1:] == (8, 8, 1) and data.dtype == np.uint8
    assert json.loads((r / "latents/digits_vae/stats.json").read_text())["normalize"] is True
    splits = pd.read_parquet(r / "oracle/split_times.parquet")
    assert len(splits) == 2 * 2 + 2 * 2  # 2 spaces x {cond, uncond} + 2 dims x 2 sizes
    # the per-space file the probes and sweeps read holds that space's aggregate rows
    own = pd.read_parquet(r / "oracle/split_times/digits_vae.parquet")
    agg = splits[splits["space"] == "digits_vae"].dropna(axis=1, how="all")
    pd.testing.assert_frame_equal(own, agg[own.columns].reset_index(drop=True), check_dtype=False)
    obj = pd.read_parquet(r / "oracle/objective.parquet")
    assert set(obj["space"]) == {"digits_pixel", "digits_vae"} and obj["t"].nunique() == 8
    logs = pd.read_parquet(r / "training/train_logs.parquet")
    assert set(logs["model"]) == set(cfg["models"])
    curves = pd.read_parquet(r / "probes/loss_curves.parquet")
    # every model x (ema + checkpoints) x t x {cfm, oracle}
    assert len(curves) == 2 * 3 * 8 * 2
    assert (curves["mean"] >= 0).all() and curves["loss_kind"].isin(["cfm", "oracle"]).all()
    mixed = pd.read_parquet(r / "probes/mixed.parquet")
    assert len(mixed) == 3 and set(mixed["tau_spec"]) == {"0.0", "s1.0", "1.0"}
    # memorization is judged on decoded pixels against the real train images (one metric,
    # navref.metrics.memorization); with the smoke's 20-step VAE even the oracle-only sampler
    # (tau = 1) need not count as memorized, so the late-vs-early behaviour is checked where
    # it must hold (tests/unit/test_probes.py). Here: shares lie in [0, 1], and a looser
    # threshold (1/4 -> 1/3 -> 1/2) never counts fewer samples as memorized.
    shares = mixed[["memorization_share_q25", "memorization_share", "memorization_share_q50"]]
    assert shares.apply(lambda c: c.between(0, 1)).all().all()
    assert (shares.diff(axis=1).iloc[:, 1:] >= 0).all().all()
    assert (r / "probes/mixed/tiny/tau1.0.png").stat().st_size > 0
    sweeps = pd.read_parquet(r / "metrics/sweeps.parquet")
    assert len(sweeps) == 1 + 1 + 2
    for col in ["fid", "kid_mean", "precision", "recall", "memorization_share", "seed"]:
        assert sweeps[col].notna().all(), col
    shift = sweeps[sweeps["sweep"] == "timestep_shift"]
    assert shift["share_below_transition"].between(0, 1).all()
    # memorization in a downsampled space (smoke: 8 px -> 4 px): the train split, once
    small = np.load(r / "evaluation/digits/memorization_train.npy")
    meta = pd.read_parquet(r / "data/digits/meta.parquet")
    assert small.shape == ((meta["split"] == "train").sum(), 4, 4, 1)
    train = data[(meta["split"] == "train").to_numpy()].astype(np.float64)
    block_means = train.reshape(-1, 4, 2, 4, 2, 1).mean((2, 4))
    np.testing.assert_array_equal(small, np.round(block_means))
    for table in ("table1", "table2", "table3", "split_times"):
        page = (r / f"tables/{table}.html").read_text()
        assert "<table" in page and "mailto" not in page, table
    t3 = pd.read_parquet(r / "tables/table3.parquet")
    assert set(t3["setting"]) >= {"none"} and len(t3) == 2
    assert "reproduced" in (r / "claims.html").read_text()
    log = (r / "logs/evaluate_sweep").rglob("*.log")
    assert any("against (" in p.read_text() and ", 4, 4, 1)" in p.read_text() for p in log)


def test_provenance_names_this_machine_and_every_job(smoke_run):
    from navref import provenance

    r = smoke_run / "results" / "smoke"
    record = json.loads((r / "provenance.json").read_text())
    assert record["machine"]["cpu_model"] == provenance.machine()["cpu_model"]
    assert re.fullmatch(r"[0-9a-f]{64}", record["config_sha256"])
    jobs = record["jobs_by_machine"]
    logs = [p for p in (r / "logs").rglob("*.log") if p.name != "provenance.log"]
    assert sum(j["jobs"] for j in jobs) == len(logs)
    assert not any(j.get("unrecorded") for j in jobs), jobs
    assert {j["cpu_model"] for j in jobs} == {record["machine"]["cpu_model"]}
    assert "Run provenance" in (r / "provenance.html").read_text()


def test_second_run_does_nothing(smoke_run):
    proc = run_snakemake(_config(smoke_run), smoke_run, "-n", timeout=300)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def _dry_jobs(smoke_run, cfg, tmp_path):
    # same working directory (so the finished outputs count), a different config file
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(path, smoke_run, "-n", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_counts(proc.stdout)


def test_changing_tau_grid_reruns_only_mixed_sampling(smoke_run, tmp_path):
    cfg = copy.deepcopy(_config(smoke_run))
    cfg["probes"]["mixed"]["taus"].append(0.5)
    jobs = _dry_jobs(smoke_run, cfg, tmp_path)
    want = {"probe_mixed": 1, "probe_tables": 1, "report_fig5": 1}
    assert jobs == {**want, "report_claims": 1, "report_claims_html": 1, "provenance": 1, "all": 1}


def test_adding_a_cfg_interval_reruns_only_its_jobs(smoke_run, tmp_path):
    cfg = copy.deepcopy(_config(smoke_run))
    cfg["sweeps"]["cfg_interval"]["intervals"].append([0.2, 0.4])
    jobs = _dry_jobs(smoke_run, cfg, tmp_path)
    # + "none", which must now store its state at t = 0.2 too (tests/pipeline/test_reruns.py)
    want = {"sample_sweep": 2, "evaluate_sweep_cfg_interval": 1}  # one evaluation per sweep
    want |= {"sweep_metrics": 1, "sweep_tables": 1}
    want |= {"paired_replicates": 1}  # the sweep's gathered bootstrap replicates
    want |= {"report_sweep_table": 1, "report_sweep_grid": 1}  # + Table 3's sample grid
    want |= {"report_claims": 1, "report_claims_html": 1, "provenance": 1, "all": 1}
    assert jobs == want


def report_items(html: str) -> dict[str, str]:
    """The text/html items embedded in a Snakemake report: {file name: decoded page}."""
    pattern = r'"data_uri": "data:text/html;[^"]*?filename=([^;"]+);base64,([^"]+)"'
    return {m[1]: base64.b64decode(m[2]).decode() for m in re.finditer(pattern, html)}


def test_report_shows_tables_and_claims(smoke_run):
    r = smoke_run / "results" / "smoke"
    proc = run_snakemake(_config(smoke_run), smoke_run, "--report", str(r / "report.html"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (r / "report.html").read_text()
    items = report_items(html)
    names = {f"{t}.html" for t in ("table1", "table2", "table3", "split_times", "claims")}
    assert names <= set(items), sorted(items)
    t3 = pd.read_parquet(r / "tables/table3.parquet")
    page = items["table3.html"]
    for fid in t3["fid"]:  # the values, as the readable table prints them
        assert f"{fid:.4g}"[:4] in page, (fid, page[-2000:])
    claims = pd.read_parquet(r / "claims.parquet")
    for verdict in claims["verdict"]:
        assert f"<td>{verdict}</td>" in items["claims.html"]
    cats = [c for c in ("1 Oracle", "2 Training", "3 Probes", "4 Model", "5 Tables", "6 Claims")]
    assert all(c in html for c in cats)
    assert 'href="mailto:' not in html
