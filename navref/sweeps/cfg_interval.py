"""The sweep kind of Tab. 3, CFG interval."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from navref.sweeps.plan import TIME_TOL, Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.sampling import VelocityProvider


@register
class CfgInterval(Sweep):
    """Tab. 3: ``steps`` uniform Euler steps, classifier-free guidance of ``scale`` only for
    t in ``interval`` = [a, b] (None: no CFG, the conditional model alone)."""

    kind = "cfg_interval"
    table_name = "table3"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                "none" if iv == "none" else f"{fmt_g(iv[0])}-{fmt_g(iv[1])}",
                {
                    "model": self.conf["model"],
                    "interval": None if iv == "none" else list(iv),
                    "scale": self.conf["scale"],
                    "steps": self.conf["steps"],
                },
            )
            for iv in self.conf["intervals"]
        ]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        a, b = setting["interval"] if setting.get("interval") else (math.nan, math.nan)
        return {
            "cfg_a": a,
            "cfg_b": b,
            "cfg_scale": float(setting["scale"]),
            "steps": int(setting["steps"]),
        }

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        """Runs of guided / unguided steps on the uniform grid t_k = k / n; step k is guided
        when a <= t_k <= b up to ``TIME_TOL`` (as :meth:`ModelVelocity.guided_at`). An
        unguided step of a guided setting is the conditional model's, as in ``none``."""
        n, model = int(setting["steps"]), setting["model"]
        a, b = setting["interval"] if setting.get("interval") else (math.inf, -math.inf)
        guided = [a - TIME_TOL <= k / n <= b + TIME_TOL for k in range(n)]
        plain, cfg = ("cond", model), ("cfg", model, float(setting["scale"]))
        out: list[Segment] = []
        for k, g in enumerate(guided):
            velocity = cfg if g else plain
            if out and out[-1].velocity == velocity:
                out[-1] = Segment(out[-1].grid, out[-1].start, k + 1, velocity)
            else:
                out.append(Segment(("uniform", n), k, k + 1, velocity))
        return out

    def velocity(
        self, setting: Mapping[str, Any], models: Mapping[str, Any], num_classes: int
    ) -> VelocityProvider:
        if not setting.get("interval"):
            return super().velocity(setting, models, num_classes)
        from navref.sampling import ModelVelocity

        return ModelVelocity(
            models[setting["model"]],
            num_classes,
            mode="cfg",
            cfg_scale=float(setting["scale"]),
            cfg_interval=tuple(setting["interval"]),
        )

    def table(
        self,
        sweeps: pd.DataFrame,
        tau_map: Mapping[float, float],
        replicates: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        from navref.report.tables import table3

        return table3(sweeps, replicates)

    def paper_rows(self) -> pd.DataFrame:
        from navref.report.paper import table3

        return table3()
