"""The one gathering of the sweeps' per-seed metrics (rule ``sweep_metrics``: one table per
sweep, ``metrics/<sweep>.parquet``, which its table reads) and the claims' table of every
sweep's rows (rule ``sweep_tables``: those tables one after the other,
``metrics/sweeps.parquet``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any


def gather_metrics(
    paths: Sequence[str | os.PathLike],
    meta: Mapping[str, Mapping[str, Any]],
    out_path: str | os.PathLike,
) -> None:
    """Rule ``sweep_metrics``: the metrics rows of one sweep's sample sets (``paths``, one file
    per setting) in one table (``results/<run_name>/metrics/<sweep>.parquet``), each row
    completed with ``meta["<sweep>/<setting>"]`` (its models and their sizes)."""
    import pandas as pd

    from navref.io import save_parquet

    rows = []
    for path in paths:
        frame = pd.read_parquet(path)
        for k, v in meta[f"{frame['sweep'].iloc[0]}/{frame['setting'].iloc[0]}"].items():
            frame[k] = v
        rows.append(frame)
    save_parquet(out_path, pd.concat(rows, ignore_index=True))


def concat_metrics(paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> None:
    """Rule ``sweep_tables``: the per-sweep tables of :func:`gather_metrics` (``paths``) one
    after the other (``results/<run_name>/metrics/sweeps.parquet``, the claims' input); a
    column one sweep lacks is missing (NaN) in its rows. The same file, byte for byte, as
    gathering every setting's rows at once."""
    import pandas as pd

    from navref.io import save_parquet

    frames = [pd.read_parquet(path) for path in paths]
    save_parquet(out_path, pd.concat(frames, ignore_index=True))
