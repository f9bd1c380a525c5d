"""Command line: train a class-conditional DiT with rectified flow (see navref.training).

Single process::

    python -m navref.training --space results/<run_name>/latents/gauss --config train.json --out runs/m
    python -m navref.training --latents train_latents.npy --labels-from meta.parquet \\
        --num-classes 10 --config train.json --out runs/dit_small

Several processes (DDP; one per GPU, or gloo on the CPU)::

    torchrun --nproc_per_node 4 -m navref.training ...same arguments...

``--config`` is a JSON file ``{"model": {...DiTConfig fields, or "size": "small"...},
"train": {...TrainConfig fields...}}``; both parts are optional (defaults apply).
The data are a latent space directory ``--space`` (its ``--split``, default train; the
number of classes from its stats.json), or ``--latents`` with labels from ``--labels L.npy``
(int array (N,)) or ``--labels-from META.parquet`` (column ``--label-column``, default
``label``; ``--split`` keeps the rows of that split). ``--oracle-data`` / ``--oracle-labels``
give another data set for target "oracle" (default: the training data). A run whose
``--out`` already holds checkpoints resumes from the newest one (``--no-resume`` to
refuse: then the checkpoints directory must not exist).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist

PROG = "python -m navref.training"
#: Default of ``--ddp-timeout-minutes`` (config: ``train.ddp_timeout_minutes``): rank 0
#: writes a checkpoint of about 11 GB (DiT-XL/2 with AdamW state) while the others wait.
DDP_TIMEOUT_MINUTES = 60.0


def _load_array(path: str, what: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {p} not found")
    if p.suffix != ".npy":
        raise ValueError(f"{what} must be a .npy file, got {p}")
    return np.load(p, mmap_mode="r", allow_pickle=False)


def _load_labels(npy: str | None, parquet: str | None, column: str, what: str) -> np.ndarray:
    if (npy is None) == (parquet is None):
        raise ValueError(f"give exactly one of --{what} (npy) or --{what}-from (parquet)")
    if npy is not None:
        return np.asarray(_load_array(npy, what), dtype=np.int64)
    p = Path(parquet)
    if not p.is_file():
        raise FileNotFoundError(f"label table {p} not found")
    frame = pd.read_parquet(p)
    if column not in frame.columns:
        raise ValueError(f"{p} has no column {column!r} (columns: {list(frame.columns)})")
    return frame[column].to_numpy(dtype=np.int64)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--space", help="latent space directory (latents.npy, meta.parquet, ...)")
    data.add_argument("--latents", help="(N, C, H, W) float32 .npy (memory-mapped)")
    ap.add_argument("--labels", help="(N,) int .npy of class labels")
    ap.add_argument("--labels-from", help="parquet table with a label column (row i = sample i)")
    ap.add_argument("--label-column", default="label", help="label column name (default: label)")
    ap.add_argument(
        "--split",
        help="train on the rows of this split only (e.g. train): of --space (default train), "
        "or of the `split` column of --labels-from",
    )
    ap.add_argument("--num-classes", type=int, help="number of real classes K (with --latents)")
    ap.add_argument("--config", help="JSON {'model': {...}, 'train': {...}}")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--oracle-data", help="(N', C, H, W) .npy defining the oracle target")
    ap.add_argument("--oracle-labels", help="(N',) int .npy labels of --oracle-data")
    ap.add_argument("--oracle-labels-from", help="parquet with labels of --oracle-data")
    ap.add_argument(
        "--device", help="torch device (default: cuda:LOCAL_RANK if available, else cpu)"
    )
    ap.add_argument(
        "--threads",
        type=int,
        help="torch intra-op CPU threads (default: torch's; 1 is fastest for tiny models on "
        "a busy machine)",
    )
    ap.add_argument(
        "--ddp-timeout-minutes",
        type=float,
        default=DDP_TIMEOUT_MINUTES,
        help="how long a DDP rank waits at a collective (e.g. while rank 0 writes a checkpoint) "
        f"before the run fails (default {DDP_TIMEOUT_MINUTES:g}; NCCL's own is 10)",
    )
    ap.add_argument("--no-resume", action="store_true", help="refuse to resume; start afresh")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return ap


def _read_config(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {p} not found")
    settings = json.loads(p.read_text())
    unknown = sorted(set(settings) - {"model", "train"})
    if unknown:
        raise ValueError(f"{p}: unknown top-level keys {unknown}; use 'model', 'train'")
    return settings


def _array_data(args: argparse.Namespace) -> tuple[Any, np.ndarray]:
    """(latents, labels) from --latents and --labels / --labels-from (and --split)."""
    if args.num_classes is None:
        raise ValueError("--latents needs --num-classes K")
    latents = _load_array(args.latents, "latents")
    labels = _load_labels(args.labels, args.labels_from, args.label_column, "labels")
    if not args.split:
        return latents, labels
    if not args.labels_from:
        raise ValueError("--split needs --labels-from META.parquet (with a `split` column)")
    split = pd.read_parquet(args.labels_from, columns=["split"])["split"].to_numpy()
    rows = np.flatnonzero(split == args.split)
    if len(rows) == 0:
        raise ValueError(f"--split {args.split!r}: no such rows in {args.labels_from}")
    contiguous = rows[-1] - rows[0] + 1 == len(rows)
    latents = latents[rows[0] : rows[-1] + 1] if contiguous else np.asarray(latents[rows])
    return latents, labels[rows]


def _init_process_group(timeout_minutes: float, device: str | None = None) -> None:
    """Join the torchrun process group when WORLD_SIZE > 1: nccl when the ranks train on
    CUDA (``device`` "cuda..." or None with CUDA available), gloo otherwise (``--device
    cpu`` on a GPU node too: nccl cannot reduce CPU tensors). A collective that waits longer
    than ``timeout_minutes`` fails the run. Raises ``ValueError`` for a timeout <= 0."""
    if timeout_minutes <= 0:
        raise ValueError(f"--ddp-timeout-minutes must be > 0, got {timeout_minutes}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        timeout = datetime.timedelta(minutes=timeout_minutes)
        on_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
        if on_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl", timeout=timeout)
        else:
            dist.init_process_group("gloo", timeout=timeout)


def _train(args: argparse.Namespace, settings: dict[str, Any]) -> Path:
    from navref.training.job import train_on_space
    from navref.training.loop import train

    kwargs: dict[str, Any] = {
        "device": args.device,
        "resume": not args.no_resume,
        "progress": not args.no_progress,
    }
    if args.oracle_data:
        kwargs["oracle_data"] = _load_array(args.oracle_data, "oracle-data")
        kwargs["oracle_labels"] = _load_labels(
            args.oracle_labels, args.oracle_labels_from, args.label_column, "oracle-labels"
        )
    confs = (settings.get("train", {}), settings.get("model", {}))
    if args.space:
        return train_on_space(*confs, args.space, args.out, split=args.split or "train", **kwargs)
    latents, labels = _array_data(args)
    return train(*confs, latents, labels, args.num_classes, args.out, **kwargs)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    settings = _read_config(args.config)
    out = Path(args.out)
    if args.no_resume and (out / "checkpoints").exists():
        raise ValueError(f"--no-resume but {out / 'checkpoints'} exists; delete it first")
    _init_process_group(args.ddp_timeout_minutes, args.device)
    try:
        path = _train(args, settings)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print(path)
    return 0


def run() -> None:
    """``python -m navref.training``: ``main`` with errors as a message and exit status 2."""
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(2)
