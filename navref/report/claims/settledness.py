"""Claim 10: the navigation stage settles the sample; refinement changes it little (Fig. 4, 8).

Input: ``intermediate`` (``results/probes/intermediate.parquet``, probe ``intermediate``): per
probed model and recorded time t the one-step prediction x1_hat = x_t + (1 - t) v(x_t, t)
compared with the final sample, ``rel_l2`` = mean over samples of ||x1_hat - x_final|| /
||x_final|| (its sample std ``rel_l2_std`` over ``n`` samples). Settledness is read from
r(t) = rel_l2(t) / rel_l2(0): the share of the t = 0 prediction's distance to the final sample
that is still left at t (r(0) = 1, r(1) = 0). Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from navref.report.claims.dated import FIXED
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
    Splits,
    combine,
    fmt,
    missing_input,
    one_split,
    split_of,
)

#: the model's behaviour settles at SETTLE_FACTOR x the oracle's split (the paper: layout
#: stable around t = 0.2, its objective split 0.1; "slightly later than the oracle split")
SETTLE_FACTOR = 2.0
#: rho = r(t_m) / (1 - t_m): passes at most PASS_RHO, fails at least FAIL_RHO (beyond 2 SE)
PASS_RHO, FAIL_RHO = 0.5, 1.0
#: needs: the recorded times must include t = 0 and reach this t (so a split up to
#: NEEDED_LAST_T / SETTLE_FACTOR is decidable)
NEEDED_LAST_T = 0.6
TOL = 1e-9


def settledness(g: pd.DataFrame, t_m: float) -> tuple[float, float] | None:
    """(r(t_m), its standard error) of one model's rows, r linearly interpolated between the
    recorded t (t < 1, t <= ``T_HI``); None without a record at t = 0 or one at or after
    t_m. The SE is the larger SE of the two bracketing records, relative to rel_l2(0)."""
    g = g.sort_values("t")
    g = g[(g["t"] < 1 - TOL) & (g["t"] <= T_HI + TOL)]
    zero = g[g["t"].abs() <= TOL]
    if zero.empty or g["t"].max() < t_m - TOL:
        return None
    d0 = float(zero["rel_l2"].iloc[0])
    t = g["t"].to_numpy(float)
    r = g["rel_l2"].to_numpy(float) / d0
    se = g["rel_l2_std"].to_numpy(float) / np.sqrt(g["n"].to_numpy(float)) / d0
    j = int(np.searchsorted(t, t_m - TOL))
    bracket = se[max(j - 1, 0) : j + 1]
    return float(np.interp(t_m, t, r)), float(np.max(bracket)) if bracket.size else math.nan


def _model_part(model: str, g: pd.DataFrame, ts: float) -> tuple[Part, str]:
    """One model's part: rho at t_m = SETTLE_FACTOR x t_s against PASS_RHO / FAIL_RHO."""
    t_m = SETTLE_FACTOR * ts
    if t_m >= 1 - TOL:
        return None, f"{model}: t_m = {SETTLE_FACTOR:g} t_s = {t_m:.3f} is not below 1"
    found = settledness(g, t_m)
    if found is None:
        last = float(g["t"][g["t"] < 1 - TOL].max()) if len(g) else math.nan
        return None, f"{model}: no record at t = 0, or none at or after t_m = {t_m:.3f} " + (
            f"(last recorded t {fmt(last)})"
        )
    r, se = found
    rho, se_rho = r / (1 - t_m), se / (1 - t_m)
    txt = (
        f"{model}: t_s = {ts:.3f}, r({t_m:.3f}) = {fmt(r)} (SE {fmt(se)}), rho = r / (1 - t_m) = "
        f"{fmt(rho)}"
    )
    if not np.isfinite(se_rho):
        return None, txt + " (no SE)"
    if rho + 2 * se_rho <= PASS_RHO:
        return PASS, txt
    if rho - 2 * se_rho >= FAIL_RHO:
        return FAIL, txt
    return None, txt


