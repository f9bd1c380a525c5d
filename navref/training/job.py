"""Training a model of the workflow on its latent space: one process, or DDP under torchrun.

:func:`run_training` is the rule ``train_model``'s single call. It resumes only a run of
the very same settings (a digest of them is kept in ``config_digest.txt``; checkpoints of
other settings are moved aside, never mixed in) on the very same data (each checkpoint
records the fingerprints of its latents, labels and statistics, :func:`train_on_space`;
one of other data is moved aside by the training loop, which then starts afresh), then trains in this process, or with
``gpus > 1`` launches ``torchrun --nproc_per_node gpus -m navref.training --space ...``,
whose ranks all end in the same :func:`train_on_space`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from navref.fingerprint import file_fingerprint
from navref.io import atomic_path
from navref.latents import LatentSpace
from navref.training.loop import train

_LOGGER = logging.getLogger("navref.training")


def settings_digest(settings: dict[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``settings`` as sorted-key JSON."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def prepare_out_dir(settings: dict[str, Any], out_dir: Path, logger: logging.Logger) -> None:
    """Make ``out_dir`` resume-safe for ``settings``: checkpoints written under other
    settings move to ``checkpoints.stale-<digest>``; the digest goes to config_digest.txt."""
    ckpt = out_dir / "checkpoints"
    digest = settings_digest(settings)
    stamp = out_dir / "config_digest.txt"
    if ckpt.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        old = out_dir / f"checkpoints.stale-{digest}"
        logger.warning("config changed since the last run: moving %s to %s", ckpt, old)
        shutil.rmtree(old, ignore_errors=True)
        ckpt.rename(old)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(stamp) as tmp:
        tmp.write_text(digest + "\n")
    if ckpt.exists():
        logger.info("found checkpoints in %s (resumed only if trained on the same data)", ckpt)


def train_on_space(
    train_conf: dict[str, Any],
    model_conf: dict[str, Any],
    space_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    split: str = "train",
    **kwargs: Any,
) -> Path:
    """:func:`navref.training.train` on one split of the latent space in ``space_dir``
    (``LatentSpace.split_arrays``: a contiguous split stays memory-mapped); ``kwargs`` go
    to ``train``. The run's input record (what its checkpoints must match to be resumed)
    holds the fingerprints of the split's latents and labels and of the space's
    ``stats.json`` (its normalisation statistics). Returns the model path; raises
    ``FileNotFoundError`` when ``space_dir`` holds no latent space."""
    if not (Path(space_dir) / "stats.json").is_file():
        raise FileNotFoundError(
            f"{space_dir} is not a latent space (no stats.json); encode it first "
            "(rule encode_latents) or pass --latents with labels"
        )
    space = LatentSpace.load(space_dir)
    latents, labels = space.split_arrays(split)
    num_classes = int(space.stats["num_classes"])
    inputs = {"stats": file_fingerprint(Path(space_dir) / "stats.json"), **kwargs.pop("inputs", {})}
    return train(
        train_conf, model_conf, latents, labels, num_classes, out_dir, inputs=inputs, **kwargs
    )


def torchrun_command(
    space_dir: Path,
    run_config: Path,
    out_dir: Path,
    gpus: int,
    threads: int = 1,
    ddp_timeout_minutes: float | None = None,
) -> list[str]:
    """The command that trains on ``gpus`` processes of this node (DDP); the job's
    ``threads`` are shared out: each rank gets ``max(1, threads // gpus)`` (``--threads``)."""
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={gpus}", "-m", "navref.training",
        "--space", str(space_dir), "--split", "train", "--config", str(run_config),
        "--out", str(out_dir), "--no-progress", "--threads", str(rank_threads(threads, gpus)),
    ]  # fmt: skip
    if ddp_timeout_minutes is not None:
        cmd += ["--ddp-timeout-minutes", str(ddp_timeout_minutes)]
    return cmd


def rank_threads(threads: int, gpus: int) -> int:
    """CPU threads of each of ``gpus`` ranks sharing a job's ``threads``."""
    return max(1, int(threads) // max(1, int(gpus)))


def run_training(
    settings: dict[str, Any],
    space_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    gpus: int = 0,
    threads: int = 1,
    device: str | None = None,
    logger: logging.Logger | None = None,
) -> Path:
    """Train the model of ``settings`` (a ``models:`` entry of the config: ``arch``, ``train``,
    ...) on the train split of ``space_dir`` into ``out_dir``; ``gpus > 1`` runs DDP under
    torchrun, each rank with ``threads // gpus`` CPU threads (OMP_NUM_THREADS too) and the
    process-group timeout ``train.ddp_timeout_minutes`` (not a training hyper-parameter: it
    is kept out of TrainConfig). ``device: cpu`` with ``gpus > 1`` runs the ranks on the CPU
    (gloo). Returns ``out_dir / "model.safetensors"``; raises ``CalledProcessError`` when
    torchrun fails."""
    logger = logger or _LOGGER
    out_dir, space_dir = Path(out_dir), Path(space_dir)
    model_conf, train_conf = dict(settings["arch"]), dict(settings["train"])
    ddp_timeout = train_conf.pop("ddp_timeout_minutes", None)
    # the timeout does not change the run: checkpoints resume across a changed one
    prepare_out_dir({**settings, "train": train_conf}, out_dir, logger)
    if gpus <= 1:
        logger.info("training %s on the train split of %s", model_conf, space_dir)
        return train_on_space(
            train_conf, model_conf, space_dir, out_dir, log=logger.info, device=device
        )
    run_config = out_dir / "run_config.json"
    with atomic_path(run_config) as tmp:
        tmp.write_text(json.dumps({"model": model_conf, "train": train_conf}, indent=2))
    cmd = torchrun_command(space_dir, run_config, out_dir, gpus, threads, ddp_timeout)
    if device is not None and device != "auto":
        cmd += ["--device", device]
    env = {**os.environ, "OMP_NUM_THREADS": str(rank_threads(threads, gpus))}
    logger.info("DDP on %d GPUs: %s", gpus, " ".join(cmd))
    run_relayed(cmd, env)
    return out_dir / "model.safetensors"


def run_relayed(cmd: list[str], env: dict[str, str]) -> None:
    """Run ``cmd``, copying its stdout and stderr line by line to ``sys.stderr`` (inside a
    rule that is the rule's log, a stream without a file descriptor, which ``subprocess``
    could not hand to the child). Raises ``CalledProcessError`` on a non-zero exit."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        for line in proc.stdout:
            sys.stderr.write(line)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
