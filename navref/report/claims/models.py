"""Claims 3 and 8: the oracle loss of trained models along t (Fig. 7, Fig. 9).

Input: ``loss_curves`` (``results/probes/loss_curves.parquet``): per model, checkpoint and
grid t the mean oracle loss E || v_theta - v* ||^2 with its 95 % CI (``ci_low, ci_high``).
"Navigation" is t below the split t_s of the model's latent space, "refinement" is
t_s <= t <= ``T_HI``. Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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
    Splits,
    combine,
    compare,
    fmt,
    missing_input,
    split_of,
    undecided,
)
from navref.report.tables import final_checkpoints

#: claim 3: oracle loss at t ~ 0 is "near zero" if <= this share of its maximum; the
#: difference between models is "mainly in refinement" if >= this factor larger there
NEAR_ZERO_SHARE, MAINLY_FACTOR = 0.1, 2.0

LOSS_COLUMNS = ["model", "space", "size", "target", "step", "checkpoint", "t", "loss_kind"]
LOSS_COLUMNS += ["mean", "ci_low", "ci_high"]


def _curve(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean oracle loss and CI half-width per t."""
    c = frame.groupby("t", sort=True).agg(
        mean=("mean", "mean"), lo=("ci_low", "mean"), hi=("ci_high", "mean")
    )
    c["half"] = (c["hi"] - c["lo"]) / 2
    return c


