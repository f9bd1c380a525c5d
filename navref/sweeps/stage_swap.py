"""The sweep kind of Tab. 1, stage swap."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from navref import paper
from navref.models.sizes import DIT_SIZES
from navref.sweeps import table as tab
from navref.sweeps.plan import Segment, Setting, Sweep, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes
    from navref.sampling import VelocityProvider

#: Model size names, smallest first (Tab. 1 maps the smallest to the paper's Base, the
#: largest to XL).
SIZE_ORDER = [*DIT_SIZES, "custom"]

_ROLE_ORDER = [("large", "large"), ("small", "large"), ("large", "small"), ("small", "small")]
_PAPER_NAME = {v: k for k, v in paper.ROLE_OF.items()}  # "small" -> "Base", "large" -> "XL"

# (tau, stage 1, stage 2, gFID@50K); 25 Euler steps in each part, no CFG.
_TAB1 = [
    (0.1, "XL", "XL", 2.94),
    (0.1, "Base", "XL", 3.71),
    (0.1, "XL", "Base", 11.26),
    (0.1, "Base", "Base", 12.45),
    (0.2, "XL", "XL", 2.60),
    (0.2, "Base", "XL", 4.47),
    (0.2, "XL", "Base", 9.24),
    (0.2, "Base", "Base", 12.01),
]


def _roles(sizes: pd.Series, size_order: Sequence[str]) -> dict[str, str]:
    order = [str(s) for s in size_order]
    present = sorted({str(s) for s in sizes.dropna()}, key=lambda s: (s not in order, s))
    unknown = [s for s in present if s not in order]
    if unknown:
        raise ValueError(
            f"table1: model sizes {unknown} are not in size_order {order}; pass every size "
            f"name of the stage-swap sweep, smallest first"
        )
    ranks = {s: order.index(s) for s in present}
    lo, hi = min(ranks.values()), max(ranks.values())
    roles = {}
    for s, r in ranks.items():
        if lo == hi:
            roles[s] = "single"
        elif r == lo:
            roles[s] = "small"
        elif r == hi:
            roles[s] = "large"
        else:
            roles[s] = "mid"
    return roles


def table1(
    sweeps: pd.DataFrame,
    size_order: Sequence[str],
    tau_map: Mapping[float, float] | None = None,
    replicates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tab. 1, stage swap: model ``stage1`` on [0, tau], ``stage2`` on [tau, 1].

    Sizes are mapped to the paper's roles with ``size_order`` (size names, smallest first):
    the smallest size present in the sweep is ``"small"`` (the paper's Base), the largest
    ``"large"`` (XL), any other ``"mid"`` (no paper row). ``tau_map`` maps one of our tau to
    the paper's tau it stands for, by multiples of each side's split
    (:func:`navref.report.build.tau_map_from`: our s1.0, e.g. 0.36, -> the paper's objective
    split 0.1; s2.0 -> 0.2); ``paper_tau`` shows the pairing; without a map a paper row
    matches only the same tau. Columns: ``tau, paper_tau, stage1, stage2,
    stage1_size, stage2_size, stage1_role, stage2_role, paper_stage1, paper_stage2``, the
    seed aggregate (module docstring), ``paper_gfid`` and the paired difference to the
    (large, large) pair of the same tau (``PAIRED_COLUMNS``; ``replicates``: the bootstrap
    replicates, optional). Sorted by tau, then the paper's row order.
    """
    cols = ["tau", "stage1", "stage2", "stage1_size", "stage2_size"]
    rows = tab.select(sweeps, "stage_swap", cols)
    rows["tau"] = tab.num(rows["tau"])
    agg = tab.aggregate_seeds(rows, cols)
    roles = _roles(pd.concat([rows["stage1_size"], rows["stage2_size"]]), size_order)
    agg["stage1_role"] = agg["stage1_size"].astype(str).map(roles)
    agg["stage2_role"] = agg["stage2_size"].astype(str).map(roles)
    agg["paper_stage1"] = agg["stage1_role"].map(_PAPER_NAME)
    agg["paper_stage2"] = agg["stage2_role"].map(_PAPER_NAME)
    tmap = {float(k): float(v) for k, v in (tau_map or {}).items()}

    def paper_tau(t: float) -> float:
        for k, v in tmap.items():
            if math.isclose(t, k, abs_tol=1e-9):
                return v
        return t

    agg["paper_tau"] = agg["tau"].map(paper_tau)
    ref = paper_rows()
    gfid = []
    for _, r in agg.iterrows():
        hit = ref[
            np.isclose(ref["tau"], r["paper_tau"], atol=1e-9)
            & (ref["stage1_role"] == r["stage1_role"])
            & (ref["stage2_role"] == r["stage2_role"])
        ]
        gfid.append(float(hit["gfid"].iloc[0]) if len(hit) else math.nan)
    agg["paper_gfid"] = gfid
    large = (agg["stage1_role"] == "large") & (agg["stage2_role"] == "large")
    refs = [tab.reference_of(agg, large & np.isclose(agg["tau"], t)) for t in agg["tau"]]
    agg = tab.paired_columns(agg, rows, refs, "(large, large), same tau", replicates)
    rank = {k: i for i, k in enumerate(_ROLE_ORDER)}
    agg["_r"] = [
        rank.get((a, b), len(rank))
        for a, b in zip(agg["stage1_role"], agg["stage2_role"], strict=True)
    ]
    agg = agg.sort_values(["tau", "_r", "stage1_size", "stage2_size"]).drop(columns="_r")
    first = [
        "tau",
        "paper_tau",
        "stage1",
        "stage2",
        "stage1_size",
        "stage2_size",
        "stage1_role",
        "stage2_role",
        "paper_stage1",
        "paper_stage2",
    ]
    return tab.order_columns(agg, first)


def paper_rows() -> pd.DataFrame:
    """Paper Tab. 1 (stage swap): ``tau, stage1, stage2`` (paper names Base / XL),
    ``stage1_role, stage2_role`` ("small" / "large") and ``gfid`` (gFID@50K), in the paper's
    row order."""
    rows = [
        {
            "tau": tau,
            "stage1": s1,
            "stage2": s2,
            "stage1_role": paper.ROLE_OF[s1],
            "stage2_role": paper.ROLE_OF[s2],
            "gfid": g,
        }
        for tau, s1, s2, g in _TAB1
    ]
    return pd.DataFrame(rows)


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

    def conf_models(self) -> set[str]:
        return {m for pair in self.conf.get("pairs", []) for m in pair}

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
        return table1(sweeps, SIZE_ORDER, tau_map, replicates)

    def paper_rows(self) -> pd.DataFrame:
        return paper_rows()

    plot_columns = ("tau", "stage1", "stage2")

    def plot_labels(self, table: pd.DataFrame) -> list[str]:
        """The pair at its tau."""
        return [f"τ={t:.3g}\n{a}→{b}" for t, a, b in zip(table["tau"], table["stage1"], table["stage2"], strict=True)]  # fmt: skip

    def line_groups(self, table: pd.DataFrame) -> list[np.ndarray]:
        """One line per tau."""
        return [np.flatnonzero(table["tau"].to_numpy() == t) for t in table["tau"].unique()]
