"""Claims 5-7: the sampling sweeps, read from the tables ``report_tables`` writes (Tab. 1-3).

Inputs: ``results/tables/table1.parquet`` (stage swap), ``table2.parquet`` (timestep shift),
``table3.parquet`` (CFG interval), built by :mod:`navref.report.tables` from the sweep table:
one row per setting with the seed mean ``fid``, its seed std ``fid_std`` (NaN with a single
seed) and the paper's ``paper_gfid``. The paper's numbers quoted here come from
:mod:`navref.report.paper`. Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from navref.report import paper
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
    compare,
    fmt,
    missing_input,
    one_split,
    undecided,
)

#: claim 6: mild shifts are 0.5 <= s < 1; extremes s <= 0.2 and s >= 3
MILD_S, LOW_EXTREME_S, HIGH_EXTREME_S = (0.5, 1.0), 0.2, 3.0


def _get(frame: pd.DataFrame, mask: pd.Series) -> pd.Series | None:
    rows = frame[mask]
    return rows.iloc[0] if len(rows) else None


def _spread(*rows: pd.Series) -> float:
    """sqrt of the summed squared seed std of FID of ``rows``."""
    return math.sqrt(sum(float(r["fid_std"]) ** 2 for r in rows))


def _vs(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """FID(a) - FID(b) and the spread of the two."""
    return float(a["fid"] - b["fid"]), _spread(a, b)


def _best(frame: pd.DataFrame, col: str = "fid") -> pd.Series:
    """The row with the lowest ``col``."""
    return frame.iloc[int(np.argmin(frame[col].to_numpy(float)))]


# ----------------------------------------------------------------------------- claim 5


def _swap_costs(tau: float, g: pd.DataFrame) -> tuple[Part, str]:
    """Claim 5 at one tau: the cost of a small stage-1 vs a small stage-2 model."""

    def role(a: str, b: str) -> pd.Series | None:
        return _get(g, (g["stage1_role"] == a) & (g["stage2_role"] == b))

    ll, sl, ls = role("large", "large"), role("small", "large"), role("large", "small")
    if ll is None or sl is None or ls is None:
        return None, f"tau {tau}: missing (large, large), (small, large) or (large, small)"
    c1, c2 = sl["fid"] - ll["fid"], ls["fid"] - ll["fid"]
    spread = _spread(sl, ls)
    txt = f"tau {tau}: cost stage 1 {fmt(c1)}, cost stage 2 {fmt(c2)}, seed spread {fmt(spread)}"
    if "paper_gfid" in g.columns and np.isfinite(ll.get("paper_gfid", np.nan)):
        p1, p2 = sl["paper_gfid"] - ll["paper_gfid"], ls["paper_gfid"] - ll["paper_gfid"]
        txt += f" (paper: {fmt(p1)}, {fmt(p2)})"
    return compare(c2 - c1, spread), txt


@claim(
    5,
    statement="Swapping in a smaller model for stage 1 costs little; for stage 2, a lot.",
    criterion="Tab. 1, per tau: cost1 = FID(small, large) - FID(large, large), cost2 = FID(large, "
    "small) - FID(large, large) (mean over seeds); spread = sqrt(std_(small,large)^2 + "
    "std_(large,small)^2), the seed std of FID. Reproduced if cost2 - cost1 > spread at every "
    "tau, not reproduced if cost1 - cost2 > spread at any tau, else (or with a single seed) "
    "inconclusive.",
    source="Tab. 1",
    inputs=("table1",),
)
def claim5(tab1: pd.DataFrame | None) -> Outcome:
    """Claim 5; ``tab1`` is Tab. 1 (:func:`navref.report.tables.table1`)."""
    cols = ["tau", "stage1_role", "stage2_role", "fid", "fid_std"]
    bad = missing_input(tab1, cols, "table 1")
    if bad:
        return bad
    parts, nums = [], []
    for tau, g in tab1.groupby("tau", sort=True):
        part, txt = _swap_costs(tau, g)
        parts.append(part)
        nums.append(txt)
    verdict = combine(parts)
    why = {
        REPRODUCED: "a smaller stage-2 model costs more FID than a smaller stage-1 model, beyond "
        "the seed spread, at every tau",
        NOT_REPRODUCED: "a smaller stage-1 model costs more than a smaller stage-2 model beyond "
        "the seed spread",
        INCONCLUSIVE: "cost difference within the seed spread, a single seed, or swap settings "
        "missing",
    }[verdict]
    return Outcome(verdict, "; ".join(nums), why)


# ----------------------------------------------------------------------------- claim 6


def _paper_shift_text() -> str:
    """The paper's Tab. 2 FIDs the claim is about: uniform, the mild and the extreme s."""
    ref = paper.table2().set_index("shift")["gfid"]
    shown = [("uniform", 1.0), ("s = 0.5", 0.5), ("s = 0.7", 0.7), ("s = 0.1", 0.1)]
    shown.append(("s = 4", 4.0))
    return "paper: " + ", ".join(f"{name} {ref[s]:g}" for name, s in shown)


