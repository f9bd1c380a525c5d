"""How a verdict depends on the split threshold (issue 15, item 5).

The split time t_s is the first t at which the oracle's mean top-1 posterior weight reaches a
threshold (0.9 by default, ``oracle.split_threshold``); the paper gives no threshold. Every
claim that reads a split time is judged again with the split recomputed at each threshold of
``SPLIT_THRESHOLDS`` from the same top-1 curves (:func:`navref.analysis.oracle_curves.
split_times`, as rule ``oracle_tables`` does). A verdict that differs between thresholds is
*fragile*. Only the criteria's split is recomputed: settings given relative to the split
(e.g. stage-swap tau ``s1.0``) were run at the configured threshold and stay as run.

A verdict that a moved split leaves undecidable only because the probe grid (taus, record
times) has no point beyond it (``Outcome.grid_limited``, issue 24 item 6) is *not tested* at
that threshold, with what was missing, and does not count as a flip: the sensitivity then
measures the data at the thresholds where the grid can decide, not the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from navref.analysis.oracle_curves import split_times as split_times_at

#: the split thresholds a verdict is checked under (issue 15, item 5)
SPLIT_THRESHOLDS = (0.5, 0.9, 0.99)
#: the context keys that carry a split time
SPLIT_INPUTS = frozenset({"split_times", "splits", "model_split"})
#: how a threshold whose verdict the grid could not decide is shown (then what was missing)
NOT_TESTED = "not tested"


def not_tested(limit: str) -> str:
    """The sensitivity entry of a threshold at which the grid lacks points (``limit``)."""
    return f"{NOT_TESTED} ({limit})"


@dataclass(frozen=True)
class Sensitivity:
    """A claim's verdict per split threshold (None: not assessed at that threshold;
    :func:`not_tested`: the probe grid has no point beyond the moved split)."""

    verdicts: Mapping[float, str | None]
    uses_split: bool = True

    @property
    def fragile(self) -> bool | None:
        """True when the verdict flips within the thresholds it was tested at (a threshold
        where the grid lacks points does not count), None when not assessed."""
        if not self.uses_split:
            return False
        if any(v is None for v in self.verdicts.values()):
            return None
        tested = {v for v in self.verdicts.values() if not v.startswith(NOT_TESTED)}
        return len(tested) > 1

    @property
    def text(self) -> str:
        """The sensitivity line of ``claims.md``."""
        if not self.uses_split:
            return "does not use the split time"
        shown = "; ".join(
            f"{thr:g}: {v if v is not None else 'not assessed'}"
            for thr, v in sorted(self.verdicts.items())
        )
        tail = {True: " (fragile", False: " (stable", None: ""}[self.fragile]
        if tail:
            limited = any(
                v is not None and v.startswith(NOT_TESTED) for v in self.verdicts.values()
            )
            tail += (
                " among the thresholds the probe grid can decide; not tested where it lacks "
                "points beyond the moved split, not counted as a flip)"
                if limited
                else ")"
            )
        return f"verdict by split threshold: {shown}{tail}"


def split_table(objective: Any, synthetic: Any, threshold: float) -> pd.DataFrame | None:
    """The split-time table (columns as ``split_times.parquet``) at ``threshold``, from the
    top-1 curves of the latent spaces and of the synthetic Gaussians; None without the
    latent-space curves."""
    parts = []
    for curve, frame, keys in (
        ("objective", objective, ["space", "conditional"]),
        ("synthetic", synthetic, ["dim", "size"]),
    ):
        if not isinstance(frame, pd.DataFrame) or not {*keys, "t", "top1_mean"} <= set(frame):
            if curve == "objective":
                return None
            continue
        part = split_times_at(frame, keys, threshold)
        part.insert(0, "curve", curve)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def base_threshold(split_times: Any) -> float | None:
    """The threshold the pipeline's split times were computed at (None if not recorded)."""
    if not isinstance(split_times, pd.DataFrame) or "threshold" not in split_times.columns:
        return None
    values = split_times["threshold"].dropna().unique()
    return float(values[0]) if len(values) == 1 else None


def assess(
    inputs: tuple[str, ...],
    verdict: str,
    base: float | None,
    judge_at: Callable[[float], str | None],
) -> Sensitivity:
    """The verdict at every threshold of ``SPLIT_THRESHOLDS`` (and the base one):
    ``verdict`` at ``base``, ``judge_at(thr)`` elsewhere."""
    if not SPLIT_INPUTS & set(inputs):
        return Sensitivity({}, uses_split=False)
    thresholds = sorted({*SPLIT_THRESHOLDS, *([base] if base is not None else [])})
    return Sensitivity(
        {thr: verdict if base is not None and thr == base else judge_at(thr) for thr in thresholds}
    )
