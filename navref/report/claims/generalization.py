"""Claim 11: refinement generalizes to unseen data (Fig. 6).

Input: ``unseen`` (``results/probes/unseen.parquet``, probe ``unseen``): per model and tau,
x_tau = (1 - tau) x0 + tau x1_val built on a validation image, then the model from tau to 1;
``closer_to_source_share`` = share of the ``n`` samples that end closer (decoded pixels) to
their own validation source than to their nearest training image. Time convention: t = 0
noise, t = 1 data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from navref.analysis.split_times import relative_factor
from navref.report.claims.dated import FIXED
from navref.report.claims.registry import claim
from navref.report.claims.verdict import (
    FAIL,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    PASS,
    PROBE_NOISE,
    REPRODUCED,
    Outcome,
    Part,
    Splits,
    binomial_se,
    combine,
    fmt,
    missing_input,
    one_split,
    undecided,
)

#: the share of samples that must end closer to their own source (a majority)
MAJORITY = 0.5
TOL = 1e-9
#: resolved taus are rounded to 4 decimals: "s1.0" may sit up to 5e-5 below t_s
TAU_ROUNDING = 5e-5


def refinement_taus(g: pd.DataFrame, ts: float) -> pd.DataFrame:
    """One model's rows with t_s <= tau < 1 (up to the rounding of resolved taus): tau = 1
    returns the validation image itself."""
    tau = g["tau"].astype(float)
    return g[(tau >= ts - TAU_ROUNDING) & (tau < 1 - TOL)].sort_values("tau")


def _tau_part(row: pd.Series) -> tuple[Part, str]:
    p, n = float(row["closer_to_source_share"]), float(row["n"])
    se = binomial_se(p, n)
    txt = f"tau {row['tau']:.3f}: closer to own source {fmt(p)} of {int(n)} (SE {fmt(se)})"
    if p - 2 * se > MAJORITY:
        return PASS, txt
    if p + 2 * se < MAJORITY:
        return FAIL, txt
    return None, txt


@claim(
    11,
    statement="The refinement stage generalizes: resumed from unseen (validation) data at or "
    "after the split, the model keeps the sample's own layout instead of turning it into a "
    "training image (Fig. 6).",
    criterion="Probe unseen, per model and every tau with t_s <= tau < 1 (up to the 4-decimal "
    "rounding of resolved taus; tau = 1 is the validation image itself): p = share of samples "
    "ending closer, in decoded pixels, to their own validation source than to their nearest "
    f"training image (closer_to_source_share), SE binomial. A tau passes if p - 2 SE > "
    f"{MAJORITY}, fails if p + 2 SE < {MAJORITY}, else is undecided. Reproduced if every such "
    "tau of every model passes, not reproduced if any fails, inconclusive otherwise and "
    f"without a tau at or after the split. {FIXED}",
    source="Fig. 6, Sec. 4.2",
    inputs=("unseen", "model_split"),
)
def claim11(unseen: pd.DataFrame | None, split_t: Splits) -> Outcome:
    """Claim 11; ``split_t``: the split of the probed models' space (or the only one)."""
    bad = missing_input(unseen, ["model", "tau", "n", "closer_to_source_share"], "unseen")
    if bad:
        return bad
    ts = one_split(split_t)
    if not np.isfinite(ts):
        return undecided("no split time given")
    parts, nums = [], []
    for model, g in unseen.groupby("model", sort=True):
        rows = refinement_taus(g, ts)
        if rows.empty:
            parts.append(None)
            nums.append(f"{model}: no tau in [t_s = {ts:.3f}, 1)")
            continue
        for _, row in rows.iterrows():
            part, txt = _tau_part(row)
            parts.append(part)
            nums.append(f"{model} {txt}")
    verdict = combine(parts)
    why = {
        REPRODUCED: "at every tau at or after the split most resumed samples end closer to "
        "their own validation source than to any training image",
        NOT_REPRODUCED: "at some tau at or after the split most resumed samples end closer to "
        "a training image than to their own source",
        INCONCLUSIVE: "shares within the binomial noise of one half, or no tau at or after "
        "the split",
    }[verdict]
    return Outcome(verdict, "; ".join(nums) + f" ({PROBE_NOISE})", why)


def expected_split(config: Mapping[str, Any]) -> float | None:
    """The split a config expects (``report.paper_split``), against which its absolute taus
    count; None when not set (then only relative taus ``s<f>`` count)."""
    s = ((config.get("report") or {}) if isinstance(config, Mapping) else {}).get("paper_split")
    return float(s) if s is not None else None


def taus_at_least(taus: list, factor: float, expected: float | None) -> list:
    """The tau specs of a config that lie at or after ``factor`` x the split and below 1:
    relative ones ``s<f>`` by f, absolute ones against the ``expected`` split."""
    out = []
    for t in taus:
        relative = relative_factor(t)
        if relative is not None:
            ok = relative >= factor - TOL
        else:
            ok = expected is not None and factor * expected - TOL <= float(t) < 1 - TOL
        if ok:
            out.append(t)
    return out


def needs(config: Mapping[str, Any]) -> list[str]:
    """What claim 11 needs from a (schema-validated) config: probe unseen on a model, with a
    tau at or after the split (:func:`taus_at_least`); messages naming the key, empty when
    decidable."""
    conf = (config.get("probes") or {}).get("unseen") or {}
    out = []
    if not conf.get("models", list(config.get("models") or {})):
        out.append("claim 11: probes.unseen.models is empty")
    if not taus_at_least(conf.get("taus", []), 1.0, expected_split(config)):
        out.append(
            "claim 11: probes.unseen.taus needs a tau at or after the split: s<f> with f >= 1 "
            "(e.g. s1.0), or an absolute tau >= report.paper_split"
        )
    return out
