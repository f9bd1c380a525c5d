"""The sweep kind of Tab. 2, timestep shift."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from navref.sweeps import table as tab
from navref.sweeps.plan import Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

# (s, share of the 50 steps with t < 0.2, gFID@50K).
_TAB2 = [
    (4.0, 0.06, 18.89),
    (2.0, 0.12, 14.82),
    (1.0, 0.22, 12.99),
    (0.7, 0.28, 12.46),
    (0.5, 0.34, 12.23),
    (0.3, 0.46, 12.66),
    (0.1, 0.72, 19.91),
]


def table2(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 2, timestep shift t_m = s t_n / (1 + (s - 1) t_n): columns ``shift`` (s),
    ``steps``, ``split_time``, ``share_below_split`` (ours: share of steps with t below our
    split time), ``paper_share_below_0.2`` (the paper's share below t = 0.2), the seed
    aggregate, ``paper_gfid`` (matched on s) and the paired difference to uniform, s = 1
    (``PAIRED_COLUMNS``; ``replicates`` optional). Sorted by s decreasing, as in the paper."""
    cols = ["shift", "steps", "share_below_split", "split_time"]
    rows = tab.select(sweeps, "timestep_shift", cols)
    rows["shift"] = tab.num(rows["shift"])
    agg = tab.aggregate_seeds(rows, cols)
    steps = pd.to_numeric(agg["steps"], errors="coerce")
    if steps.notna().all() and (steps == steps.round()).all():
        agg["steps"] = steps.astype(int)
    ref = paper_rows()

    def match(s: float, col: str) -> float:
        hit = ref[np.isclose(ref["shift"], s, rtol=1e-6, atol=1e-9)]
        return float(hit[col].iloc[0]) if len(hit) else math.nan

    agg["paper_share_below_0.2"] = [match(s, "share_below_0.2") for s in agg["shift"]]
    agg["paper_gfid"] = [match(s, "gfid") for s in agg["shift"]]
    uniform = tab.reference_of(agg, np.isclose(agg["shift"].astype(float), 1.0))
    agg = tab.paired_columns(agg, rows, [uniform] * len(agg), "s = 1 (uniform)", replicates)
    agg = agg.sort_values("shift", ascending=False)
    first = ["shift", "steps", "split_time", "share_below_split", "paper_share_below_0.2"]
    return tab.order_columns(agg, first)


def paper_rows() -> pd.DataFrame:
    """Paper Tab. 2 (timestep shift t_m = s t_n / (1 + (s - 1) t_n)): ``shift`` (s, recomputed
    from the share, see :mod:`navref.paper`), ``share_below_0.2`` (share of the 50 steps with
    t < 0.2, as a fraction) and ``gfid``, in the paper's row order (s decreasing)."""
    return pd.DataFrame(_TAB2, columns=["shift", "share_below_0.2", "gfid"])


@register
class TimestepShift(Sweep):
    """Tab. 2: ``steps`` Euler steps on the shifted grid t_m = s t_n / (1 + (s - 1) t_n)
    (s = ``shift``), no CFG; records the share of steps below the split time."""

    kind = "timestep_shift"
    table_name = "table2"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (f"s{fmt_g(s)}", {"model": self.conf["model"], "shift": s, "steps": self.conf["steps"]})
            for s in self.conf["shifts"]
        ]

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        from navref.sampling import shifted_grid

        return shifted_grid(int(setting["steps"]), float(setting["shift"]))

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        n = int(setting["steps"])
        return [Segment(("shifted", n, float(setting["shift"])), 0, n, ("cond", setting["model"]))]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        info = {"shift": float(setting["shift"]), "steps": int(setting["steps"])}
        if split_time is not None:
            from navref.sampling import share_below

            info.update(
                split_time=split_time,
                share_below_split=share_below(grid, split_time, inclusive=True),
            )
        return info

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        return table2(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        return paper_rows()

    plot_columns = ("shift",)

    def plot_labels(self, table: pd.DataFrame) -> list[str]:
        """The shift s."""
        return [f"s={float(s):.3g}" for s in table["shift"]]