def _mild_part(tab2: pd.DataFrame, s: pd.Series, uni: pd.Series) -> tuple[Part, str]:
    """Claim 6 (i): the best mild shift beats uniform."""
    mild = tab2[(s >= MILD_S[0]) & (s < MILD_S[1])]
    if mild.empty:
        return None, "no mild s in [0.5, 1)"
    best = _best(mild)
    d, sp = _vs(best, uni)
    txt = (
        f"best mild s = {best['shift']:g}: FID {fmt(best['fid'])} (diff {fmt(d)}, spread {fmt(sp)})"
    )
    if compare(-d, sp) == PASS:
        return PASS, txt
    if all(compare(-dx, spx) == FAIL for dx, spx in (_vs(r, uni) for _, r in mild.iterrows())):
        return FAIL, txt
    return None, txt


@claim(
    6,
    statement="A mild shift towards early steps (s a little below 1) beats uniform; an extreme "
    "shift in either direction is worse.",
    criterion=f"Tab. 2. (i) the best mild s in [{MILD_S[0]}, {MILD_S[1]}) has FID below uniform "
    "(s = 1) by more than the spread sqrt(std_a^2 + std_b^2) of the two; fails if every mild s is "
    f"worse than uniform by more than the spread. (ii) the smallest s (<= {LOW_EXTREME_S}) and "
    f"(iii) the largest s (>= {HIGH_EXTREME_S}) each have FID above uniform by more than the "
    "spread; fails if below by more. Reproduced if (i)-(iii) pass, not reproduced if any "
    "fails, else (or settings missing) inconclusive.",
    source="Tab. 2",
    inputs=("table2",),
)
def claim6(tab2: pd.DataFrame | None) -> Outcome:
    """Claim 6; ``tab2`` is Tab. 2 (:func:`navref.report.tables.table2`)."""
    bad = missing_input(tab2, ["shift", "fid", "fid_std"], "table 2")
    if bad:
        return bad
    s = tab2["shift"].astype(float)
    uni = _get(tab2, np.isclose(s, 1.0))
    if uni is None:
        return undecided("no uniform schedule (s = 1) in the sweep")
    part, txt = _mild_part(tab2, s, uni)
    parts, nums = [part], [f"uniform FID {fmt(uni['fid'])} ± {fmt(uni['fid_std'])}", txt]
    for name, row in (
        ("smallest", _get(tab2, s == s.min()) if s.min() <= LOW_EXTREME_S else None),
        ("largest", _get(tab2, s == s.max()) if s.max() >= HIGH_EXTREME_S else None),
    ):
        if row is None:
            parts.append(None)
            nums.append(f"no extreme {name} s")
            continue
        d, sp = _vs(row, uni)
        nums.append(
            f"{name} s = {row['shift']:g}: FID {fmt(row['fid'])} (diff {fmt(d)}, spread {fmt(sp)})"
        )
        parts.append(compare(d, sp))
    nums.append(_paper_shift_text())
    why = (
        f"(i) mild beats uniform: {parts[0]}; (ii) s small worse: {parts[1]}; (iii) s large "
        f"worse: {parts[2]} (None = within spread or missing)"
    )
    return Outcome(combine(parts), "; ".join(nums), why)


# ----------------------------------------------------------------------------- claim 7


def _paper_interval_text() -> str:
    """The paper's Tab. 3 FIDs the claim is about (labelled rows only)."""
    ref = paper.table3()
    ref = ref[ref["label_known"] & (ref["interval"] != "none")]
    short = ref[ref["column"] == "width 0.1"]
    best_short, first_short = _best(short, "gfid"), short.iloc[0]
    wide = ref[ref["column"] == "wider"]
    best_wide = _best(wide, "gfid")
    full = wide[np.isclose(wide["cfg_a"], 0.0) & np.isclose(wide["cfg_b"], 1.0)].iloc[0]

    def show(r: pd.Series) -> str:
        return f"{r['interval']} {r['gfid']:.2f}"

    return (
        f"paper (t_s about {paper.OBJECTIVE_SPLIT_T:g}-{paper.MODEL_SPLIT_T:g}): best width-0.1 "
        f"interval {show(best_short)} vs {show(first_short)}; {show(best_wide)} vs {show(full)}"
    )


