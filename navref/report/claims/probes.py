"""Claim 4: mixed sampling memorizes with a late switch, generalizes with an early one (Fig. 5).

Input: ``mixed`` (``results/probes/mixed.parquet``): per model and switch time tau the share
of samples that memorize (NN1/NN2 distance ratio < 1/3) over ``n`` samples. Oracle velocity
for t < tau, the model from tau to 1; t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from navref.report.claims.registry import claim
from navref.report.claims.verdict import (
    FAIL,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    PASS,
    REPRODUCED,
    Outcome,
    Part,
    Splits,
    combine,
    fmt,
    missing_input,
    one_split,
    undecided,
)


def _se(p: float, n: float) -> float:
    """Binomial standard error of a share ``p`` of ``n`` (p kept 0.5 / n away from 0 and 1)."""
    n = max(float(n), 1.0)
    q = min(max(p, 0.5 / n), 1 - 0.5 / n)
    return math.sqrt(q * (1 - q) / n)


def _late_vs_early(model: str, g: pd.DataFrame, ts: float) -> tuple[Part, str]:
    """One model's part of claim 4 and its numbers."""
    g = g.sort_values("tau")
    late = g[(g["tau"] >= ts) & (g["tau"] < 1 - 1e-9)]
    early = g[g["tau"] < ts]
    if late.empty or early.empty:
        return None, f"{model}: taus {g['tau'].tolist()} do not straddle t_s = {ts:.3f}"
    rl, re_ = late.iloc[-1], early.iloc[0]
    pl, pe = float(rl["memorization_share"]), float(re_["memorization_share"])
    sl, se_ = _se(pl, rl["n"]), _se(pe, re_["n"])
    sd = math.hypot(sl, se_)
    txt = (
        f"{model}: memorized {fmt(pl)} at tau = {rl['tau']:.2f} (late) vs {fmt(pe)} at "
        f"tau = {re_['tau']:.2f} (early), SE of difference {fmt(sd)}"
    )
    if "match_share" in g.columns:
        txt += f", match share late {fmt(float(rl['match_share']))}"
    if pl >= 0.5 and pe < 0.5 and pl - pe > 2 * sd:
        return PASS, txt
    if pl < 0.5 - 2 * sl or pe > 0.5 + 2 * se_ or pl < pe - 2 * sd:
        return FAIL, txt
    return None, txt


@claim(
    4,
    statement="Mixed sampling memorizes when the switch is late and generalizes when early.",
    criterion="Per model, late = the largest tau with t_s <= tau < 1, early = the smallest tau < "
    "t_s. p = memorization share (NN1/NN2 distance ratio < 1/3), SE binomial. Reproduced if "
    "p_late >= 0.5, p_early < 0.5 and p_late - p_early > 2 SE of the difference; not "
    "reproduced if p_late < 0.5 - 2 SE_late, or p_early > 0.5 + 2 SE_early, or p_late < "
    "p_early - 2 SE; otherwise (or without both taus) inconclusive.",
    source="Fig. 5",
    inputs=("mixed", "model_split"),
)
def claim4(mixed: pd.DataFrame | None, split_t: Splits) -> Outcome:
    """Claim 4: memorization share at the latest vs the earliest switch time."""
    bad = missing_input(mixed, ["model", "tau", "n", "memorization_share"], "mixed")
    if bad:
        return bad
    ts = one_split(split_t)
    if not np.isfinite(ts):
        return undecided("no split time given")
    parts, nums = [], []
    for model, g in mixed.groupby("model", sort=True):
        part, txt = _late_vs_early(model, g, ts)
        parts.append(part)
        nums.append(txt)
    verdict = combine(parts)
    why = {
        REPRODUCED: "every model memorizes with a late switch and generalizes with an early one",
        NOT_REPRODUCED: "some model does not memorize late, or memorizes early",
        INCONCLUSIVE: "differences within the binomial noise, or taus do not straddle the split",
    }[verdict]
    return Outcome(verdict, "; ".join(nums), why)
