"""The training log: per-step loss and gradient norm, averaged over windows of steps.

Per-step values stay on the device until a log or save point (so the GPU queue is never
stalled by a ``.item()``), then are moved to the CPU at once, averaged over ranks under DDP,
checked for NaN/inf and collected; every ``log_every`` steps the window becomes one row of
``train_log.parquet``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

#: Columns of train_log.parquet.
LOG_COLUMNS = ["step", "loss", "grad_norm", "lr", "samples_per_s", "time"]


def _empty_window() -> dict[str, Any]:
    return {"loss": [], "grad_norm": [], "steps": 0}


class LossWindow:
    """Log rows so far plus the open window; ``state()`` and ``LossWindow(world, meta)`` round-trip it
    through a checkpoint's JSON (``log_rows``, ``log_window``, ``elapsed_s``)."""

    def __init__(self, world: int, meta: dict[str, Any] | None = None) -> None:
        meta = meta or {}
        self.world = world
        self.rows: list[dict[str, float]] = list(meta.get("log_rows", []))
        self.window: dict[str, Any] = dict(meta.get("log_window", _empty_window()))
        self.elapsed0 = float(meta.get("elapsed_s", 0.0))
        self.pending: list[tuple[int, torch.Tensor, torch.Tensor]] = []
        self.start_clock()

    def start_clock(self) -> None:
        """Start timing this process's share of the run (and the open window)."""
        self.t_run0 = time.perf_counter()
        self.t_win0, self.win_steps = self.t_run0, 0

    def push(self, step: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> None:
        """Record update number ``step`` (1-based) without synchronising the device."""
        self.pending.append((step, loss, grad_norm))
        self.win_steps += 1

    def drain(self, last_good: Path | None) -> None:
        """Move pending values to the CPU (mean over ranks); raise ``RuntimeError`` naming
        the step and ``last_good`` (the last checkpoint written) on a non-finite value."""
        if not self.pending:
            return
        vals = torch.stack([torch.stack([lo, gn]) for _, lo, gn in self.pending]).float()
        if self.world > 1:
            dist.all_reduce(vals)
            vals /= self.world
        for (s, _, _), (lo, gn) in zip(self.pending, vals.cpu().tolist(), strict=True):
            if not (math.isfinite(lo) and math.isfinite(gn)):
                raise RuntimeError(
                    f"non-finite training loss {lo} (grad norm {gn}) at step {s}; training "
                    f"stopped. Last good checkpoint: {last_good or 'none written'}. Lower lr, "
                    "use precision 'fp32' or check the latents for NaN/inf."
                )
            self.window["loss"].append(lo)
            self.window["grad_norm"].append(gn)
        self.window["steps"] += len(self.pending)
        self.pending.clear()

    def close_row(self, step: int, lr: float, batch_size: int) -> dict[str, float]:
        """Turn the (drained) window into a log row for ``step`` and open a new window."""
        now = time.perf_counter()
        row = {
            "step": step,
            "loss": float(np.mean(self.window["loss"])),
            "grad_norm": float(np.mean(self.window["grad_norm"])),
            "lr": lr,
            "samples_per_s": self.win_steps * batch_size / max(now - self.t_win0, 1e-9),
            "time": self.elapsed0 + now - self.t_run0,
        }
        self.rows.append(row)
        self.window = _empty_window()
        self.t_win0, self.win_steps = now, 0
        return row

    def state(self) -> dict[str, Any]:
        """The checkpoint JSON entries of this log."""
        return {
            "log_rows": self.rows,
            "log_window": self.window,
            "elapsed_s": self.elapsed0 + time.perf_counter() - self.t_run0,
        }
