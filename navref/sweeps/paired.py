"""Paired differences of FID between two sampling settings that share their noise (issue 15,
item 1), with training replicates as a second level (issue 24, item 1).

Sample i of every setting of a sweep run with seed k starts from the same noise, so two
settings' FIDs are paired, by seed and within a seed by sample index. A model entry may be
trained under several training seeds: the sweep tables then carry an int column
``train_replicate`` (0..R-1; replicate r of a setting with several models uses replicate r
of each); without it there is one training replicate (0). Pairing is within
(``train_replicate``, seed): a *unit*. A difference FID(a) - FID(b) is judged with the first
of these that the data allow:

1. **Paired two-level bootstrap** (``BOOTSTRAP``), defined with one seed as well as with
   several: the evaluation resamples each unit's sample set B times with the *same*
   resampled sample indices for every setting of that unit (``{sweep}/{setting}_bootstrap
   .parquet``: ``seed, replicate, fid`` [, ``train_replicate``]), so replicate b of a minus
   replicate b of b is one bootstrap draw of the difference within a unit. Draw b of the
   two-level (multistage) bootstrap resamples the R training replicates with replacement
   (one fixed-seed generator, ``TRAIN_RESAMPLE_SEED``: the same picks for every setting, so
   differences and best-of-group picks stay paired), then takes sampling replicate b within
   each picked training replicate; per setting the draw is the mean over the picked
   training replicates of the mean over their seeds (Davison & Hinkley 1997, "Bootstrap
   methods and their application", sec. 3.8, multistage sampling; Ren et al. 2010,
   "Nonparametric bootstrapping for hierarchical data", J. Appl. Stat. 37: resample the top
   level with replacement, then within it). The point estimate d is the same mean over the
   full sample sets' FIDs. With R = 1 the first stage is trivial and the draw is the mean
   over seeds of replicate b (the one-level paired bootstrap). Known limit: resampling R
   training replicates estimates the between-replicate variance with the factor (R - 1) / R
   (Davison & Hinkley 1997, sec. 3.8: the plain two-stage scheme is biased for few
   top-level units), so with R = 2 that part is halved; and R training runs say little
   about training variance however many samples there are. The ``LEVEL`` interval
   (``kind="centred"``, the default) is d + [q_lo - m, q_hi - m]: the spread of the draws
   around their own mean m, centred on d. A resampled set holds about 63 % distinct
   samples, and FID is biased upward at small sample counts (Chong & Forsyth 2020,
   "Effectively unbiased FID"), so each replicate's FID is shifted up and the shift of a
   difference does not cancel: on constructed features (N = 300, d = 64, two settings of
   different spread) m - d was -1.07 against a spread of 0.35, so the plain percentile
   interval (``"percentile"``, Efron & Tibshirani 1993, ch. 13) and the basic interval 2 d -
   q_hi, 2 d - q_lo (``"basic"``, Davison & Hinkley 1997, eq. 5.6) both missed d. The
   centred interval keeps the bootstrap's estimate of the spread and the full sets'
   difference as the location (fixed 2026-11-29, before any run was judged with
   replicates). Its two-sided p-value (for the multiplicity rule of
   :mod:`navref.report.claims.verdict`) is the one dual to the centred interval: twice the
   smaller share of centred draws d + (d_b - m) on either side of 0, each share counted as
   (1 + k) / (B + 1) (Davison & Hinkley 1997, eq. 4.11).
2. **Paired t** (``PAIRED_T``), no replicates: with one training replicate and n >= 2 seeds
   the Student interval of the mean of the per-seed differences; with R >= 2 training
   replicates the Student interval (R - 1 degrees of freedom) of the mean of the
   per-training-replicate mean differences, which holds both sources (the usual analysis of
   a two-stage nested design at the level of its top units).
3. **Single-run margin** (``MARGIN``), one run and no replicates (e.g. the paper's own
   tables): no noise estimate exists; a difference counts when it exceeds
   ``SINGLE_RUN_SHARE`` of the reference setting's FID (fixed 2026-11-29).

A difference with a noise estimate (1, 2) counts ("beats" / "is worse") only when its
interval excludes 0 *and* |d| >= ``MIN_EFFECT_SHARE`` of the reference FID (set 2026-12-08,
issue 24, item 5); smaller differences read "within the noise".

Where a claim picks the best (lowest-FID) setting of a group, :func:`best_difference`
repeats the pick inside every draw (issue 24, item 4): per draw the argmin over the group
of that draw's FIDs, minus the other group's per-draw best; the interval is centred on the
full-data difference of the full-data picks, and the share of draws that pick the full-data
pick is reported (:class:`Pick`; below ``PICK_STABLE_SHARE``: "unstable").

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
#: with a noise estimate (bootstrap, paired t), a difference counts only when |d| is at least
#: this share of the reference FID as well (set 2026-12-08, issue 24, item 5)
MIN_EFFECT_SHARE = 0.02
#: a best-of-group pick made in fewer than this share of the bootstrap draws is "unstable"
PICK_STABLE_SHARE = 0.8
#: seed of the generator that resamples training replicates (the same picks for every
#: setting and every comparison with the same R and B)
TRAIN_RESAMPLE_SEED = 24
#: the methods, in order of preference (the ``method`` of a :class:`PairedDifference`)
BOOTSTRAP, PAIRED_T, MARGIN, NONE = "paired bootstrap", "paired t", "single-run margin", "none"
#: the column naming a setting's training replicate (absent in a hand-made table: one
#: replicate, 0; :mod:`navref.replicates`); rows pair within (train_replicate, seed)
TRAIN_REPLICATE = "train_replicate"
#: the columns of a replicates table (one sweep's ``{sweep}_bootstrap.parquet``)
REPLICATE_COLUMNS = ["sweep", "setting", TRAIN_REPLICATE, "seed", "replicate", "fid"]
#: the text of an interval that covers sampling noise only
ONE_TRAINING_RUN = "one training run: interval covers sampling noise only"

#: part of a verdict: ``"pass"`` / ``"fail"`` / None (the values of
#: :data:`navref.report.claims.verdict.PASS` / ``FAIL``)
_PASS, _FAIL = "pass", "fail"


def _fmt(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.3g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@dataclass(frozen=True)
class PairedDifference:
    """FID(a) - FID(b) over the shared units: point estimate ``mean``, the ``LEVEL``
    interval [``low``, ``high``] (NaN for the single-run margin), ``n`` sampling seeds, the
    mean FID of b (``reference``), the ``method`` that gave the interval, the number of
    bootstrap ``replicates`` (0 unless ``method == BOOTSTRAP``), ``train_replicates`` R
    (training seeds; 1 without the column) and the two-sided ``p_value`` of d = 0 (NaN for
    the margin)."""

    mean: float
    low: float
    high: float
    n: int
    reference: float
    method: str
    replicates: int = 0
    train_replicates: int = 1
    p_value: float = math.nan

    @property
    def margin(self) -> float:
        """The single-run margin (``SINGLE_RUN_SHARE`` x |FID of b|)."""
        return SINGLE_RUN_SHARE * abs(self.reference)

    @property
    def min_effect(self) -> float:
        """The minimum effect with a noise estimate (``MIN_EFFECT_SHARE`` x |FID of b|)."""
        return MIN_EFFECT_SHARE * abs(self.reference)

    def part(self, lower: bool, min_share: float = MIN_EFFECT_SHARE) -> str | None:
        """``"pass"`` if a is lower (``lower=True``) / higher than b beyond the noise (the
        interval excludes 0 and |d| >= ``min_share`` x |FID of b|, or with the margin the
        difference exceeds it), ``"fail"`` if the opposite holds beyond it, else None (within
        the noise, or nothing to compare)."""
        sign = -1.0 if lower else 1.0
        if self.method in (BOOTSTRAP, PAIRED_T):
            if abs(self.mean) < min_share * abs(self.reference):
                return None
            lo, hi = sorted((sign * self.low, sign * self.high))
            return _PASS if lo > 0 else _FAIL if hi < 0 else None
        if self.method == MARGIN and math.isfinite(self.mean):
            effect = sign * self.mean
            return _PASS if effect > self.margin else _FAIL if -effect > self.margin else None
        return None

    @property
    def sources(self) -> str:
        """Which sources of variance the interval covers, with their counts."""
        seeds, r = _plural(self.n, "sampling seed"), self.train_replicates
        if self.method == BOOTSTRAP:
            if r < 2:
                return f"{ONE_TRAINING_RUN} ({seeds}, {self.replicates} resamples of samples)"
            return (
                f"covers training and sampling noise: {r} training seeds resampled (two-level "
                f"bootstrap; their variance enters x {r - 1}/{r}), {seeds}, "
                f"{self.replicates} resamples of samples"
            )
        if self.method == PAIRED_T:
            if r < 2:
                return f"{ONE_TRAINING_RUN} ({seeds})"
            return (
                f"covers training and sampling noise: t over {r} training seeds' mean "
                f"differences ({seeds} each)"
            )
        if self.method == MARGIN:
            return "one run: no noise estimate"
        return "nothing compared"

    @property
    def covers(self) -> str:
        """The short form of :attr:`sources` used in :attr:`text` (the counts are there)."""
        r = self.train_replicates
        if self.method not in (BOOTSTRAP, PAIRED_T):
            return self.sources
        if r < 2:
            return ONE_TRAINING_RUN
        how = "resampled, two-level" if self.method == BOOTSTRAP else "t over their means"
        return f"covers training and sampling noise: {r} training seeds ({how})"

    @property
    def text(self) -> str:
        """``diff m [lo, hi] (method, level, replicates, seeds; sources)``, or the margin
        used; notes a difference whose interval excludes 0 below the minimum effect."""
        seeds = _plural(self.n, "seed")
        small = ""
        if self.method in (BOOTSTRAP, PAIRED_T) and (self.low > 0 or self.high < 0):
            if abs(self.mean) < self.min_effect:
                small = (
                    f"; |diff| < {MIN_EFFECT_SHARE:.0%} of the reference "
                    f"({_fmt(self.min_effect)}): within the noise"
                )
        if self.method == BOOTSTRAP:
            return (
                f"diff {_fmt(self.mean)} [{_fmt(self.low)}, {_fmt(self.high)}] "
                f"({BOOTSTRAP} {LEVEL:.0%}, {self.replicates} replicates, {seeds}; "
                f"{self.covers}{small})"
            )
        if self.method == PAIRED_T:
            return (
                f"diff {_fmt(self.mean)} [{_fmt(self.low)}, {_fmt(self.high)}] "
                f"({PAIRED_T} {LEVEL:.0%}, {seeds}; {self.covers}{small})"
            )
        if self.method == MARGIN:
            return (
                f"diff {_fmt(self.mean)} (one run, no bootstrap replicates: {MARGIN} "
                f"{_fmt(self.margin)} = {SINGLE_RUN_SHARE:.0%} of the reference)"
            )
        return "diff nan (no shared seeds)"


_NOTHING = PairedDifference(math.nan, math.nan, math.nan, 0, math.nan, NONE)


def units(frame: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """``frame`` indexed by (``train_replicate``, seed): a plain seed index is training
    replicate 0."""
    if isinstance(frame.index, pd.MultiIndex):
        return frame
    out = frame.copy()
    out.index = pd.MultiIndex.from_arrays(
        [np.zeros(len(frame), dtype=int), frame.index], names=[TRAIN_REPLICATE, "seed"]
    )
    return out


def _shared(a: pd.Series, b: pd.Series) -> pd.DataFrame:
    return pd.concat([units(a).rename("a"), units(b).rename("b")], axis=1, join="inner").dropna()


def _n_seeds(index: pd.Index) -> int:
    return int(index.get_level_values(-1).nunique())


def _n_train(index: pd.Index) -> int:
    return int(index.get_level_values(0).nunique())


def _t_interval(d: np.ndarray) -> tuple[float, float, float]:
    """(mean, half-width of the ``LEVEL`` Student interval, two-sided p of mean 0) of d."""
    n, mean = d.size, float(d.mean())
    sem = float(np.std(d, ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1)) * sem
    if sem > 0:
        p = float(2 * stats.t.sf(abs(mean) / sem, n - 1))
    else:
        p = 1.0 if mean == 0 else 0.0
    return mean, half, p


def seed_difference(a: pd.Series, b: pd.Series) -> PairedDifference:
    """a - b from per-unit FIDs only (index: seed, or (``train_replicate``, seed)): with one
    training replicate the ``LEVEL`` paired t interval of the mean difference over n >= 2
    shared seeds; with R >= 2 training replicates the t interval over the R per-replicate
    mean differences (``PAIRED_T``); one unit: the single-run margin (``MARGIN``); ``NONE``
    with none."""
    both = _shared(a, b)
    if both.empty:
        return _NOTHING
    n, r = _n_seeds(both.index), _n_train(both.index)
    per = (both["a"] - both["b"]).groupby(level=0).mean().to_numpy(float)
    ref = float(both["b"].groupby(level=0).mean().mean())
    d = per if r >= 2 else (both["a"] - both["b"]).to_numpy(float)
    if d.size < 2:
        return PairedDifference(float(d.mean()), math.nan, math.nan, n, ref, MARGIN)
    mean, half, p = _t_interval(d)
    mean = float(per.mean())
    return PairedDifference(mean, mean - half, mean + half, n, ref, PAIRED_T, 0, r, p)


def replicate_matrix(replicates: pd.DataFrame | None, sweep: str, setting: str) -> pd.DataFrame:
    """The bootstrap FIDs of one setting as a (unit x replicate) frame, rows indexed by
    (``train_replicate``, seed) (replicate 0 without that column); empty when the
    replicates table is None or lacks the setting. A (train_replicate, seed, replicate) given
    twice is a ``ValueError`` (each must be one row)."""
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
    if TRAIN_REPLICATE not in rows.columns:
        rows = rows.assign(**{TRAIN_REPLICATE: 0})
    key = [TRAIN_REPLICATE, "seed"]
    if rows[[*key, "replicate"]].duplicated().any():
        raise ValueError(
            f"bootstrap replicates of {sweep}/{setting}: a (train_replicate, seed, replicate) "
            "appears twice; each must be one row"
        )
    return rows.pivot(index=key, columns="replicate", values="fid").astype(float)


@dataclass(frozen=True)
class Draws:
    """Two-level bootstrap draws of the mean FID of S settings on their shared units.

    ``point`` (S,): full-data FID per setting, mean over training replicates of the mean
    over their seeds; ``draws`` (S, B): the same mean in each draw (module docstring);
    ``n_seeds`` sampling seeds, ``n_train`` training replicates R."""

    point: np.ndarray
    draws: np.ndarray
    n_seeds: int
    n_train: int

    @property
    def replicates(self) -> int:
        """B, the number of draws."""
        return int(self.draws.shape[1])


def train_picks(n_train: int, n_draws: int) -> np.ndarray:
    """(B, R) int: the training replicates picked (with replacement) in each draw, from a
    generator seeded with ``TRAIN_RESAMPLE_SEED`` (all zero for R = 1)."""
    if n_train == 1:
        return np.zeros((n_draws, 1), dtype=int)
    rng = np.random.default_rng(TRAIN_RESAMPLE_SEED)
    return rng.integers(0, n_train, size=(n_draws, n_train))


def two_level_draws(points: Sequence[pd.Series], reps: Sequence[pd.DataFrame]) -> Draws | None:
    """The two-level bootstrap (module docstring) of settings with full-data FIDs
    ``points[i]`` (index: seed or (``train_replicate``, seed)) and replicate frames
    ``reps[i]`` (:func:`replicate_matrix`), on the units present in all of them and the
    replicate ids present (non-NaN) for every such unit of every setting; None without a
    shared unit and replicate."""
    if not points or any(r is None or r.empty for r in reps):
        return None
    pts = [units(p).dropna() for p in points]
    rps = [units(r) for r in reps]
    shared = pts[0].index
    for x in [*pts[1:], *rps]:
        shared = shared.intersection(x.index)
    shared = shared.sort_values()
    if not len(shared):
        return None
    cols = [c for c in rps[0].columns if all(c in r.columns for r in rps)]
    vals = np.stack([r.loc[shared, cols].to_numpy(float) for r in rps])  # (S, U, B)
    keep = np.isfinite(vals).all(axis=(0, 1))
    cols, vals = [c for c, k in zip(cols, keep, strict=True) if k], vals[:, :, keep]
    if not cols:
        return None
    train = shared.get_level_values(0)
    ids = np.unique(train)
    # (S, R, B): per setting and training replicate, the mean over its seeds of replicate b
    m = np.stack([vals[:, np.asarray(train == t), :].mean(axis=1) for t in ids], axis=1)
    point = np.array(
        [np.mean([p.loc[shared[train == t]].to_numpy(float).mean() for t in ids]) for p in pts]
    )
    picks = train_picks(len(ids), len(cols))  # (B, R)
    draws = m[:, picks, np.arange(len(cols))[:, None]].mean(axis=2)  # (S, B)
    return Draws(point, draws, _n_seeds(shared), len(ids))


def _interval(point: float, d: np.ndarray, kind: str) -> tuple[float, float, float]:
    """(low, high, two-sided p) of a bootstrap difference with full-data value ``point``
    and draws ``d`` (B,) (module docstring)."""
    q_lo, q_hi = np.quantile(d, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2])
    shift = point - float(d.mean())
    low, high = {
        "centred": (q_lo + shift, q_hi + shift),
        "percentile": (q_lo, q_hi),
        "basic": (2 * point - q_hi, 2 * point - q_lo),
    }[kind]
    centred = d + shift
    below, above = int((centred <= 0).sum()), int((centred >= 0).sum())
    p = min(1.0, 2 * min(below + 1, above + 1) / (d.size + 1))
    return float(low), float(high), p


def _check_kind(kind: str) -> None:
    if kind not in INTERVAL_KINDS:
        raise ValueError(f"bootstrap interval kind {kind!r}: use one of {INTERVAL_KINDS}")


def bootstrap_difference(
    rep_a: pd.DataFrame,
    rep_b: pd.DataFrame,
    point_a: pd.Series,
    point_b: pd.Series,
    kind: str = "centred",
) -> PairedDifference:
    """a - b from paired bootstrap replicates (module docstring, method 1).

    ``rep_a``, ``rep_b``: FID per (unit x replicate) of settings a and b (replicate b of a
    unit used the same resampled sample indices in both; rows: seed or (``train_replicate``,
    seed)); ``point_a``, ``point_b``: the FID of the full sample set per unit. Uses the units
    present in all four and the replicates present for every such unit in both; ``kind``:
    ``"centred"`` (default), ``"percentile"`` or ``"basic"`` (module docstring). Returns
    ``NONE`` without a shared unit and replicate. Raises ``ValueError`` for an unknown kind.
    """
    _check_kind(kind)
    dr = two_level_draws([point_a, point_b], [rep_a, rep_b])
    if dr is None:
        return _NOTHING
    point = float(dr.point[0] - dr.point[1])
    low, high, p = _interval(point, dr.draws[0] - dr.draws[1], kind)
    return PairedDifference(
        point, low, high, dr.n_seeds, float(dr.point[1]), BOOTSTRAP, dr.replicates, dr.n_train, p
    )


def paired_difference(
    a: pd.Series,
    b: pd.Series,
    rep_a: pd.DataFrame | None = None,
    rep_b: pd.DataFrame | None = None,
) -> PairedDifference:
    """a - b by the first method the data allow (module docstring): the paired bootstrap
    when both settings have replicates for a shared unit, else the paired t interval (n >= 2
    seeds or R >= 2 training replicates), else the single-run margin. ``a``, ``b``: FID per
    unit (index: seed or (``train_replicate``, seed)); ``rep_a``, ``rep_b``: (unit x
    replicate) frames (:func:`replicate_matrix`) or None."""
    if rep_a is not None and rep_b is not None and not rep_a.empty and not rep_b.empty:
        boot = bootstrap_difference(rep_a, rep_b, a, b)
        if boot.method == BOOTSTRAP:
            return boot
    return seed_difference(a, b)


def seed_fids(sweeps: pd.DataFrame | None, sweep: str, setting: str) -> pd.Series:
    """FID per unit (index: (``train_replicate``, seed); replicate 0 without that column) of
    ``sweep/setting`` in the sweep table (``sweep, setting, seed, fid`` [, ``train_replicate``]);
    empty when the table is None or lacks the setting."""
    if not isinstance(sweeps, pd.DataFrame) or sweeps.empty:
        return pd.Series(dtype=float)
    sel = sweeps[(sweeps["sweep"] == sweep) & (sweeps["setting"].astype(str) == str(setting))]
    train = sel[TRAIN_REPLICATE] if TRAIN_REPLICATE in sel.columns else np.zeros(len(sel), int)
    index = pd.MultiIndex.from_arrays(
        [np.asarray(train, dtype=int), sel["seed"].to_numpy()], names=[TRAIN_REPLICATE, "seed"]
    )
    return pd.Series(sel["fid"].astype(float).to_numpy(), index=index)


def setting_difference(
    sweeps: pd.DataFrame | None,
    replicates: pd.DataFrame | None,
    sweep: str,
    settings: Sequence[str],
    fallback: Sequence[float] = (math.nan, math.nan),
) -> PairedDifference:
    """FID(a) - FID(b) for ``settings = (a, b)`` of ``sweep`` (:func:`paired_difference`):
    per-unit FIDs from ``sweeps``, replicates from ``replicates`` (``REPLICATE_COLUMNS``).
    A setting missing from ``sweeps`` counts as one run with FID ``fallback`` (its table
    row's mean, so only the margin can judge it: replicates need per-seed FIDs)."""
    per_seed = [seed_fids(sweeps, sweep, s) for s in settings]
    if not all(len(s) for s in per_seed):
        one_run = [pd.Series([float(f)], index=[0]) for f in fallback]
        return seed_difference(*one_run)
    reps = [replicate_matrix(replicates, sweep, s) for s in settings]
    return paired_difference(per_seed[0], per_seed[1], reps[0], reps[1])


@dataclass(frozen=True)
class Pick:
    """A best-of-group pick repeated in every bootstrap draw: the full-data pick
    ``setting``, the number of draws that picked it (``picked``) of ``draws``, and the
    group's size."""

    setting: str
    picked: int
    draws: int
    group: int

    @property
    def share(self) -> float:
        """Share of the draws that picked the full-data pick."""
        return self.picked / self.draws if self.draws else math.nan

    @property
    def stable(self) -> bool:
        """A group of one, or a pick made in at least ``PICK_STABLE_SHARE`` of the draws."""
        return self.group < 2 or self.share >= PICK_STABLE_SHARE

    def text(self, name: str | None = None) -> str:
        """``NAME picked in k of B draws`` (+ ``unstable: < 80 %``)."""
        if self.group < 2:
            return f"{name or self.setting} (the only one)"
        out = f"{name or self.setting} picked in {self.picked} of {self.draws} draws"
        return out if self.stable else f"{out} (unstable: < {PICK_STABLE_SHARE:.0%})"


@dataclass(frozen=True)
class BestDifference:
    """The difference of the best (lowest-FID) setting of group a to the best of group b
    (``diff``), with the full-data picks and, where the pick was repeated in the bootstrap
    draws, their stability (``pick_a``, ``pick_b``; None without replicates: the pick is
    then the full-data one, not resampled)."""

    diff: PairedDifference
    best_a: str
    best_b: str
    pick_a: Pick | None
    pick_b: Pick | None

    @property
    def stable(self) -> bool:
        """Both picks stable (True where they were not resampled)."""
        return all(p is None or p.stable for p in (self.pick_a, self.pick_b))


def best_difference(
    sweeps: pd.DataFrame | None,
    replicates: pd.DataFrame | None,
    sweep: str,
    group_a: Sequence[str],
    group_b: Sequence[str],
    fallback: dict[str, float] | None = None,
    kind: str = "centred",
) -> BestDifference:
    """min over ``group_a`` minus min over ``group_b`` of the FID, the pick repeated inside
    the statistics (issue 24, item 4): per two-level bootstrap draw (:func:`two_level_draws`
    on the units shared by every setting of both groups) the argmin of each group's draw
    FIDs and their difference; the interval of those draws centred on the full-data
    difference of the full-data picks (``kind`` as :func:`bootstrap_difference`); the picks'
    stability (:class:`Pick`). Without replicates the full-data picks (by the per-unit FIDs,
    else ``fallback``: setting -> table FID) are compared by :func:`setting_difference`."""
    _check_kind(kind)
    names = [*group_a, *group_b]
    points = [seed_fids(sweeps, sweep, s) for s in names]
    reps = [replicate_matrix(replicates, sweep, s) for s in names]
    dr = None
    if all(len(p) for p in points):
        dr = two_level_draws(points, reps)
    na = len(group_a)
    if dr is None:
        fb = fallback or {}

        def full(s: str, p: pd.Series) -> float:
            return float(units(p).groupby(level=0).mean().mean()) if len(p) else fb.get(s, math.nan)

        fids = [full(s, p) for s, p in zip(names, points, strict=True)]
        ia, ib = int(np.nanargmin(fids[:na])), na + int(np.nanargmin(fids[na:]))
        d = setting_difference(
            sweeps, replicates, sweep, (names[ia], names[ib]), (fids[ia], fids[ib])
        )
        return BestDifference(d, names[ia], names[ib], None, None)
    ia, ib = int(np.argmin(dr.point[:na])), na + int(np.argmin(dr.point[na:]))
    ja, jb = np.argmin(dr.draws[:na], axis=0), na + np.argmin(dr.draws[na:], axis=0)
    cols = np.arange(dr.replicates)
    d_draws = dr.draws[ja, cols] - dr.draws[jb, cols]
    point = float(dr.point[ia] - dr.point[ib])
    low, high, p = _interval(point, d_draws, kind)
    diff = PairedDifference(
        point, low, high, dr.n_seeds, float(dr.point[ib]), BOOTSTRAP, dr.replicates,
        dr.n_train, p,
    )  # fmt: skip
    pick_a = Pick(names[ia], int((ja == ia).sum()), dr.replicates, na)
    pick_b = Pick(names[ib], int((jb == ib).sum()), dr.replicates, len(group_b))
    return BestDifference(diff, names[ia], names[ib], pick_a, pick_b)


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
        frame = frame.assign(**{TRAIN_REPLICATE: np.int64(train)})
        if frame[[TRAIN_REPLICATE, "seed", "replicate"]].duplicated().any():
            raise ValueError(f"{path}: a (seed, replicate) appears twice; rerun its evaluation")
        for seed, g in frame.groupby([TRAIN_REPLICATE, "seed"]):
            reps = tuple(sorted(g["replicate"]))
            if ids.setdefault(seed, (setting, reps))[1] != reps:
                raise ValueError(
                    f"{path}: (train_replicate, seed) {seed} has other replicate ids than setting "
                    f"{ids[seed][0]!r}; every setting of a seed must use the same resamples"
                )
        cols = ["seed", "replicate", "fid", TRAIN_REPLICATE]
        frames.append(frame[cols].assign(sweep=sweep, setting=setting))
    out = pd.concat(frames, ignore_index=True)[REPLICATE_COLUMNS] if frames else None
    if out is None:
        out = pd.DataFrame(columns=REPLICATE_COLUMNS)
    save_parquet(out_path, out)
    return out
