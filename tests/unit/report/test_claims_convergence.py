"""The navigation-convergence gate of claims 3 and 5 (issue 25; :mod:`navref.report.claims.
convergence`) on constructed oracle-loss curves: a smaller model near the larger one in
navigation passes, one that has plateaued passes, one still improving and far from the larger
model misses the gate, and then claim 5 and claim 3's size part read "inconclusive: the
smaller model is not converged in navigation" with the gate's numbers."""

from __future__ import annotations

import pandas as pd
import pytest
from test_claims import PAPER_TAB1, _lc, _tab1, seeded

from navref.report import claims as C
from navref.report.claims import dated
from navref.report.claims.convergence import (
    GATE_RATIO,
    NOT_CONVERGED,
    PLATEAU_DROP,
    navigation_gate,
)

R, N, INC = C.REPRODUCED, C.NOT_REPRODUCED, C.INCONCLUSIVE
TS = 0.35
NAMES = {"small": "tiny", "large": "small"}  # Tab. 1's roles -> model entries
SPECS = [("tiny", "vae", "tiny", [1000, 2000, 4000]), ("small", "vae", "small", [1000, 2000])]


def _replicated(fn, specs=SPECS, seeds=2) -> pd.DataFrame:
    """Loss curves of every entry under ``seeds`` training replicates (replicate r >= 1 named
    <entry>_seed<r>, as navref.replicates), each replicate's loss ``fn(...) * (1 + 0.01 r)``."""
    frames = []
    for r in range(seeds):
        lc = _lc(lambda sp, sz, st, t, r=r: fn(sp, sz, st, t) * (1 + 0.01 * r), specs)
        frames.append(
            lc.assign(
                base_model=lc["model"],
                train_replicate=r,
                model=lc["model"] + (f"_seed{r}" if r else ""),
            )
        )
    return pd.concat(frames, ignore_index=True)


def _curves(nav_tiny: float, drop: float):
    """Oracle loss: ``small`` 0.1 + t in navigation; ``tiny`` ``nav_tiny`` x that at its final
    step, ``1 + drop`` times more at the step before (a model still improving by ``drop``);
    in refinement tiny is 0.4 above small (the capacity gap the claims want)."""

    def fn(space, size, step, t):
        base = 0.1 + t
        if size != "tiny":
            return base
        if t >= TS:
            return base + 0.4
        return base * nav_tiny * (1 + drop * (step < 4000))

    return _replicated(fn)


def _tab1_named() -> pd.DataFrame:
    tab = _tab1(PAPER_TAB1)
    return tab.assign(stage1=tab["stage1_role"].map(NAMES), stage2=tab["stage2_role"].map(NAMES))


def test_gate_passes_near_the_larger_model():
    gate = navigation_gate(_curves(1.2, 0.5), "tiny", "small", TS)
    assert gate.passed is True
    assert "gate passed" in gate.text and "ratio 1.2" in gate.text


def test_gate_passes_on_a_plateau():
    gate = navigation_gate(_curves(3.0, 0.5 * PLATEAU_DROP), "tiny", "small", TS)
    assert gate.passed is True and "fell 5%" in gate.text


@pytest.mark.parametrize("ratio", [GATE_RATIO + 0.2, 3.0])
def test_gate_misses_an_unconverged_smaller_model(ratio):
    gate = navigation_gate(_curves(ratio, 0.3), "tiny", "small", TS)
    assert gate.failed and "gate missed" in gate.text and "fell 23%" in gate.text  # 1 - 1 / 1.3
    assert gate.reason.startswith(NOT_CONVERGED)


def test_gate_not_checked_without_curves():
    assert navigation_gate(None, "tiny", "small", TS).passed is None
    assert navigation_gate(_curves(1.0, 0.0), "tiny", "other", TS).passed is None
    assert navigation_gate(_curves(1.0, 0.0), "tiny", "small", 0.0).passed is None


def test_claim5_passes_the_gate():
    tab, sweeps = seeded(_tab1_named(), "stage_swap")
    rec = C.claim5(tab, sweeps, None, _curves(1.2, 0.5), {"vae": TS})
    assert rec["verdict"] == R, rec
    assert "navigation-convergence gate passed" in rec["numbers"]


def test_claim5_inconclusive_when_the_smaller_model_is_not_converged():
    tab, sweeps = seeded(_tab1_named(), "stage_swap")
    rec = C.claim5(tab, sweeps, None, _curves(3.0, 0.3), {"vae": TS})
    assert rec["verdict"] == INC
    assert rec["why"].startswith(f"{NOT_CONVERGED} (navigation-convergence gate missed")
    assert "tiny 0.754 vs small 0.251" in rec["why"]  # the numbers
    assert "cost2 - cost1" in rec["numbers"]  # the costs are still reported
    # without loss curves the gate is not checked and the costs decide, as before
    rec = C.claim5(tab, sweeps)
    assert rec["verdict"] == R and "gate not checked" in rec["numbers"]


def test_claim5_reads_the_gate_through_evaluate_claims():
    tab, sweeps = seeded(_tab1_named(), "stage_swap")
    inputs = C.ClaimInputs(
        table1=tab, sweeps=sweeps, loss_curves=_curves(3.0, 0.3), split_t={"vae": TS}
    )
    rec = next(r for r in C.evaluate_claims(inputs) if r["claim_id"] == 5)
    assert rec["verdict"] == INC and NOT_CONVERGED in rec["why"]


def test_claim3_size_part_gated():
    order = ["tiny", "small"]
    rec = C.claim3(_curves(1.2, 0.5), TS, order)
    assert "(c) size: reproduced" in rec["why"] and "gate passed" in rec["numbers"]
    rec = C.claim3(_curves(3.0, 0.3), TS, order)
    assert f"(c) size: {NOT_CONVERGED} (vae)" in rec["why"], rec
    assert "gate missed" in rec["numbers"]
    assert "vae/tiny: (a), (b) not judged" in rec["numbers"]
    assert "vae/tiny_seed1: (a), (b) not judged" in rec["numbers"]


def test_gate_is_a_dated_revision_after_results_were_seen():
    for cid in (3, 5):
        assert any(r.what == "navigation-convergence gate" and r.seen for r in dated.revisions(cid))
        assert "2026-12-08" in dated.status(cid)
        assert "Navigation-convergence gate (added 2026-12-08" in C.CLAIMS[cid].criterion
