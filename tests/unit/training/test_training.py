"""Tests of rectified-flow training, checkpoints, resume and DDP (navref.training)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from conftest import REPO
from safetensors.torch import load_file
from torch.optim.swa_utils import get_ema_multi_avg_fn

import navref.training.state as training_state
from navref.checkpoint import (
    find_resume_checkpoint,
    is_complete,
    load_checkpoint,
    optimizer_from_tensors,
    optimizer_to_tensors,
)
from navref.training import (
    FlowBatchSampler,
    TrainConfig,
    load_model,
    oracle_target,
    run_training,
    train,
)
from navref.training.batches import batch_on_rank, batches_on_rank
from navref.training.job import prepare_out_dir, settings_digest, torchrun_command
from navref.training.optim import ema_update, lr_at
from navref.workflow import LogLines

MODEL = {"depth": 1, "hidden_size": 32, "num_heads": 2, "patch_size": 2}
NUM_CLASSES = 2


pytestmark = pytest.mark.usefixtures("single_thread")


def _data(n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % NUM_CLASSES).astype(np.int64)
    latents = rng.standard_normal((n, 2, 4, 4)).astype(np.float32) * 0.3
    latents += (2.0 * labels - 1.0)[:, None, None, None]
    return latents, labels


def _conf(**kw) -> TrainConfig:
    base = {
        "steps": 6,
        "batch_size": 4,
        "lr": 1e-3,
        "ema_decay": 0.9,
        "log_every": 2,
        "save_every": 3,
    }
    return TrainConfig(**{**base, **kw})


def _run(tmp, name, conf, latents=None, labels=None, **kw):
    if latents is None:
        latents, labels = _data()
    return train(conf, MODEL, latents, labels, NUM_CLASSES, tmp / name, progress=False, **kw)


def _weights(path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


# --------------------------------------------------------------------------- config / sampler


def test_train_config_round_trip_and_validation():
    conf = TrainConfig(checkpoint_steps=(3, 1), betas=(0.9, 0.95), steps=5)
    d = conf.to_dict()
    assert json.loads(json.dumps(d)) == d
    again = TrainConfig.from_dict(d)
    assert again == TrainConfig.from_dict(json.loads(json.dumps(d)))
    assert again.betas == (0.9, 0.95)
    assert TrainConfig.from_dict({"checkpoint_steps": [3, 1, 3], "steps": 5}).checkpoint_steps == (
        1,
        3,
    )
    for bad in (
        {"target": "x"},
        {"time_sampling": "cosine"},
        {"precision": "fp16"},
        {"checkpoint_steps": [0]},
        {"steps": 2, "checkpoint_steps": [3]},
        {"label_dropout": 1.5},
        {"ema_decay": 1.0},
        {"nonsense": 1},
        {"noise": "local"},
    ):
        with pytest.raises(ValueError):
            TrainConfig.from_dict(bad)


def test_batch_sampler_is_a_pure_function_of_seed_and_step():
    conf = TrainConfig(batch_size=3, seed=5)
    a, b = FlowBatchSampler(conf, 7, (2, 4, 4)), FlowBatchSampler(conf, 7, (2, 4, 4))
    for step in (4, 0, 4, 11):
        x, y = a.batch(step), b.batch(step)
        for key in x:
            assert torch.equal(x[key], y[key])
    # each epoch visits every sample exactly once (7 samples, batches of 3 over 7 steps)
    seen = torch.cat([a.indices(s) for s in range(7)])
    for e in range(3):
        assert sorted(seen[7 * e : 7 * e + 7].tolist()) == list(range(7))
    other = FlowBatchSampler(TrainConfig(batch_size=3, seed=6), 7, (2, 4, 4))
    assert not torch.equal(other.batch(0)["x0"], a.batch(0)["x0"])
    batch = a.batch(0)
    assert batch["t"].min() >= 0 and batch["t"].max() < 1 and batch["x0"].shape == (3, 2, 4, 4)


@pytest.mark.parametrize("time_sampling", ["uniform", "logit_normal"])
def test_per_sample_noise_is_the_same_batch_for_every_world_size(time_sampling):
    """per_sample noise: the shards of worlds of 1, 2 and 4 ranks, each drawn alone, are
    bitwise the rows of one global batch; a pure function of (seed, step); other draws than
    global noise (same data indices); each row its own draw (row j independent of the
    rows before it: a world-size-1 batch of 2 rows starts as the batch of 8)."""
    shape = (2, 4, 4)
    conf = TrainConfig(batch_size=8, seed=3, noise="per_sample", time_sampling=time_sampling)
    sampler = FlowBatchSampler(conf, 11, shape)
    for step in (0, 5):
        whole = sampler.batch(step)
        for world in (1, 2, 4):
            shards = [FlowBatchSampler(conf, 11, shape).shard(step, r, world) for r in range(world)]
            for key, want in whole.items():
                assert torch.equal(torch.cat([s[key] for s in shards]), want), (world, key)
        glob = FlowBatchSampler(dataclasses.replace(conf, noise="global"), 11, shape).batch(step)
        assert torch.equal(glob["idx"], whole["idx"])
        assert not torch.equal(glob["x0"], whole["x0"]) and not torch.equal(glob["t"], whole["t"])
    small = FlowBatchSampler(dataclasses.replace(conf, batch_size=2), 11, shape).batch(0)
    assert torch.equal(small["x0"], sampler.batch(0)["x0"][:2])
    assert len(set(sampler.batch(1)["t"].tolist())) == 8


def test_global_noise_shards_are_rows_of_the_global_batch():
    conf = TrainConfig(batch_size=6, seed=1)
    sampler = FlowBatchSampler(conf, 9, (3,))
    whole = sampler.batch(2)
    for world in (2, 3):
        for r in range(world):
            part = sampler.shard(2, r, world)
            rows = slice(r * 6 // world, (r + 1) * 6 // world)
            assert all(torch.equal(part[k], whole[k][rows]) for k in whole)


def test_time_sampling_options():
    n = 4000
    uni = FlowBatchSampler(TrainConfig(batch_size=n), 1, (1,)).batch(0)["t"]
    ln = FlowBatchSampler(
        TrainConfig(batch_size=n, time_sampling="logit_normal", logit_normal_mean=1.0), 1, (1,)
    ).batch(0)["t"]
    assert abs(uni.mean().item() - 0.5) < 0.03 and abs(uni.std().item() - 12**-0.5) < 0.02
    # logit-normal: logit(t) ~ N(1, 1)
    z = torch.logit(ln.double())
    assert abs(z.mean().item() - 1.0) < 0.06 and abs(z.std().item() - 1.0) < 0.06
    ora = FlowBatchSampler(TrainConfig(batch_size=n, target="oracle", oracle_t_max=0.6), 1, (1,))
    assert ora.batch(0)["t"].max().item() == pytest.approx(0.6)
    drop = FlowBatchSampler(TrainConfig(batch_size=n, label_dropout=0.1), 1, (1,)).batch(0)["drop"]
    assert abs(drop.float().mean().item() - 0.1) < 0.02


# --------------------------------------------------------------------------- oracle target


def test_oracle_target_equals_cfm_target_for_one_sample():
    """N = 1: the posterior is a point mass, v* = (x1 - x_t) / (1 - t) = x1 - x0."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(1, 2, 4, 4, generator=g, dtype=torch.float64)
    x0 = torch.randn(5, 2, 4, 4, generator=g, dtype=torch.float64)
    t = torch.tensor([0.0, 0.2, 0.5, 0.9, 0.999], dtype=torch.float64)
    tb = t.view(-1, 1, 1, 1)
    x_t = (1 - tb) * x0 + tb * x1
    y = torch.tensor([0, 1, 0, 1, 0])  # 1 = null class (num_classes = 1)
    got = oracle_target(x_t, t, y, 1, x1.numpy().reshape(1, -1), np.zeros(1, dtype=np.int64))
    assert torch.allclose(got, x1 - x0, atol=1e-9)


