"""The navigation-convergence gate of claims 3 and 5 (issue 25).

Claims 3 (size part) and 5 compare a smaller with a larger model. They test the paper only if
the smaller model is trained until converged in navigation (t below the split t_s): a model
that is still learning there costs more in stage 1 and differs from the larger one in
navigation for a reason unrelated to the paper (the default run's ``tiny``: oracle loss 0.19
at t = 0 against 0.03 for ``small``, its navigation loss still falling by a quarter over the
second half of its training). The gate, on the oracle-loss curves (``loss_curves``):

- ``L(m)`` = the mean oracle loss over the grid t < t_s of model entry m at its final
  checkpoint (EMA if any), averaged over its training replicates (``base_model``);
- (i) *near the larger model*: ``L(small) <= GATE_RATIO x L(large)``;
- (ii) *plateaued*: over the second half of its training the smaller model's L fell by less
  than ``PLATEAU_DROP`` of its value at the step checkpoint nearest half its final step
  (the weights the loss-curve probe evaluates at both: the EMA weights where training keeps
  them), i.e. more training would not close the gap.

The gate passes if (i) or (ii) holds: a smaller model near the larger one is trained well
enough in navigation for the comparison; one that has stopped improving is converged, and
what gap remains is capacity, which is evidence about the claim, not a set-up artefact. It
fails if neither holds (still improving and far from the larger model); then claim 3's size
part (and the smaller model's own (a), (b)) and claim 5 read "inconclusive: the smaller
model is not converged in navigation (...)". Without the curves it needs (no loss curves of
either model, no grid t below t_s) it is "not checked" and the claims judge as before,
saying so.

Time convention: t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from navref.report.claims.verdict import fmt
from navref.report.tables import final_checkpoints

#: (i): the smaller model's navigation oracle loss at most this multiple of the larger's
GATE_RATIO = 1.5
#: (ii): the smaller model's navigation oracle loss fell by less than this share over the
#: second half of its training
PLATEAU_DROP = 0.10

#: the gate in the criteria's words (claims 3 and 5; one sentence, no final stop)
GATE_TEXT = (
    "Navigation-convergence gate (added 2026-12-08, issue 25, after the default run's "
    "verdicts of claims 3 and 5 had been seen, before any run of configs/study.yaml judged "
    "it): L(m) = mean oracle loss over the grid t < t_s of model m's final checkpoint (EMA if "
    "any), averaged over its training seeds; the gate passes if L(smaller) <= "
    f"{GATE_RATIO} x L(larger), or if the smaller model has plateaued (its L at the step "
    "checkpoint nearest half its final step exceeds its L at the final step checkpoint by "
    f"less than {PLATEAU_DROP:.0%} of the former); otherwise the smaller model is not "
    "converged in navigation and the comparison is inconclusive; without the loss curves "
    "the gate is not checked (said in the numbers)"
)

#: the reason a missed gate gives
NOT_CONVERGED = "inconclusive: the smaller model is not converged in navigation"


@dataclass(frozen=True)
class Gate:
    """The gate on one (smaller, larger) pair: ``passed`` True / False, or None (not
    checked); ``text`` its numbers."""

    passed: bool | None
    text: str

    @property
    def failed(self) -> bool:
        return self.passed is False

    @property
    def reason(self) -> str:
        """What a missed gate makes the comparison read."""
        return f"{NOT_CONVERGED} ({self.text})"


def _rows_of(curves: pd.DataFrame, model: str) -> pd.DataFrame:
    """The CFM-or-oracle-trained oracle-loss rows of model entry ``model`` (every training
    replicate: ``base_model``, else ``model``)."""
    key = "base_model" if "base_model" in curves.columns else "model"
    return curves[(curves[key] == model) & (curves["loss_kind"] == "oracle")]


def _nav_mean(rows: pd.DataFrame, ts: float) -> float:
    """Mean oracle loss over grid t < ts (each t's mean over the rows' replicates)."""
    nav = rows[rows["t"] < ts]
    if nav.empty:
        return math.nan
    return float(nav.groupby("t")["mean"].mean().mean())


def _plateau(rows: pd.DataFrame, ts: float) -> tuple[float, float, int, int] | None:
    """(L at the step checkpoint nearest half the final step, L at the final step, those
    steps), or None without two step checkpoints."""
    g = rows[rows["checkpoint"] == "step"]
    steps = np.sort(g["step"].unique())
    if steps.size < 2:
        return None
    last = steps[-1]
    half = steps[:-1][np.argmin(np.abs(steps[:-1] - last / 2))]
    l_half = _nav_mean(g[g["step"] == half], ts)
    l_last = _nav_mean(g[g["step"] == last], ts)
    return l_half, l_last, int(half), int(last)


def navigation_gate(curves: pd.DataFrame | None, small: str, large: str, ts: float) -> Gate:
    """The gate for model entries ``small`` (smaller) and ``large`` (larger) trained in a
    space of split ``ts``, from the loss curves (``probes/loss_curves.parquet``)."""
    need = {"model", "checkpoint", "step", "t", "loss_kind", "mean"}
    if curves is None or curves.empty or not need <= set(curves.columns):
        return Gate(None, "navigation-convergence gate not checked: no loss curves")
    if not np.isfinite(ts):
        return Gate(None, "navigation-convergence gate not checked: no split time")
    rows_s, rows_l = _rows_of(curves, small), _rows_of(curves, large)
    if rows_s.empty or rows_l.empty:
        return Gate(
            None, f"navigation-convergence gate not checked: no loss curves of {small} / {large}"
        )
    l_s = _nav_mean(final_checkpoints(rows_s), ts)
    l_l = _nav_mean(final_checkpoints(rows_l), ts)
    if not (np.isfinite(l_s) and np.isfinite(l_l)):
        return Gate(None, f"navigation-convergence gate not checked: no grid t < t_s = {ts:.3g}")
    ratio = l_s / l_l if l_l > 0 else math.inf
    near = ratio <= GATE_RATIO
    plat = _plateau(rows_s, ts)
    plateaued, plat_txt = False, f"{small} has no two step checkpoints"
    if plat is not None and np.isfinite(plat[0]) and np.isfinite(plat[1]) and plat[0] > 0:
        l_half, l_last, half, last = plat
        drop = (l_half - l_last) / l_half
        plateaued = drop < PLATEAU_DROP
        plat_txt = (
            f"{small} step {half} -> {last}: {fmt(l_half)} -> {fmt(l_last)} "
            f"(fell {drop:.0%}, plateau < {PLATEAU_DROP:.0%})"
        )
    passed = bool(near or plateaued)
    text = (
        f"navigation-convergence gate {'passed' if passed else 'missed'}: mean oracle loss "
        f"over t < t_s = {ts:.3g}: {small} {fmt(l_s)} vs {large} {fmt(l_l)} (ratio "
        f"{fmt(ratio)}, bound {GATE_RATIO}); {plat_txt}"
    )
    return Gate(passed, text)
