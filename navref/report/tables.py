"""Tables 1-3 of the paper with our numbers beside the paper's, and the split-time table.

Input: the tidy sweep table ``results/metrics/sweeps.parquet`` with one row per
(``sweep``, ``setting``, ``seed``): ``num_samples``, the setting's columns and the metrics
``fid, kid_mean, kid_std, precision, recall, memorization_share, mean_nn1_dist``. Each of
:func:`table1`, :func:`table2`, :func:`table3` keeps its sweep's rows, aggregates over seeds
(mean and sample standard deviation, ddof = 1, so NaN with a single seed) and adds the
paper's gFID@50K (``paper_gfid``, NaN where the paper has no matching row).

Output columns of the aggregate (besides the setting's own columns): ``fid, fid_std, kid,
kid_std, precision, precision_std, recall, recall_std, memorization, memorization_std,
nn1_dist, nn1_dist_std`` (``kid`` is the mean over seeds of each run's ``kid_mean``; the
``_std`` columns are the spread over seeds), ``n_seeds``, ``seeds`` (e.g. "0,1,2"),
``num_samples`` (samples per run; the smallest when runs differ) and ``setting``.

Paired differences (issue 15, item 1): every row also shows FID(row) - FID(reference) with
its 95 % interval (:mod:`navref.report.paired`), the reference being Tab. 1: the (large,
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
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from navref.io import atomic_path, save_parquet
from navref.models.sizes import DIT_SIZES
from navref.report import paper
from navref.report.paired import BOOTSTRAP, MARGIN, NONE, PAIRED_T, setting_difference

__all__ = [
    "METRICS",
    "SIZE_ORDER",
    "aggregate_seeds",
    "display_frame",
    "final_checkpoints",
    "split_markdown",
    "split_table",
    "table1",
    "table2",
    "table3",
    "to_latex",
    "to_markdown",
    "write_split_table",
    "write_table",
]

#: input metric column -> output column name
METRICS = {
    "fid": "fid",
    "kid_mean": "kid",
    "precision": "precision",
    "recall": "recall",
    "memorization_share": "memorization",
    "mean_nn1_dist": "nn1_dist",
}

#: Model size names, smallest first (Tab. 1 maps the smallest to the paper's Base, the
#: largest to XL).
SIZE_ORDER = [*DIT_SIZES, "custom"]

#: the paired-difference columns, after ``paper_gfid``
PAIRED_COLUMNS = ["vs", "fid_diff", "fid_diff_low", "fid_diff_high", "fid_diff_by"]
#: how a method of :mod:`navref.report.paired` reads in a table's ``fid_diff_by``
_BY = {BOOTSTRAP: BOOTSTRAP, PAIRED_T: PAIRED_T, MARGIN: "one run, no interval", NONE: "—"}

_ROLE_ORDER = [("large", "large"), ("small", "large"), ("large", "small"), ("small", "small")]
_PAPER_NAME = {v: k for k, v in paper.ROLE_OF.items()}  # "small" -> "Base", "large" -> "XL"


# ----------------------------------------------------------------------------- helpers


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: the sweep table lacks columns {missing} (it has {list(frame.columns)}); "
            f"it must follow the results/metrics/sweeps.parquet contract"
        )


def _select(sweeps: pd.DataFrame, sweep: str, cols: Sequence[str]) -> pd.DataFrame:
    if not isinstance(sweeps, pd.DataFrame):
        raise ValueError(f"{sweep} table: expected a pandas DataFrame, got {type(sweeps)}")
    _require(sweeps, ["sweep", "setting", "seed", "num_samples", "fid"], f"{sweep} table")
    rows = sweeps[sweeps["sweep"] == sweep]
    if rows.empty:
        found = sorted(map(str, sweeps["sweep"].dropna().unique()))
        raise ValueError(
            f"{sweep} table: the sweep table has no rows with sweep == {sweep!r} (found {found}); "
            f"run that sweep or leave its table out of the report"
        )
    _require(rows, cols, f"{sweep} table")
    return rows.copy()


def _num(s: pd.Series) -> pd.Series:
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
    ``num_samples``."""
    out = []
    for setting, g in rows.groupby("setting", sort=False, dropna=False):
        if g["seed"].duplicated().any():
            dup = sorted(g.loc[g["seed"].duplicated(), "seed"].tolist())
            raise ValueError(
                f"sweep setting {setting!r}: seeds {dup} appear more than once; each (sweep, "
                f"setting, seed) must be one row"
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
        for src, dst in METRICS.items():
            x = _num(g[src]).to_numpy() if src in g.columns else np.full(len(g), np.nan)
            rec[dst] = _mean(x)
            rec[f"{dst}_std"] = _std(x)
        seeds = sorted(g["seed"].tolist())
        rec["n_seeds"] = len(seeds)
        rec["seeds"] = ",".join(str(s) for s in seeds)
        rec["num_samples"] = int(_num(g["num_samples"]).min())
        rec["setting"] = str(setting)
        out.append(rec)
    return pd.DataFrame(out)


def _order_columns(frame: pd.DataFrame, first: Sequence[str]) -> pd.DataFrame:
    metric_cols = []
    for dst in METRICS.values():
        metric_cols += [dst, f"{dst}_std"]
        if dst == "fid":
            metric_cols += ["paper_gfid", *PAIRED_COLUMNS]
    tail = ["n_seeds", "seeds", "num_samples", "setting"]
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
    the bootstrap ``replicates`` (:func:`navref.report.paired.setting_difference`); ``label``
    names the reference in ``vs``."""
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
             "fid_diff_by": _BY[d.method]}
        )  # fmt: skip
    return agg.assign(**pd.DataFrame(out, index=agg.index))


def _reference_of(agg: pd.DataFrame, mask: pd.Series) -> str | None:
    hit = agg.loc[mask, "setting"]
    return str(hit.iloc[0]) if len(hit) else None


# ----------------------------------------------------------------------------- Tab. 1


def _roles(sizes: pd.Series, size_order: Sequence[str]) -> dict[str, str]:
    order = [str(s) for s in size_order]
    present = sorted({str(s) for s in sizes.dropna()}, key=lambda s: (s not in order, s))
    unknown = [s for s in present if s not in order]
    if unknown:
        raise ValueError(
            f"table1: model sizes {unknown} are not in size_order {order}; pass every size "
            f"name of the stage-swap sweep, smallest first"
        )
    ranks = {s: order.index(s) for s in present}
    lo, hi = min(ranks.values()), max(ranks.values())
    roles = {}
    for s, r in ranks.items():
        if lo == hi:
            roles[s] = "single"
        elif r == lo:
            roles[s] = "small"
        elif r == hi:
            roles[s] = "large"
        else:
            roles[s] = "mid"
    return roles


def table1(
    sweeps: pd.DataFrame,
    size_order: Sequence[str],
    tau_map: Mapping[float, float] | None = None,
    replicates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tab. 1, stage swap: model ``stage1`` on [0, tau], ``stage2`` on [tau, 1].

    Sizes are mapped to the paper's roles with ``size_order`` (size names, smallest first):
    the smallest size present in the sweep is ``"small"`` (the paper's Base), the largest
    ``"large"`` (XL), any other ``"mid"`` (no paper row). ``tau_map`` maps one of our tau to
    the paper's tau it stands for, by multiples of each side's split
    (:func:`navref.report.build.tau_map_from`: our s1.0, e.g. 0.36, -> the paper's objective
    split 0.1; s2.0 -> 0.2); ``paper_tau`` shows the pairing; without a map a paper row
    matches only the same tau. Columns: ``tau, paper_tau, stage1, stage2,
    stage1_size, stage2_size, stage1_role, stage2_role, paper_stage1, paper_stage2``, the
    seed aggregate (module docstring), ``paper_gfid`` and the paired difference to the
    (large, large) pair of the same tau (``PAIRED_COLUMNS``; ``replicates``: the bootstrap
    replicates, optional). Sorted by tau, then the paper's row order.
    """
    cols = ["tau", "stage1", "stage2", "stage1_size", "stage2_size"]
    rows = _select(sweeps, "stage_swap", cols)
    rows["tau"] = _num(rows["tau"])
    agg = aggregate_seeds(rows, cols)
    roles = _roles(pd.concat([rows["stage1_size"], rows["stage2_size"]]), size_order)
    agg["stage1_role"] = agg["stage1_size"].astype(str).map(roles)
    agg["stage2_role"] = agg["stage2_size"].astype(str).map(roles)
    agg["paper_stage1"] = agg["stage1_role"].map(_PAPER_NAME)
    agg["paper_stage2"] = agg["stage2_role"].map(_PAPER_NAME)
    tmap = {float(k): float(v) for k, v in (tau_map or {}).items()}

    def paper_tau(t: float) -> float:
        for k, v in tmap.items():
            if math.isclose(t, k, abs_tol=1e-9):
                return v
        return t

    agg["paper_tau"] = agg["tau"].map(paper_tau)
    ref = paper.table1()
    gfid = []
    for _, r in agg.iterrows():
        hit = ref[
            np.isclose(ref["tau"], r["paper_tau"], atol=1e-9)
            & (ref["stage1_role"] == r["stage1_role"])
            & (ref["stage2_role"] == r["stage2_role"])
        ]
        gfid.append(float(hit["gfid"].iloc[0]) if len(hit) else math.nan)
    agg["paper_gfid"] = gfid
    large = (agg["stage1_role"] == "large") & (agg["stage2_role"] == "large")
    refs = [_reference_of(agg, large & np.isclose(agg["tau"], t)) for t in agg["tau"]]
    agg = paired_columns(agg, rows, refs, "(large, large), same tau", replicates)
    rank = {k: i for i, k in enumerate(_ROLE_ORDER)}
    agg["_r"] = [
        rank.get((a, b), len(rank))
        for a, b in zip(agg["stage1_role"], agg["stage2_role"], strict=True)
    ]
    agg = agg.sort_values(["tau", "_r", "stage1_size", "stage2_size"]).drop(columns="_r")
    first = [
        "tau",
        "paper_tau",
        "stage1",
        "stage2",
        "stage1_size",
        "stage2_size",
        "stage1_role",
        "stage2_role",
        "paper_stage1",
        "paper_stage2",
    ]
    return _order_columns(agg, first)


# ----------------------------------------------------------------------------- Tab. 2


def table2(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 2, timestep shift t_m = s t_n / (1 + (s - 1) t_n): columns ``shift`` (s),
    ``steps``, ``split_time``, ``share_below_split`` (ours: share of steps with t below our
    split time), ``paper_share_below_0.2`` (the paper's share below t = 0.2), the seed
    aggregate, ``paper_gfid`` (matched on s) and the paired difference to uniform, s = 1
    (``PAIRED_COLUMNS``; ``replicates`` optional). Sorted by s decreasing, as in the paper."""
    cols = ["shift", "steps", "share_below_split", "split_time"]
    rows = _select(sweeps, "timestep_shift", cols)
    rows["shift"] = _num(rows["shift"])
    agg = aggregate_seeds(rows, cols)
    steps = pd.to_numeric(agg["steps"], errors="coerce")
    if steps.notna().all() and (steps == steps.round()).all():
        agg["steps"] = steps.astype(int)
    ref = paper.table2()

    def match(s: float, col: str) -> float:
        hit = ref[np.isclose(ref["shift"], s, rtol=1e-6, atol=1e-9)]
        return float(hit[col].iloc[0]) if len(hit) else math.nan

    agg["paper_share_below_0.2"] = [match(s, "share_below_0.2") for s in agg["shift"]]
    agg["paper_gfid"] = [match(s, "gfid") for s in agg["shift"]]
    uniform = _reference_of(agg, np.isclose(agg["shift"].astype(float), 1.0))
    agg = paired_columns(agg, rows, [uniform] * len(agg), "s = 1 (uniform)", replicates)
    agg = agg.sort_values("shift", ascending=False)
    first = ["shift", "steps", "split_time", "share_below_split", "paper_share_below_0.2"]
    return _order_columns(agg, first)


# ----------------------------------------------------------------------------- Tab. 3


def _group(a: float, b: float) -> str:
    if math.isnan(a) and math.isnan(b):
        return "none"
    if math.isclose(b - a, 0.1, abs_tol=1e-6):
        return "width 0.1"
    return "wider"


def table3(sweeps: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tab. 3, CFG applied only for t in [cfg_a, cfg_b]: columns ``interval`` ("[a, b]" or
    "none" when both are NaN/None, i.e. no CFG), ``cfg_a``, ``cfg_b``, ``cfg_scale``,
    ``group`` ("none" / "width 0.1" / "wider"), the seed aggregate and ``paper_gfid``
    (matched on (a, b) among the paper's rows whose label is known) and the paired difference
    to no guidance (``PAIRED_COLUMNS``; ``replicates`` optional). Sorted: no CFG, then the
    width-0.1 intervals by a, then the wider ones by (a, b)."""
    cols = ["cfg_a", "cfg_b", "cfg_scale"]
    rows = _select(sweeps, "cfg_interval", cols)
    for c in ("cfg_a", "cfg_b"):
        rows[c] = _num(rows[c])
    agg = aggregate_seeds(rows, cols)
    agg["cfg_a"] = agg["cfg_a"].astype(float)
    agg["cfg_b"] = agg["cfg_b"].astype(float)
    bad = agg[agg["cfg_a"].isna() != agg["cfg_b"].isna()]
    if len(bad):
        raise ValueError(
            f"table3: settings {bad['setting'].tolist()} give only one end of the CFG interval; "
            f"give both cfg_a and cfg_b, or neither for 'no CFG'"
        )
    agg["interval"] = [
        paper.interval_label(a, b) for a, b in zip(agg["cfg_a"], agg["cfg_b"], strict=True)
    ]
    agg["group"] = [_group(a, b) for a, b in zip(agg["cfg_a"], agg["cfg_b"], strict=True)]
    ref = paper.table3()
    ref = ref[ref["label_known"]]
    gfid = []
    for _, r in agg.iterrows():
        if r["interval"] == "none":
            hit = ref[ref["interval"] == "none"]
        else:
            hit = ref[
                np.isclose(ref["cfg_a"], r["cfg_a"], atol=1e-6)
                & np.isclose(ref["cfg_b"], r["cfg_b"], atol=1e-6)
            ]
        gfid.append(float(hit["gfid"].iloc[0]) if len(hit) else math.nan)
    agg["paper_gfid"] = gfid
    none = _reference_of(agg, agg["interval"] == "none")
    agg = paired_columns(agg, rows, [none] * len(agg), "no CFG", replicates)
    agg["_g"] = agg["group"].map({"none": 0, "width 0.1": 1, "wider": 2})
    agg = agg.sort_values(["_g", "cfg_a", "cfg_b"], na_position="first").drop(columns="_g")
    return _order_columns(agg, ["interval", "cfg_a", "cfg_b", "cfg_scale", "group"])


def final_checkpoints(loss_curves: pd.DataFrame) -> pd.DataFrame:
    """The rows of each model's final checkpoint: its EMA checkpoint when it has one, else
    its largest step."""
    missing = [c for c in ("model", "step", "checkpoint") if c not in loss_curves.columns]
    if missing:
        raise ValueError(f"final_checkpoints: loss curves lack columns {missing}")
    parts = []
    for _, g in loss_curves.groupby("model", sort=True):
        ema = g[g["checkpoint"] == "ema"]
        if len(ema):
            parts.append(ema[ema["step"] == ema["step"].max()])
        else:
            parts.append(g[g["step"] == g["step"].max()])
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- output


def _fmt(x: object, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        if not np.isfinite(x):
            return "—"
        if float(x).is_integer() and abs(x) < 1e6:
            return f"{x:.1f}"
        return f"{x:.{digits}g}"
    if x is pd.NA or (isinstance(x, str) and x == ""):
        return "—"
    return str(x)


def _with_interval(frame: pd.DataFrame, c: str) -> list[str]:
    """Column ``c`` as "m [low, high]" (just m where the interval is NaN)."""
    vals = []
    for m, lo, hi in zip(frame[c], frame[f"{c}_low"], frame[f"{c}_high"], strict=True):
        ms = _fmt(m)
        if ms != "—" and np.isfinite(lo) and np.isfinite(hi):
            ms += f" [{_fmt(lo)}, {_fmt(hi)}]"
        vals.append(ms)
    return vals


def display_frame(frame: pd.DataFrame, pm: str = " ± ") -> pd.DataFrame:
    """A string copy of ``frame`` for reading: each column ``c`` that has a ``c_std`` column
    becomes "mean ± std" (just the mean when the std is NaN) and ``c_std`` is dropped; one
    with ``c_low`` and ``c_high`` columns becomes "m [low, high]" and those are dropped;
    floats get 4 significant digits, NaN shows as "—"."""
    out = {}
    derived = {f"{c}{tail}" for c in frame.columns for tail in ("_std", "_low", "_high")}
    for c in frame.columns:
        if c in derived:
            continue
        if f"{c}_low" in frame.columns and f"{c}_high" in frame.columns:
            out[c] = _with_interval(frame, c)
            continue
        std_col = f"{c}_std"
        if std_col in frame.columns:
            vals = []
            for m, s in zip(frame[c], frame[std_col], strict=True):
                ms = _fmt(m)
                if ms != "—" and s is not None and np.isfinite(s):
                    ms += pm + f"{s:.2g}"
                vals.append(ms)
            out[c] = vals
        else:
            out[c] = [_fmt(v) for v in frame[c]]
    return pd.DataFrame(out, columns=list(out))


def to_markdown(frame: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown of :func:`display_frame` (``DataFrame.to_markdown``,
    tabulate's ``github`` format; ``|`` inside cells escaped)."""
    disp = display_frame(frame).map(lambda v: str(v).replace("|", "\\|"))
    disp.columns = [str(c).replace("|", "\\|") for c in disp.columns]
    return disp.to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"


_TEX_ESC = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$"}


def _tex(s: str) -> str:
    out = "".join(_TEX_ESC.get(ch, ch) for ch in s)
    return out.replace("—", "--").replace("±", r"$\pm$")


def to_latex(frame: pd.DataFrame) -> str:
    """A LaTeX ``tabular`` (booktabs rules) of :func:`display_frame`."""
    disp = display_frame(frame)
    disp = disp.map(_tex)
    disp.columns = [_tex(str(c)) for c in disp.columns]
    return disp.to_latex(index=False, escape=False, column_format="l" * disp.shape[1])


def _stem(stem: str | os.PathLike) -> Path:
    s = Path(stem)
    if s.suffix in {".parquet", ".md", ".tex", ".png", ".pdf"}:
        s = s.with_suffix("")
    return s


def write_table(frame: pd.DataFrame, stem: str | os.PathLike) -> list[Path]:
    """Write ``frame`` as ``{stem}.parquet`` (all columns, numeric), ``{stem}.md`` and
    ``{stem}.tex`` (the readable :func:`display_frame`), each atomically. Returns the paths."""
    s = _stem(stem)
    paths = [Path(f"{s}.parquet"), Path(f"{s}.md"), Path(f"{s}.tex")]
    save_parquet(paths[0], frame)
    with atomic_path(paths[1], suffix=".md") as tmp:
        tmp.write_text(to_markdown(frame))
    with atomic_path(paths[2], suffix=".tex") as tmp:
        tmp.write_text(to_latex(frame))
    return paths


# ----------------------------------------------------------------------------- split times


def split_table(split_times: pd.DataFrame) -> pd.DataFrame:
    """The split times of ``results/oracle/split_times.parquet``, sorted: the real latent
    spaces (``curve == "objective"``) by space and conditioning, then the synthetic Gaussians
    by (dim, size). ``t_split`` is NaN where the threshold was never reached."""
    _require(
        split_times,
        ["curve", "threshold", "t_split", "t_split_grid", "reached"],
        "split-time table",
    )
    f = split_times.copy()
    for c in ("space", "conditional", "dim", "size"):
        if c not in f.columns:
            f[c] = np.nan
    f["_c"] = (f["curve"] != "objective").astype(int)
    f = f.sort_values(["_c", "space", "dim", "size"], na_position="last").drop(columns="_c")
    cols = ["curve", "space", "conditional", "dim", "size", "threshold"]
    cols += ["t_split", "t_split_grid", "reached"]
    return f[cols].reset_index(drop=True)


def split_sections(split_times: pd.DataFrame) -> tuple[str, list[tuple[str, pd.DataFrame]]]:
    """The split-time table for reading: (one sentence on the threshold, [(title, frame)]):
    the split time per latent space (rows: space, columns: conditional / unconditional) and,
    for the synthetic Gaussians, t_split with D in rows and N in columns ("not reached" where
    the threshold was never reached, "—" where the curve was not computed)."""
    f = split_table(split_times)
    thr = ", ".join(sorted({_fmt(float(x)) for x in f["threshold"]}))
    intro = (
        f"Split time: first t (0 = noise, 1 = data) at which the mean top-1 posterior weight "
        f"reaches {thr} (linear interpolation between grid points)."
    )

    def cell(r: pd.Series) -> str:
        return f"{r['t_split']:.3f}" if bool(r["reached"]) else "not reached"

    sections = []
    obj = f[f["curve"] == "objective"]
    if len(obj):
        rows = []
        for space, g in obj.groupby("space", sort=True):
            rec = {"space": space}
            for _, r in g.iterrows():
                key = "conditional" if bool(r["conditional"]) else "unconditional"
                rec[key] = cell(r)
            rows.append(rec)
        sections.append(("Latent spaces", pd.DataFrame(rows).fillna("—")))
    syn = f[f["curve"] == "synthetic"]
    if len(syn):
        syn = syn.assign(cell=[cell(r) for _, r in syn.iterrows()])
        piv = syn.pivot_table(index="dim", columns="size", values="cell", aggfunc="first")
        piv = piv.sort_index().reindex(sorted(piv.columns), axis=1).fillna("—")
        piv.columns = [f"N = {int(c)}" for c in piv.columns]
        piv.insert(0, "D", [str(int(d)) for d in piv.index])
        title = "Synthetic unit Gaussians (rows: dimension D, columns: size N)"
        sections.append((title, piv.reset_index(drop=True)))
    return intro, sections


def split_markdown(split_times: pd.DataFrame) -> str:
    """Markdown of :func:`split_sections`: the sentence, then each section as a bold title
    and a table."""
    intro, sections = split_sections(split_times)
    parts = [intro + "\n"]
    for title, frame in sections:
        head, _, rest = title.partition(" (")
        title_md = f"**{head}**" + (f" ({rest}" if rest else "")
        parts.append(f"\n{title_md}\n\n")
        parts.append(_plain_md(frame))
    return "".join(parts)


def _plain_md(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_split_table(split_times: pd.DataFrame, stem: str | os.PathLike) -> list[Path]:
    """Write ``{stem}.md`` (:func:`split_markdown`) and ``{stem}.parquet``
    (:func:`split_table`), atomically. Returns the paths."""
    s = _stem(stem)
    paths = [Path(f"{s}.md"), Path(f"{s}.parquet")]
    with atomic_path(paths[0], suffix=".md") as tmp:
        tmp.write_text(split_markdown(split_times))
    save_parquet(paths[1], split_table(split_times))
    return paths
