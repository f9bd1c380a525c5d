"""Claims 1 and 2: what the oracle analysis shows (Fig. 2, Fig. 3), no trained model needed.

Inputs: ``split_times`` (``results/oracle/split_times.parquet``), the synthetic top-1 curves
(``synthetic.parquet``, Fig. 3) and the latent-space curves (``objective.parquet``, Fig. 2).
Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from navref.report.claims.registry import claim
from navref.report.claims.verdict import (
    FAIL,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    PASS,
    REPRODUCED,
    T_HI,
    Outcome,
    Part,
    combine,
    fmt,
    missing_input,
    undecided,
)

#: claim 1: a saturated curve stays above threshold - SAT_DROP and ends >= SAT_END
SAT_DROP, SAT_END = 0.02, 0.99
#: claim 2: gap ratio after/before the split: <= pass, > fail (between: inconclusive)
GAP_RATIO_PASS, GAP_RATIO_FAIL = 0.25, 0.5

_AXIS = {"dim": "D", "size": "N"}


def _saturation(curves: pd.DataFrame, keys: list[str], splits: pd.DataFrame) -> tuple[list, list]:
    """(failures, checked) of the saturation criterion for the curves grouped by ``keys``."""
    fails, checked = [], []
    if any(c not in curves.columns for c in [*keys, "t", "top1_mean"]):
        return fails, checked
    for key, g in curves.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        sel = splits
        for k, v in zip(keys, key, strict=True):
            col = sel[k]
            sel = sel[(col.astype(float) == float(v)) if k in ("dim", "size") else (col == v)]
        if sel.empty or not bool(sel["reached"].iloc[0]):
            continue
        ts = float(sel["t_split_grid"].iloc[0])
        if ts > T_HI:
            continue
        thr = float(sel["threshold"].iloc[0])
        g = g.sort_values("t")
        after = g[g["t"] >= ts - 1e-12]["top1_mean"].to_numpy(float)
        name = ", ".join(f"{k}={v}" for k, v in zip(keys, key, strict=True))
        checked.append(name)
        if after.min() < thr - SAT_DROP or after[-1] < SAT_END:
            fails.append(f"{name}: min after split {after.min():.3f}, end {after[-1]:.3f}")
    return fails, checked


def _scan(syn: pd.DataFrame, fixed: str, moving: str, sign: int) -> tuple[int, list[str]]:
    """(supporting pairs, violations) of neighbours along ``moving`` for each ``fixed``:
    sign -1: t_split must not increase along ``moving``; +1: must not decrease."""
    support, viol = 0, []
    for fv, g in syn.groupby(fixed):
        g = g.sort_values(moving)
        ts, ms = g["ts"].to_numpy(), g[moving].to_numpy()
        for i in range(len(ts) - 1):
            a, b = ts[i], ts[i + 1]
            if np.isinf(a) and np.isinf(b):
                continue
            d = b - a
            if sign * d > 0:
                support += 1
            elif sign * d < 0:
                viol.append(
                    f"{_AXIS[fixed]}={int(fv)}: {_AXIS[moving]} {int(ms[i])}->{int(ms[i + 1])} "
                    f"gives t_split {fmt(a)}->{fmt(b)}"
                )
    return support, viol


def _synthetic_splits(split_times: pd.DataFrame) -> pd.DataFrame:
    syn = split_times[split_times["curve"] == "synthetic"].copy()
    syn["ts"] = np.where(syn["reached"].astype(bool), syn["t_split"].astype(float), np.inf)
    syn["dim"] = syn["dim"].astype(float)
    syn["size"] = syn["size"].astype(float)
    return syn


def _all_saturation(split_times, syn, synthetic, objective) -> tuple[list, list]:
    sat_fail, sat_checked = [], []
    if synthetic is not None and not synthetic.empty:
        f, c = _saturation(synthetic, ["dim", "size"], syn)
        sat_fail += f
        sat_checked += c
    if objective is not None and not objective.empty:
        obj = split_times[split_times["curve"] == "objective"]
        f, c = _saturation(objective, ["space", "conditional"], obj)
        sat_fail += f
        sat_checked += c
    return sat_fail, sat_checked


@claim(
    1,
    statement="The top-1 posterior weight saturates to 1 past a split time; the split comes "
    "earlier for larger D and later for larger N.",
    criterion="Synthetic Gaussians (split_times, curve = synthetic; a split never reached within "
    "the grid counts as later than every reached one). Ordering: along D (for every N) each step "
    "to the next larger D must not raise t_split, along N (for every D) each step to the next "
    "larger N must not lower it; reproduced needs no violation and at least one strict move "
    "in the claimed direction along D and along N. Saturation: every curve (synthetic and "
    f"latent) whose split is <= {T_HI} stays >= threshold - {SAT_DROP} after its split and "
    f"ends >= {SAT_END} at the last grid t. Any violation: not reproduced; no comparable "
    "pair or no curves: inconclusive.",
    source="Fig. 2b, Fig. 3",
    inputs=("split_times", "synthetic", "objective"),
)
def claim1(
    split_times: pd.DataFrame | None,
    synthetic: pd.DataFrame | None = None,
    objective: pd.DataFrame | None = None,
) -> Outcome:
    """Claim 1: saturation of the top-1 weight and the ordering of the split along D and N."""
    cols = ["curve", "t_split", "reached", "dim", "size"]
    bad = missing_input(split_times, cols, "split_times")
    if bad:
        return bad
    syn = _synthetic_splits(split_times)
    if syn.empty:
        return undecided("no synthetic split times (Fig. 3 grid not run)")
    sup_d, viol_d = _scan(syn, "size", "dim", -1)
    sup_n, viol_n = _scan(syn, "dim", "size", +1)
    table = "; ".join(
        f"D={int(r.dim)},N={int(r.size)}: {fmt(r.ts) if np.isfinite(r.ts) else 'not reached'}"
        for r in syn.sort_values(["dim", "size"]).itertuples()
    )
    sat_fail, sat_checked = _all_saturation(split_times, syn, synthetic, objective)
    numbers = (
        f"t_split: {table}. Pairs supporting/violating: along D {sup_d}/{len(viol_d)}, along N "
        f"{sup_n}/{len(viol_n)}. Saturation checked on {len(sat_checked)} curves, "
        f"{len(sat_fail)} failed."
    )
    parts: list[Part] = []
    why = []
    if viol_d or viol_n:
        parts.append(FAIL)
        why.append("ordering violated: " + "; ".join(viol_d + viol_n))
    elif sup_d and sup_n:
        parts.append(PASS)
        why.append("t_split falls with D and rises with N in every comparable pair")
    else:
        parts.append(None)
        why.append("too few comparable (D, N) pairs to test the ordering")
    if sat_fail:
        parts.append(FAIL)
        why.append("saturation fails: " + "; ".join(sat_fail))
    elif sat_checked:
        parts.append(PASS)
        why.append("every checked curve stays saturated after its split")
    else:
        parts.append(None)
        why.append("no top-1 curves given, saturation not checked")
    return Outcome(combine(parts), numbers, "; ".join(why))


def _gap_ratios(objective: pd.DataFrame, split_times: pd.DataFrame) -> tuple[list, list, list]:
    """(ratios R, numbers, notes) of claim 2, one ratio per curve with a reached split."""
    sp = split_times[split_times["curve"] == "objective"]
    ratios, nums, notes = [], [], []
    for (space, cond), g in objective.groupby(["space", "conditional"], sort=True):
        row = sp[(sp["space"] == space) & (sp["conditional"].astype(bool) == bool(cond))]
        label = f"{space} {'cond' if cond else 'uncond'}"
        if row.empty or not bool(row["reached"].iloc[0]):
            notes.append(f"{label}: split not reached")
            continue
        ts = float(row["t_split"].iloc[0])
        before = g[g["t"] < ts]["gap_mse"].to_numpy(float)
        after = g[(g["t"] >= ts) & (g["t"] <= T_HI)]["gap_mse"].to_numpy(float)
        if before.size == 0 or after.size == 0 or before.mean() <= 0:
            notes.append(f"{label}: no grid points on one side of t_s = {ts:.3f}")
            continue
        r = float(after.mean() / before.mean())
        ratios.append(r)
        nums.append(
            f"{label}: t_s = {ts:.3f}, mean gap before {fmt(before.mean())}, after "
            f"{fmt(after.mean())}, R = {fmt(r)}"
        )
    return ratios, nums, notes


@claim(
    2,
    statement="The objective gap between the CFM target and the oracle is concentrated before "
    "the split.",
    criterion="For every latent-space curve (space, conditioning) with a reached split t_s: "
    f"R = mean gap over grid t in [t_s, {T_HI}] / mean gap over grid t < t_s. Reproduced if "
    f"R <= {GAP_RATIO_PASS} for all curves, not reproduced if R > {GAP_RATIO_FAIL} for any, "
    "else inconclusive.",
    source="Fig. 2a",
    inputs=("objective", "split_times"),
)
def claim2(objective: pd.DataFrame | None, split_times: pd.DataFrame | None) -> Outcome:
    """Claim 2: the ratio of the objective gap after / before the split."""
    bad = missing_input(objective, ["space", "conditional", "t", "gap_mse"], "objective")
    bad = bad or missing_input(
        split_times, ["curve", "space", "conditional", "t_split", "reached"], "split_times"
    )
    if bad:
        return bad
    ratios, nums, notes = _gap_ratios(objective, split_times)
    numbers = "; ".join(nums + notes)
    if not ratios:
        return undecided("no curve with a reached split and points on both sides", numbers)
    worst = max(ratios)
    if worst > GAP_RATIO_FAIL:
        return Outcome(
            NOT_REPRODUCED, numbers, f"largest ratio R = {fmt(worst)} > {GAP_RATIO_FAIL}"
        )
    if worst <= GAP_RATIO_PASS:
        return Outcome(
            REPRODUCED, numbers, f"every ratio R <= {GAP_RATIO_PASS} (largest {fmt(worst)})"
        )
    why = f"largest ratio R = {fmt(worst)} between the pass and fail bounds"
    return Outcome(INCONCLUSIVE, numbers, why)