def _latest_model(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the model with the most training steps."""
    m = frame.groupby("model")["step"].max().sort_values().index[-1]
    return frame[frame["model"] == m]


def _region_diff(a: pd.DataFrame, b: pd.DataFrame, ts: float) -> tuple[Part, str]:
    """Compare two oracle-loss curves by region (criterion (c)/(d) of claim 3)."""
    j = a.add_suffix("_a").join(b.add_suffix("_b"), how="inner")
    j = j[j.index <= T_HI]
    d = (j["mean_a"] - j["mean_b"]).abs()
    noise = j["half_a"] + j["half_b"]
    nav, ref = j.index < ts, j.index >= ts
    if nav.sum() == 0 or ref.sum() == 0:
        return None, "no grid points on one side of the split"
    d_nav, d_ref = float(d[nav].mean()), float(d[ref].mean())
    n_nav, n_ref = float(noise[nav].mean()), float(noise[ref].mean())
    txt = f"d_nav {fmt(d_nav)} (CI {fmt(n_nav)}), d_ref {fmt(d_ref)} (CI {fmt(n_ref)})"
    if d_ref >= MAINLY_FACTOR * d_nav and d_ref > n_ref:
        return PASS, txt
    if d_nav > d_ref and d_nav > n_nav:
        return FAIL, txt
    return None, txt


def _shape(model: str, space: str, c: pd.DataFrame, ts: float, parts: dict, nums: list) -> None:
    """Criteria (a) near zero at t = 0 and (b) rising through navigation, for one model."""
    c = c[c.index <= T_HI]
    if c.empty or c.index[0] > 0.05:
        parts["a"].append(None)
        nums.append(f"{model}: no grid point near t = 0")
        return
    l0, h0, mx = c["mean"].iloc[0], c["half"].iloc[0], c["mean"].max()
    parts["a"].append(PASS if l0 <= NEAR_ZERO_SHARE * mx else FAIL)
    below = c[c.index <= ts]
    if len(below) < 2:
        parts["b"].append(None)
        rise = "n/a"
    else:
        ls, hs = below["mean"].iloc[-1], below["half"].iloc[-1]
        parts["b"].append(compare(ls - l0, h0 + hs))
        rise = f"{fmt(l0)} -> {fmt(ls)} at t = {below.index[-1]:.2f}"
    nums.append(f"{space}/{model}: oracle loss at t0 {fmt(l0)} (max {fmt(mx)}), rise {rise}")


def _length_pair(fb: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str]:
    """Criterion (d)'s two curves: the shortest vs longest training of the largest size, else
    one model's step checkpoint nearest half its final step vs the final one."""
    models = fb.groupby("model")["step"].max().sort_values()
    if len(models) >= 2 and models.iloc[0] < models.iloc[-1]:
        a = final_checkpoints(fb[fb["model"] == models.index[0]])
        b = final_checkpoints(fb[fb["model"] == models.index[-1]])
        return a, b, f"{models.index[0]} vs {models.index[-1]}"
    if len(models) >= 1:
        g = fb[(fb["model"] == models.index[-1]) & (fb["checkpoint"] == "step")]
        steps = np.sort(g["step"].unique())
        if steps.size >= 2:
            half = steps[np.argmin(np.abs(steps[:-1] - steps[-1] / 2))]
            what = f"{models.index[-1]} step {int(half)} vs {int(steps[-1])}"
            return g[g["step"] == half], g[g["step"] == steps[-1]], what
    return None, None, ""


def _space_parts(space, fs, ts, order, size_order, parts: dict, nums: list) -> None:
    """Criteria (a)-(d) of claim 3 for the models of one latent space."""
    fin = final_checkpoints(fs)
    for model, g in fin.groupby("model", sort=True):
        _shape(model, space, _curve(g), ts, parts, nums)
    fin_s = fin.assign(size=fin["size"].astype(str))
    sizes = sorted(
        set(fin_s["size"]), key=lambda s: (order.index(s) if s in order else len(order), s)
    )
    if size_order is not None and len(sizes) >= 2 and all(s in order for s in sizes):
        a = _latest_model(fin_s[fin_s["size"] == sizes[0]])
        b = _latest_model(fin_s[fin_s["size"] == sizes[-1]])
        res, txt = _region_diff(_curve(a), _curve(b), ts)
        parts["c"].append(res)
        nums.append(f"{space} size {sizes[0]} vs {sizes[-1]}: {txt}")
    big = sizes[-1] if sizes else None
    fb = fs[fs["size"].astype(str) == big] if big is not None else fs.iloc[0:0]
    a, b, what = _length_pair(fb)
    if a is not None and b is not None:
        res, txt = _region_diff(_curve(a), _curve(b), ts)
        parts["d"].append(res)
        nums.append(f"{space} length {what}: {txt}")


@claim(
    3,
    statement="A model's oracle loss is near zero at t = 0, rises through navigation, and model "
    "size or training length changes it mainly in refinement.",
    criterion="Models trained on the CFM target, final checkpoints (EMA if any). (a) oracle loss "
    f"at the first grid t (<= 0.05) <= {NEAR_ZERO_SHARE} x its maximum over t <= {T_HI}; (b) "
    "oracle loss at the last grid t <= t_s exceeds that at the first t by more than the sum of "
    "the two 95 % CI half-widths (fails if it is lower by more); (c) size: smallest vs largest "
    "size (size_order) of a space; (d) length: the largest-size model's shortest vs longest "
    "training (two models of that size, else its step checkpoint nearest half the final step "
    "vs the final one). For (c), (d): d_nav, d_ref = mean |loss difference| over t < t_s and "
    f"t_s <= t <= {T_HI}; passes if d_ref >= {MAINLY_FACTOR} x d_nav and d_ref exceeds the "
    "mean summed CI half-width there; fails if d_nav > d_ref and d_nav exceeds its CI; "
    "else inconclusive. Reproduced: (a), (b) and at least one of (c), (d) pass and nothing "
    "fails; any failure: not reproduced.",
    source="Fig. 7",
    inputs=("loss_curves", "splits", "size_order"),
)
def claim3(
    loss_curves: pd.DataFrame | None,
    split_t: Splits,
    size_order: Sequence[str] | None = None,
    target: str = "cfm",
) -> Outcome:
    """Claim 3; ``split_t``: one split time, or one per space."""
    bad = missing_input(loss_curves, LOSS_COLUMNS, "loss_curves")
    if bad:
        return bad
    f = loss_curves[(loss_curves["loss_kind"] == "oracle") & (loss_curves["target"] == target)]
    if f.empty:
        return undecided(f"no oracle-loss curves of models trained on {target!r}")
    order = [str(s) for s in (size_order or [])]
    parts: dict[str, list[Part]] = {"a": [], "b": [], "c": [], "d": []}
    nums: list[str] = []
    for space, fs in f.groupby("space", sort=True):
        ts = split_of(split_t, str(space))
        if not np.isfinite(ts):
            nums.append(f"{space}: no split time")
            continue
        _space_parts(space, fs, ts, order, size_order, parts, nums)
    va, vb = combine(parts["a"]), combine(parts["b"])
    cd = parts["c"] + parts["d"]
    why = (
        f"(a) near zero at t = 0: {va}; (b) rises through navigation: {vb}; "
        f"(c) size: {combine(parts['c']) if parts['c'] else 'not tested'}; "
        f"(d) length: {combine(parts['d']) if parts['d'] else 'not tested'}"
    )
    if NOT_REPRODUCED in (va, vb) or FAIL in cd:
        return Outcome(NOT_REPRODUCED, "; ".join(nums), why)
    if va == REPRODUCED and vb == REPRODUCED and PASS in cd:
        return Outcome(REPRODUCED, "; ".join(nums), why)
    return Outcome(INCONCLUSIVE, "; ".join(nums), why)


def _waviness(c: pd.DataFrame, ts: float) -> tuple[float, float, int]:
    """(RMS residual of a quadratic fit / mean, CI noise / mean, points) over refinement."""
    w = c[(c.index >= ts) & (c.index <= T_HI)]
    if len(w) < 5:
        return math.nan, math.nan, len(w)
    x, y = w.index.to_numpy(float), w["mean"].to_numpy(float)
    coef = np.polyfit(x, y, 2)
    resid = y - np.polyval(coef, x)
    m = float(np.mean(y))
    return float(np.sqrt(np.mean(resid**2)) / m), float(w["half"].mean() / 1.96 / m), len(w)


@claim(
    8,
    statement="A semantically organized latent space gives smoother oracle-loss curves.",
    criterion="Needs a space designated as semantically organized and one as not (config). Final "
    "checkpoints of models of the same size trained on the CFM target; over the refinement "
    f"window t_s(space) <= t <= {T_HI} (>= 5 grid points): waviness = RMS residual of a "
    "quadratic fit to the oracle loss / its mean; noise = mean 95 % CI half-width / 1.96 / "
    "mean. Reproduced if waviness(semantic) < waviness(other) by more than the larger noise, "
    "not reproduced if larger by more than it, else (or spaces not designated) inconclusive.",
    source="Fig. 9",
    inputs=("loss_curves", "splits", "semantic_space", "other_space"),
)
def claim8(
    loss_curves: pd.DataFrame | None,
    split_t: Splits,
    semantic_space: str | None,
    other_space: str | None,
    target: str = "cfm",
) -> Outcome:
    """Claim 8: waviness of the refinement-stage oracle loss, semantic vs other space."""
    if not semantic_space or not other_space:
        return undecided("no latent space designated as semantically organized (and one as not)")
    bad = missing_input(loss_curves, LOSS_COLUMNS, "loss_curves")
    if bad:
        return bad
    f = loss_curves[(loss_curves["loss_kind"] == "oracle") & (loss_curves["target"] == target)]
    fin = final_checkpoints(f) if len(f) else f
    sem, oth = fin[fin["space"] == semantic_space], fin[fin["space"] == other_space]
    common = sorted(set(sem["size"].astype(str)) & set(oth["size"].astype(str)))
    if not common:
        return undecided(f"no model size trained on both {semantic_space!r} and {other_space!r}")
    parts, nums = [], []
    for sz in common:
        res = {}
        for name, g in ((semantic_space, sem), (other_space, oth)):
            g = _latest_model(g[g["size"].astype(str) == sz])
            res[name] = _waviness(_curve(g), split_of(split_t, name))
        (ws, ns, ks), (wo, no, ko) = res[semantic_space], res[other_space]
        nums.append(
            f"size {sz}: waviness {semantic_space} {fmt(ws)} (noise {fmt(ns)}, {ks} pts) vs "
            f"{other_space} {fmt(wo)} (noise {fmt(no)}, {ko} pts)"
        )
        finite = np.isfinite(ws) and np.isfinite(wo)
        parts.append(compare(wo - ws, max(ns, no)) if finite else None)
    verdict = combine(parts)
    why = {
        REPRODUCED: f"{semantic_space} gives a smoother refinement-stage oracle-loss curve "
        "beyond noise",
        NOT_REPRODUCED: f"{semantic_space} is wavier than {other_space} beyond noise",
        INCONCLUSIVE: "waviness difference within noise, or too few refinement grid points",
    }[verdict]
    return Outcome(verdict, "; ".join(nums), why)
