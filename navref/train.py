"""Command line: train a class-conditional DiT with rectified flow (see navref.training).

Single process::

    python -m navref.train --latents train_latents.npy --labels-from meta.parquet \\
        --num-classes 10 --config train.json --out runs/dit_small

Several processes (DDP; one per GPU, or gloo on the CPU)::

    torchrun --nproc_per_node 4 -m navref.train ...same arguments...

``--config`` is a JSON file ``{"model": {...DiTConfig fields, or "size": "small"...},
"train": {...TrainConfig fields...}}``; both parts are optional (defaults apply).
Labels come from ``--labels L.npy`` (int array (N,)) or ``--labels-from META.parquet``
(column ``--label-column``, default ``label``). ``--oracle-data`` / ``--oracle-labels``
give another data set for target "oracle" (default: the training data). A run whose
``--out`` already holds checkpoints resumes from the newest one (``--no-resume`` to
refuse: then the checkpoints directory must not exist).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


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
    import pandas as pd

    p = Path(parquet)
    if not p.is_file():
        raise FileNotFoundError(f"label table {p} not found")
    frame = pd.read_parquet(p)
    if column not in frame.columns:
        raise ValueError(f"{p} has no column {column!r} (columns: {list(frame.columns)})")
    return frame[column].to_numpy(dtype=np.int64)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m navref.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--latents", required=True, help="(N, C, H, W) float32 .npy (memory-mapped)")
    ap.add_argument("--labels", help="(N,) int .npy of class labels")
    ap.add_argument("--labels-from", help="parquet table with a label column (row i = sample i)")
    ap.add_argument("--label-column", default="label", help="label column name (default: label)")
    ap.add_argument(
        "--split",
        help="keep only rows whose `split` column in --labels-from equals this (e.g. train); "
        "also applied to the oracle data when --oracle-data is not given",
    )
    ap.add_argument("--num-classes", type=int, required=True, help="number of real classes K")
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
    ap.add_argument("--no-resume", action="store_true", help="refuse to resume; start afresh")
    ap.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from navref.training import train

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    cfg = {}
    if args.config:
        cfg_path = Path(args.config)
        if not cfg_path.is_file():
            raise FileNotFoundError(f"config file {cfg_path} not found")
        cfg = json.loads(cfg_path.read_text())
        unknown = sorted(set(cfg) - {"model", "train"})
        if unknown:
            raise ValueError(f"{cfg_path}: unknown top-level keys {unknown}; use 'model', 'train'")
    latents = _load_array(args.latents, "latents")
    labels = _load_labels(args.labels, args.labels_from, args.label_column, "labels")
    if args.split:
        if not args.labels_from:
            raise ValueError("--split needs --labels-from META.parquet (with a `split` column)")
        import pandas as pd

        split = pd.read_parquet(args.labels_from, columns=["split"])["split"].to_numpy()
        rows = np.flatnonzero(split == args.split)
        if len(rows) == 0:
            raise ValueError(f"--split {args.split!r}: no such rows in {args.labels_from}")
        contiguous = rows[-1] - rows[0] + 1 == len(rows)
        latents = latents[rows[0] : rows[-1] + 1] if contiguous else np.asarray(latents[rows])
        labels = labels[rows]
    oracle_data = oracle_labels = None
    if args.oracle_data:
        oracle_data = _load_array(args.oracle_data, "oracle-data")
        oracle_labels = _load_labels(
            args.oracle_labels, args.oracle_labels_from, args.label_column, "oracle-labels"
        )
    out = Path(args.out)
    if args.no_resume and (out / "checkpoints").exists():
        raise ValueError(f"--no-resume but {out / 'checkpoints'} exists; delete it first")

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    try:
        path = train(
            cfg.get("train", {}),
            cfg.get("model", {}),
            latents,
            labels,
            args.num_classes,
            out,
            device=args.device,
            oracle_data=oracle_data,
            oracle_labels=oracle_labels,
            resume=not args.no_resume,
            progress=not args.no_progress,
        )
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        print(path)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as exc:
        print(f"navref.train: error: {exc}", file=sys.stderr)
        sys.exit(2)
