"""The probe jobs of navref.probe_runs on a tiny trained model: one job per model (all its
checkpoints, all taus of a probe) writes, per checkpoint and per tau, bitwise what a job of
that checkpoint or tau alone writes (issue 17: fewer jobs, the same outputs)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from navref.checkpoint import checkpoint_path
from navref.data import prepare_dataset
from navref.gaussian_null import GaussianVelocity
from navref.latents import LatentSpace, encode_latents
from navref.probe_runs import run_gaussian_control, run_loss_curves, run_tau_probes
from navref.probes import loss_curves
from navref.training import load_model
from navref.training.job import run_training

ARCH = {"depth": 1, "hidden_size": 32, "num_heads": 2, "patch_size": 2}
TRAIN = {"steps": 6, "batch_size": 8, "lr": 1e-3, "ema_decay": 0.5, "checkpoint_steps": [3]}
TRAIN |= {"log_every": 3, "save_every": 3}
LOG = logging.getLogger("test_probe_runs_jobs")


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(dataset dir, pixel latent space dir, model dir with checkpoints ema and step3)."""
    root = tmp_path_factory.mktemp("probe_jobs")
    prepare_dataset({"kind": "digits", "resolution": 8, "val_fraction": 0.1}, root / "data")
    encode_latents({"kind": "pixel"}, root / "data", root / "space")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        settings = {"arch": ARCH, "train": TRAIN, "space": "space"}
        run_training(settings, root / "space", root / "model", device="cpu")
    finally:
        torch.set_num_threads(n)
    return root / "data", root / "space", root / "model"


def _one_checkpoint(model_dir, ckpt, space_dir, settings, seed):
    """The table of one checkpoint as a job of its own computed it (before issue 17)."""
    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    model = load_model(checkpoint_path(model_dir, ckpt), which="ema", device="cpu")
    return loss_curves(
        model, data, labels, int(space.stats["num_classes"]), settings["t_grid"],
        int(settings["num_samples"]), seed, oracle_data=data, oracle_labels=labels,
        batch_size=int(settings["batch_size"]), chunk_size=None, device="cpu",
    )  # fmt: skip


def test_loss_curves_of_all_checkpoints_equal_one_job_per_checkpoint(trained):
    _, space_dir, model_dir = trained
    settings = {"t_grid": [0.0, 0.3, 0.9], "num_samples": 20, "batch_size": 8}
    for order in (["step3", "ema"], ["ema", "step3"]):
        tables = run_loss_curves(model_dir, order, space_dir, settings, 1, "cpu")
        assert list(tables) == order
        for ckpt in order:
            want = _one_checkpoint(model_dir, ckpt, space_dir, settings, 1)
            pd.testing.assert_frame_equal(tables[ckpt], want, check_exact=True)
    # the two checkpoints are different models (else the test could not see a mix-up)
    assert not tables["ema"]["mean"].equals(tables["step3"]["mean"])


def test_loss_curves_do_not_depend_on_the_forward_batch_size(trained):
    # the model's rows do not depend on their batch (one thread, float32) on this project's
    # CPU (bitwise); where a CPU's matmul depends on the row count they agree up to rounding
    # (tests/unit/test_sampling.py); the oracle's batches stay whole
    _, space_dir, model_dir = trained
    settings = {"t_grid": [0.0, 0.5], "num_samples": 20, "batch_size": 8}
    whole = run_loss_curves(model_dir, ["ema"], space_dir, settings, 1, "cpu")["ema"]
    settings["forward_batch_size"] = 3  # 8 = 3 + 3 + 2, and the last batch of 4 = 3 + 1
    split = run_loss_curves(model_dir, ["ema"], space_dir, settings, 1, "cpu")["ema"]
    pd.testing.assert_frame_equal(split, whole, check_exact=False, rtol=1e-5, atol=1e-7)


