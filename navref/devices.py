"""Which torch device a job runs on: one rule for the workflow, the training CLI and DDP."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
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


#: Share of a GPU's free memory that data kept on it for a whole analysis may take (latents
#: read by every t of an oracle analysis or loss-curve probe); the rest is left for the
#: oracle's (B, chunk) distance blocks and the model.
RESIDENT_SHARE = 0.5


def resident_rows(
    data: Any,
    device: str | torch.device,
    share: float = RESIDENT_SHARE,
    free_bytes: int | None = None,
    chunk_rows: int = 65536,
) -> Any:
    """``data`` (an (N, ...) array, memmap or tensor) copied once to ``device`` as a float32
    tensor, so that a loop over t reads it there instead of moving it from the CPU again for
    every t; copied in ``chunk_rows`` slices (no full host copy of a memmap).

    Only when ``device`` is not the CPU and the float32 copy takes at most ``share`` of its
    free memory (``free_bytes``; on CUDA ``torch.cuda.mem_get_info`` when None); otherwise
    ``data`` comes back unchanged and is streamed per call as before. On the CPU a memmap
    stays a memmap (ImageNet-sized latents are not read into RAM)."""
    device = torch.device(device)
    if device.type == "cpu" or (isinstance(data, torch.Tensor) and data.device == device):
        return data
    if free_bytes is None and device.type == "cuda":
        free_bytes = torch.cuda.mem_get_info(device)[0]
    need = 4 * int(np.prod(data.shape, dtype=np.int64))
    if free_bytes is None or need > share * free_bytes:
        return data
    return copy_rows(data, device, chunk_rows)


def copy_rows(data: Any, device: str | torch.device, chunk_rows: int = 65536) -> torch.Tensor:
    """``data`` (an (N, ...) array, memmap or tensor) as a float32 tensor on ``device``,
    copied ``chunk_rows`` rows at a time (host memory holds one slice, not all of it)."""
    out = torch.empty(tuple(data.shape), dtype=torch.float32, device=device)
    for s in range(0, data.shape[0], chunk_rows):
        rows = data[s : s + chunk_rows]
        rows = rows if isinstance(rows, torch.Tensor) else torch.from_numpy(np.asarray(rows))
        out[s : s + chunk_rows] = rows.to(device=device, dtype=torch.float32)
    return out


_LOG = logging.getLogger(__name__)


class AdaptiveBatch:
    """A batch size that adapts to the memory it has: it starts at ``size`` (the configured
    batch) and halves each time a forward raises ``torch.cuda.OutOfMemoryError``, then
    stays halved for the rest of the job (the memory a batch needs does not shrink).

    On the CPU nothing raises that error, so batches are as configured. ``what`` names the
    work in the log line written at each halving (logger ``navref.devices``, level warning).
    """

    def __init__(self, size: int, what: str = "batch") -> None:
        if int(size) < 1:
            raise ValueError(f"{what}: batch size must be >= 1, got {size}")
        self.size, self.what = int(size), what

    def map(self, fn: Callable[[int, int], Any], n: int) -> list[Any]:
        """``[fn(start, stop), ...]`` over consecutive slices ``[start, stop)`` of
        ``range(n)`` of at most ``self.size`` items, in order. A slice whose call runs out
        of GPU memory is retried at half the size (the cache emptied first); at size 1 the
        error is raised as is. ``fn`` must be free of side effects beyond its result, since
        a failed call is repeated."""
        out, start = [], 0
        while start < n:
            stop = min(start + self.size, n)
            try:
                result, failed = fn(start, stop), False
            except torch.cuda.OutOfMemoryError:
                if stop - start == 1:
                    raise
                failed = True  # retried below, once the error (and its frames) are freed
            if failed:
                self._halve(stop - start)
                continue
            out.append(result)
            start = stop
        return out

    def _halve(self, failed: int) -> None:
        self.size = max(1, failed // 2)
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
        _LOG.warning(
            "%s: out of GPU memory with a batch of %d; retrying with batches of %d",
            self.what,
            failed,
            self.size,
        )
