"""Which torch device a job runs on: one rule for the workflow, the training CLI and DDP."""

from __future__ import annotations

import os

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
