"""What claims 5-7 share: the sampling sweeps, read from the tables ``report_tables`` writes.

Inputs: ``results/tables/table1.parquet`` (stage swap), ``table2.parquet`` (timestep shift),
``table3.parquet`` (CFG interval), built by :mod:`navref.report.tables`: one row per setting
(``setting``) with the seed mean ``fid`` and the paper's ``paper_gfid``; and the per-seed FIDs
of each setting from ``results/metrics/sweeps.parquet`` (``sweep, setting, seed, fid``), for
the paired comparisons of :mod:`.paired` (without them a table row counts as one run). The
paper's numbers quoted here come from :mod:`navref.report.paper`. Time convention: t = 0
noise, t = 1 data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from navref.report.claims.paired import LEVEL, SINGLE_RUN_SHARE, PairedDifference
from navref.report.claims.paired import paired_difference as paired

#: how the criteria of claims 5-7 judge a difference of FID (see :mod:`.paired`)
BEYOND_NOISE = (
    f"beyond the noise = the {LEVEL:.0%} paired t interval of the per-seed differences "
    "excludes 0 (all settings of one seed share their noise), or with a single run the "
    f"difference exceeds {SINGLE_RUN_SHARE:.0%} of the reference setting's FID"
)
PAIRED_CHANGE = (
    "Changed 2026-11-29 (issue 15): was the unpaired seed spread sqrt(std_a^2 + std_b^2), which "
    "ignores the shared noise and leaves a single run (the paper's tables, configs/paper.yaml) "
    "undecidable. The change was made after the verdicts of the earlier criterion on the "
    "default run had been seen (claim 5 not reproduced, 6 inconclusive, 7 not reproduced)."
)


def row_where(frame: pd.DataFrame, mask: pd.Series) -> pd.Series | None:
    """The first row where ``mask`` holds, None if none."""
    rows = frame[mask]
    return rows.iloc[0] if len(rows) else None


def seed_fids(row: pd.Series, sweeps: pd.DataFrame | None, sweep: str) -> pd.Series:
    """FID per seed of the table row's setting, from the sweep table; the row's mean FID as
    one run when the sweep table does not have it."""
    if isinstance(sweeps, pd.DataFrame) and "setting" in row.index and len(sweeps):
        sel = sweeps[(sweeps["sweep"] == sweep) & (sweeps["setting"].astype(str) == row["setting"])]
        if len(sel):
            return pd.Series(sel["fid"].astype(float).to_numpy(), index=sel["seed"].to_numpy())
    return pd.Series([float(row["fid"])], index=[0])


def fid_difference(
    a: pd.Series, b: pd.Series, sweeps: pd.DataFrame | None, sweep: str
) -> PairedDifference:
    """FID(a) - FID(b), paired by seed."""
    return paired(seed_fids(a, sweeps, sweep), seed_fids(b, sweeps, sweep))


def best(frame: pd.DataFrame, col: str = "fid") -> pd.Series:
    """The row with the lowest ``col``."""
    return frame.iloc[int(np.argmin(frame[col].to_numpy(float)))]
