"""The one gathering of the sweeps' per-seed metrics (rules ``sweep_tables`` and
``sweep_metrics``): the rows the tables and the claims read."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any


def gather_metrics(
    paths: Sequence[str | os.PathLike],
    meta: Mapping[str, Mapping[str, Any]],
    out_path: str | os.PathLike,
) -> None:
    """Rule ``sweep_tables``: every sample set's metrics row in one table
    (``results/<run_name>/metrics/sweeps.parquet``, the input of Tab. 1-3), each row completed with
    ``meta["<sweep>/<setting>"]`` (its models and their sizes)."""
    import pandas as pd

    from navref.io import save_parquet

    rows = []
    for path in paths:
        frame = pd.read_parquet(path)
        for k, v in meta[f"{frame['sweep'].iloc[0]}/{frame['setting'].iloc[0]}"].items():
            frame[k] = v
        rows.append(frame)
    save_parquet(out_path, pd.concat(rows, ignore_index=True))
