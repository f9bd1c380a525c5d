"""Claim 5 (Tab. 1, stage swap): a small stage-1 model costs little, a small stage-2 model a lot.

Inputs: Tab. 1 as rule ``report_sweep_table`` writes it and the per-seed FIDs (:mod:`.sweeps`). Model A on
[0, tau], model B on [tau, 1]; t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from navref.report.claims.convergence import GATE_TEXT, Gate, navigation_gate
from navref.report.claims.registry import claim
from navref.report.claims.sweeps import BEYOND_NOISE, PAIRED_CHANGE, Runs, row_where
from navref.report.claims.verdict import (
    HOLM_RULE,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Outcome,
    Splits,
    Tested,
    combine_tested,
    fmt,
    missing_input,
    one_split,
    split_of,
)


def _paper_tau_text(g: pd.DataFrame) -> str:
    """The paper's tau that our tau stands for (Tab. 1's ``paper_tau``, through the one
    mapping of times, :func:`navref.paper.to_paper`), or nothing when the table lacks it."""
    if "paper_tau" not in g.columns or not np.isfinite(g["paper_tau"].iloc[0]):
        return ""
    return f" (the paper's tau {g['paper_tau'].iloc[0]:.3g})"


def _swap_costs(tau: float, g: pd.DataFrame, runs: Runs) -> tuple[Tested, str]:
    """Claim 5 at one tau: the cost of a small stage-2 vs a small stage-1 model."""

    def role(a: str, b: str) -> pd.Series | None:
        return row_where(g, (g["stage1_role"] == a) & (g["stage2_role"] == b))

    ll, sl, ls = role("large", "large"), role("small", "large"), role("large", "small")
    if ll is None or sl is None or ls is None:
        return Tested(None), f"tau {tau}: missing (large, large), (small, large) or (large, small)"
    c1, c2 = sl["fid"] - ll["fid"], ls["fid"] - ll["fid"]
    d = runs.diff(ls, sl)  # cost2 - cost1
    txt = f"tau {tau}{_paper_tau_text(g)}: cost stage 1 {fmt(c1)}, cost stage 2 {fmt(c2)}, "
    txt += f"cost2 - cost1 {d.text}"
    if "paper_gfid" in g.columns and np.isfinite(ll.get("paper_gfid", np.nan)):
        p1, p2 = sl["paper_gfid"] - ll["paper_gfid"], ls["paper_gfid"] - ll["paper_gfid"]
        txt += f" (paper: {fmt(p1)}, {fmt(p2)})"
    return Tested(d.part(lower=False), d.p_value), txt


def _gate(tab1: pd.DataFrame, loss_curves: pd.DataFrame | None, splits: Splits) -> Gate:
    """The navigation-convergence gate (:mod:`.convergence`) of Tab. 1's smaller (role
    "small") against its larger model (role "large"), at the split of their latent space
    (the loss curves' ``space`` of the smaller model)."""
    if "stage1" not in tab1.columns:
        return Gate(None, "navigation-convergence gate not checked: Tab. 1 names no models")
    names = {}
    for role in ("small", "large"):
        hit = tab1.loc[tab1["stage1_role"] == role, "stage1"]
        if hit.empty:
            return Gate(None, f"navigation-convergence gate not checked: no {role} model")
        names[role] = str(hit.iloc[0])
    ts = math.nan
    if loss_curves is not None and not loss_curves.empty and "space" in loss_curves.columns:
        key = "base_model" if "base_model" in loss_curves.columns else "model"
        spaces = loss_curves.loc[loss_curves[key] == names["small"], "space"]
        if len(spaces):
            ts = split_of(splits, str(spaces.iloc[0]))
    if not np.isfinite(ts):
        ts = one_split(splits)
    return navigation_gate(loss_curves, names["small"], names["large"], ts)


@claim(
    5,
    statement="Swapping in a smaller model for stage 1 costs little; for stage 2, a lot.",
    criterion="Tab. 1, per tau: cost1 = FID(small, large) - FID(large, large), cost2 = FID(large, "
    "small) - FID(large, large); cost2 - cost1 = FID(large, small) - FID(small, large), paired "
    "(shared noise). Reproduced if cost2 - cost1 > 0 beyond the noise at every tau; not "
    "reproduced if cost2 - cost1 < 0 beyond the noise at any tau; else inconclusive; "
    f"{BEYOND_NOISE}. {PAIRED_CHANGE} {HOLM_RULE}; here m = the number of taus. Judged only "
    "where the smaller (Base) and the larger (XL) model pass the navigation-convergence gate "
    "(their oracle-loss curves, at the split of their latent space); where they miss it the "
    "claim reads inconclusive: the smaller model is not converged in navigation, with the "
    f"gate's numbers. {GATE_TEXT}.",
    source="Tab. 1",
    inputs=("table1", "sweeps", "replicates", "loss_curves", "splits"),
)
def claim5(
    tab1: pd.DataFrame | None,
    sweeps: pd.DataFrame | None = None,
    replicates: pd.DataFrame | None = None,
    loss_curves: pd.DataFrame | None = None,
    splits: Splits = None,
) -> Outcome:
    """Claim 5; ``tab1`` is Tab. 1 (:func:`navref.report.tables.table1`), ``sweeps`` the
    per-seed sweep table, ``replicates`` the bootstrap replicates (:mod:`.sweeps`),
    ``loss_curves`` and ``splits`` for the navigation-convergence gate (:mod:`.convergence`;
    without them it is not checked)."""
    bad = missing_input(tab1, ["tau", "stage1_role", "stage2_role", "fid"], "table 1")
    if bad:
        return bad
    gate = _gate(tab1, loss_curves, splits)
    parts, nums = [], []
    runs = Runs("stage_swap", sweeps, replicates)
    for tau, g in tab1.groupby("tau", sort=True):
        part, txt = _swap_costs(tau, g, runs)
        parts.append(part)
        nums.append(txt)
    nums.append(gate.text)
    if gate.failed:
        return Outcome(INCONCLUSIVE, "; ".join(nums), gate.reason)
    verdict, note = combine_tested(parts)
    why = {
        REPRODUCED: "a smaller stage-2 model costs more FID than a smaller stage-1 model, beyond "
        "the noise, at every tau",
        NOT_REPRODUCED: "a smaller stage-1 model costs more than a smaller stage-2 model beyond "
        "the noise",
        INCONCLUSIVE: "cost difference within the noise, or swap settings missing",
    }[verdict]
    return Outcome(verdict, "; ".join(nums), f"{why}; {note}" if note else why)
