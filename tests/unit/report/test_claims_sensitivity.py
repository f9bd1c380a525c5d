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


def test_grid_limited_is_not_tested_not_fragile():
    """issue 24, item 6: at threshold 0.99 the split (0.495) puts claim 10's t_m = 0.99 past
    the last record (0.9): that threshold is "not tested", not a flip to inconclusive."""
    obj = _objective(0.25)
    record_t = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9]
    inter = pd.DataFrame(
        {
            "model": "m", "space": "pix", "t": record_t, "n": 64,
            "rel_l2": [1.0] + [0.05 * (1 - t) for t in record_t[1:]], "rel_l2_std": 0.01,
            "null_rel_l2": [1.0 - t for t in record_t], "null_rel_l2_std": 0.01,
        }
    )  # fmt: skip
    rec = C.evaluate_claims(
        C.ClaimInputs(objective=obj, split_times=_splits(obj), intermediate=inter)
    )
    rec10 = rec[9]
    assert rec10["verdict"] == C.REPRODUCED, rec10
    assert "0.5: reproduced; 0.9: reproduced" in rec10["sensitivity"]
    assert "0.99: not tested (no probe record at or after t_m = 0.990" in rec10["sensitivity"]
    assert rec10["fragile"] is False
    assert "not counted as a flip" in rec10["sensitivity"]
    # a real flip among the tested thresholds still counts
    slow = inter.copy()
    slow.loc[slow["t"] == 0.9, "rel_l2"] = 0.3  # passes at t_m = 0.5, fails at t_m = 0.9
    rec10 = C.evaluate_claims(
        C.ClaimInputs(objective=obj, split_times=_splits(obj), intermediate=slow)
    )[9]
    assert rec10["fragile"] is True, rec10["sensitivity"]
