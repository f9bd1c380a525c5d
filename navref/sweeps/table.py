"""What the sweeps' tables share: the seed aggregate and the paired differences.

Input: the tidy per-seed sweep table ``results/<run>/metrics/<sweep>.parquet`` (rows of
``metrics/sweeps.parquet``, :func:`navref.evaluation.gather_metrics`) with one row per (``sweep``,
``setting``, ``seed``): ``num_samples``, the setting's columns and the metrics ``fid,
kid_mean, kid_std, precision, recall, memorization_share, mean_nn1_dist``. Each kind's table
(``table1`` of :mod:`navref.sweeps.stage_swap`, ``table2`` of
:mod:`navref.sweeps.timestep_shift`, ``table3`` of :mod:`navref.sweeps.cfg_interval`) keeps
its sweep's rows (:func:`select`), aggregates over seeds (:func:`aggregate_seeds`: mean and
sample standard deviation, ddof = 1, so NaN with a single seed) and adds the paper's
gFID@50K (``paper_gfid``, NaN where the paper has no matching row).

Output columns of the aggregate (besides the setting's own columns): ``fid, fid_std, kid,
kid_std, precision, precision_std, recall, recall_std, memorization, memorization_std,
nn1_dist, nn1_dist_std`` (``kid`` is the mean over seeds of each run's ``kid_mean``; the
``_std`` columns are the spread over seeds), ``n_seeds``, ``seeds`` (e.g. "0,1,2"),
``num_samples`` (samples per run; the smallest when runs differ) and ``setting``. With
several training replicates (``train_replicate``, :mod:`navref.replicates`) also
``<metric>_std_train`` (the spread over training seeds) and ``n_train``, and ``_std`` is
the sampling spread within a replicate (:func:`aggregate_seeds`).

Paired differences (issue 15, item 1): every row also shows FID(row) - FID(reference) with
its 95 % interval (:mod:`navref.sweeps.paired`), the reference being Tab. 1: the (large,
large) pair at the same tau, Tab. 2: uniform (s = 1), Tab. 3: no guidance. Columns ``vs``
(the reference, "reference" on its own row), ``fid_diff``, ``fid_diff_low``,
``fid_diff_high`` and ``fid_diff_by`` (the method: paired bootstrap from the replicates
``sweep, setting, seed, replicate, fid`` when given, else paired t over >= 2 seeds, else one
run without an interval). All settings of one seed share their noise, so the difference's
interval is narrower than the seed spreads ``fid_std`` suggest.

Time convention: t in [0, 1], t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: input metric column -> output column name
METRICS = {
    "fid": "fid",
    "kid_mean": "kid",
    "precision": "precision",
    "recall": "recall",
    "memorization_share": "memorization",
    "mean_nn1_dist": "nn1_dist",
}

#: the paired-difference columns, after ``paper_gfid``
PAIRED_COLUMNS = ["vs", "fid_diff", "fid_diff_low", "fid_diff_high", "fid_diff_by"]


def require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: the sweep table lacks columns {missing} (it has {list(frame.columns)}); "
            f"it must follow the results/metrics/sweeps.parquet contract"
        )


def select(sweeps: pd.DataFrame, sweep: str, cols: Sequence[str]) -> pd.DataFrame:
    if not isinstance(sweeps, pd.DataFrame):
        raise ValueError(f"{sweep} table: expected a pandas DataFrame, got {type(sweeps)}")
    require(sweeps, ["sweep", "setting", "seed", "num_samples", "fid"], f"{sweep} table")
    rows = sweeps[sweeps["sweep"] == sweep]
    if rows.empty:
        found = sorted(map(str, sweeps["sweep"].dropna().unique()))
        raise ValueError(
            f"{sweep} table: the sweep table has no rows with sweep == {sweep!r} (found {found}); "
            f"run that sweep or leave its table out of the report"
        )
    require(rows, cols, f"{sweep} table")
    return rows.copy()


def num(s: pd.Series) -> pd.Series:
    """Numeric view of a column that may hold None (object dtype) for 'missing'."""
    return pd.to_numeric(s, errors="coerce").astype(float)


def _std(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1)) if x.size > 1 else math.nan


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else math.nan


def aggregate_seeds(rows: pd.DataFrame, setting_cols: Sequence[str]) -> pd.DataFrame:
    """One row per ``setting``: the setting columns (constant within a setting, else an error),
    metric mean and seed std (see the module docstring), ``n_seeds``, ``seeds``,
    ``num_samples``.

    Training replicates (``train_replicate``, :mod:`navref.replicates`): where some setting
    of ``rows`` has R >= 2, each metric's mean is the mean over replicates of the
    per-replicate mean over sampling seeds, ``<metric>_std`` the mean over replicates of
    the std over sampling seeds (the sampling spread), ``<metric>_std_train`` the std over
    replicates (ddof = 1) of the per-replicate means (the training spread), ``n_train``
    the number of replicates and ``n_seeds`` the number of sampling seeds. With one
    replicate everywhere the table is as without the column (no ``_std_train``, ``n_train``).
    """
    train = "train_replicate" in rows.columns and bool(
        (rows.groupby("setting", dropna=False)["train_replicate"].nunique() > 1).any()
    )
    unit = ["train_replicate", "seed"] if "train_replicate" in rows.columns else ["seed"]
    out = []
    for setting, g in rows.groupby("setting", sort=False, dropna=False):
        if g[unit].duplicated().any():
            dup = sorted(g.loc[g[unit].duplicated(), "seed"].tolist())
            raise ValueError(
                f"sweep setting {setting!r}: seeds {dup} appear more than once (per training "
                f"replicate); each (sweep, setting, train_replicate, seed) must be one row"
            )
        rec: dict = {}
        for c in setting_cols:
            vals = g[c]
            uniq = vals.dropna().unique() if vals.notna().any() else []
            if len(uniq) > 1:
                raise ValueError(
                    f"sweep setting {setting!r}: column {c!r} differs between seeds "
                    f"({list(uniq)}); a setting id must name one configuration"
                )
            rec[c] = uniq[0] if len(uniq) else vals.iloc[0]
        reps = [r for _, r in g.groupby("train_replicate", sort=True)] if train else [g]
        for src, dst in METRICS.items():
            per = [
                num(r[src]).to_numpy() if src in r.columns else np.full(len(r), np.nan)
                for r in reps
            ]
            if not train:
                rec[dst], rec[f"{dst}_std"] = _mean(per[0]), _std(per[0])
                continue
            means = np.array([_mean(x) for x in per])
            rec[dst] = _mean(means)
            rec[f"{dst}_std"] = _mean(np.array([_std(x) for x in per]))
            rec[f"{dst}_std_train"] = _std(means)
        seeds = sorted(set(g["seed"].tolist()))
        if train:
            rec["n_train"] = len(reps)
        rec["n_seeds"] = len(seeds)
        rec["seeds"] = ",".join(str(s) for s in seeds)
        rec["num_samples"] = int(num(g["num_samples"]).min())
        rec["setting"] = str(setting)
        out.append(rec)
    return pd.DataFrame(out)


def order_columns(frame: pd.DataFrame, first: Sequence[str]) -> pd.DataFrame:
    metric_cols = []
    for dst in METRICS.values():
        metric_cols += [dst, f"{dst}_std", f"{dst}_std_train"]
        if dst == "fid":
            metric_cols += ["paper_gfid", *PAIRED_COLUMNS]
    tail = ["n_train", "n_seeds", "seeds", "num_samples", "setting"]
    cols = [*first, *metric_cols, *tail]
    rest = [c for c in frame.columns if c not in cols]
    return frame[[c for c in cols if c in frame.columns] + rest].reset_index(drop=True)


def paired_columns(
    agg: pd.DataFrame,
    rows: pd.DataFrame,
    refs: Sequence[str | None],
    label: str,
    replicates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``agg`` with ``PAIRED_COLUMNS`` (module docstring): per row, FID(row) - FID(its
    reference setting ``refs[i]``, None for none), from the per-seed ``rows`` of one sweep and
    the bootstrap ``replicates`` (:func:`navref.sweeps.paired.setting_difference`); ``label``
    names the reference in ``vs``."""
    # scipy.stats: imported when a table is made, not when the rules parse the kinds
    from navref.sweeps.paired import BOOTSTRAP, MARGIN, NONE, PAIRED_T, setting_difference

    by = {BOOTSTRAP: BOOTSTRAP, PAIRED_T: PAIRED_T, MARGIN: "one run, no interval", NONE: "—"}
    sweep = str(rows["sweep"].iloc[0])
    fid = dict(zip(agg["setting"], agg["fid"], strict=True))
    out = []
    for setting, ref in zip(agg["setting"], refs, strict=True):
        if ref is None or ref == setting:
            vs = "reference" if ref == setting else "—"
            out.append({"vs": vs, "fid_diff": math.nan, "fid_diff_low": math.nan,
                        "fid_diff_high": math.nan, "fid_diff_by": "—"})  # fmt: skip
            continue
        d = setting_difference(rows, replicates, sweep, (setting, ref), (fid[setting], fid[ref]))
        out.append(
            {"vs": label, "fid_diff": d.mean, "fid_diff_low": d.low, "fid_diff_high": d.high,
             "fid_diff_by": by[d.method]}
        )  # fmt: skip
    return agg.assign(**pd.DataFrame(out, index=agg.index))


def reference_of(agg: pd.DataFrame, mask: pd.Series) -> str | None:
    hit = agg.loc[mask, "setting"]
    return str(hit.iloc[0]) if len(hit) else None