def test_oracle_target_uses_unconditional_oracle_for_dropped_labels():
    g = torch.Generator().manual_seed(1)
    data = torch.randn(6, 8, generator=g, dtype=torch.float64)
    data_labels = np.array([0, 0, 0, 1, 1, 1])
    x = torch.randn(4, 8, generator=g, dtype=torch.float64)
    t = torch.full((4,), 0.3, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 2])  # 2 = null

    def brute(xq, tq, rows):
        logits = -((xq[None] - tq * data[rows]) ** 2).sum(-1) / (2 * (1 - tq) ** 2)
        w = torch.softmax(logits, 0)
        return ((w[:, None] * data[rows]).sum(0) - xq) / (1 - tq)

    ref = torch.stack(
        [
            brute(x[0], 0.3, [0, 1, 2]),
            brute(x[1], 0.3, list(range(6))),
            brute(x[2], 0.3, [3, 4, 5]),
            brute(x[3], 0.3, list(range(6))),
        ]
    )
    got = oracle_target(x, t, y, 2, data, data_labels)
    assert torch.allclose(got, ref, atol=1e-10)


def test_oracle_training_matches_cfm_training_for_one_sample(tmp_path):
    latents, labels = _data(1)
    conf = _conf(steps=3, log_every=1, save_every=0, label_dropout=0.5)
    a = _run(tmp_path, "cfm", conf, latents, labels)
    b = _run(tmp_path, "oracle", _conf(**{**conf.to_dict(), "target": "oracle"}), latents, labels)
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-5), k
    la = pd.read_parquet(tmp_path / "cfm" / "train_log.parquet")["loss"]
    lb = pd.read_parquet(tmp_path / "oracle" / "train_log.parquet")["loss"]
    assert np.allclose(la, lb, rtol=1e-4)


