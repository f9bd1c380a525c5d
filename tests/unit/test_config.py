"""Config validation: bad configs stop the run before any job, with a message naming the key."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from conftest import REPO, job_counts, run_snakemake

from navref.config import t_grid


def _dry(config, tmp_path):
    return run_snakemake(config, tmp_path, "-n", "--quiet", timeout=120)


def _fails_with(config, tmp_path, *needles):
    proc = _dry(config, tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    assert "Traceback" not in out
    assert not (tmp_path / "results").exists()


def test_default_and_smoke_configs_dry_run(tmp_path, smoke_config):
    assert _dry(smoke_config, tmp_path / "smoke").returncode == 0
    proc = run_snakemake(REPO / "config.yaml", tmp_path / "default", "-n", timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_paper_config_dry_runs_without_data_or_weights(tmp_path):
    proc = run_snakemake(
        REPO / "configs" / "paper.yaml", tmp_path, "-n", "--cores", "1024", timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _gpu_jobs_use_what_they_book(proc.stdout)
    assert "prepare_dataset" in proc.stdout and "encode_latents" in proc.stdout
    # one sample_sweep rule, resources per sweep kind (paper.yaml gives CFG 480 min, others 360)
    paper = yaml.safe_load((REPO / "configs" / "paper.yaml").read_text())["resources"]
    blocks = re.findall(r"^rule sample_sweep:\n((?:    .*\n)*)", proc.stdout, re.M)
    assert blocks, proc.stdout[-2000:]
    for block in blocks:
        sweep = re.search(r"wildcards: sweep=(\w+)", block).group(1)
        want = paper[f"sample_{sweep}"]
        assert f"runtime={want['runtime']}," in block, block
        assert f"gpu={want['gpu']}," in block, block
    assert {re.search(r"sweep=(\w+)", b).group(1) for b in blocks} == {
        "stage_swap",
        "timestep_shift",
        "cfg_interval",
    }


def _gpu_jobs_use_what_they_book(dry_run: str) -> None:
    """Every GPU job of a dry run (``--cores`` large enough not to cap threads) runs
    ``gpu x cpus_per_gpu`` threads (what SLURM grants), and train_model with several GPUs
    (torchrun --standalone) asks for one node."""
    blocks = re.findall(r"^rule (\w+):\n((?:    .*\n)*)", dry_run, re.M)
    gpu_jobs = 0
    for rule, block in blocks:
        res = dict(re.findall(r"(\w+)=(\d+)", re.search(r"resources: (.*)", block).group(1)))
        threads = int((re.search(r"threads: (\d+)", block) or [None, 1])[1])
        if "gpu" not in res:
            continue
        gpu_jobs += 1
        assert threads == int(res["gpu"]) * int(res["cpus_per_gpu"]), (rule, block)
        assert (res.get("nodes") == "1") == (int(res["gpu"]) > 1), (rule, block)
        if rule == "train_model":
            assert int(res["gpu"]) > 1 and threads == 64, block
    assert gpu_jobs > 10, dry_run[-2000:]


def test_released_config_dry_runs_without_weights_or_training(tmp_path):
    proc = run_snakemake(REPO / "configs" / "released.yaml", tmp_path, "-n", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = job_counts(proc.stdout)
    assert "train_model" not in jobs and jobs["link_pretrained"] == 3, jobs
    assert jobs["convert_vae"] == 1 and jobs["encode_latents"] == 2  # VA-VAE from LDM format
    loss_curves = {r: n for r, n in jobs.items() if r.startswith("probe_loss_curves_")}
    assert len(loss_curves) == 3 and set(loss_curves.values()) == {1}, jobs  # one per model
    assert jobs["sample_sweep"] == 8 + 7 + 16, jobs


def test_typo_key(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["vaes"]["digits_vae"]["stepz"] = 10
    _fails_with(cfg, tmp_path, "vaes.digits_vae.stepz", "allowed keys", "steps")


def test_typo_top_level_key(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["latent_space"] = cfg.pop("latent_spaces")
    _fails_with(cfg, tmp_path, "latent_space", "latent_spaces")


def test_negative_step_count(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["vaes"]["digits_vae"]["steps"] = -5
    _fails_with(cfg, tmp_path, "vaes.digits_vae.steps", "minimum")


def test_unknown_dataset_kind(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["datasets"]["digits"]["kind"] = "mnist"
    _fails_with(cfg, tmp_path, "datasets.digits.kind", "'mnist'", "imagefolder")


def test_missing_required_path(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["datasets"]["imnet"] = {"kind": "imagefolder", "resolution": 32}
    _fails_with(cfg, tmp_path, "datasets.imnet", "'root' is a required property")


def test_dangling_reference(tmp_path, smoke_config):
    cfg = copy.deepcopy(smoke_config)
    cfg["latent_spaces"]["digits_vae"]["vae"] = "nope"
    _fails_with(cfg, tmp_path, "latent_spaces.digits_vae.vae", "'nope'", "digits_vae")


def test_missing_path_fails_when_the_job_runs(tmp_path, smoke_config):
    """A local path that does not exist dry-runs fine and fails in its job, clearly."""
    cfg = {
        "datasets": {
            "imnet": {"kind": "imagefolder", "root": str(tmp_path / "no"), "resolution": 8}
        },
        "latent_spaces": {"px": {"dataset": "imnet", "kind": "pixel"}},
    }
    assert _dry(cfg, tmp_path).returncode == 0
    proc = run_snakemake(
        cfg, tmp_path, "--cores", "1", "results/default/data/imnet/info.json", timeout=300
    )
    assert proc.returncode != 0
    log = (tmp_path / "results/default/logs/prepare_dataset/imnet.log").read_text()
    assert "does not exist" in log and str(tmp_path / "no") in log
    assert not (tmp_path / "results/default/data/imnet/data.npy").exists()


@pytest.mark.parametrize("section", ["datasets", "latent_spaces"])
def test_empty_sections_rejected(tmp_path, smoke_config, section):
    cfg = copy.deepcopy(smoke_config)
    cfg[section] = {}
    _fails_with(cfg, tmp_path, section)


def test_t_grid():
    assert t_grid([0.1, 0.5]) == [0.1, 0.5]
    g = t_grid({"start": 0.0, "stop": 0.9, "num": 4})
    assert g == [0.0, 0.3, 0.6, 0.9]


def test_probe_defaults_come_from_the_schema():
    """Per-probe defaults (taus, record times) live in the schema only, filled by validation."""
    from snakemake.utils import validate

    conf = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    conf["probes"].pop("unseen")
    conf["probes"]["mixed"].pop("taus")
    validate(conf, str(REPO / "schemas" / "config.schema.yaml"))
    assert conf["probes"]["unseen"]["taus"] == ["s0.25", "s0.5", "s1.0", "s1.5", "s2.0"]
    assert conf["probes"]["mixed"]["taus"][0] == 0.0 and conf["probes"]["mixed"]["taus"][-1] == 1.0
    assert "PROBE_DEFAULTS" not in (REPO / "rules" / "functions" / "probes.smk").read_text()


def test_parsing_the_workflow_does_not_import_torch():
    """Every navref module the rules import when Snakemake parses them is torch-free (torch
    costs seconds per parse, on every dry run and every cluster job)."""
    import re
    import subprocess
    import sys

    smk = [*REPO.glob("rules/*.smk"), *REPO.glob("rules/functions/*.smk")]
    modules = sorted(
        {m for f in smk for m in re.findall(r"^from (navref[\w.]*) import", f.read_text(), re.M)}
    )
    assert len(modules) >= 5, modules
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "False", (modules, out.stderr[-2000:])