def _transition_part(f: pd.DataFrame, w: float, ts: float) -> tuple[Part, str]:
    """Claim 7 (i): the best short interval lies at the transition."""
    short = f[np.isclose(f["w"], w)]
    if len(short) < 3:
        return None, f"only {len(short)} intervals of the narrowest width {w:g}"
    mid = (short["cfg_a"] + short["cfg_b"]) / 2
    tr, other = short[(mid - ts).abs() <= w + 1e-9], short[(mid - ts).abs() > w + 1e-9]
    if tr.empty or other.empty:
        return None, "no short interval on one side of the transition test"
    bt, bo = _best(tr), _best(other)
    d, sp = _vs(bt, bo)
    txt = (
        f"best short interval at the transition [{bt['cfg_a']:g}, {bt['cfg_b']:g}] FID "
        f"{fmt(bt['fid'])}, best elsewhere [{bo['cfg_a']:g}, {bo['cfg_b']:g}] FID "
        f"{fmt(bo['fid'])}, spread {fmt(sp)}"
    )
    return compare(-d, sp), txt


def _wide_part(f: pd.DataFrame, w: float, ts: float, nums: list[str]) -> Part:
    """Claim 7 (ii): wide intervals [a, b] excluding the start beat [0, b]."""
    wide = f[f["w"] > w + 1e-9]
    pair_res = []
    for b, g in wide.groupby("cfg_b", sort=True):
        z = _get(g, np.isclose(g["cfg_a"], 0.0))
        pos = g[(g["cfg_a"] > 1e-9) & (g["cfg_a"] <= ts + w + 1e-9)]
        if z is None or pos.empty:
            continue
        r = pos.sort_values("cfg_a").iloc[0]
        d, sp = _vs(r, z)
        nums.append(
            f"[{r['cfg_a']:g}, {b:g}] FID {fmt(r['fid'])} vs [0, {b:g}] FID {fmt(z['fid'])}, "
            f"spread {fmt(sp)}"
        )
        pair_res.append(compare(-d, sp))
    if not pair_res:
        nums.append("no wide interval pair [0, b] / [a, b]")
        return None
    if FAIL in pair_res:
        return FAIL
    return PASS if PASS in pair_res else None


@claim(
    7,
    statement="CFG on a short interval helps most at the navigation/refinement transition; wide "
    "intervals are better when they exclude the very start.",
    criterion="Tab. 3. Short = the narrowest interval width w present (>= 3 intervals); "
    "transition = short intervals with |midpoint - t_s| <= w. (i) best transition FID < best "
    "other short FID - spread (fails if the other is better by more than the spread). (ii) for "
    "each end b with both [0, b] and [a, b] (a the smallest start > 0, a <= t_s + w, b - a > w): "
    "FID[a, b] < FID[0, b] - spread passes, > FID[0, b] + spread fails; (ii) passes if one pair "
    "passes and none fails. spread = sqrt(std_1^2 + std_2^2) over seeds. Reproduced if (i) "
    "and (ii) pass, not reproduced if either fails, else inconclusive.",
    source="Tab. 3",
    inputs=("table3", "model_split"),
)
def claim7(tab3: pd.DataFrame | None, split_t: Splits) -> Outcome:
    """Claim 7; ``tab3`` is Tab. 3 (:func:`navref.report.tables.table3`)."""
    bad = missing_input(tab3, ["cfg_a", "cfg_b", "fid", "fid_std"], "table 3")
    if bad:
        return bad
    ts = one_split(split_t)
    if not np.isfinite(ts):
        return undecided("no split time given")
    f = tab3[tab3["cfg_a"].notna() & tab3["cfg_b"].notna()].copy()
    f["w"] = (f["cfg_b"] - f["cfg_a"]).round(6)
    if f.empty:
        return undecided("no CFG intervals in the sweep")
    w = float(f["w"].min())
    part_i, txt = _transition_part(f, w, ts)
    nums = [txt]
    parts = [part_i, _wide_part(f, w, ts, nums)]
    if "interval" in tab3.columns:
        none = tab3[tab3["interval"] == "none"]
        if len(none):
            nums.insert(0, f"no CFG FID {fmt(none['fid'].iloc[0])}; t_s = {ts:.3f}")
    nums.append(_paper_interval_text())
    why = (
        f"(i) short interval best at the transition: {parts[0]}; (ii) excluding the start helps "
        f"wide intervals: {parts[1]} (None = within spread or missing)"
    )
    return Outcome(combine(parts), "; ".join(nums), why)
