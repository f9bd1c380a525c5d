"""Reruns that follow the data and the values (issue 26, items 2 and 3), planned with
``snakemake -n`` on a touched smoke DAG (see test_reruns.py).

Every local input a config names (``x-path: input`` in the schema: data roots and label
files, a diffusers VAE folder, ``latents_stats.pt``, an LDM VAE checkpoint, a released
checkpoint, Inception weights) enters its readers' params as a size / mtime stamp, so
replacing its content reruns exactly those jobs; and the same values spelled otherwise
(keys in another order, integers as floats, paths relative / absolute / ``./x/``) plan
nothing. The inputs are dummies: a dry run never reads them.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO, job_counts, run_snakemake
from test_reruns import ORACLE_REPORT, REPORT, _touched


def _external(root: Path) -> dict[str, Path]:
    """Dummy external inputs under ``root``: an image folder with flat val and labels, a
    diffusers VAE folder, a latents_stats.pt, an LDM VAE checkpoint, a released DiT
    checkpoint and Inception weights."""
    files = {
        "image": root / "imgs" / "train" / "a" / "0.png",
        "val_image": root / "imgs" / "val" / "0.png",
        "val_labels": root / "imgs" / "val_labels.txt",
        "vae_weights": root / "sdvae" / "vae" / "diffusion_pytorch_model.safetensors",
        "vae_config": root / "sdvae" / "vae" / "config.json",
        "latents_stats": root / "latents_stats.pt",
        "ldm_vae": root / "vavae.pt",
        "release": root / "ldit.pt",
        "inception": root / "inception.pth",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"original")
    (root / "imgs" / "train" / "b").mkdir()
    (root / "imgs" / "train" / "b" / "0.png").write_bytes(b"original")
    return files


def _config(ext: Path) -> dict:
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config["datasets"]["folder"] = {
        "kind": "imagefolder", "root": str(ext / "imgs" / "train"), "resolution": 8,
        "val_root": str(ext / "imgs" / "val"),
        "val_labels": {"file": str(ext / "imgs" / "val_labels.txt"), "format": "index"},
    }  # fmt: skip
    config["latent_spaces"]["folder_px"] = {"dataset": "folder", "kind": "pixel"}
    config["latent_spaces"]["ext_vae"] = {
        "dataset": "digits", "kind": "vae", "pretrained": str(ext / "sdvae"),
        "subfolder": "vae", "latents_stats": str(ext / "latents_stats.pt"),
    }  # fmt: skip
    config["latent_spaces"]["ldm"] = {
        "dataset": "digits", "kind": "vae", "pretrained": str(ext / "vavae.pt"),
    }  # fmt: skip
    config["models"]["rel"] = {
        "space": "ldm", "pretrained": str(ext / "ldit.pt"), "arch": "LightningDiT-B/1",
        "arch_overrides": {"depth": 2, "hidden_size": 64, "num_heads": 4}, "steps": 5,
    }  # fmt: skip
    config["probes"]["loss_curves"]["models"] = ["tiny", "small", "rel"]
    config["evaluation"]["feature_extractor"] = "inception-v3-compat"
    config["evaluation"]["weights_path"] = str(ext / "inception.pth")
    return config


@pytest.fixture(scope="module")
def done_external(tmp_path_factory) -> tuple:
    """(workdir, config, external files): every output of the smoke config with external
    inputs of every kind created empty and marked up to date."""
    base = tmp_path_factory.mktemp("external")
    files = _external(base / "ext")
    workdir, config = _touched(base / "work", _config(base / "ext"))
    return workdir, config, files


def _plan(workdir: Path, config: dict | str) -> dict[str, int]:
    path = workdir / "changed.yaml"
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    proc = run_snakemake(path, workdir, "-n", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return job_counts(proc.stdout)


#: jobs of a new encoding of one latent space that no model uses (its oracle curves)
SPACE = {"encode_latents": 1, "oracle_objective": 2, **ORACLE_REPORT, **REPORT}
#: jobs after a new conversion of the LDM VAE: its space and the released model on it
RELEASE = {"link_pretrained": 1, "probe_loss_curves_rel": 1, "probe_tables": 1}
RELEASE |= {"report_fig7": 1, "report_fig9": 1, **REPORT}
LDM = {"convert_vae": 1, **SPACE, "oracle_split_time": 1, **RELEASE}
#: every evaluation of the smoke sweeps and what reads it
EVALUATION = {"reference_stats": 1, "paired_replicates": 3}
EVALUATION |= {f"evaluate_sweep_{k}": 1 for k in ("stage_swap", "timestep_shift", "cfg_interval")}
EVALUATION |= {"sweep_metrics": 3, "sweep_tables": 1, "report_sweep_table": 3, **REPORT}


@pytest.mark.parametrize(
    "name, want",
    [
        ("image", {"prepare_dataset": 1, **SPACE}),
        ("val_image", {"prepare_dataset": 1, **SPACE}),
        ("val_labels", {"prepare_dataset": 1, **SPACE}),
        ("vae_weights", SPACE),
        ("vae_config", SPACE),
        ("latents_stats", SPACE),
        ("ldm_vae", LDM),
        ("release", RELEASE),
        ("inception", EVALUATION),
    ],
)  # fmt: skip
def test_replacing_an_external_input_reruns_exactly_its_readers(done_external, name, want):
    workdir, config, files = done_external
    path = files[name]
    st = os.stat(path)
    assert _plan(workdir, config) == {}
    try:
        path.write_bytes(b"replaced")  # same size, new content and mtime
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        assert _plan(workdir, config) == want
    finally:
        path.write_bytes(b"original")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _plan(workdir, config) == {}


def test_an_input_moved_away_after_the_run_plans_nothing(done_external):
    """A finished run whose external inputs are later moved or unmounted (scratch purged, a
    laptop without /data) keeps its outputs: each input keeps its last stamp
    (results/<run>/input_stamps.json) and nothing is planned; put back, still nothing."""
    workdir, config, files = done_external
    root = files["image"].parents[3]
    away = root.with_name("ext_away")
    assert _plan(workdir, config) == {}
    root.rename(away)
    try:
        assert _plan(workdir, config) == {}
    finally:
        away.rename(root)
    assert _plan(workdir, config) == {}


def _respelled(config: dict, workdir: Path) -> str:
    """``config`` with the same values spelled otherwise: every mapping's keys reversed,
    every integer (every integer-typed key set, and number keys given as integers) as a
    float, every path relative to ``workdir`` with ``./`` and a trailing slash."""

    def respell(node, key=""):
        if isinstance(node, dict):
            return {k: respell(node[k], k) for k in reversed(list(node))}
        if isinstance(node, list):
            return [respell(v) for v in node]
        if isinstance(node, int) and not isinstance(node, bool):
            return float(node)
        if isinstance(node, str) and os.path.isabs(node):
            return "./" + os.path.relpath(node, workdir) + "/"
        return node

    text = yaml.safe_dump(respell(copy.deepcopy(config)), sort_keys=False)
    assert "steps: 30.0" in text and "../ext/imgs/train/" in text, text
    return text


def test_same_values_spelled_otherwise_plan_nothing(done_external):
    workdir, config, _ = done_external
    assert _plan(workdir, _respelled(config, workdir)) == {}


def test_nested_config_overrides_with_unchanged_values_plan_nothing(done_external):
    # snakemake hands nested --config values over as strings ("40", "true", "0.001")
    workdir, config, _ = done_external
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))
    override = [
        "sweeps={num_samples: 40, seeds: [0], timestep_shift: {shifts: [0.5], steps: 10}}",
        "models={tiny: {train: {lr: 1e-3, ema_warmup: true, steps: 30}}}",
        "probes={loss_curves: {checkpoints: true}}",
    ]
    proc = run_snakemake(workdir / "changed.yaml", workdir, "-n", "--config", *override)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_counts(proc.stdout) == {}, proc.stdout


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda c: c["models"]["tiny"]["train"].update(steps=30.5), "models.tiny.train.steps"),
        (lambda c: c["models"]["tiny"]["train"].update(lr="fast"), "models.tiny.train.lr"),
        (lambda c: c["models"]["tiny"]["train"].update(lr="nan"), "models.tiny.train.lr"),
        (lambda c: c["datasets"]["digits"].update(resolution="8.5"), "datasets.digits.resolution"),
    ],
)
def test_values_that_are_not_their_type_are_refused_naming_the_key(tmp_path, change, key):
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    change(config)
    proc = run_snakemake(config, tmp_path, "-n", timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and key in out, out[-3000:]
    assert "Traceback" not in out and "Job stats" not in out, out[-3000:]
