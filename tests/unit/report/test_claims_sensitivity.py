"""Tests of navref.report.claims.sensitivity: a verdict judged again at the split thresholds
0.5 / 0.9 / 0.99, flagged fragile when it flips."""

from __future__ import annotations

import numpy as np
import pandas as pd

from navref.analysis.oracle_curves import split_times
from navref.report import claims as C
from navref.report.claims.sensitivity import SPLIT_THRESHOLDS

GRID = np.round(np.arange(0, 1.0, 0.05), 2)


def _objective(gap_until: float) -> pd.DataFrame:
    """Top-1 weight 2t (split 0.25 / 0.45 / 0.495 at 0.5 / 0.9 / 0.99); gap 1 before
    ``gap_until``, 0.05 after."""
    return pd.DataFrame(
        {
            "space": "pix",
            "conditional": True,
            "t": GRID,
            "top1_mean": np.clip(2 * GRID, 0, 1),
            "gap_mse": np.where(GRID < gap_until, 1.0, 0.05),
        }
    )


def _splits(objective: pd.DataFrame) -> pd.DataFrame:
    table = split_times(objective, ["space", "conditional"], 0.9)
    table.insert(0, "curve", "objective")
    return table


def _claim2(objective: pd.DataFrame, **kw) -> dict:
    recs = C.evaluate_claims(C.ClaimInputs(objective=objective, **kw))
    return recs[1]


def test_stable_and_fragile():
    stable = _objective(0.25)  # the gap ends before every threshold's split
    rec = _claim2(stable, split_times=_splits(stable))
    assert rec["verdict"] == C.REPRODUCED and rec["fragile"] is False
    for thr in SPLIT_THRESHOLDS:
        assert f"{thr:g}: reproduced" in rec["sensitivity"]
    flips = _objective(0.45)  # at threshold 0.5 the split (0.25) falls inside the gap
    rec = _claim2(flips, split_times=_splits(flips))
    assert rec["verdict"] == C.REPRODUCED and rec["fragile"] is True
    assert "0.5: inconclusive" in rec["sensitivity"]
    md = C.claims_markdown([rec])
    assert "**reproduced (fragile)**" in md and "*Sensitivity.*" in md


def test_not_assessed_and_split_free():
    obj = _objective(0.45)
    no_curves = obj.drop(columns="top1_mean")
    rec = _claim2(no_curves, split_times=_splits(obj))
    assert rec["fragile"] is None and "0.5: not assessed" in rec["sensitivity"]
    rec = _claim2(obj, split_times=_splits(obj), split_t=0.45)  # split given by the caller
    assert rec["fragile"] is None
    recs = C.evaluate_claims(C.ClaimInputs(objective=obj, split_times=_splits(obj)))
    assert recs[5]["sensitivity"] == "does not use the split time"  # claim 6
    assert recs[5]["fragile"] is False