@claim(
    10,
    statement="The navigation stage settles the sample (layout first, class mean at t = 0): "
    "after the model's transition the one-step prediction changes little (Fig. 4, 8).",
    criterion="Probe intermediate, per probed model: r(t) = rel_l2(t) / rel_l2(0), the mean "
    "relative distance of the one-step prediction x1_hat(t) to the final sample as a share of "
    "that at t = 0, linearly interpolated between the recorded t; SE = rel_l2_std / sqrt(n) / "
    "rel_l2(0) (the larger of the two bracketing records). t_m = "
    f"{SETTLE_FACTOR:g} x t_s of the model's space (the model's transition: the paper's layout "
    "stabilizes around t = 0.2 against its objective split 0.1). rho = r(t_m) / (1 - t_m): "
    "the distance left at t_m relative to an approach at constant speed (r = 1 - t, no "
    f"stages). Passes if rho + 2 SE/(1 - t_m) <= {PASS_RHO} (by t_m, at most half of what a "
    f"constant-speed approach leaves is left); fails if rho - 2 SE/(1 - t_m) >= {FAIL_RHO} (no "
    "faster than constant speed); else inconclusive. Reproduced if every probed model passes, "
    "not reproduced if any fails; inconclusive otherwise and when t = 0 or a record at or "
    "after t_m (t < 1) is missing. Distances are full-resolution L2 in latent space: layout "
    f"and detail are not separated (a limit of the probe's table). {FIXED}",
    source="Fig. 4, Fig. 8, Sec. 4.1",
    inputs=("intermediate", "splits"),
)
def claim10(intermediate: pd.DataFrame | None, split_t: Splits) -> Outcome:
    """Claim 10; ``split_t``: one split time or one per space (the table's ``space``)."""
    bad = missing_input(intermediate, ["model", "t", "rel_l2", "rel_l2_std", "n"], "intermediate")
    if bad:
        return bad
    parts, nums = [], []
    for model, g in intermediate.groupby("model", sort=True):
        space = str(g["space"].iloc[0]) if "space" in g.columns else None
        ts = split_of(split_t, space) if isinstance(split_t, Mapping) else one_split(split_t)
        if not np.isfinite(ts):
            parts.append(None)
            nums.append(f"{model}: no split time")
            continue
        part, txt = _model_part(str(model), g, ts)
        parts.append(part)
        nums.append(txt)
    verdict = combine(parts)
    why = {
        REPRODUCED: "by the model's transition the prediction has covered most of its way to "
        "the final sample, faster than at constant speed",
        NOT_REPRODUCED: "the prediction approaches the final sample no faster than at constant "
        "speed by the model's transition",
        INCONCLUSIVE: "between the bounds or within the noise, or records missing",
    }[verdict]
    return Outcome(verdict, "; ".join(nums), why)


def needs(config: Mapping[str, Any]) -> list[str]:
    """What claim 10 needs from a (schema-validated) config: probe intermediate on at least
    one model, ``record_t`` with 0 and a t in [``NEEDED_LAST_T``, ``T_HI``]; messages naming
    the key, empty when decidable."""
    conf = (config.get("probes") or {}).get("intermediate") or {}
    out = []
    if not conf.get("models", list(config.get("models") or {})):
        out.append("claim 10: probes.intermediate.models is empty")
    ts = [float(t) for t in conf.get("record_t", [])]
    if not any(abs(t) <= TOL for t in ts):
        out.append("claim 10: probes.intermediate.record_t must contain 0.0")
    if not any(NEEDED_LAST_T - TOL <= t <= T_HI + TOL for t in ts):
        out.append(
            f"claim 10: probes.intermediate.record_t needs a t in [{NEEDED_LAST_T}, {T_HI}] "
            f"(decides splits up to {NEEDED_LAST_T / SETTLE_FACTOR:g})"
        )
    return out
