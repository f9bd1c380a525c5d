"""Arithmetic precision of model forwards outside training: ``fp32`` or ``bf16`` autocast.

The config's ``precision`` (the vocabulary of ``train.precision``) says how sampling, the
probes and VAE encode/decode run their networks: ``bf16`` runs each forward under
``torch.autocast(dtype=torch.bfloat16)`` (fused bf16 attention and matmuls on a GPU), while
everything around the forwards stays float32: the DiT's residual stream, patch embedding and
output head (:class:`navref.models.dit.DiT`), the ODE state, losses, the oracle (which turns
autocast off inside itself) and nearest-neighbour search. ``fp32`` (the default) runs no
autocast at all, so results are bitwise those of plain float32.
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16")


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
