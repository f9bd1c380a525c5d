"""Tests of navref.report.claims: each criterion on inputs built to pass, to fail and to be
inconclusive, plus the end-to-end evaluate / write path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from navref.report import claims as C
from navref.report.claims.paired import paired_difference
from navref.sweeps.stage_swap import table1

R, N, INC = C.REPRODUCED, C.NOT_REPRODUCED, C.INCONCLUSIVE


def _keys_ok(rec: dict, cid: int) -> None:
    assert set(rec) == {
        "claim_id",
        "claim",
        "criterion",
        "numbers",
        "verdict",
        "why",
        "grid_limited",
    }
    assert rec["claim_id"] == cid and rec["verdict"] in C.VERDICTS
    assert rec["criterion"] == C.CLAIMS[cid].criterion and rec["why"]


# ----------------------------------------------------------------------------- claim 1

GRID = np.round(np.arange(0, 1.0, 0.05), 2)


def _syn_splits(tfun) -> pd.DataFrame:
    rows = []
    for d in (2, 8, 32):
        for n in (10, 100, 1000):
            t = tfun(d, n)
            rows.append(
                {
                    "curve": "synthetic",
                    "space": np.nan,
                    "conditional": None,
                    "threshold": 0.9,
                    "t_split_grid": t,
                    "t_split": t,
                    "reached": bool(np.isfinite(t)),
                    "dim": float(d),
                    "size": float(n),
                }
            )
    return pd.DataFrame(rows)


def _syn_curves(splits: pd.DataFrame, drop: bool = False) -> pd.DataFrame:
    rows = []
    for r in splits.itertuples():
        for t in GRID:
            ts = r.t_split if np.isfinite(r.t_split) else 2.0
            v = 0.9 * t / ts if t < ts else 1.0 - 0.1 * np.exp(-(t - ts) * 50)
            if drop and t > ts + 0.1:
                v = 0.5
            rows.append({"dim": r.dim, "size": r.size, "t": t, "top1_mean": min(v, 1.0)})
    return pd.DataFrame(rows)


def good_split(d, n):
    t = 0.2 + 0.1 * np.log10(n) - 0.1 * np.log2(d) / 2
    return np.inf if t > 0.99 else float(t)


def test_claim1():
    sp = _syn_splits(good_split)
    rec = C.claim1(sp, _syn_curves(sp))
    _keys_ok(rec, 1)
    assert rec["verdict"] == R, rec
    # unreached counts as later than every reached split: unreached at small D is consistent
    sp2 = _syn_splits(lambda d, n: np.nan if (d == 2 and n == 1000) else good_split(d, n))
    assert C.claim1(sp2, _syn_curves(sp2))["verdict"] == R
    # split later for larger D at N = 100: ordering violated
    bad = sp.copy()
    bad.loc[(bad["dim"] == 32) & (bad["size"] == 100), ["t_split", "t_split_grid"]] = 0.6
    rec = C.claim1(bad, _syn_curves(bad))
    assert rec["verdict"] == N and "N=100: D 8->32 gives t_split 0.25->0.6" in rec["why"]
    # not saturating after the split
    rec = C.claim1(sp, _syn_curves(sp, drop=True))
    assert rec["verdict"] == N and "saturation" in rec["why"]
    # a single grid point: nothing to compare
    assert C.claim1(sp.iloc[:1])["verdict"] == INC
    assert C.claim1(None)["verdict"] == INC
    # ordering fine but no curves to check saturation
    assert C.claim1(sp)["verdict"] == INC


# ----------------------------------------------------------------------------- claim 2


def _objective(after_level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for t in GRID:
        rows.append(
            {
                "space": "pix",
                "conditional": True,
                "t": t,
                "gap_mse": 1.0 if t < 0.4 else after_level,
            }
        )
    sp = pd.DataFrame(
        [
            {
                "curve": "objective",
                "space": "pix",
                "conditional": True,
                "t_split": 0.4,
                "reached": True,
            }
        ]
    )
    return pd.DataFrame(rows), sp


def test_claim2():
    obj, sp = _objective(0.05)
    rec = C.claim2(obj, sp)
    _keys_ok(rec, 2)
    assert rec["verdict"] == R and "R = 0.05" in rec["numbers"]
    assert C.claim2(*_objective(0.8))["verdict"] == N
    assert C.claim2(*_objective(0.35))["verdict"] == INC
    unreached = sp.assign(reached=False)
    assert C.claim2(obj, unreached)["verdict"] == INC
    assert C.claim2(None, sp)["verdict"] == INC


# ----------------------------------------------------------------------------- claims 3, 8

TL = np.round(np.arange(0, 0.96, 0.05), 2)


def _lc(fn, specs, half=0.01, grid=TL) -> pd.DataFrame:
    """Loss curves; fn(space, size, step, t) -> oracle loss; specs: (model, space, size, steps)."""
    rows = []
    for model, space, size, steps in specs:
        for ck, step in [("step", s) for s in steps] + [("ema", steps[-1])]:
            for t in grid:
                m = fn(space, size, step, t)
                for kind, val in (("oracle", m), ("cfm", m + 1.0)):
                    rows.append(
                        {
                            "model": model,
                            "space": space,
                            "size": size,
                            "target": "cfm",
                            "step": step,
                            "checkpoint": ck,
                            "t": t,
                            "loss_kind": kind,
                            "mean": val,
                            "std": 0.1,
                            "n": 100,
                            "ci_low": val - half,
                            "ci_high": val + half,
                        }
                    )
    return pd.DataFrame(rows)


SPECS = [("m-tiny", "pix", "tiny", [100, 200]), ("m-small", "pix", "small", [100, 200, 400])]
TS = 0.35


def _nav(t):
    return 0.01 + t  # near zero at 0, rising through navigation


def test_claim3():
    def good(space, size, step, t):
        extra = (0.5 if size == "tiny" else 0.0) + 50 / step
        return _nav(t) if t < TS else _nav(t) + extra * (t - TS)

    rec = C.claim3(_lc(good, SPECS), TS, ["tiny", "small"])
    _keys_ok(rec, 3)
    assert rec["verdict"] == R, rec

    def nav_diff(space, size, step, t):  # sizes differ in navigation only
        return _nav(t) + (0.3 if (size == "tiny" and t < TS) else 0.0)

    rec = C.claim3(_lc(nav_diff, SPECS), TS, ["tiny", "small"])
    assert rec["verdict"] == N and "(c) size: not reproduced" in rec["why"]

    def not_zero(space, size, step, t):  # large at t = 0
        return 1.0 + 0.1 * t + (0.5 * (t - TS) if size == "tiny" and t >= TS else 0.0)

    rec = C.claim3(_lc(not_zero, SPECS), TS, ["tiny", "small"])
    assert rec["verdict"] == N and "(a) near zero at t = 0: not reproduced" in rec["why"]

    def same(space, size, step, t):  # no difference anywhere: within CI
        return _nav(t)

    assert C.claim3(_lc(same, SPECS), TS, ["tiny", "small"])["verdict"] == INC
    assert C.claim3(_lc(good, SPECS), None, ["tiny", "small"])["verdict"] == INC
    assert C.claim3(None, TS)["verdict"] == INC


def test_claim8():
    specs = [("p-small", "pix", "small", [100]), ("v-small", "vae", "small", [100])]

    def fn(wavy):
        def f(space, size, step, t):
            base = 0.5 + (t - 0.6) ** 2
            return base + (0.05 * np.sin(40 * t) if space == wavy else 0.0)

        return f

    lc_good = _lc(fn("pix"), specs, half=0.002)
    rec = C.claim8(lc_good, {"pix": 0.3, "vae": 0.3}, "vae", "pix")
    _keys_ok(rec, 8)
    assert rec["verdict"] == R, rec
    assert C.claim8(_lc(fn("vae"), specs, half=0.002), 0.3, "vae", "pix")["verdict"] == N
    # the wiggle is below the noise: inconclusive
    assert C.claim8(_lc(fn("pix"), specs, half=0.5), 0.3, "vae", "pix")["verdict"] == INC
    assert C.claim8(lc_good, 0.3, None, None)["verdict"] == INC
    # too few refinement points
    assert C.claim8(lc_good, 0.8, "vae", "pix")["verdict"] == INC


# ----------------------------------------------------------------------------- claim 4


def _mixed(mem, n=200, control=0.1, extrapolation=None, null=None, taus=None):
    """Mixed-sampling table at ``taus`` (default 0, 0.2, 0.5, 0.8, 1; split 0.4: early 0.2,
    late 0.8), with the control shares ``control`` (state), ``extrapolation`` (reported
    only) and ``null`` (the stage-free Gaussian's resume; default: ``control``)."""
    taus = [0.0, 0.2, 0.5, 0.8, 1.0] if taus is None else taus
    ext = control if extrapolation is None else extrapolation
    rows = [
        {"model": "m", "tau": tau, "n": n, "memorization_share": p, "match_share": p}
        for tau, p in zip(taus, mem, strict=True)
    ]
    if control is not None:
        for r in rows:
            r.update(
                state_memorization_share=control,
                extrapolation_memorization_share=ext,
                null_memorization_share=control if null is None else null,
            )
    return pd.DataFrame(rows)


def _unseen(share, tau=0.8, n=200):
    return pd.DataFrame([{"model": "m", "tau": tau, "n": n, "source_memorization_share": share}])


def test_claim4():
    good = [0.0, 0.02, 0.6, 0.9, 1.0]
    rec = C.claim4(_mixed(good), None, 0.4)
    _keys_ok(rec, 4)
    assert rec["verdict"] == R and "tau = 0.8000 (late)" in rec["numbers"]
    assert "tau = 0.2000 (early" in rec["numbers"]  # largest tau below the split, not tau = 0
    assert C.claim4(_mixed([0.05] * 4 + [1.0]), None, 0.4)["verdict"] == N  # never memorizes
    assert C.claim4(_mixed([0.9, 0.9, 0.9, 0.95, 1.0]), None, 0.4)["verdict"] == N  # early
    # early is the largest tau < t_s: memorizing there fails even if tau = 0 does not
    assert C.claim4(_mixed([0.0, 0.9, 0.9, 0.95, 1.0]), None, 0.4)["verdict"] == N
    assert C.claim4(_mixed([0.45, 0.45, 0.5, 0.5, 1.0], n=20), None, 0.4)["verdict"] == INC
    rec = C.claim4(_mixed(good), None, 0.5)  # no tau >= 2 t_s below 1: the grid's fault
    assert rec["verdict"] == INC and rec["grid_limited"] == (
        "no probe tau at or above 2 t_s = 1.0000 below 1"
    )
    # "s2.0" resolved and rounded to 4 decimals (0.8 for t_s = 0.40002) is still late
    assert "tau = 0.8000 (late)" in C.claim4(_mixed(good), None, 0.40002)["numbers"]
    assert C.claim4(_mixed(good), None, None)["verdict"] == INC


def test_claim4_early_is_strictly_below_the_unrounded_split():
    """issue 24: "s1.0" resolved and rounded to 4 decimals (0.3643 for t_s = 0.364325) lies
    below the split only through rounding: not early; the next tau below is."""
    taus = [0.0, 0.2732, 0.3643, 0.7286, 1.0]
    rec = C.claim4(_mixed([0.0, 0.0, 0.9, 0.9, 1.0], taus=taus), None, 0.364325)
    assert "tau = 0.2732 (early" in rec["numbers"] and rec["verdict"] == R, rec
    # with no tau strictly below the split the verdict says so, as a grid limit
    rec = C.claim4(_mixed([0.0, 0.9, 1.0], taus=[0.0, 0.3643, 0.7286]), None, 0.364325)
    assert rec["verdict"] == INC
    assert rec["grid_limited"] == "no probe tau strictly below t_s = 0.364325"


def test_claim4_controls():
    good = [0.0, 0.02, 0.6, 0.9, 1.0]
    # the straight-line extrapolation reads x0, which no model sees: reported, not judged
    # (issue 24; it made the claim fail before)
    rec = C.claim4(_mixed(good, extrapolation=0.99), None, 0.4)
    assert rec["verdict"] == R, rec
    assert "reported only: extrapolation (uses x0; not judged) 0.99" in rec["numbers"]
    # the stage-free Gaussian resumed from x_tau memorizes more than the model: not the model
    rec = C.claim4(_mixed(good, null=0.99), None, 0.4)
    assert rec["verdict"] == N and "excess over gaussian null -0.09" in rec["numbers"]
    # as much as the model (within the noise): not attributable to the model
    assert C.claim4(_mixed(good, null=0.88), None, 0.4)["verdict"] == INC
    # a table without the stage-free control: inconclusive
    no_null = _mixed(good).drop(columns="null_memorization_share")
    rec = C.claim4(no_null, None, 0.4)
    assert rec["verdict"] == INC and "no stage-free control" in rec["numbers"]
    # a control as high as mixed sampling (within noise): cannot be attributed
    assert C.claim4(_mixed(good, control=0.88), None, 0.4)["verdict"] == INC
    # the unseen resume at the same tau ends as near its source: not reproduced
    rec = C.claim4(_mixed(good), _unseen(0.97), 0.4)
    assert rec["verdict"] == N and "unseen 0.97" in rec["numbers"]
    # an unseen row at another tau is no control
    assert C.claim4(_mixed(good), _unseen(0.97, tau=0.5), 0.4)["verdict"] == R
    assert C.claim4(_mixed(good), _unseen(0.1), 0.4)["verdict"] == R
    # without any control the excess is unknown
    assert C.claim4(_mixed(good, control=None), None, 0.4)["verdict"] == INC


# ----------------------------------------------------------------------------- claims 5-7

#: noise shared by every setting of one seed (sample i of every setting starts from the same
#: noise): large next to the differences between settings, which pairing removes
SEED_SHIFT = (0.0, 2.0, -1.5)


def seeded(
    table: pd.DataFrame, sweep: str, jitter: float = 0.02, shifts=SEED_SHIFT, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, sweeps): per-seed FIDs = the table's FID + the seed's shared shift + a small
    independent jitter; the table's ``fid`` becomes their mean."""
    rng = np.random.default_rng(seed)
    table = table.assign(setting=[f"{sweep}-{i}" for i in range(len(table))])
    rows = [
        {
            "sweep": sweep,
            "setting": r.setting,
            "seed": k,
            "fid": r.fid + shift + rng.normal(0, jitter),
        }
        for r in table.itertuples()
        for k, shift in enumerate(shifts)
    ]
    sweeps = pd.DataFrame(rows)
    table["fid"] = table["setting"].map(sweeps.groupby("setting")["fid"].mean())
    return table, sweeps


def test_paired_difference():
    from scipy import stats

    a = pd.Series([3.0, 5.0, 1.5, 2.0], index=[0, 1, 2, 3])
    b = pd.Series([2.0, 4.5, 0.4, 9.0, 7.0], index=[1, 0, 2, 3, 4])  # seed 4 has no partner
    d = paired_difference(a, b)
    ci = stats.ttest_rel(a.loc[[0, 1, 2, 3]], b.loc[[0, 1, 2, 3]]).confidence_interval()
    assert d.n == 4 and np.isclose(d.mean, (-1.5 + 3.0 + 1.1 - 7.0) / 4)
    assert np.isclose(d.low, ci.low) and np.isclose(d.high, ci.high)
    one = paired_difference(pd.Series([3.0]), pd.Series([2.0]))
    assert one.n == 1 and np.isnan(one.low) and one.part(lower=False) == "pass"  # 1 > 5 % of 2
    assert paired_difference(pd.Series([2.05]), pd.Series([2.0])).part(lower=False) is None


def _tab1(fids):
    roles = [("large", "large"), ("small", "large"), ("large", "small"), ("small", "small")]
    rows = []
    for tau, vals in fids.items():
        for (a, b), f in zip(roles, vals, strict=True):
            rows.append({"tau": tau, "stage1_role": a, "stage2_role": b, "fid": f})
    return pd.DataFrame(rows)


PAPER_TAB1 = {0.1: [2.94, 3.71, 11.26, 12.45], 0.2: [2.60, 4.47, 9.24, 12.01]}


def test_claim5():
    rec = C.claim5(*seeded(_tab1(PAPER_TAB1), "stage_swap"))
    _keys_ok(rec, 5)
    assert rec["verdict"] == R and "paired t 95%, 3 seeds" in rec["numbers"]
    reversed_ = {0.1: [2.94, 11.26, 3.71, 12.45]}
    assert C.claim5(*seeded(_tab1(reversed_), "stage_swap"))["verdict"] == N
    close = {0.1: [2.94, 3.71, 3.72, 12.45]}  # the two costs differ by less than the jitter
    assert C.claim5(*seeded(_tab1(close), "stage_swap", jitter=0.5))["verdict"] == INC
    assert C.claim5(_tab1(PAPER_TAB1))["verdict"] == R  # one run each: the margin decides
    assert C.claim5(_tab1(close))["verdict"] == INC
    assert C.claim5(_tab1(PAPER_TAB1).iloc[:2])["verdict"] == INC  # swap settings missing


def _tab2(fids):
    return pd.DataFrame({"shift": [4.0, 2.0, 1.0, 0.7, 0.5, 0.3, 0.1], "fid": fids})


PAPER_TAB2 = [18.89, 14.82, 12.99, 12.46, 12.23, 12.66, 19.91]


def test_claim6():
    rec = C.claim6(*seeded(_tab2(PAPER_TAB2), "timestep_shift"))
    _keys_ok(rec, 6)
    assert rec["verdict"] == R, rec
    mild_worse = [18.89, 14.82, 12.0, 13.5, 14.0, 12.66, 19.91]
    assert C.claim6(*seeded(_tab2(mild_worse), "timestep_shift"))["verdict"] == N
    # issue 15's default run: both extreme shifts beat uniform by about 0.4 in every seed
    extremes_better = [12.6, 12.8, 13.0, 12.9, 12.9, 12.8, 12.6]
    rec = C.claim6(*seeded(_tab2(extremes_better), "timestep_shift"))
    assert rec["verdict"] == N and "(ii) s small worse: fail" in rec["why"]
    flat = [13.0] * 7
    assert C.claim6(*seeded(_tab2(flat), "timestep_shift", jitter=0.5))["verdict"] == INC
    assert C.claim6(_tab2(PAPER_TAB2).drop(index=2))["verdict"] == INC  # no uniform


def _tab3(short, wide):
    rows = [{"interval": "none", "cfg_a": np.nan, "cfg_b": np.nan, "fid": 12.99}]
    for k, f in enumerate(short):
        rows.append({"cfg_a": k / 10, "cfg_b": (k + 1) / 10, "fid": f})
    for (a, b), f in wide.items():
        rows.append({"cfg_a": a, "cfg_b": b, "fid": f})
    return pd.DataFrame(rows)


SHORT = [6.33, 5.21, 7.70, 9.39, 10.39, 10.59, 11.06, 11.38, 11.64, 12.20]


def test_claim7():
    wide = {(0.0, 0.6): 8.03, (0.1, 0.6): 2.80, (0.0, 1.0): 10.79, (0.1, 1.0): 9.0}
    tab, sw = seeded(_tab3(SHORT, wide), "cfg_interval")
    rec = C.claim7(tab, 0.15, sw)
    _keys_ok(rec, 7)
    assert rec["verdict"] == R, rec
    far = SHORT.copy()
    far[8] = 1.0  # best short interval [0.8, 0.9], far from the transition
    tab, sw = seeded(_tab3(far, wide), "cfg_interval")
    assert C.claim7(tab, 0.15, sw)["verdict"] == N
    worse_wide = {(0.0, 0.6): 2.80, (0.1, 0.6): 8.03}
    tab, sw = seeded(_tab3(SHORT, worse_wide), "cfg_interval")
    assert C.claim7(tab, 0.15, sw)["verdict"] == N
    flat = _tab3([10.0] * 10, {(0.0, 0.6): 10.0, (0.1, 0.6): 10.0})
    tab, sw = seeded(flat, "cfg_interval", jitter=0.5)
    assert C.claim7(tab, 0.15, sw)["verdict"] == INC
    assert C.claim7(flat, 0.15)["verdict"] == INC  # one run each, no difference
    assert C.claim7(_tab3(SHORT, wide), None)["verdict"] == INC


# ----------------------------------------------------------------------------- all


def _sweeps() -> pd.DataFrame:
    paper_fid = {
        ("small", "small"): 2.94,
        ("tiny", "small"): 3.71,
        ("small", "tiny"): 11.26,
        ("tiny", "tiny"): 12.45,
    }
    rows = []
    for (s1, s2), f in paper_fid.items():
        for seed in (0, 1):
            rows.append(
                {
                    "sweep": "stage_swap",
                    "setting": f"{s1}-{s2}",
                    "seed": seed,
                    "num_samples": 100,
                    "tau": 0.4,
                    "stage1": s1,
                    "stage2": s2,
                    "stage1_size": s1,
                    "stage2_size": s2,
                    "fid": f + 0.1 * seed,
                }
            )
    return pd.DataFrame(rows)


def test_evaluate_and_write(tmp_path):
    sp = _syn_splits(good_split)
    obj, osp = _objective(0.05)
    recs = C.evaluate_claims(
        C.ClaimInputs(
            split_times=pd.concat([sp, osp], ignore_index=True),
            synthetic=_syn_curves(sp),
            objective=obj,
            mixed=_mixed([0.0, 0.02, 0.6, 0.9, 1.0]),
            table1=table1(_sweeps(), ["tiny", "small"]),
            size_order=["tiny", "small"],
        )
    )
    assert [r["claim_id"] for r in recs] == list(range(1, 12))
    v = {r["claim_id"]: r["verdict"] for r in recs}
    # split 0.4 of space pix is used for the mixed-sampling claim; 9-11 lack their tables
    assert v == {1: R, 2: R, 3: INC, 4: R, 5: R, 6: INC, 7: INC, 8: INC, 9: INC, 10: INC, 11: INC}
    assert "table 2" in recs[5]["why"]  # the sweep's table was not given

    md, pq = tmp_path / "claims.md", tmp_path / "claims.parquet"
    C.write_claims(recs, md, pq)
    text = md.read_text()
    assert "### Claim 5: reproduced" in text and "| 3 | **inconclusive** |" in text
    back = pd.read_parquet(pq)
    assert back["verdict"].tolist() == [r["verdict"] for r in recs]
    with pytest.raises(ValueError, match="unknown verdicts"):
        C.write_claims([{**recs[0], "verdict": "maybe"}], md, pq)


def test_tables_feed_claims():
    tab = table1(_sweeps(), ["tiny", "small"])
    assert C.claim5(tab)["verdict"] == R