# --------------------------------------------------------------------------- training


def test_loss_decreases_and_outputs(tmp_path):
    conf = _conf(
        steps=150, batch_size=8, lr=3e-3, log_every=10, save_every=0, checkpoint_steps=(50,)
    )
    path = _run(tmp_path, "run", conf)
    log = pd.read_parquet(tmp_path / "run" / "train_log.parquet")
    assert list(log.columns) == ["step", "loss", "grad_norm", "lr", "samples_per_s", "time"]
    assert log["step"].tolist() == list(range(10, 151, 10))
    assert log["loss"].iloc[-3:].mean() < 0.7 * log["loss"].iloc[0]
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["step"] == 150 and meta["num_classes"] == NUM_CLASSES
    assert meta["model"]["in_channels"] == 2 and meta["model"]["input_size"] == 4
    model = load_model(tmp_path / "run")
    assert not model.training
    assert set(model.state_dict()) == set(_weights(path))
    for k, v in model.state_dict().items():
        assert torch.equal(v, _weights(path)[k])
    # checkpoints: the configured one and the rolling "last" at the end
    assert is_complete(tmp_path / "run" / "checkpoints" / "step_00000050")
    assert json.loads((tmp_path / "run/checkpoints/last.json").read_text())["step"] == 150
    m50 = load_model(tmp_path / "run" / "checkpoints" / "step_00000050.safetensors", which="model")
    raw = load_model(tmp_path / "run", which="model")
    assert not torch.equal(m50.final_layer.linear.weight, raw.final_layer.linear.weight)
    x = torch.randn(2, 2, 4, 4)
    assert model(x, 0.5, torch.tensor([0, 1])).shape == x.shape


