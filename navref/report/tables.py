"""What the report writes of the tables: Tab. 1-3 (each computed by its sweep kind,
``Sweep.table`` of :mod:`navref.sweeps`) as Parquet, Markdown, LaTeX and readable frames,
and the split-time table.

Time convention: t in [0, 1], t = 0 noise, t = 1 data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from navref.io import atomic_path, save_parquet
from navref.sweeps.table import require as _require

__all__ = [
    "display_frame",
    "final_checkpoints",
    "legend",
    "split_markdown",
    "split_table",
    "to_latex",
    "to_markdown",
    "write_split_table",
    "write_table",
]


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


def legend(frame: pd.DataFrame) -> str:
    """What the readable table's "±" and "[low, high]" are (issue 24, item 7): the sample
    standard deviation (ddof = 1) over the n sampling seeds of each row (``n_seeds``; the
    ``seeds`` named), and the 95 % interval of the paired FID difference by the method in
    ``fid_diff_by``; empty when the frame has neither."""
    parts = []
    if any(c.endswith("_std") for c in frame.columns) and "n_seeds" in frame.columns:
        n = sorted({int(x) for x in frame["n_seeds"].dropna()})
        n_txt = " or ".join(str(x) for x in n) or "?"
        seeds = sorted({str(x) for x in frame.get("seeds", pd.Series(dtype=str)).dropna()})
        named = f" (seeds {'; '.join(seeds)})" if seeds else ""
        parts.append(f"mean ± sample standard deviation over n = {n_txt} sampling seeds{named}")
    if "fid_diff_low" in frame.columns:
        parts.append(
            "fid_diff [low, high]: FID(row) - FID(vs) with its 95 % interval, method in fid_diff_by"
        )
    return "; ".join(parts) + ("." if parts else "")


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
    ``{stem}.tex`` (the readable :func:`display_frame`, followed by its :func:`legend`), each
    atomically. Returns the paths."""
    s = _stem(stem)
    paths = [Path(f"{s}.parquet"), Path(f"{s}.md"), Path(f"{s}.tex")]
    save_parquet(paths[0], frame)
    note = legend(frame)
    with atomic_path(paths[1], suffix=".md") as tmp:
        tmp.write_text(to_markdown(frame) + (f"\n{note}\n" if note else ""))
    with atomic_path(paths[2], suffix=".tex") as tmp:
        tmp.write_text(to_latex(frame) + (f"\n{_tex(note)}\n" if note else ""))
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
