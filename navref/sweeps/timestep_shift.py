"""The sweep kind of Tab. 2, timestep shift.

A shift setting is a number s (the shift itself, t_m = s t_n / (1 + (s - 1) t_n) over the
uniform t_n) or ``"p<f>"``: the shift that stands for the paper's s = f at our split
(:func:`navref.paper.shift_to_ours`: the same share of the steps below 2 x our split as the
paper's s = f has below 0.2, with the same number of steps), resolved at job time when the
split is known (:meth:`TimestepShift.resolve`). The table records the resolved shift and
the paper's s it stands for (``paper_shift``, :func:`navref.paper.shift_to_paper`, for
every row). Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from navref import paper
from navref.sweeps import table as tab
from navref.sweeps.plan import Segment, Setting, Sweep, fmt_g, register

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from navref.analysis.split_times import SplitTimes

_PAPER_SPEC = re.compile(r"^p(\d+(?:\.\d+)?)$")


def paper_shift_of(spec: str | float) -> float | None:
    """The paper's s of a shift setting ``"p<f>"`` (f), None for a plain number (an absolute
    shift); the one place such a spec is parsed."""
    m = _PAPER_SPEC.match(str(spec))
    return float(m.group(1)) if m else None


def paper_shift_column(shift: pd.Series, split_time: pd.Series) -> list[float]:
    """The paper's s that each row's resolved ``shift`` stands for at its ``split_time``
    (:func:`navref.paper.shift_to_paper`); NaN where the split is unknown or 2 x it is >= 1."""
    out = []
    for s, ts in zip(shift, split_time, strict=True):
        try:
            out.append(paper.shift_to_paper(float(s), float(ts)))
        except (TypeError, ValueError):
            out.append(math.nan)
    return out


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


def reference_mask(paper_shift: pd.Series, shift: pd.Series) -> pd.Series:
    """The rows Tab. 2's paired differences and claim 6 compare with: the one standing for
    the paper's uniform schedule (paper s = 1 through the mapping), else (no such row) our
    uniform s = 1."""
    mapped = np.isclose(paper_shift.astype(float), 1.0, rtol=1e-6)
    return pd.Series(mapped if mapped.any() else np.isclose(shift.astype(float), 1.0))


def table2(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 2, timestep shift t_m = s t_n / (1 + (s - 1) t_n): columns ``shift`` (our s,
    resolved), ``paper_shift`` (the paper's s it stands for at ``split_time``,
    :func:`paper_shift_column`), ``shift_spec`` (the config's entry), ``steps``,
    ``split_time``, ``share_below_transition`` (ours: share of the steps with t <= 2 x our
    split, the image of the paper's 0.2), ``paper_share_below_0.2`` (the paper's share below
    t = 0.2), the seed aggregate, ``paper_gfid`` (matched on the paper's s) and the paired
    difference to the row standing for the paper's uniform schedule (:func:`reference_mask`;
    ``PAIRED_COLUMNS``; ``replicates`` optional). Sorted by s decreasing, as in the paper.
    (Before 2026-12-08, issue 24: matched on our s and showed our share below 1 x our split
    beside the paper's below 2 x its split.)"""
    cols = ["shift", "steps", "split_time"]
    rows = tab.select(sweeps, "timestep_shift", cols)
    for c in ("shift_spec", "share_below_transition"):
        if c not in rows.columns:
            rows[c] = None
    rows["shift"] = tab.num(rows["shift"])
    rows["split_time"] = tab.num(rows["split_time"])
    agg = tab.aggregate_seeds(rows, [*cols, "shift_spec", "share_below_transition"])
    steps = pd.to_numeric(agg["steps"], errors="coerce")
    if steps.notna().all() and (steps == steps.round()).all():
        agg["steps"] = steps.astype(int)
    agg["paper_shift"] = paper_shift_column(agg["shift"], agg["split_time"])
    ref = paper_rows()

    def match(s: float, col: str) -> float:
        hit = ref[np.isclose(ref["shift"], s, rtol=1e-6, atol=1e-9)]
        return float(hit[col].iloc[0]) if len(hit) else math.nan

    agg["paper_share_below_0.2"] = [match(s, "share_below_0.2") for s in agg["paper_shift"]]
    agg["paper_gfid"] = [match(s, "gfid") for s in agg["paper_shift"]]
    uniform = tab.reference_of(agg, reference_mask(agg["paper_shift"], agg["shift"]))
    mapped = uniform is not None and np.isclose(
        float(agg.loc[agg["setting"] == uniform, "paper_shift"].iloc[0]), 1.0, rtol=1e-6
    )
    label = "paper's s = 1 (uniform), mapped" if mapped else "s = 1 (uniform)"
    agg = tab.paired_columns(agg, rows, [uniform] * len(agg), label, replicates)
    agg = agg.sort_values("shift", ascending=False)
    first = ["shift", "paper_shift", "shift_spec", "steps", "split_time"]
    first += ["share_below_transition", "paper_share_below_0.2"]
    return tab.order_columns(agg, first)