def test_checkpoint_round_trip(tmp_path):
    conf = _conf(steps=3, save_every=3)
    _run(tmp_path, "run", conf)
    stem = find_resume_checkpoint(tmp_path / "run" / "checkpoints")
    assert stem is not None and stem.name == "last"
    tensors, meta = load_checkpoint(stem)
    assert meta["step"] == 3 and meta["train"] == conf.to_dict()
    ema = load_model(tmp_path / "run" / "checkpoints" / "last.json", which="ema")
    for k, v in ema.state_dict().items():
        assert torch.equal(v, tensors["ema." + k])
    # optimiser state survives the tensors + JSON split exactly
    model = load_model(stem, which="model")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.load_state_dict(optimizer_from_tensors(tensors, meta["optimizer"]))
    t2, m2 = optimizer_to_tensors(opt.state_dict())
    for k, v in t2.items():
        assert torch.equal(v, tensors[k]), k
    assert json.loads(json.dumps(m2)) == meta["optimizer"]
    # a torn pair (tensors rewritten, JSON not) is detected and skipped
    (stem.parent / "last.json").write_text(json.dumps({**meta, "token": "other"}))
    assert not is_complete(stem)
    assert find_resume_checkpoint(stem.parent) is None
    with pytest.raises(ValueError, match="incomplete"):
        load_checkpoint(stem)


class _Killed(Exception):
    pass


def test_resume_is_bitwise_equal(tmp_path, monkeypatch):
    k = 4
    conf = _conf(steps=2 * k, save_every=2, log_every=3, checkpoint_steps=(k,))
    straight = _run(tmp_path, "straight", conf)

    real_save = training_state.save_checkpoint

    def save_then_die(stem, tensors, meta):
        real_save(stem, tensors, meta)
        if meta["step"] == k and stem.name == "last":
            raise _Killed

    monkeypatch.setattr(training_state, "save_checkpoint", save_then_die)
    with pytest.raises(_Killed):
        _run(tmp_path, "resumed", conf)
    monkeypatch.setattr(training_state, "save_checkpoint", real_save)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = _run(tmp_path, "resumed", conf)

    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ca, _ = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last")
    cb, _ = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last")
    for key in ca:
        if key.startswith(("model.", "ema.", "optim.")):
            assert torch.equal(ca[key], cb[key]), key
    la = pd.read_parquet(tmp_path / "straight" / "train_log.parquet")
    lb = pd.read_parquet(tmp_path / "resumed" / "train_log.parquet")
    assert la["step"].tolist() == lb["step"].tolist() == [3, 6, 8]
    assert la["loss"].tolist() == lb["loss"].tolist()
    # a different config refuses to resume
    with pytest.raises(ValueError, match="cannot resume"):
        _run(tmp_path, "resumed", _conf(**{**conf.to_dict(), "lr": 5e-4}))
    # extending the number of steps resumes from the end of the finished run
    longer = _run(tmp_path, "resumed", _conf(**{**conf.to_dict(), "steps": 2 * k + 1}))
    assert json.loads(longer.with_suffix(".json").read_text())["step"] == 2 * k + 1


def test_non_finite_loss_stops_with_step_and_keeps_checkpoint(tmp_path):
    latents, labels = _data(8)
    conf = _conf(steps=6, batch_size=2, save_every=1, log_every=5)
    sampler = FlowBatchSampler(conf, 8, (2, 4, 4))
    bad_sample = int(sampler.indices(3)[0])  # first drawn at update 4 (step index 3)
    first = min(s for s in range(6) if bad_sample in sampler.indices(s).tolist())
    latents = latents.copy()
    latents[bad_sample] = np.nan
    with pytest.raises(RuntimeError, match=f"at step {first + 1}\\b"):
        _run(tmp_path, "nan", conf, latents, labels)
    assert not (tmp_path / "nan" / "model.safetensors").exists()
    meta = json.loads((tmp_path / "nan" / "checkpoints" / "last.json").read_text())
    assert meta["step"] == first
    tensors, _ = load_checkpoint(tmp_path / "nan" / "checkpoints" / "last")
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model."))


def test_bad_inputs_raise_clear_errors(tmp_path):
    latents, labels = _data(4)
    with pytest.raises(ValueError, match="labels must lie"):
        _run(tmp_path, "a", _conf(), latents, labels + 5)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        _run(tmp_path, "b", _conf(), latents[:, 0], labels)
    with pytest.raises(ValueError, match="in_channels"):
        train(_conf(), {**MODEL, "in_channels": 3}, latents, labels, 2, tmp_path / "c")


