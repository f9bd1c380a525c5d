"""Claims 5-7 judged by the paired bootstrap of the difference (issue 15, item 1): with one
seed and bootstrap replicates they are decidable, where the single-run margin is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_claims import PAPER_TAB1, PAPER_TAB2, SHORT, _tab1, _tab2, _tab3

from navref.report import claims as C

R, N, INC = C.REPRODUCED, C.NOT_REPRODUCED, C.INCONCLUSIVE


def replicated(
    table: pd.DataFrame, sweep: str, jitter: float = 0.01, n_reps: int = 200, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(table, sweeps, replicates) of one seed: replicate r of every setting = its FID + a
    resampling effect shared by all settings (same indices; spread 1, large next to the
    differences) + a small independent jitter."""
    rng = np.random.default_rng(seed)
    table = table.assign(setting=[f"{sweep}-{i}" for i in range(len(table))])
    sweeps = pd.DataFrame(
        {"sweep": sweep, "setting": table["setting"], "seed": 0, "fid": table["fid"]}
    )
    shared = rng.normal(0.5, 1.0, n_reps)
    reps = pd.DataFrame(
        [
            {"sweep": sweep, "setting": r.setting, "seed": 0, "replicate": k, "fid": f}
            for r in table.itertuples()
            for k, f in enumerate(r.fid + shared + rng.normal(0, jitter, n_reps))
        ]
    )
    return table, sweeps, reps


def test_claim5_one_seed():
    rec = C.claim5(*replicated(_tab1(PAPER_TAB1), "stage_swap"))
    assert rec["verdict"] == R and "paired bootstrap 95%, 200 replicates, 1 seed" in rec["numbers"]
    reversed_ = {0.1: [2.94, 11.26, 3.71, 12.45]}
    assert C.claim5(*replicated(_tab1(reversed_), "stage_swap"))["verdict"] == N
    # cost2 - cost1 = 0.09, below the 5 % margin (0.19) but far beyond the resampling noise
    near = {0.1: [2.94, 3.71, 3.80, 12.45]}
    assert C.claim5(_tab1(near))["verdict"] == INC  # one run, no replicates: the margin
    rec = C.claim5(*replicated(_tab1(near), "stage_swap"))
    assert rec["verdict"] == R, rec
    # the same costs drowned in independent resampling noise: within it
    assert C.claim5(*replicated(_tab1(near), "stage_swap", jitter=1.0))["verdict"] == INC


def test_claim6_one_seed():
    assert C.claim6(*replicated(_tab2(PAPER_TAB2), "timestep_shift"))["verdict"] == R
    extremes_better = [12.6, 12.8, 13.0, 12.9, 12.9, 12.8, 12.6]
    rec = C.claim6(*replicated(_tab2(extremes_better), "timestep_shift"))
    assert rec["verdict"] == N and "(ii) s small worse: fail" in rec["why"]
    assert "paired bootstrap" in rec["numbers"]


def test_claim7_one_seed():
    wide = {(0.0, 0.6): 8.03, (0.1, 0.6): 2.80, (0.0, 1.0): 10.79, (0.1, 1.0): 9.0}
    tab, sw, reps = replicated(_tab3(SHORT, wide), "cfg_interval")
    assert C.claim7(tab, 0.15, sw, reps)["verdict"] == R
    worse_wide = {(0.0, 0.6): 2.80, (0.1, 0.6): 8.03}
    tab, sw, reps = replicated(_tab3(SHORT, worse_wide), "cfg_interval")
    assert C.claim7(tab, 0.15, sw, reps)["verdict"] == N


def test_bootstrap_decides_over_the_seeds():
    """With several seeds and replicates, the bootstrap (not the paired t) decides."""
    tab, sw, reps = replicated(_tab1(PAPER_TAB1), "stage_swap")
    sw2 = pd.concat([sw, sw.assign(seed=1, fid=sw["fid"] + 0.3)], ignore_index=True)
    reps2 = pd.concat([reps, reps.assign(seed=1, fid=reps["fid"] + 0.3)], ignore_index=True)
    rec = C.claim5(tab, sw2, reps2)
    assert rec["verdict"] == R and "1 seed" not in rec["numbers"] and "2 seeds" in rec["numbers"]
    assert "paired bootstrap" in rec["numbers"] and "paired t" not in rec["numbers"]


def test_evaluate_claims_passes_replicates():
    tab, sw, reps = replicated(_tab1({0.1: [2.94, 3.71, 3.80, 12.45]}), "stage_swap")
    recs = {
        r["claim_id"]: r
        for r in C.evaluate_claims(C.ClaimInputs(table1=tab, sweeps=sw, replicates=reps))
    }
    assert recs[5]["verdict"] == R and "paired bootstrap" in recs[5]["numbers"]
    recs = {r["claim_id"]: r for r in C.evaluate_claims(C.ClaimInputs(table1=tab, sweeps=sw))}
    assert recs[5]["verdict"] == INC and "margin" in recs[5]["numbers"]