def paper_rows() -> pd.DataFrame:
    """Paper Tab. 2 (timestep shift t_m = s t_n / (1 + (s - 1) t_n)): ``shift`` (s, recomputed
    from the share, see :mod:`navref.paper`), ``share_below_0.2`` (share of the 50 steps with
    t < 0.2, as a fraction) and ``gfid``, in the paper's row order (s decreasing)."""
    return pd.DataFrame(_TAB2, columns=["shift", "share_below_0.2", "gfid"])


@register
class TimestepShift(Sweep):
    """Tab. 2: ``steps`` Euler steps on the shifted grid t_m = s t_n / (1 + (s - 1) t_n)
    (s = ``shift``: a number, or ``"p<f>"`` = the paper's s = f mapped to our split, see the
    module docstring), no CFG; records the share of steps at or below 2 x the split time."""

    kind = "timestep_shift"
    table_name = "table2"

    def _settings(self) -> list[tuple[str, Setting]]:
        return [
            (
                str(s) if paper_shift_of(s) is not None else f"s{fmt_g(s)}",
                {"model": self.conf["model"], "shift": s, "steps": self.conf["steps"]},
            )
            for s in self.conf["shifts"]
        ]

    def resolve(self, setting: Mapping[str, Any], split_times: SplitTimes, space: str) -> Setting:
        """A ``"p<f>"`` shift becomes the shift standing for the paper's s = f at the split
        of ``space`` (:func:`navref.paper.shift_to_ours`, with the split as the metrics row
        records it, 4 decimals); ``shift_spec`` keeps the config's entry."""
        spec = setting["shift"]
        f = paper_shift_of(spec)
        if f is None:
            return {**setting, "shift_spec": str(spec)}
        split = split_times.resolve("s1", space)
        return {**setting, "shift": paper.shift_to_ours(f, split), "shift_spec": str(spec)}

    def grid(self, setting: Mapping[str, Any]) -> torch.Tensor:
        from navref.sampling import shifted_grid

        return shifted_grid(int(setting["steps"]), float(setting["shift"]))

    def segments(self, setting: Mapping[str, Any]) -> list[Segment]:
        n = int(setting["steps"])
        spec = setting.get("shift_spec", setting["shift"])  # a p-spec names its grid
        name = spec if paper_shift_of(spec) is not None else float(spec)
        return [Segment(("shifted", n, name), 0, n, ("cond", setting["model"]))]

    def info(
        self, setting: Mapping[str, Any], grid: torch.Tensor, split_time: float | None
    ) -> dict[str, Any]:
        info = {
            "shift": float(setting["shift"]),
            "shift_spec": str(setting.get("shift_spec", setting["shift"])),
            "steps": int(setting["steps"]),
        }
        if split_time is not None:
            from navref.sampling import share_below

            info["split_time"] = split_time
            t = paper.to_ours(paper.PAPER_SHARE_T, split_time)  # 2 x our split
            info["share_below_transition"] = share_below(grid, t, inclusive=True)
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
        """The shift s (and the paper's s it stands for, where known)."""
        paper_s = table["paper_shift"] if "paper_shift" in table else [math.nan] * len(table)
        return [
            f"s={float(s):.3g}" + (f"\n(paper {float(p):.3g})" if np.isfinite(p) else "")
            for s, p in zip(table["shift"], paper_s, strict=True)
        ]
