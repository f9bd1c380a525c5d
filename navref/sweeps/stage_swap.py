"""The sweep kind of Tab. 1, stage swap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from navref.sweeps.plan import Segment, Setting, Sweep, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes
    from navref.sampling import VelocityProvider


@register
class StageSwap(Sweep):
    """Tab. 1: model ``stage1`` for t in [0, tau], ``stage2`` on [tau, 1], ``steps_per_stage``
    Euler steps in each part, no CFG. ``tau`` may be relative to the split time."""

    kind = "stage_swap"
    table_name = "table1"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                f"tau{tau}_{a}-{b}",
                {
                    "tau": str(tau),
                    "stage1": a,
                    "stage2": b,
                    "steps_per_stage": self.conf["steps_per_stage"],
                },
            )
            for tau in self.conf["taus"]
            for a, b in self.conf["pairs"]
        ]

    def model_roles(self, setting: Mapping[str, Any]) -> dict[str, str]:
        return {"stage1": setting["stage1"], "stage2": setting["stage2"]}

    def resolve(self, setting: Mapping[str, Any], split_times: SplitTimes, space: str) -> Setting:
        return {**setting, "tau": split_times.resolve(setting["tau"], space)}

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        from navref.sampling import stagewise_grid

        n = int(setting["steps_per_stage"])
        return stagewise_grid(float(setting["tau"]), n, n)

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        n = int(setting["steps_per_stage"])
        grid = ("stagewise", str(setting["tau"]), n)
        return [
            Segment(grid, 0, n, ("cond", setting["stage1"])),
            Segment(grid, n, 2 * n, ("cond", setting["stage2"])),
        ]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        return {"tau": float(setting["tau"]), "steps": 2 * int(setting["steps_per_stage"])}

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        from navref.sampling import ModelVelocity, switch_at

        first = ModelVelocity(models[setting["stage1"]], num_classes, mode="cond")
        second = ModelVelocity(models[setting["stage2"]], num_classes, mode="cond")
        return switch_at(float(setting["tau"]), first, second)

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        from navref.report.tables import SIZE_ORDER, table1

        return table1(sweeps, SIZE_ORDER, tau_map, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table1

        return table1()
