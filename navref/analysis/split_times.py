"""The split time of a latent space, looked up in one place.

The oracle analysis (:func:`navref.analysis.oracle_curves.split_times`) writes, per curve
(``objective`` for the Fig. 2 analysis of a latent space, ``synthetic`` for Fig. 3), the
first t at which the mean top-1 posterior weight reaches the threshold (0.9): one file per
latent space, ``results/<run>/oracle/split_times/{space}.parquet`` (rule
``oracle_split_time``; what probes and sweeps of that space read, so a new space or
synthetic size reruns none of the others' jobs), and the aggregate
``results/<run>/oracle/split_times.parquet`` (rule ``oracle_tables``, for the report).
Every consumer (probes, sweeps, tables, figures, claims) asks :class:`SplitTimes` for it.

Time convention: t = 0 noise, t = 1 data. A *relative* time ``"s<f>"`` (e.g. ``"s1.5"``)
means f x the split time of the space.

The one fallback: the split time of a space is that of its class-conditional oracle curve;
when only the unconditional curve was computed, that one is used. A space with no
objective curve is an error; a curve that never reached the threshold gives NaN from
:meth:`SplitTimes.for_space` and an error from :meth:`SplitTimes.resolve`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

_RELATIVE = re.compile(r"^s(\d+(?:\.\d+)?)$")
COLUMNS = ("curve", "space", "conditional", "t_split", "reached")


def relative_factor(spec: str | float) -> float | None:
    """The factor f of a time spec relative to the split (``"s<f>"``: f x the split time),
    None for an absolute spec; the one place a spec is parsed."""
    m = _RELATIVE.match(str(spec))
    return float(m.group(1)) if m else None


def is_relative(spec: str | float) -> bool:
    """Whether a time spec is relative to the split (``"s<f>"``)."""
    return relative_factor(spec) is not None


@dataclass(frozen=True)
class SplitTimes:
    """The split-time table of the oracle analysis (see the module docstring)."""

    frame: pd.DataFrame

    @classmethod
    def read(cls, paths: str | os.PathLike | Sequence[str | os.PathLike]) -> SplitTimes:
        """Read one split-time file or several (e.g. the per-space files), rows in the order
        given; no file, or a missing column, is a ``ValueError``."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if not paths:
            raise ValueError("no split-time file given; rerun rule oracle_split_time")
        return cls(pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True))

    def __post_init__(self) -> None:
        missing = [c for c in COLUMNS if c not in self.frame.columns]
        if missing:
            raise ValueError(
                f"split-time table lacks columns {missing} (has {list(self.frame.columns)}); "
                "rerun rule oracle_split_time / oracle_tables"
            )

    def spaces(self) -> list[str]:
        """The latent spaces that have an objective curve."""
        rows = self.frame[self.frame["curve"] == "objective"]
        return sorted(rows["space"].dropna().unique())

    def for_space(self, space: str, conditional: bool = True) -> float:
        """Split time of ``space`` (NaN when its curve never reached the threshold).

        Uses the curve with the requested conditioning, else the other one (the one
        documented fallback). Raises ``ValueError`` when ``space`` has no objective curve."""
        rows = self.frame[(self.frame["curve"] == "objective") & (self.frame["space"] == space)]
        if rows.empty:
            raise ValueError(
                f"no split time for latent space {space!r} (have {self.spaces()}); "
                "add it to oracle.objective.spaces"
            )
        same = rows[rows["conditional"].astype(bool) == bool(conditional)]
        row = (same if len(same) else rows).iloc[0]
        return float(row["t_split"]) if bool(row["reached"]) else math.nan

    def by_space(self) -> dict[str, float]:
        """:meth:`for_space` of every space with an objective curve (class-conditional curve
        preferred): the split times the claims judge with."""
        return {str(space): self.for_space(space) for space in self.spaces()}

    def resolve(self, spec: str | float, space: str) -> float:
        """A time from the config: a number in [0, 1], or ``"s<f>"`` = f x the split time of
        ``space``; clipped to [0, 1] and rounded to 4 decimals.

        Raises ``ValueError`` for a relative spec when the space's curve never reached the
        threshold."""
        return resolve_time(spec, self, space)


def resolve_time(
    spec: str | float, split_times: SplitTimes | None, space: str, clip: bool = True
) -> float:
    """:meth:`SplitTimes.resolve`, also for absolute specs when no table is at hand
    (``split_times=None``; a relative spec then raises ``ValueError``). ``clip=False`` keeps
    a relative time beyond 1 (rounded, not clipped): the caller records the clip."""
    factor = relative_factor(spec)
    if factor is None:
        tau = float(spec)
    else:
        if split_times is None:
            raise ValueError(f"relative time {spec!r} needs the split-time table")
        t_split = split_times.for_space(space)
        if math.isnan(t_split):
            raise ValueError(
                f"relative time {spec!r}: the oracle curve of space {space!r} never reached "
                "the split threshold; give absolute times or widen oracle.t_grid"
            )
        tau = factor * t_split
    if math.isnan(tau):
        raise ValueError(f"time {spec!r} is not a number")
    return round(min(max(tau, 0.0), 1.0), 4) if clip else round(tau, 4)


__all__ = ["SplitTimes", "is_relative", "relative_factor", "resolve_time"]
