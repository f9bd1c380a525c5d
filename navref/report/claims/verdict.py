"""The one verdict helper of the claims check: parts of a criterion, their verdict, the record.

A criterion is split into parts; each part is ``PASS``, ``FAIL`` or ``None`` (undecided:
within the noise margin, or the data needed were not there). :func:`combine` turns the parts
into the claim's verdict:

- ``"reproduced"``: every part passes;
- ``"not reproduced"``: some part fails (beyond the stated noise margin);
- ``"inconclusive"``: otherwise, and when an input is missing (:func:`missing_input`).

:func:`compare` is the one effect-versus-noise test the criteria share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE)

PASS, FAIL = "pass", "fail"
#: a part of a criterion: PASS, FAIL or None (undecided)
Part = str | None

#: upper end of the "refinement" window for loss / gap comparisons (the oracle's 1 / (1 - t)
#: factor blows up near t = 1, as the paper notes)
T_HI = 0.9


@dataclass(frozen=True)
class Outcome:
    """What a claim's judge found: the verdict, the numbers it used and why.

    ``grid_limited`` (issue 24, item 6): non-empty only for an inconclusive verdict that the
    data would have decided had the probe grid reached far enough; it says what was missing
    (e.g. "no probe tau at or above 2 t_s = 0.95"), so the split-threshold sensitivity
    reports "not tested" there instead of a flip (:mod:`.sensitivity`)."""

    verdict: str
    numbers: str
    why: str
    grid_limited: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")


def binomial_se(p: float, n: float) -> float:
    """Standard error of a share ``p`` of ``n`` (p kept 0.5 / n away from 0 and 1)."""
    n = max(float(n), 1.0)
    q = min(max(p, 0.5 / n), 1 - 0.5 / n)
    return math.sqrt(q * (1 - q) / n)


def combine(parts: Sequence[Part]) -> str:
    """Any part fails -> not reproduced; all parts pass (and there is one) -> reproduced;
    else inconclusive."""
    if any(p == FAIL for p in parts):
        return NOT_REPRODUCED
    if parts and all(p == PASS for p in parts):
        return REPRODUCED
    return INCONCLUSIVE


def grid_limit(parts: Sequence[Part], limits: Sequence[str]) -> str:
    """What ``Outcome.grid_limited`` says for parts with per-part grid ``limits`` ("" where a
    part was not undecided for want of a grid point): the joined limits when the combined
    verdict is inconclusive and every undecided part lacks only a grid point, else ""."""
    if combine(parts) != INCONCLUSIVE:
        return ""
    undecided_limits = [lim for p, lim in zip(parts, limits, strict=True) if p is None]
    if not undecided_limits or not all(undecided_limits):
        return ""
    return "; ".join(dict.fromkeys(undecided_limits))


def compare(effect: float, margin: float) -> Part:
    """PASS if ``effect`` exceeds the noise ``margin``, FAIL if ``-effect`` does, else None
    (also when the margin is not finite, e.g. the seed std of a single seed)."""
    if not np.isfinite(margin):
        return None
    if effect > margin:
        return PASS
    if -effect > margin:
        return FAIL
    return None


def undecided(why: str, numbers: str = "") -> Outcome:
    """An inconclusive outcome: the data needed to test the claim are not there."""
    return Outcome(INCONCLUSIVE, numbers, why)


def missing_input(frame: pd.DataFrame | None, cols: Sequence[str], name: str) -> Outcome | None:
    """An inconclusive outcome when the input ``name`` is missing, empty or lacks ``cols``;
    None when it is usable."""
    if frame is None or not isinstance(frame, pd.DataFrame) or frame.empty:
        return undecided(f"input {name} is missing or empty")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        return undecided(f"input {name} lacks columns {missing}")
    return None


def fmt(x: float | None, d: int = 3) -> str:
    """A number in a claim's text: ``d`` significant digits; NaN, and inf as "not reached"."""
    if x is None or np.isnan(x):
        return "nan"
    if np.isinf(x):
        return "not reached" if x > 0 else "-inf"
    return f"{x:.{d}g}"


#: a split time given to a claim: one value, one per latent space, or none
Splits = float | Mapping[str, float] | None


def split_of(splits: Splits, space: str) -> float:
    """The split time of ``space``: its entry of a per-space mapping (NaN if absent), or the
    one value given for every space."""
    if isinstance(splits, Mapping):
        return float(splits.get(space, math.nan))
    return math.nan if splits is None else float(splits)


def one_split(split_t: Splits) -> float:
    """One split time from a value or a per-space mapping (its only finite value, else NaN)."""
    if isinstance(split_t, Mapping):
        vals = [float(v) for v in split_t.values() if np.isfinite(v)]
        return vals[0] if len(vals) == 1 else math.nan
    return math.nan if split_t is None else float(split_t)
