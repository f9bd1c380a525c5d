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