def test_bf16_training_runs(tmp_path):
    path = _run(tmp_path, "bf16", _conf(steps=2, precision="bf16", save_every=0))
    assert all(torch.isfinite(v).all() for v in _weights(path).values())


def test_cli_trains_from_npy_and_parquet(tmp_path):
    from navref.training.cli import main

    latents, labels = _data(8)
    np.save(tmp_path / "lat.npy", latents)
    pd.DataFrame({"label": labels, "other": 0}).to_parquet(tmp_path / "meta.parquet")
    (tmp_path / "conf.json").write_text(
        json.dumps({"model": MODEL, "train": {"steps": 2, "batch_size": 4, "log_every": 1}})
    )
    argv = [
        "--latents",
        str(tmp_path / "lat.npy"),
        "--labels-from",
        str(tmp_path / "meta.parquet"),
        "--num-classes",
        "2",
        "--config",
        str(tmp_path / "conf.json"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    assert main(argv) == 0
    assert load_model(tmp_path / "out").conf.num_classes == 2
    with pytest.raises(ValueError, match="no column"):
        main([*argv[:4], "--label-column", "lbl", *argv[4:]])


def _space(root, latents, labels, split):
    """A minimal latent space directory (latents.npy, meta.parquet, stats.json)."""
    root.mkdir(parents=True)
    np.save(root / "latents.npy", latents)
    pd.DataFrame({"label": labels, "split": split}).to_parquet(root / "meta.parquet")
    channels = latents.shape[1]
    stats = {
        "num_classes": NUM_CLASSES, "shape": list(latents.shape),
        "shift": [0.0] * channels, "scale": [1.0] * channels,
    }  # fmt: skip
    (root / "stats.json").write_text(json.dumps(stats))
    return root


def test_cli_space_and_run_training_equal_train_on_the_split(tmp_path):
    from navref.training.cli import main

    latents, labels = _data(12)
    split = np.array(["val"] * 2 + ["train"] * 8 + ["val"] * 2)
    space = _space(tmp_path / "space", latents, labels, split)
    conf = {"steps": 3, "batch_size": 4, "log_every": 1, "save_every": 0}
    (tmp_path / "conf.json").write_text(json.dumps({"model": MODEL, "train": conf}))
    args = ["--space", str(space), "--config", str(tmp_path / "conf.json"), "--no-progress"]
    args += ["--device", "cpu"]  # the CLI's default is cuda where present
    assert main([*args, "--out", str(tmp_path / "cli")]) == 0
    settings = {"arch": MODEL, "train": conf, "space": "space"}
    job = run_training(settings, space, tmp_path / "job", device="cpu")
    ref = _run(tmp_path, "ref", TrainConfig(**conf), latents[2:10], labels[2:10])
    want = _weights(ref)
    for got in (_weights(tmp_path / "cli" / "model.safetensors"), _weights(job)):
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want)
    assert (tmp_path / "job" / "config_digest.txt").read_text().strip() == settings_digest(settings)


def test_changed_settings_move_old_checkpoints_aside(tmp_path):
    out = tmp_path / "run"
    logger = logging.getLogger("test")
    prepare_out_dir({"a": 1}, out, logger)
    (out / "checkpoints").mkdir()
    prepare_out_dir({"a": 1}, out, logger)  # same settings: resume from them
    assert (out / "checkpoints").is_dir()
    prepare_out_dir({"a": 2}, out, logger)
    digest = settings_digest({"a": 2})
    assert not (out / "checkpoints").exists()
    assert (out / f"checkpoints.stale-{digest}").is_dir()
    assert (out / "config_digest.txt").read_text() == digest + "\n"
    assert settings_digest({"b": 1, "a": 2}) == settings_digest({"a": 2, "b": 1})


def test_learning_rate_warmup_matches_exact_fractions():
    conf = TrainConfig(lr=3e-4, warmup_steps=7)
    for step in range(10):
        exact = Fraction(3e-4) * min(step + 1, 7) / 7
        assert lr_at(conf, step) == pytest.approx(float(exact), rel=2**-52)
    assert lr_at(conf, 6) == 3e-4 and lr_at(TrainConfig(lr=3e-4), 0) == 3e-4


def test_ema_update_is_torchs_ema_bitwise_and_the_closed_form():
    torch.manual_seed(0)
    model, ema = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    lib = [p.detach().clone() for p in ema.parameters()]
    start = [p.detach().double().clone() for p in ema.parameters()]
    lib_update = get_ema_multi_avg_fn(0.9)
    history = []
    for _ in range(6):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        history.append([p.detach().double().clone() for p in model.parameters()])
        ema_update(ema, model, 0.9)
        lib_update(lib, [p.detach() for p in model.parameters()], None)
    for i, (ours, theirs) in enumerate(zip(ema.parameters(), lib, strict=True)):
        assert torch.equal(ours.detach(), theirs)
        # closed form: 0.9^6 start + sum_k 0.1 * 0.9^(5 - k) model_k
        ref = 0.9**6 * start[i] + sum(0.1 * 0.9 ** (5 - k) * h[i] for k, h in enumerate(history))
        assert torch.allclose(ours.double(), ref, atol=1e-6)


# --------------------------------------------------------------------------- DDP


def _ddp_worker(rank: int, world: int, init_file: str, out: str, noise: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        latents, labels = _data(8)
        conf = _conf(steps=4, batch_size=4, save_every=0, noise=noise)
        train(conf, MODEL, latents, labels, NUM_CLASSES, out, progress=False, device="cpu")
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("noise", ["global", "per_sample"])
def test_ddp_two_processes_match_one_process(tmp_path, noise):
    """Two gloo ranks train the weights of one process, with either way of drawing the noise
    (per_sample: each rank draws only its shard's)."""
    single = _run(tmp_path, "single", _conf(steps=4, batch_size=4, save_every=0, noise=noise))
    mp.spawn(
        _ddp_worker,
        args=(2, str(tmp_path / "store"), str(tmp_path / "ddp"), noise),
        nprocs=2,
        join=True,
    )
    a, b = _weights(single), _weights(tmp_path / "ddp" / "model.safetensors")
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5, rtol=1e-4), key
    assert json.loads((tmp_path / "ddp" / "model.json").read_text())["world_size"] == 2
    # only rank 0 writes: no stray files from rank 1
    assert sorted(os.listdir(tmp_path / "ddp")) == [
        "checkpoints",
        "model.json",
        "model.safetensors",
        "train_log.parquet",
    ]


def test_torchrun_two_cpu_ranks_then_resume_on_one(tmp_path, monkeypatch, caplog):
    """The real multi-process path: run_training with gpus=2, device cpu launches
    ``torch.distributed.run --standalone --nproc_per_node=2`` (gloo); its ranks write
    checkpoints behind a barrier; one process then resumes from the 2-rank checkpoint of
    step 2 and ends where an uninterrupted 1-process run ends (DDP averages the shards'
    gradients, so equal up to float32 summation order)."""
    latents, labels = _data(8)
    space = _space(tmp_path / "space", latents, labels, np.array(["train"] * 8))
    train_conf = {"steps": 4, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.9, "log_every": 1}
    train_conf.update(save_every=0, checkpoint_steps=[2], ddp_timeout_minutes=2)
    settings = {"arch": MODEL, "train": train_conf, "space": "space"}
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    # inside a rule stderr is the rule's log (LogLines: no file descriptor); the ranks'
    # output is relayed into it
    rule_log = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", LogLines(rule_log))
        ddp = run_training(settings, space, tmp_path / "ddp", gpus=2, threads=2, device="cpu")
    assert "step 4" in rule_log.getvalue(), rule_log.getvalue()[-2000:]
    info = json.loads((tmp_path / "ddp" / "model.json").read_text())
    assert info["world_size"] == 2 and "ddp_timeout_minutes" not in info["train"]
    ckpts = tmp_path / "ddp" / "checkpoints"
    assert is_complete(ckpts / "step_00000002") and is_complete(ckpts / "last")
    single = run_training(settings, space, tmp_path / "single", device="cpu")
    for key, want in _weights(single).items():
        assert torch.allclose(_weights(ddp)[key], want, atol=1e-5, rtol=1e-4), key
    # 2 ranks -> 1: resume from the step-2 checkpoint written by the 2-rank run
    for path in ckpts.glob("last*"):
        path.unlink()
    (tmp_path / "ddp" / "model.safetensors").unlink()
    with caplog.at_level(logging.INFO, logger="navref.training"):
        resumed = run_training(settings, space, tmp_path / "ddp", device="cpu")
    assert "step_00000002 at step 2" in caplog.text
    assert json.loads((tmp_path / "ddp" / "model.json").read_text())["world_size"] == 1
    for key, want in _weights(single).items():
        assert torch.allclose(_weights(resumed)[key], want, atol=1e-5, rtol=1e-4), key


def test_torchrun_command_shares_the_jobs_threads_over_ranks():
    cmd = torchrun_command(Path("s"), Path("c.json"), Path("o"), gpus=8, threads=64)
    assert "--nproc_per_node=8" in cmd and cmd[cmd.index("--threads") + 1] == "8"
    assert "--ddp-timeout-minutes" not in cmd
    cmd = torchrun_command(Path("s"), Path("c"), Path("o"), 3, threads=2, ddp_timeout_minutes=5)
    assert cmd[cmd.index("--threads") + 1] == "1" and cmd[-2:] == ["--ddp-timeout-minutes", "5"]


def test_prefetched_batches_equal_the_batches_made_in_line():
    """The background-thread prefetch (on by default on CUDA) yields bitwise the batches of
    batch_on_rank, step by step, on every rank of a world of 2."""
    latents, labels = _data(8)
    sampler = FlowBatchSampler(_conf(batch_size=4), 8, latents.shape[1:])
    labels_t, cpu = torch.from_numpy(labels), torch.device("cpu")
    for rank in (0, 1):
        got = list(batches_on_rank(sampler, range(2, 7), latents, labels_t, rank, 2, 2, cpu, True))
        assert [s for s, _ in got] == [2, 3, 4, 5, 6]
        for step, batch in got:
            want = batch_on_rank(sampler, step, latents, labels_t, rank, 2, 2, cpu)
            assert all(torch.equal(a, b) for a, b in zip(batch, want, strict=True))
            assert batch[0].shape == (2, 2, 4, 4) and batch[3].shape == (2,)


def test_checkpoints_older_than_the_noise_key_resume_as_global_noise():
    """A checkpoint written before TrainConfig.noise existed (no key in its meta) drew
    global noise: it resumes a global run and is refused for a per_sample one."""
    from types import SimpleNamespace

    from navref.models.dit import DiTConfig
    from navref.training.state import check_resume_compat

    model_conf = DiTConfig(**MODEL)
    old = {k: v for k, v in _conf().to_dict().items() if k != "noise"}
    meta = {"train": old, "model": model_conf.to_dict(), "num_classes": 2, "data_shape": [8, 2]}
    run = SimpleNamespace(model_conf=model_conf, num_classes=2, data_shape=[8, 2], conf=_conf())
    check_resume_compat(meta, run, Path("ckpt/last"))
    run.conf = _conf(noise="per_sample")
    with pytest.raises(ValueError, match=r"train config differs in \['noise'\]"):
        check_resume_compat(meta, run, Path("ckpt/last"))


@pytest.mark.parametrize(
    ("device", "cuda", "backend"),
    [("cpu", True, "gloo"), (None, True, "nccl"), ("cuda", True, "nccl"),
     ("cuda:1", True, "nccl"), (None, False, "gloo"), ("cpu", False, "gloo")],
)  # fmt: skip
def test_ranks_join_nccl_only_when_they_train_on_cuda(monkeypatch, device, cuda, backend):
    """torchrun ranks asked to train on the CPU on a GPU node (``--device cpu``) join a gloo
    group: nccl cannot reduce CPU tensors (found on an H200 node, where the 2-rank CPU test
    failed); without ``--device`` the backend follows CUDA's presence."""
    from navref.training import cli

    joined, devices = [], []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(cli.torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(cli.torch.cuda, "set_device", devices.append)
    monkeypatch.setattr(cli.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(cli.dist, "init_process_group", lambda b, timeout: joined.append(b))
    cli._init_process_group(2.0, device)
    assert joined == [backend]
    assert devices == ([1] if backend == "nccl" else [])


def test_a_rerun_on_new_latents_trains_afresh_not_from_the_old_checkpoints(tmp_path, caplog):
    """A changed upstream setting (e.g. the VAE's lr) re-encodes the latents with the same
    shape; the rerun of train_model (outputs deleted, checkpoints kept, settings unchanged)
    must not resume the checkpoints of the old latents: it trains afresh, bitwise as on a
    clean directory, says why in its log and keeps the old checkpoints aside."""
    latents, labels = _data(8)
    split = np.array(["train"] * 8)
    conf = {"steps": 4, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.9, "log_every": 2}
    conf.update(save_every=2, checkpoint_steps=[2])
    settings = {"arch": MODEL, "train": conf, "space": "space"}
    space = _space(tmp_path / "space", latents, labels, split)
    out = tmp_path / "job"
    run_training(settings, space, out, device="cpu")
    for name in ("model.safetensors", "model.json", "train_log.parquet"):  # as snakemake does
        (out / name).unlink()
    new = _space(tmp_path / "space2", latents[::-1].copy() * 1.5, labels, split)
    with caplog.at_level(logging.INFO, logger="navref.training"):
        got = run_training(settings, new, out, device="cpu")
    assert "not resuming from" in caplog.text and "latents differ" in caplog.text, caplog.text
    assert "resuming from" not in caplog.text.replace("not resuming from", "")
    fresh = run_training(settings, new, tmp_path / "fresh", device="cpu")
    a, b = _weights(fresh), _weights(got)
    assert all(torch.equal(a[k], b[k]) for k in a)
    stale = list(out.glob("checkpoints.stale-*"))
    assert len(stale) == 1 and (stale[0] / "step_00000002.json").is_file()
    # the new checkpoints record the new inputs; an identical rerun resumes them
    record = load_checkpoint(out / "checkpoints" / "last")[1]["inputs"]
    assert set(record) == {"latents", "labels", "stats"}
    assert json.loads((out / "model.json").read_text())["inputs"] == record
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="navref.training"):
        run_training(settings, new, out, device="cpu")
    assert "resuming from" in caplog.text and "not resuming" not in caplog.text


@pytest.mark.parametrize("what", ["labels", "stats", "record"])
def test_changed_labels_statistics_or_a_missing_record_refuse_the_resume(tmp_path, caplog, what):
    """The class of the case above: the labels or the normalisation statistics alone
    changed, or a checkpoint without an input record (written before records existed)."""
    latents, labels = _data(8)
    split = np.array(["train"] * 8)
    conf = {"steps": 2, "batch_size": 4, "log_every": 1, "save_every": 2}
    settings = {"arch": MODEL, "train": conf, "space": "space"}
    space = _space(tmp_path / "space", latents, labels, split)
    run_training(settings, space, tmp_path / "job", device="cpu")
    if what == "labels":
        meta = pd.DataFrame({"label": 1 - labels, "split": split})
        meta.to_parquet(space / "meta.parquet")
    elif what == "stats":
        stats = json.loads((space / "stats.json").read_text())
        (space / "stats.json").write_text(json.dumps({**stats, "scale": [2.0, 2.0]}))
    else:
        path = tmp_path / "job" / "checkpoints" / "last.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items()
                                    if k != "inputs"}))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="navref.training"):
        run_training(settings, space, tmp_path / "job", device="cpu")
    want = {"labels": "labels differ", "stats": "stats differ", "record": "(no record) differ"}
    assert f"not resuming from {tmp_path / 'job' / 'checkpoints' / 'last'}" in caplog.text
    assert want[what] in caplog.text, caplog.text
