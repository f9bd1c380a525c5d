"""The sweep kind of Tab. 2, timestep shift."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from navref.sweeps.plan import Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch


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
        from navref.report.tables import table2

        return table2(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table2

        return table2()
