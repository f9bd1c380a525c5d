"""Arithmetic precision of model forwards outside training: ``fp32`` or ``bf16`` autocast.

The config's ``precision`` (the vocabulary of ``train.precision``) says how sampling, the
probes and VAE encode/decode run their networks: ``bf16`` runs each forward under
``torch.autocast(dtype=torch.bfloat16)`` (fused bf16 attention and matmuls on a GPU), while
everything around the forwards stays float32: the DiT's residual stream, patch embedding and
output head (:class:`navref.models.dit.DiT`), the ODE state, losses, the oracle (which turns
autocast off inside itself) and nearest-neighbour search. ``fp32`` (the default) runs no
autocast at all, so results are bitwise those of plain float32. ``auto`` (accepted where a
config says so, e.g. ``sweeps.precision``) is resolved per job by :func:`resolve_precision`:
``bf16`` where the device multiplies bf16 natively (a CUDA GPU that supports it, a CPU with
AVX512-bf16 or AMX), ``fp32`` elsewhere -- bf16 emulated in software is slower than fp32.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16")
#: What a config may name: a precision, or ``auto`` (:func:`resolve_precision`).
PRECISION_CHOICES = (*PRECISIONS, "auto")


def native_bf16(device: str | torch.device) -> bool:
    """Whether ``device`` computes bf16 matmuls in hardware: a CUDA device for which
    ``torch.cuda.is_bf16_supported()`` holds, or a CPU with AVX512-bf16 or AMX-bf16 (as
    torch's cpuinfo probe reports them); False for any other device, and where torch has no
    such probe."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    probe = getattr(getattr(torch._C, "_cpu", None), "_get_cpu_capability", None)
    try:
        caps = probe() if probe is not None else {}
    except RuntimeError:  # a torch build without the probe's cpuinfo backend
        caps = {}
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``precision`` itself for ``fp32`` / ``bf16``; for ``auto`` ``bf16`` when
    :func:`native_bf16` holds on ``device``, else ``fp32``. Raises ``ValueError`` naming the
    valid values for anything else."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {PRECISION_CHOICES}, got {precision!r}")
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of ``precision``: None for ``fp32``, ``torch.bfloat16`` for
    ``bf16``; raises ``ValueError`` naming the valid values otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return torch.bfloat16 if precision == "bf16" else None


def autocast(device: str | torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device``'s type for ``bf16``; a no-op context for ``fp32``."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
