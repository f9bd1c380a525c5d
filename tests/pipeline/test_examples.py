"""configs/examples/ run as written (README "Configs", "Examples").

- ``image_folder.yaml``: the whole pipeline on a tiny image folder written at the config's
  placeholder path ``data/my_images`` (sklearn's 8x8 digits as PNGs, 4 classes x 12) in a
  temporary working directory: 13 jobs, under a minute on 2 cores.
- ``image_folder_model.yaml``: a full run is 55 jobs (2 min 16 s on 2 cores, AMD EPYC), so the
  whole DAG as a dry run plus the cheapest real target that trains the model (its weights:
  data, VAE, latents and the DiT; 4 jobs).
- ``aligned_vae.yaml``: claim 8 in miniature (a plain and a VA-VAE-aligned VAE of the same
  latent shape, a tiny DiT on each, report.semantic_space / other_space): the whole DAG as
  a dry run plus the two VAEs (with the feature net the aligned one needs, and only
  it); the aligned VAE's log records the alignment losses.
- ``released_cutdown.yaml``: the whole DAG as a dry run (34 jobs, the VA-VAE-format fixture's
  conversion included: tests/unit/models/test_released.py and test_released_models.py run
  it, and the probes run on a linked release in test_released_models.py), then the cut-down
  LightningDiT fixture linked through ``arch_overrides`` (rule link_pretrained, which loads
  it exactly: 4 jobs), with the fixtures at the config's own relative paths
  (``../shared/fixtures/released-formats/``: the working directory's sibling links to them);
  skipped with the reason when they are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, job_counts, run_snakemake

EXAMPLES = REPO / "configs" / "examples"
FIXTURES = Path(
    os.environ.get("NAVREF_FIXTURES", REPO.parent / "shared" / "fixtures" / "released-formats")
)
PLACEHOLDER = "data/my_images"
pytestmark = pytest.mark.slow


def write_image_folder(root: Path, classes: int = 4, per_class: int = 12) -> None:
    """``root/digit<c>/<i>.png``: 8x8 RGB PNGs of sklearn's digits (no download)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for c in range(classes):
        folder = root / f"digit{c}"
        folder.mkdir(parents=True)
        for i, image in enumerate(digits.images[digits.target == c][:per_class]):
            gray = (image * 255 / 16).astype(np.uint8)
            Image.fromarray(np.stack([gray] * 3, axis=-1)).save(folder / f"{i:03d}.png")


def _example(name: str) -> tuple[Path, dict]:
    path = EXAMPLES / name
    return path, yaml.safe_load(path.read_text())


def _ok(proc) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


@pytest.mark.parametrize("name", ["image_folder.yaml", "image_folder_model.yaml"])
def test_image_folder_examples_name_the_placeholder_at_the_top(name):
    path, conf = _example(name)
    assert [d["root"] for d in conf["datasets"].values()] == [PLACEHOLDER]
    header = path.read_text().split("\nrun_name:", 1)[0]
    assert PLACEHOLDER in header and "make reproduce CONFIG=configs/examples/" + name in header


def test_image_folder_runs_as_written(tmp_path):
    path, conf = _example("image_folder.yaml")
    write_image_folder(tmp_path / PLACEHOLDER)
    _ok(run_snakemake(path, tmp_path, "--cores", "2", timeout=900))
    out = tmp_path / "results" / conf["run_name"]
    for name in ("figures/fig2_objective.png", "figures/fig3_synthetic.png"):
        assert (out / name).is_file(), name
    info = json.loads((out / "data" / "my_images" / "info.json").read_text())
    assert info["class_names"] == [f"digit{c}" for c in range(4)], info
    assert "| my_latents |" in (out / "tables" / "split_times.md").read_text()


def test_image_folder_model_plans_everything_and_trains(tmp_path):
    path, conf = _example("image_folder_model.yaml")
    write_image_folder(tmp_path / PLACEHOLDER)
    plan = run_snakemake(path, tmp_path, "-n", timeout=300)
    _ok(plan)
    jobs = job_counts(plan.stdout)
    assert jobs["train_model"] == 1 and jobs["sample_sweep"] == 4, jobs
    evaluations = sum(n for rule, n in jobs.items() if rule.startswith("evaluate_sweep_"))
    assert evaluations == 3 and jobs["report_claims"] == 1, jobs  # one job per sweep
    weights = f"results/{conf['run_name']}/models/tiny/model.safetensors"
    _ok(run_snakemake(path, tmp_path, "--cores", "2", weights, timeout=900))
    assert (tmp_path / weights).is_file()


def test_aligned_vae_example_plans_claim_8_and_trains_both_vaes(tmp_path):
    import pandas as pd

    path, conf = _example("aligned_vae.yaml")
    assert conf["report"] == {"semantic_space": "digits_vae_aligned", "other_space": "digits_vae"}
    plain, aligned = (conf["vaes"][v] for v in ("digits_vae", "digits_vae_aligned"))
    assert {k: v for k, v in aligned.items() if k != "align"} == plain  # same shape and budget
    plan = run_snakemake(path, tmp_path, "-n", timeout=300)
    _ok(plan)
    jobs = job_counts(plan.stdout)
    assert jobs["train_vae"] == 2 and jobs["report_claims"] == 1, jobs
    assert jobs["probe_loss_curves_tiny_aligned"] == 1, jobs
    out = f"results/{conf['run_name']}/vae"
    plan_plain = run_snakemake(path, tmp_path, "-n", f"{out}/digits_vae/config.json", timeout=300)
    _ok(plan_plain)
    assert "train_feature_net" not in job_counts(plan_plain.stdout)  # only the aligned needs it
    logs = [f"{out}/{v}/train_log.parquet" for v in ("digits_vae", "digits_vae_aligned")]
    _ok(run_snakemake(path, tmp_path, "--cores", "2", *logs, timeout=900))
    plain_log, aligned_log = (pd.read_parquet(tmp_path / f) for f in logs)
    assert len(plain_log) == len(aligned_log) == plain["steps"]
    assert "cos_loss" not in plain_log
    early, late = aligned_log.iloc[:15], aligned_log.iloc[-15:]
    assert late["cos_loss"].mean() < early["cos_loss"].mean()  # the alignment is learnt


@pytest.mark.skipif(
    not all((FIXTURES / f).is_file() for f in ("lightningdit_tiny.pt", "vavae_tiny.pt")),
    reason=f"released-format fixtures absent at {FIXTURES} (set NAVREF_FIXTURES)",
)
def test_released_cutdown_links_the_fixture_through_arch_overrides(tmp_path):
    path, conf = _example("released_cutdown.yaml")
    work = tmp_path / "navref"  # the config's ../shared/fixtures/... beside it
    (tmp_path / "shared" / "fixtures").mkdir(parents=True)
    (tmp_path / "shared" / "fixtures" / "released-formats").symlink_to(FIXTURES.absolute())
    plan = run_snakemake(path, work, "-n", timeout=300)
    _ok(plan)
    jobs = job_counts(plan.stdout)
    assert "train_model" not in jobs and jobs["link_pretrained"] == 1, jobs
    assert jobs["convert_vae"] == 1, jobs
    out = f"results/{conf['run_name']}"
    linked = f"{out}/models/ldit_tiny/model.json"
    _ok(run_snakemake(path, work, "--cores", "2", linked, timeout=900))
    meta = json.loads((work / linked).read_text())
    assert meta["kind"] == "released" and meta["arch"] == "LightningDiT-XL/1"
    want = {"depth": 2, "hidden_size": 64, "num_heads": 4, "in_channels": 32, "input_size": 8}
    assert {k: meta["model"][k] for k in want} == want
