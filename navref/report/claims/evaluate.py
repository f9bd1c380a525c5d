"""Judge every registered claim on the pipeline's results."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from navref.analysis.split_times import SplitTimes
from navref.report.claims import sensitivity
from navref.report.claims.registry import registered
from navref.report.claims.verdict import Splits, one_split


def space_splits(split_times: pd.DataFrame | None) -> dict[str, float]:
    """The split time of every latent space with an objective curve
    (:meth:`SplitTimes.by_space`); empty without a usable split-time table."""
    if split_times is None or split_times.empty:
        return {}
    try:
        return SplitTimes(split_times).by_space()
    except ValueError:
        return {}


def model_split(splits: Splits, model_space: str | None) -> float:
    """The split of the space the probed / swept models were trained on, or the only one."""
    if isinstance(splits, Mapping) and model_space is not None:
        return float(splits.get(model_space, math.nan))
    return one_split(splits)


def claim_context(
    frames: Mapping[str, pd.DataFrame | None],
    split_t: Splits = None,
    model_space: str | None = None,
    **settings: object,
) -> dict[str, object]:
    """What the judges read (:mod:`.registry`): the input ``frames``, the split per space
    (``split_t``, else from ``frames["split_times"]``), the models' split and ``settings``."""
    splits = split_t if split_t is not None else (space_splits(frames.get("split_times")) or None)
    return {**frames, **settings, "splits": splits, "model_split": model_split(splits, model_space)}


def threshold_contexts(
    frames: Mapping[str, pd.DataFrame | None], model_space: str | None, settings: Mapping
) -> dict[float, dict | None]:
    """The judges' context with the split recomputed at each of ``SPLIT_THRESHOLDS``
    (:mod:`.sensitivity`); None where the top-1 curves to recompute it are missing."""
    out: dict[float, dict | None] = {}
    for threshold in sensitivity.SPLIT_THRESHOLDS:
        table = sensitivity.split_table(frames.get("objective"), frames.get("synthetic"), threshold)
        frames_at = {**frames, "split_times": table}
        out[threshold] = (
            None if table is None else claim_context(frames_at, None, model_space, **settings)
        )
    return out


@dataclass(frozen=True)
class ClaimInputs:
    """What the claims read, one typed object: the pipeline's tables (None: missing, their
    claims inconclusive) and the report settings.

    ``table1``-``table3``: the sweeps' tables (``Sweep.table`` of :mod:`navref.sweeps`, as rule
    ``report_sweep_table`` writes them); ``sweeps``: the per-seed sweep table, for the paired
    comparisons of claims 5-7 (:mod:`.paired`); ``replicates``: the sweeps' bootstrap
    replicates (``sweep, setting, seed, replicate, fid``), for the paired bootstrap of the same
    differences. ``split_t``: the split time separating navigation from refinement for the
    model claims (3, 4, 7, 8), one value or one per latent space; by default each space's
    split from ``split_times`` (then also recomputed at the other thresholds). Claims 4 and 7
    (no space in their tables) use the split of ``model_space`` (the space the probed /
    swept models were trained on), or the only value. ``size_order`` (smallest first) is
    needed for claim 3(c)."""

    split_times: pd.DataFrame | None = None
    synthetic: pd.DataFrame | None = None
    objective: pd.DataFrame | None = None
    loss_curves: pd.DataFrame | None = None
    intermediate: pd.DataFrame | None = None
    mixed: pd.DataFrame | None = None
    unseen: pd.DataFrame | None = None
    table1: pd.DataFrame | None = None
    table2: pd.DataFrame | None = None
    table3: pd.DataFrame | None = None
    sweeps: pd.DataFrame | None = None
    replicates: pd.DataFrame | None = None
    size_order: Sequence[str] | None = None
    split_t: Splits = None
    model_space: str | None = None
    semantic_space: str | None = None
    other_space: str | None = None

    #: the fields that are tables (the judges' frames); the rest are settings
    FRAMES: ClassVar[tuple[str, ...]] = (
        "split_times", "synthetic", "objective", "loss_curves", "intermediate", "mixed",
        "unseen", "table1", "table2", "table3", "sweeps", "replicates",
    )  # fmt: skip

    def frames(self) -> dict[str, pd.DataFrame | None]:
        return {name: getattr(self, name) for name in self.FRAMES}

    def settings(self) -> dict[str, object]:
        """The settings the judges read besides the frames and splits."""
        return {
            "size_order": self.size_order,
            "semantic_space": self.semantic_space,
            "other_space": self.other_space,
        }


def evaluate_claims(inputs: ClaimInputs) -> list[dict]:
    """All registered claims, in order, each with its sensitivity to the split threshold
    (:mod:`.sensitivity`; a threshold at which the probe grid lacks points beyond the moved
    split is "not tested", not a flip), judged on ``inputs`` (:class:`ClaimInputs`)."""
    frames, settings = inputs.frames(), inputs.settings()
    split_t, model_space, split_times = inputs.split_t, inputs.model_space, inputs.split_times
    context = claim_context(frames, split_t, model_space, **settings)
    # a split given by the caller is not recomputed: sensitivity not assessed
    others = threshold_contexts(frames, model_space, settings) if split_t is None else {}
    base = sensitivity.base_threshold(split_times)
    records = []
    for entry in registered():
        record = entry.evaluate(context)

        def judge_at(threshold: float, entry=entry) -> str | None:
            at = others.get(threshold)
            if at is None:
                return None
            found = entry.evaluate(at)
            limit = found.get("grid_limited")
            return sensitivity.not_tested(limit) if limit else found["verdict"]

        found = sensitivity.assess(entry.inputs, record["verdict"], base, judge_at)
        records.append({**record, "sensitivity": found.text, "fragile": found.fragile})
    return records
