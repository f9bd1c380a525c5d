"""Paired differences of FID between two sampling settings that share their noise (issue 15,
item 1).

Sample i of every setting of a sweep run with seed k starts from the same noise, so two
settings' FIDs are paired, by seed and within a seed by sample index. A difference
FID(a) - FID(b) is judged with the first of these that the data allow:

1. **Paired bootstrap** (``BOOTSTRAP``), defined with one seed as well as with several:
   the evaluation resamples each seed's sample set B times with the *same* resampled sample
   indices for every setting of that seed (``{sweep}/{setting}_bootstrap.parquet``: ``seed,
   replicate, fid``), so replicate r of a minus replicate r of b is one bootstrap draw of the
   difference. Per replicate, d_r = mean over the shared seeds s of (fid_a[s, r] -
   fid_b[s, r]); the point estimate is the same mean over the full sample sets' FIDs d.
   The ``LEVEL`` interval (``kind="centred"``, the default) is d + [q_lo - m, q_hi - m]: the
   spread of the d_r around their own mean m, centred on d. A resampled set holds about
   63 % distinct samples, and FID is biased upward at small sample counts (Chong & Forsyth
   2020, "Effectively unbiased FID"), so each replicate's FID is shifted up and the shift
   of a difference does not cancel: on constructed features (N = 300, d = 64, two settings
   of different spread) m - d was -1.07 against a spread of 0.35, so the plain percentile
   interval (``"percentile"``, Efron & Tibshirani 1993, ch. 13) and the basic interval 2 d -
   q_hi, 2 d - q_lo (``"basic"``, Davison & Hinkley 1997, eq. 5.6) both missed d. The
   centred interval keeps the bootstrap's estimate of the spread and the full sets'
   difference as the location (fixed 2026-11-29, before any run was judged with
   replicates).
2. **Paired t** (``PAIRED_T``), with n >= 2 seeds and no replicates: the Student interval of
   the mean of the per-seed differences.
3. **Single-run margin** (``MARGIN``), one run and no replicates (e.g. the paper's own
   tables): no noise estimate exists; a difference counts when it exceeds
   ``SINGLE_RUN_SHARE`` of the reference setting's FID (fixed 2026-11-29).

FID is in the units of the metric (no scaling); a difference below 0 means a is better.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: confidence level of the intervals
LEVEL = 0.95
#: bootstrap interval kinds (module docstring); the first is the default
INTERVAL_KINDS = ("centred", "percentile", "basic")
#: with a single run and no replicates, a difference counts beyond this share of the
#: reference FID
SINGLE_RUN_SHARE = 0.05
#: the methods, in order of preference (the ``method`` of a :class:`PairedDifference`)
BOOTSTRAP, PAIRED_T, MARGIN, NONE = "paired bootstrap", "paired t", "single-run margin", "none"
#: the columns of a replicates table (one sweep's ``{sweep}_bootstrap.parquet``):
#: ``train_replicate`` is the training replicate of the setting's models (0 without
#: ``train.seeds``, :mod:`navref.replicates`); rows pair within (train_replicate, seed)
REPLICATE_COLUMNS = ["sweep", "setting", "train_replicate", "seed", "replicate", "fid"]

#: part of a verdict: ``"pass"`` / ``"fail"`` / None (the values of
#: :data:`navref.report.claims.verdict.PASS` / ``FAIL``)
_PASS, _FAIL = "pass", "fail"


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.3g}"


@dataclass(frozen=True)
class PairedDifference:
    """FID(a) - FID(b) over the shared seeds: point estimate ``mean``, the ``LEVEL``
    interval [``low``, ``high``] (NaN for the single-run margin), ``n`` seeds, the mean FID
    of b (``reference``), the ``method`` that gave the interval and the number of bootstrap
    ``replicates`` (0 unless ``method == BOOTSTRAP``)."""

    mean: float
    low: float
    high: float
    n: int
    reference: float
    method: str
    replicates: int = 0

    @property
    def margin(self) -> float:
        """The single-run margin (``SINGLE_RUN_SHARE`` x |FID of b|)."""
        return SINGLE_RUN_SHARE * abs(self.reference)

    def part(self, lower: bool) -> str | None:
        """``"pass"`` if a is lower (``lower=True``) / higher than b beyond the noise (the
        interval excludes 0, or with the margin the difference exceeds it), ``"fail"`` if the
        opposite holds beyond it, else None (within the noise, or nothing to compare)."""
        sign = -1.0 if lower else 1.0
        if self.method in (BOOTSTRAP, PAIRED_T):
            lo, hi = sorted((sign * self.low, sign * self.high))
            return _PASS if lo > 0 else _FAIL if hi < 0 else None
        if self.method == MARGIN and math.isfinite(self.mean):
            effect = sign * self.mean
            return _PASS if effect > self.margin else _FAIL if -effect > self.margin else None
        return None

    @property
    def text(self) -> str:
        """``diff m [lo, hi] (method, level, replicates, seeds)``, or the margin used."""
        seeds = f"{self.n} seed{'s' if self.n != 1 else ''}"
        if self.method == BOOTSTRAP:
            return (
                f"diff {_fmt(self.mean)} [{_fmt(self.low)}, {_fmt(self.high)}] "
                f"({BOOTSTRAP} {LEVEL:.0%}, {self.replicates} replicates, {seeds})"
            )
        if self.method == PAIRED_T:
            return (
                f"diff {_fmt(self.mean)} [{_fmt(self.low)}, {_fmt(self.high)}] "
                f"({PAIRED_T} {LEVEL:.0%}, {seeds})"
            )
        if self.method == MARGIN:
            return (
                f"diff {_fmt(self.mean)} (one run, no bootstrap replicates: {MARGIN} "
                f"{_fmt(self.margin)} = {SINGLE_RUN_SHARE:.0%} of the reference)"
            )
        return "diff nan (no shared seeds)"


def _shared(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    return pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()


def seed_difference(a: pd.Series, b: pd.Series) -> PairedDifference:
    """a - b from per-seed FIDs only (index: seed): the ``LEVEL`` paired t interval of the
    mean difference with n >= 2 shared seeds (``PAIRED_T``), the single-run margin with one
    (``MARGIN``), ``NONE`` with none."""
    both = _shared(a, b)
    d = (both["a"] - both["b"]).to_numpy(float)
    n = int(d.size)
    if n == 0:
        return PairedDifference(math.nan, math.nan, math.nan, 0, math.nan, NONE)
    ref, mean = float(both["b"].mean()), float(d.mean())
    if n < 2:
        return PairedDifference(mean, math.nan, math.nan, n, ref, MARGIN)
    sem = float(np.std(d, ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sem
    return PairedDifference(mean, mean - half, mean + half, n, ref, PAIRED_T)


def replicate_matrix(replicates: pd.DataFrame | None, sweep: str, setting: str) -> pd.DataFrame:
    """The bootstrap FIDs of one setting as a (seed x replicate) frame (rows (train_replicate,
    seed) where the setting has several training replicates: until the two-level bootstrap,
    each such pair is one paired unit), empty when the replicates table is None or lacks
    the setting. A (seed, replicate) given twice is a ``ValueError`` (each must be one
    row)."""
    if replicates is None or replicates.empty:
        return pd.DataFrame()
    # train_replicate may be absent (a table of one training replicate, e.g. hand-made)
    missing = [c for c in REPLICATE_COLUMNS if c not in (*replicates.columns, "train_replicate")]
    if missing:
        raise ValueError(
            f"the bootstrap replicates table lacks columns {missing} (has "
            f"{list(replicates.columns)}); rebuild it with rule paired_replicates"
        )
    rows = replicates[
        (replicates["sweep"] == sweep) & (replicates["setting"].astype(str) == str(setting))
    ]
    index = _pair_index(rows)
    if rows[[*index, "replicate"]].duplicated().any():
        raise ValueError(
            f"bootstrap replicates of {sweep}/{setting}: a ({', '.join(index)}, replicate) "
            "appears twice; each must be one row"
        )
    return rows.pivot(index=index, columns="replicate", values="fid").astype(float)


def _pair_index(rows: pd.DataFrame) -> list[str]:
    """What pairs the rows of one setting: ``["seed"]``, or ``["train_replicate", "seed"]``
    where the rows hold several training replicates (:mod:`navref.replicates`; each
    (training replicate, seed) then counts as one paired unit)."""
    several = "train_replicate" in rows.columns and rows["train_replicate"].nunique() > 1
    return ["train_replicate", "seed"] if several else ["seed"]


def bootstrap_difference(
    rep_a: pd.DataFrame,
    rep_b: pd.DataFrame,
    point_a: pd.Series,
    point_b: pd.Series,
    kind: str = "centred",
) -> PairedDifference:
    """a - b from paired bootstrap replicates (module docstring, method 1).

    ``rep_a``, ``rep_b``: FID per (seed x replicate) of settings a and b (replicate r of a
    seed used the same resampled sample indices in both); ``point_a``, ``point_b``: the FID
    of the full sample set per seed. Uses the seeds present in all four and the replicates
    present for every such seed in both; ``kind``: ``"centred"`` (default), ``"percentile"``
    or ``"basic"`` (module docstring). Returns
    ``NONE`` without a shared seed and replicate. Raises ``ValueError`` for an unknown kind.
    """
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"bootstrap interval kind {kind!r}: use one of {INTERVAL_KINDS}")
    seeds = sorted(set(rep_a.index) & set(rep_b.index) & set(_shared(point_a, point_b).index))
    a, b = rep_a.loc[seeds], rep_b.loc[seeds]
    cols = [r for r in a.columns if r in b.columns and a[r].notna().all() and b[r].notna().all()]
    if not seeds or not cols:
        return PairedDifference(math.nan, math.nan, math.nan, 0, math.nan, NONE)
    d_r = (a[cols] - b[cols]).to_numpy(float).mean(axis=0)  # mean over seeds, per replicate
    point = float((point_a.loc[seeds] - point_b.loc[seeds]).mean())
    q_lo, q_hi = np.quantile(d_r, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
    shift = point - float(d_r.mean())
    low, high = {
        "centred": (q_lo + shift, q_hi + shift),
        "percentile": (q_lo, q_hi),
        "basic": (2 * point - q_hi, 2 * point - q_lo),
    }[kind]
    ref = float(point_b.loc[seeds].mean())
    return PairedDifference(
        point, float(low), float(high), len(seeds), ref, BOOTSTRAP, replicates=len(cols)
    )


def paired_difference(
    a: pd.Series,
    b: pd.Series,
    rep_a: pd.DataFrame | None = None,
    rep_b: pd.DataFrame | None = None,
) -> PairedDifference:
    """a - b by the first method the data allow (module docstring): the paired bootstrap
    when both settings have replicates for a shared seed, else the paired t interval (n >= 2
    seeds), else the single-run margin. ``a``, ``b``: FID per seed (index: seed); ``rep_a``,
    ``rep_b``: (seed x replicate) frames (:func:`replicate_matrix`) or None."""
    if rep_a is not None and rep_b is not None and not rep_a.empty and not rep_b.empty:
        boot = bootstrap_difference(rep_a, rep_b, a, b)
        if boot.method == BOOTSTRAP:
            return boot
    return seed_difference(a, b)


def seed_fids(sweeps: pd.DataFrame | None, sweep: str, setting: str) -> pd.Series:
    """FID per seed (index: seed; (train_replicate, seed) where the setting has several
    training replicates) of ``sweep/setting`` in the sweep table (``sweep, setting, seed,
    fid``); empty when the table is None or lacks the setting."""
    if not isinstance(sweeps, pd.DataFrame) or sweeps.empty:
        return pd.Series(dtype=float)
    sel = sweeps[(sweeps["sweep"] == sweep) & (sweeps["setting"].astype(str) == str(setting))]
    index = _pair_index(sel)
    keys = pd.MultiIndex.from_frame(sel[index]) if len(index) > 1 else sel["seed"].to_numpy()
    return pd.Series(sel["fid"].astype(float).to_numpy(), index=keys)


def setting_difference(
    sweeps: pd.DataFrame | None,
    replicates: pd.DataFrame | None,
    sweep: str,
    settings: Sequence[str],
    fallback: Sequence[float] = (math.nan, math.nan),
) -> PairedDifference:
    """FID(a) - FID(b) for ``settings = (a, b)`` of ``sweep`` (:func:`paired_difference`):
    per-seed FIDs from ``sweeps``, replicates from ``replicates`` (``REPLICATE_COLUMNS``).
    A setting missing from ``sweeps`` counts as one run with FID ``fallback`` (its table
    row's mean, so only the margin can judge it: replicates need per-seed FIDs)."""
    per_seed = [seed_fids(sweeps, sweep, s) for s in settings]
    if not all(len(s) for s in per_seed):
        one_run = [pd.Series([float(f)], index=[0]) for f in fallback]
        return seed_difference(*one_run)
    reps = [replicate_matrix(replicates, sweep, s) for s in settings]
    return paired_difference(per_seed[0], per_seed[1], reps[0], reps[1])


def gather_replicates(
    paths: Sequence[str | os.PathLike],
    sweep: str,
    settings: Sequence[str],
    out_path: str | os.PathLike,
    train_replicates: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Rule ``paired_replicates``: the bootstrap replicates of every run (a setting under
    one training replicate) of one sweep in one table (``REPLICATE_COLUMNS``), written
    atomically to ``out_path`` and returned.

    ``paths[i]`` is ``results/<run>/metrics/<sweep>/<run key>_bootstrap.parquet`` with
    columns ``seed, replicate, fid`` (one row per seed and replicate), of setting
    ``settings[i]`` under training replicate ``train_replicates[i]`` (default: all 0).
    Raises ``ValueError`` for a file without those columns, with a (seed, replicate) twice,
    a (setting, training replicate) twice, or when two runs of one seed have different
    replicate ids (then replicate b was not one shared resample)."""
    from navref.io import save_parquet

    train_replicates = [0] * len(settings) if train_replicates is None else train_replicates
    if not len(paths) == len(settings) == len(train_replicates):
        raise ValueError(
            f"{len(paths)} replicate files for {len(settings)} settings and "
            f"{len(train_replicates)} training replicates"
        )
    runs = list(zip(settings, map(int, train_replicates), strict=True))
    if len(set(runs)) != len(runs):
        raise ValueError(f"a (setting, training replicate) is listed twice in {runs}")
    frames, ids = [], {}
    for path, (setting, train) in zip(paths, runs, strict=True):
        frame = pd.read_parquet(path)
        missing = [c for c in ("seed", "replicate", "fid") if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{path} lacks columns {missing} (has {list(frame.columns)}); rerun its "
                "evaluation job"
            )
        if frame[["seed", "replicate"]].duplicated().any():
            raise ValueError(f"{path}: a (seed, replicate) appears twice; rerun its evaluation")
        for seed, g in frame.groupby("seed"):
            reps = tuple(sorted(g["replicate"]))
            if ids.setdefault(seed, (setting, reps))[1] != reps:
                raise ValueError(
                    f"{path}: seed {seed} has other replicate ids than setting "
                    f"{ids[seed][0]!r}; every setting of a seed must use the same resamples"
                )
        frames.append(
            frame[["seed", "replicate", "fid"]].assign(
                sweep=sweep, setting=setting, train_replicate=np.int64(train)
            )
        )
    out = pd.concat(frames, ignore_index=True)[REPLICATE_COLUMNS] if frames else None
    if out is None:
        out = pd.DataFrame(columns=REPLICATE_COLUMNS)
    save_parquet(out_path, out)
    return out
