"""A released checkpoint and an LDM-format VAE through the workflow: no train_model job for
the released model, convert_vae runs once, link_pretrained stands in for training, the
probes run on it, and replacing the checkpoint file reruns exactly its jobs.

The VAE is the VA-VAE-format fixture (``../shared/fixtures/released-formats/vavae_tiny.pt``,
skipped with the reason when absent); the DiT is built here in LightningDiT's format
(official key names, ``{"ema", "model"}``) with random weights.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO, job_counts, run_snakemake

from navref.models.dit import DiT
from navref.models.released import OFFICIAL_TO_NAVREF, released_config

FIXTURES = Path(
    os.environ.get("NAVREF_FIXTURES", REPO.parent / "shared" / "fixtures" / "released-formats")
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (FIXTURES / "vavae_tiny.pt").is_file(),
        reason=f"released-format fixtures absent at {FIXTURES} (set NAVREF_FIXTURES)",
    ),
]
SMALL = {"depth": 2, "hidden_size": 64, "num_heads": 4}


def _released_dit(path: Path) -> None:
    """A LightningDiT-format checkpoint for 2x2x8 latents (digits at 8 px, the f4 VAE)."""
    conf = released_config("LightningDiT-B/1", **SMALL, input_size=2, in_channels=8, num_classes=10)
    torch.manual_seed(0)
    state = DiT(conf).state_dict()
    for key in list(state):
        for official, ours in OFFICIAL_TO_NAVREF:
            if key.startswith(ours):
                state[official + key[len(ours) :]] = state.pop(key)
                break
    torch.save({"ema": state, "model": state}, path)


@pytest.fixture(scope="module")
def released_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("released")
    shutil.copy(FIXTURES / "vavae_tiny.pt", work / "vavae_tiny.pt")
    _released_dit(work / "ldit.pt")
    conf = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    conf["latent_spaces"]["digits_ldm"] = {
        "dataset": "digits", "kind": "vae", "pretrained": str(work / "vavae_tiny.pt"),
    }  # fmt: skip
    conf["models"]["rel"] = {
        "space": "digits_ldm", "pretrained": str(work / "ldit.pt"),
        "arch": "LightningDiT-B/1", "arch_overrides": SMALL, "steps": 5,
    }  # fmt: skip
    conf["probes"]["loss_curves"]["models"] = ["tiny", "rel"]
    targets = [
        "results/smoke/probes/loss_curves/rel/ema.parquet",
        "results/smoke/probes/intermediate/rel.png",
    ]
    conf["probes"]["intermediate"]["models"] = ["tiny", "rel"]
    return work, conf, targets


def test_plan_has_no_training_for_the_release(released_run):
    work, conf, _ = released_run
    proc = run_snakemake(conf, work / "plan", "-n", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    jobs = job_counts(proc.stdout)
    assert jobs["train_model"] == 2  # tiny and small; not rel
    assert jobs["link_pretrained"] == 1 and jobs["convert_vae"] == 1
    assert "results/smoke/models/rel/model.safetensors" not in proc.stdout


def test_release_runs_and_reruns_exactly(released_run):
    work, conf, targets = released_run
    proc = run_snakemake(conf, work / "run", "--cores", "2", *targets, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = work / "run" / "results" / "smoke"  # run_name of configs/smoke.yaml
    assert (out / "vae_converted" / "digits_ldm" / "config.json").is_file()
    stats = yaml.safe_load((out / "latents" / "digits_ldm" / "stats.json").read_text())
    assert stats["shape"][1:] == [8, 2, 2] and stats["vae_path"].endswith("digits_ldm")
    assert yaml.safe_load((out / "models" / "rel" / "model.json").read_text())["kind"] == "released"
    again = run_snakemake(conf, work / "run", "-n", *targets, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout
    st = os.stat(work / "ldit.pt")  # a replaced checkpoint: relink and rerun what used it
    os.utime(work / "ldit.pt", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    proc = run_snakemake(conf, work / "run", "-n", *targets, timeout=300)
    assert job_counts(proc.stdout) == {
        "link_pretrained": 1, "probe_loss_curves_rel": 1, "probe_intermediate": 1
    }, proc.stdout  # fmt: skip