def _tau_job(trained, probe, specs, out):
    """Run the tau probe job for ``specs``; {spec: (table, grid pixels)}."""
    data_dir, space_dir, model_dir = trained
    settings = {"num_samples": 6, "steps": 4, "grid_cols": 3, "grid_scale": 1}
    settings |= {"memorization_threshold": 1 / 3, "memorization_resolution": None}
    out.mkdir(parents=True)
    tables = [out / f"tau{s}.parquet" for s in specs]
    pngs = [out / f"tau{s}.png" for s in specs]
    files = {"info": str(data_dir / "info.json")}
    control = space_dir / "gaussian_control.safetensors"
    if not control.exists():
        run_gaussian_control(space_dir, control, space_dir / "gaussian_control.json", "cpu", 100)
    run_tau_probes(
        probe, specs, model_dir, space_dir, None, settings, 2, "cpu", tables, pngs, LOG, files,
        control=control if probe == "mixed" else None,
    )  # fmt: skip
    return {
        s: (pd.read_parquet(t), np.asarray(Image.open(p)))
        for s, t, p in zip(specs, tables, pngs, strict=True)
    }


@pytest.mark.parametrize("probe", ["mixed", "unseen"])
def test_tau_probe_outputs_do_not_depend_on_the_other_taus_of_the_job(trained, tmp_path, probe):
    specs = ["0.0", "0.5", "0.8"] if probe == "mixed" else ["0.2", "0.5", "0.8"]
    together = _tau_job(trained, probe, specs, tmp_path / "all")
    backwards = _tau_job(trained, probe, specs[::-1], tmp_path / "reversed")
    for spec in specs:
        alone = _tau_job(trained, probe, [spec], tmp_path / spec)[spec]
        for got in (together[spec], backwards[spec]):
            pd.testing.assert_frame_equal(got[0], alone[0], check_exact=True)
            np.testing.assert_array_equal(got[1], alone[1])
        assert alone[0]["tau_spec"].tolist() == [spec]
    # the taus give different samples (the comparison above could see a mix-up)
    assert not np.array_equal(together[specs[0]][1], together[specs[-1]][1])
    if probe == "mixed":  # the stage-free control ran beside the model (issue 24)
        assert all(np.isfinite(together[s][0]["null_memorization_share"]).all() for s in specs)


def test_tau_probe_job_needs_one_table_and_grid_per_tau(trained, tmp_path):
    data_dir, space_dir, model_dir = trained
    with pytest.raises(ValueError, match="2 taus need as many tables and grids"):
        run_tau_probes(
            "mixed", ["0.1", "0.2"], model_dir, space_dir, None, {}, 0, "cpu",
            [tmp_path / "a.parquet"], [tmp_path / "a.png"], LOG, {},
        )  # fmt: skip
    with pytest.raises(ValueError, match="mixed probe needs the stage-free control"):
        run_tau_probes(
            "mixed", ["0.1"], model_dir, space_dir, None, {}, 0, "cpu",
            [tmp_path / "a.parquet"], [tmp_path / "a.png"], LOG, {},
        )  # fmt: skip


def test_gaussian_control_of_a_space_streams_its_train_split(trained, tmp_path):
    """Rule gaussian_control's job: the train rows only (the split is scattered here or
    not: chunks of the stored latents, masked), any chunk size, as fitted in memory."""
    _, space_dir, _ = trained
    space = LatentSpace.load(space_dir)
    data, labels = space.split_arrays("train")
    want = GaussianVelocity.fit(np.asarray(data), labels).control
    for rows in (64, 100_000):
        got = run_gaussian_control(space_dir, tmp_path / "g.safetensors", tmp_path / "g.json",
                                   "cpu", rows)  # fmt: skip
        assert got.n == len(data) and got.classes.tolist() == sorted(set(labels.tolist()))
        torch.testing.assert_close(got.means, want.means, rtol=0, atol=1e-10)
        torch.testing.assert_close(got.covariance(), want.covariance(), rtol=0, atol=1e-10)
