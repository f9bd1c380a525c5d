"""Which torch device a job runs on: one rule for the workflow, the training CLI and DDP."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The device for ``name``.

    - ``None`` or ``"auto"``: this process's GPU when one is visible, else the CPU;
    - ``"cuda"`` (no index): ``cuda:LOCAL_RANK`` under torchrun, else the current GPU;
    - ``"cuda"`` without a visible GPU: a clear error (set ``device: auto`` to fall back);
    - anything else (``"cpu"``, ``"cuda:1"``, a ``torch.device``) as given.
    """
    if name is None or name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        name = "cuda"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {name!r} was asked for but no GPU is visible; set device: auto"
            )
        if device.index is None:
            rank = os.environ.get("LOCAL_RANK")
            index = int(rank) if rank is not None else torch.cuda.current_device()
            device = torch.device("cuda", index)
    return device


def check_booked_gpus(gpus: int, device: str | None) -> None:
    """Fail at the start of a job that booked ``gpus`` > 0 GPUs when CUDA cannot start here,
    instead of silently running on the CPU; ``device: cpu`` says the CPU is wanted.

    Raises ``RuntimeError`` naming CUDA_VISIBLE_DEVICES and the fix."""
    if gpus <= 0 or device == "cpu" or torch.cuda.is_available():
        return
    raise RuntimeError(
        f"this job booked {gpus} GPU(s) but CUDA cannot start here "
        f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}, torch built for "
        f"CUDA {torch.version.cuda}); check the driver and the allocation, or set "
        "`device: cpu` in the config to run on the CPU on purpose"
    )


def describe(device: str | torch.device, threads: int) -> str:
    """One log line: the device a job runs on (GPU name, memory, how many are visible) and
    its CPU threads."""
    device = torch.device(device)
    if device.type != "cuda":
        return f"device: cpu, {threads} thread(s)"
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    return (
        f"device: cuda:{index} ({props.name}, {props.total_memory / 2**30:.0f} GiB), "
        f"{torch.cuda.device_count()} visible, {threads} CPU thread(s)"
    )


def visible_gpu_count() -> int:
    """GPUs on this machine without initialising CUDA (``nvidia-smi -L``; 0 without it), so
    that CUDA_VISIBLE_DEVICES can still be set for this process afterwards."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines())


def _try_claim(gpus: int, lock_dir: Path, count: int) -> list[tuple[int, Any]] | None:
    """Lock ``gpus`` free GPU files, or none (returns None) if fewer are free."""
    held = []
    for index in range(count):
        handle = open(lock_dir / f"gpu{index}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        held.append((index, handle))
        if len(held) == gpus:
            return held
    for _, handle in held:
        handle.close()
    return None


def local_gpu_claim(gpus: int, device: str) -> contextlib.AbstractContextManager:
    """:func:`claim_local_gpus` for a job outside SLURM on a machine with more GPUs than it
    booked (and CUDA_VISIBLE_DEVICES not set by someone else); a no-op otherwise."""
    if gpus <= 0 or device == "cpu" or "SLURM_JOB_ID" in os.environ:
        return contextlib.nullcontext([])
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return contextlib.nullcontext([])
    count = visible_gpu_count()
    if count <= gpus:
        return contextlib.nullcontext([])
    lock_dir = Path(tempfile.gettempdir()) / f"navref-gpus-{os.getuid()}"
    return claim_local_gpus(gpus, lock_dir, count)


@contextlib.contextmanager
def claim_local_gpus(
    gpus: int, lock_dir: str | os.PathLike, count: int, poll_s: float = 5.0
) -> Iterator[list[int]]:
    """Claim ``gpus`` of the ``count`` GPUs of this machine for the duration of the block,
    so concurrent jobs of one local Snakemake run (``--resources gpu=N`` only limits how many
    run) get distinct GPUs; sets CUDA_VISIBLE_DEVICES. One ``flock``-ed file per GPU in
    ``lock_dir``: a claim ends with its process, even a killed one. Waits while fewer than
    ``gpus`` are free. Raises ``ValueError`` when ``gpus > count``."""
    if gpus > count:
        raise ValueError(f"the job books {gpus} GPU(s) but this machine has {count}")
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    held = _try_claim(gpus, Path(lock_dir), count)
    while held is None:  # all or nothing, so two waiting jobs never hold half each
        time.sleep(poll_s)
        held = _try_claim(gpus, Path(lock_dir), count)
    indices = sorted(i for i, _ in held)
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, indices))
    try:
        yield indices
    finally:
        for _, handle in held:
            handle.close()
        if old is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = old
