"""The paper's figures from the pipeline's tidy tables (matplotlib Agg + seaborn).

Every ``fig_*`` function takes DataFrames (and, for image grids, PNG paths), writes
``{stem}.png`` and ``{stem}.pdf`` atomically (:func:`navref.io.atomic_path`) and returns a
:class:`FigureResult` with the written paths, the tidy data that was plotted, the vertical
split-time lines drawn (``panel, label, t``) and the axes, so that tests and callers can
check what was drawn. No pyplot state is used: each figure is a standalone
:class:`matplotlib.figure.Figure` on an Agg canvas.

Time convention on every time axis: t in [0, 1], t = 0 is noise, t = 1 is data
(``TIME_LABEL``). Every per-t plot marks the split time(s) passed in with a vertical line
(``gid == "split"``): the first t at which the mean top-1 posterior weight of the oracle
reaches the configured threshold (``results/<run_name>/oracle/split_times.parquet``;
:meth:`navref.analysis.split_times.SplitTimes.for_space` picks one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from scipy.stats import binomtest

from navref.io import atomic_path
from navref.report.selection import tau_text
from navref.report.tables import final_checkpoints
from navref.sweeps.plan import by_table

__all__ = [
    "MIXED_GRID_ROWS",
    "QUANTITY_COLORS",
    "TIME_LABEL",
    "TAU_LABEL",
    "UNSEEN_GRID_ROWS",
    "FigureResult",
    "SplitArg",
    "fig_intermediate_curve",
    "fig_intermediate_grid",
    "fig_loss_by_size",
    "fig_loss_by_space",
    "fig_losses",
    "fig_mixed",
    "fig_mixed_grid",
    "fig_objective",
    "fig_sweep_fid",
    "fig_sweep_samples",
    "fig_synthetic",
    "fig_tau_grid",
    "fig_training",
    "fig_unseen",
    "fig_unseen_grid",
    "final_checkpoints",
    "save_figure",
    "sweep_sample_rows",
]

TIME_LABEL = "t (0 = noise, 1 = data)"
TAU_LABEL = "handover time τ (0 = noise, 1 = data)"
PANEL_W, PANEL_H = 4.4, 2.8
STYLE = "whitegrid"
CONTEXT = "paper"

#: a split time: one value, several labelled values, or none
SplitArg = float | Mapping[str, float] | None


@dataclass
class FigureResult:
    """What a ``fig_*`` function wrote and drew."""

    paths: list[Path]
    data: pd.DataFrame
    splits: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["panel", "label", "t"])
    )
    axes: list[Axes] = field(default_factory=list)


# ----------------------------------------------------------------------------- helpers


def _figure(ncols: int, nrows: int = 1, w: float = PANEL_W, h: float = PANEL_H, **kw):
    """A Figure on an Agg canvas with seaborn's style, and its axes as a flat list."""
    with sns.axes_style(STYLE), sns.plotting_context(CONTEXT):
        fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, [ax for row in axes for ax in row]


def _stem(stem: str | os.PathLike) -> Path:
    s = Path(stem)
    return s.with_suffix("") if s.suffix in {".png", ".pdf"} else s


def save_figure(fig: Figure, stem: str | os.PathLike, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``{stem}.png`` (``dpi``) and ``{stem}.pdf``, each atomically."""
    s = _stem(stem)
    for ax in fig.axes:
        _legend_out(ax)
    paths = []
    for ext in ("png", "pdf"):
        path = Path(f"{s}.{ext}")
        with atomic_path(path, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", pad_inches=0.05)
        paths.append(path)
    return paths


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what}: expected a pandas DataFrame, got {type(frame)}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what}: input lacks columns {missing} (it has {list(frame.columns)}); check "
            f"that the right Parquet table was passed"
        )
    if frame.empty:
        raise ValueError(f"{what}: input table is empty; nothing to plot")


def _split_items(split: SplitArg) -> list[tuple[str, float]]:
    if split is None:
        return []
    if isinstance(split, Mapping):
        items = [(str(k), float(v)) for k, v in split.items()]
    else:
        items = [("split", float(split))]
    return [(k, v) for k, v in items if np.isfinite(v)]


_LINESTYLES = ["--", ":", "-.", (0, (5, 1, 1, 1))]


def _vlines(
    ax: Axes,
    panel: int,
    split: SplitArg,
    rows: list[dict],
    color: str = "0.35",
) -> None:
    """Mark each split time with a vertical line (gid "split") and record it in ``rows``."""
    for i, (label, t) in enumerate(_split_items(split)):
        ls = _LINESTYLES[i % len(_LINESTYLES)]
        text = f"split t = {t:.2f}" if label == "split" else f"split {label}: t = {t:.2f}"
        line = ax.axvline(t, color=color, ls=ls, lw=1.0, label=text, zorder=1)
        line.set_gid("split")
        ax.text(
            t,
            1.0,
            f" {t:.2f}",
            transform=ax.get_xaxis_transform(),
            fontsize="x-small",
            color=color,
            ha="left",
            va="top",
        )
        rows.append({"panel": panel, "label": label, "t": t})


def _splits_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["panel", "label", "t"])


def _legend_out(ax: Axes) -> None:
    """Move the axes' legend (if any) outside, to the right of the axes."""
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)


def _time_axis(ax: Axes, label: str = TIME_LABEL) -> None:
    ax.set_xlabel(label)
    ax.set_xlim(-0.02, 1.02)


def _palette(n: int, sequential: bool = False) -> list:
    return sns.color_palette("viridis" if sequential else "colorblind", max(n, 1))


# ----------------------------------------------------------------------------- Fig. 2


def _objective_split_lines(
    axes: Sequence[Axes], split_times: pd.DataFrame | None, colors: Mapping[str, object]
) -> list[dict]:
    """Fig. 2's split times as vertical lines (dotted: conditional, dash-dot: unconditional)
    in each space's colour on every panel; returns one record per line drawn."""
    rows: list[dict] = []
    if split_times is None or not len(split_times):
        return rows
    for _, r in split_times[split_times["curve"] == "objective"].iterrows():
        if not bool(r["reached"]) or str(r["space"]) not in colors:
            continue
        cond = "conditional" if bool(r["conditional"]) else "unconditional"
        for i, ax in enumerate(axes):
            line = ax.axvline(
                r["t_split"], color=colors[str(r["space"])],
                ls=":" if cond == "conditional" else "-.", lw=1.0, zorder=1,
            )  # fmt: skip
            line.set_gid("split")
            rows.append({"panel": i, "label": f"{r['space']} {cond}", "t": float(r["t_split"])})
    return rows


def fig_objective(
    objective: pd.DataFrame,
    split_times: pd.DataFrame | None,
    stem: str | os.PathLike,
    *,
    logy: bool = False,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 2: (a) objective gap E||(x1 - x0) - v*(x_t, t)||^2 / D vs t with its 95 % band
    (gap ± 1.96 gap_se); (b) mean top-1 posterior weight vs t with the 5-95 % and 25-75 %
    quantile bands of the queries. Colour: latent space; solid: class-conditional oracle,
    dashed: unconditional. Split times of each (space, conditioning) from ``split_times``
    (``curve == "objective"``) as vertical lines in the space's colour."""
    cols = ["space", "conditional", "t", "gap_mse", "gap_se", "top1_mean"]
    cols += ["top1_q05", "top1_q25", "top1_q75", "top1_q95"]
    _require(objective, cols, "fig_objective")
    data = objective[cols].copy().sort_values(["space", "conditional", "t"])
    data["conditioning"] = np.where(
        data["conditional"].astype(bool), "conditional", "unconditional"
    )
    spaces = sorted(data["space"].astype(str).unique())
    colors = dict(zip(spaces, _palette(len(spaces)), strict=True))
    dashes = {"conditional": "", "unconditional": (4, 2)}
    fig, axes = _figure(2)
    style_order = [c for c in ("conditional", "unconditional") if c in set(data["conditioning"])]
    for ax, y in zip(axes, ("gap_mse", "top1_mean"), strict=True):
        sns.lineplot(
            data=data,
            x="t",
            y=y,
            hue="space",
            hue_order=spaces,
            palette=colors,
            style="conditioning",
            style_order=style_order,
            dashes=dashes,
            errorbar=None,
            ax=ax,
            legend=ax is axes[1],
        )
    for (space, _cond), g in data.groupby(["space", "conditioning"], sort=True):
        c = colors[str(space)]
        lo = g["gap_mse"] - 1.96 * g["gap_se"].fillna(0)
        hi = g["gap_mse"] + 1.96 * g["gap_se"].fillna(0)
        axes[0].fill_between(g["t"], lo, hi, color=c, alpha=0.2, lw=0)
        axes[1].fill_between(g["t"], g["top1_q05"], g["top1_q95"], color=c, alpha=0.12, lw=0)
        axes[1].fill_between(g["t"], g["top1_q25"], g["top1_q75"], color=c, alpha=0.25, lw=0)
    rows = _objective_split_lines(axes, split_times, colors)
    axes[0].set_ylabel("objective gap ‖u − v*‖² / D")
    axes[0].set_title("(a) CFM target vs oracle")
    if logy:
        axes[0].set_yscale("log")
    axes[1].set_ylabel("top-1 posterior weight max γᵢ")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_title("(b) posterior concentration")
    for ax in axes:
        _time_axis(ax)
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame(rows), axes)


# ----------------------------------------------------------------------------- Fig. 3


def fig_synthetic(
    synthetic: pd.DataFrame,
    split_times: pd.DataFrame | None,
    stem: str | os.PathLike,
    *,
    facet: str = "size",
    band: bool = True,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 3: mean top-1 posterior weight vs t for synthetic unit Gaussians over the D x N
    grid, one panel per value of ``facet`` ("size": N, or "dim": D), colour by the other; the
    25-75 % quantile band when ``band``; the split time of each (D, N) that reached the
    threshold as a vertical line in its curve's colour (unreached ones are not drawn)."""
    if facet not in ("size", "dim"):
        raise ValueError(f"fig_synthetic: facet must be 'size' or 'dim', got {facet!r}")
    hue = "dim" if facet == "size" else "size"
    cols = ["dim", "size", "t", "top1_mean", "top1_q25", "top1_q75"]
    _require(synthetic, cols, "fig_synthetic")
    data = synthetic[cols].copy().sort_values(["dim", "size", "t"])
    name = {"dim": "D", "size": "N"}
    data["curve"] = [f"{name[hue]} = {int(v)}" for v in data[hue]]
    hue_vals = sorted(data[hue].unique())
    hue_order = [f"{name[hue]} = {int(v)}" for v in hue_vals]
    colors = dict(zip(hue_order, _palette(len(hue_order), sequential=True), strict=True))
    panels = sorted(data[facet].unique())
    fig, axes = _figure(len(panels), sharey=True)
    rows: list[dict] = []
    sp = None
    if split_times is not None and len(split_times):
        sp = split_times[split_times["curve"] == "synthetic"]
    for i, (ax, pv) in enumerate(zip(axes, panels, strict=True)):
        g = data[data[facet] == pv]
        sns.lineplot(
            data=g,
            x="t",
            y="top1_mean",
            hue="curve",
            hue_order=[h for h in hue_order if h in set(g["curve"])],
            palette=colors,
            errorbar=None,
            ax=ax,
            legend=i == len(panels) - 1,
        )
        if ax.get_legend() is not None:
            ax.get_legend().set_title(None)
        if band:
            for lab, gg in g.groupby("curve"):
                ax.fill_between(
                    gg["t"], gg["top1_q25"], gg["top1_q75"], color=colors[lab], alpha=0.2, lw=0
                )
        if sp is not None:
            for _, r in sp[np.isclose(sp[facet].astype(float), float(pv))].iterrows():
                if not bool(r["reached"]):
                    continue
                lab = f"{name[hue]} = {int(r[hue])}"
                if lab not in colors:
                    continue
                line = ax.axvline(r["t_split"], color=colors[lab], ls=":", lw=1.0, zorder=1)
                line.set_gid("split")
                rows.append({"panel": i, "label": lab, "t": float(r["t_split"])})
        ax.set_title(f"{name[facet]} = {int(pv)}")
        ax.set_ylabel("top-1 posterior weight max γᵢ")
        ax.set_ylim(-0.02, 1.02)
        _time_axis(ax)
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame(rows), axes)


# ----------------------------------------------------------------------------- Fig. 4 / 8


def _load_image(path: str | os.PathLike) -> np.ndarray:
    from PIL import Image

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"image grid {p} does not exist; run the probe that writes it first"
        )
    with Image.open(p) as im:
        return np.asarray(im.convert("RGB"))


def fig_intermediate_grid(
    intermediate: pd.DataFrame,
    images: Mapping[str, str | os.PathLike],
    stem: str | os.PathLike,
    split_t: float | Mapping[str, float] | None = None,
    *,
    final_column: bool = True,
    dpi: int = 200,
) -> FigureResult:
    """Fig. 4 / 8: the intermediate predictions x1_hat = x_t + (1 - t) v(x_t, t) of each model,
    composed from the probe's PNG grids ``images[model]`` (rows: samples, columns: the model's
    recorded t values from ``intermediate`` in increasing order, then, with ``final_column``
    as :func:`navref.probe_runs.run_intermediate` writes it, the final sample), one panel per model,
    with the t of each column as tick labels ("final" for the last) and the split time as a
    vertical line between the columns it falls between (linear in column position);
    ``split_t`` one time for all panels or {model: its space's split time}."""
    _require(intermediate, ["model", "t"], "fig_intermediate_grid")
    if not images:
        raise ValueError("fig_intermediate_grid: no images given; pass {model: png_path}")
    models = list(images)
    imgs = {m: _load_image(images[m]) for m in models}
    h_in = sum(img.shape[0] / img.shape[1] for img in imgs.values()) * 6.5
    fig, axes = _figure(1, len(models), w=6.5, h=max(1.2, h_in / len(models) + 0.5))
    rows: list[dict] = []
    recs = []
    for i, (ax, m) in enumerate(zip(axes, models, strict=True)):
        ts = np.sort(intermediate.loc[intermediate["model"] == m, "t"].astype(float).unique())
        if ts.size == 0:
            raise ValueError(f"fig_intermediate_grid: intermediate table has no rows for {m!r}")
        img = imgs[m]
        ax.imshow(img, interpolation="nearest")
        ncols = ts.size + int(final_column)
        all_centers = (np.arange(ncols) + 0.5) * img.shape[1] / ncols
        centers = all_centers[: ts.size]
        labels = [f"{t:.2f}" for t in ts] + (["final"] if final_column else [])
        ax.set_xticks(all_centers, labels)
        ax.set_yticks([])
        ax.set_ylabel(str(m))
        ax.grid(False)
        ax.set_xlabel(TIME_LABEL if i == len(models) - 1 else "")
        for t, c in zip(ts, centers, strict=True):
            recs.append({"model": m, "t": float(t), "x": float(c), "path": str(images[m])})
        t_split = split_t.get(m) if isinstance(split_t, Mapping) else split_t
        if (
            t_split is not None
            and np.isfinite(t_split)
            and ts.size > 1
            and ts[0] <= t_split <= ts[-1]
        ):
            x = float(np.interp(t_split, ts, centers))
            line = ax.axvline(x, color="red", ls="--", lw=1.0)
            line.set_gid("split")
            rows.append({"panel": i, "label": "split", "t": float(t_split), "x": x})
    splits = pd.DataFrame(rows, columns=["panel", "label", "t", "x"])
    return FigureResult(save_figure(fig, stem, dpi), pd.DataFrame(recs), splits, axes)


def fig_intermediate_curve(
    intermediate: pd.DataFrame,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 4 / 8, settledness: (a) mean relative distance ||x1_hat(t) - x_final|| /
    ||x_final|| vs t per model with its 95 % band (± 1.96 rel_l2_std / sqrt(n)); (b) the MSE
    ||x1_hat - x_final||^2 / D (log scale)."""
    _require(
        intermediate, ["model", "t", "mse", "rel_l2", "rel_l2_std", "n"], "fig_intermediate_curve"
    )
    data = intermediate[["model", "t", "mse", "rel_l2", "rel_l2_std", "n"]].copy()
    data = data.sort_values(["model", "t"])
    data["model"] = data["model"].astype(str)
    models = sorted(data["model"].unique())
    colors = dict(zip(models, _palette(len(models)), strict=True))
    fig, axes = _figure(2)
    rows: list[dict] = []
    for i, (ax, y) in enumerate(zip(axes, ("rel_l2", "mse"), strict=True)):
        sns.lineplot(
            data=data,
            x="t",
            y=y,
            hue="model",
            hue_order=models,
            palette=colors,
            errorbar=None,
            marker="o",
            ax=ax,
            legend=i == 1,
        )
        _vlines(ax, i, split_t, rows)
        _time_axis(ax)
    for m, g in data.groupby("model"):
        half = 1.96 * g["rel_l2_std"].fillna(0) / np.sqrt(g["n"].clip(lower=1))
        axes[0].fill_between(
            g["t"], g["rel_l2"] - half, g["rel_l2"] + half, color=colors[m], alpha=0.2, lw=0
        )
    axes[0].set_ylabel("‖x̂1(t) − x_final‖ / ‖x_final‖")
    axes[0].set_title("(a) distance to the final sample")
    axes[1].set_ylabel("‖x̂1(t) − x_final‖² / D")
    if (data["mse"] > 0).all():
        axes[1].set_yscale("log")
    axes[1].set_title("(b) MSE to the final sample")
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame(rows), axes)


# ----------------------------------------------------------------------------- Fig. 5, 6


#: One colour per quantity, the same in Fig. 5 and Fig. 6 (seaborn's colorblind palette):
#: memorization vermilion, the nearest training sample blue, the validation source green, the
#: oracle's top-1 purple. Line style tells models apart when a figure has several.
QUANTITY_COLORS: dict[str, tuple] = {
    "memorized": sns.color_palette("colorblind")[3],
    "to nearest training": sns.color_palette("colorblind")[0],
    "NN1 = oracle top-1": sns.color_palette("colorblind")[4],
    "closer to source": sns.color_palette("colorblind")[2],
    "to source (validation)": sns.color_palette("colorblind")[2],
    "our FID": (0.15, 0.15, 0.15),
    "paper gFID": sns.color_palette("colorblind")[1],
}
_MODEL_STYLES = ["-", "--", ":", "-."]

#: Rows of each tau's image grid as the probes write them (navref.probe_runs.run_mixed /
#: run_unseen: ``save_grid(np.stack([...]))``), top to bottom.
MIXED_GRID_ROWS = ("sample", "nearest training")
UNSEEN_GRID_ROWS = ("validation source", "result", "nearest training")


def fig_tau_grid(
    images: Mapping[float, str | os.PathLike],
    stem: str | os.PathLike,
    split_t: float | None = None,
    *,
    rows: Sequence[str] = MIXED_GRID_ROWS,
    columns: str = "",
    title: str | None = None,
    dpi: int = 200,
) -> FigureResult:
    """Fig. 5 / 6, images: one panel per handover time tau (``images[tau]``: the probe's PNG
    grid for that tau, its stacked image rows named by ``rows``, top to bottom), tau
    increasing downwards. Each panel is labelled on the left with tau as
    :func:`navref.report.selection.tau_text` writes it (absolute, with its multiple of
    ``split_t``) and the stage (navigation: tau < split, refinement: tau >= split), each image
    row on the right with its name; ``columns`` says what a column is (x label at the
    bottom). Raises ``ValueError`` for no images."""
    if not images:
        raise ValueError("fig_tau_grid: no images given; pass {tau: png_path}")
    taus = sorted(images, key=float)
    imgs = [_load_image(images[t]) for t in taus]
    aspect = float(np.mean([im.shape[0] / im.shape[1] for im in imgs]))
    fig, axes = _figure(1, len(taus), w=6.5, h=max(0.6, 6.5 * aspect + 0.3))
    recs = []
    for ax, tau, img in zip(axes, taus, imgs, strict=True):
        ax.imshow(img, interpolation="nearest")
        ax.set_xticks([])
        ax.grid(False)
        known = split_t is not None and np.isfinite(split_t)
        stage = ("navigation" if float(tau) < split_t else "refinement") if known else None
        lab = f"τ = {tau_text(float(tau), split_t if known else None)}"
        ax.set_ylabel(lab + (f"\n{stage}" if stage else ""), rotation=0, ha="right", va="center")
        centers = (np.arange(len(rows)) + 0.5) * img.shape[0] / len(rows)
        ax.yaxis.set_label_position("left")
        right = ax.secondary_yaxis("right")
        right.set_yticks(centers, list(rows), fontsize="x-small")
        right.tick_params(length=0)
        ax.set_yticks([])
        recs.append({"tau": float(tau), "path": str(images[tau]), "stage": stage, "label": lab})
    if columns:
        axes[-1].set_xlabel(columns, fontsize="small")
    if title:
        fig.suptitle(title)
    return FigureResult(save_figure(fig, stem, dpi), pd.DataFrame(recs), _splits_frame([]), axes)


def fig_mixed_grid(
    images: Mapping[float, str | os.PathLike],
    stem: str | os.PathLike,
    split_t: float | None = None,
    *,
    title: str | None = None,
    dpi: int = 200,
) -> FigureResult:
    """Fig. 5, samples: :func:`fig_tau_grid` of the mixed probe (oracle for t < tau, model
    after): per tau the final samples above their nearest training images; column j is class
    j mod K from the same noise at every tau (``navref.sampling.balanced_labels``)."""
    return fig_tau_grid(
        images, stem, split_t, rows=MIXED_GRID_ROWS, title=title, dpi=dpi,
        columns="one column per class (same noise at every τ)",
    )  # fmt: skip


def fig_unseen_grid(
    images: Mapping[float, str | os.PathLike],
    stem: str | os.PathLike,
    split_t: float | None = None,
    *,
    title: str | None = None,
    dpi: int = 200,
) -> FigureResult:
    """Fig. 6, samples: :func:`fig_tau_grid` of the unseen probe (model from x_tau built on
    a validation image): per tau the validation source, the result and the result's nearest
    training image; column j is validation image j."""
    return fig_tau_grid(
        images, stem, split_t, rows=UNSEEN_GRID_ROWS, title=title, dpi=dpi,
        columns="one column per validation image",
    )  # fmt: skip


def wilson_band(share: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval (Wilson 1927) of binomial shares ``share`` out of ``n``
    trials, elementwise, from ``scipy.stats.binomtest``; unlike the Wald band it has
    non-zero width at shares 0 and 1. NaN where the share or n is not finite or n < 1."""
    lo = np.full(len(share), np.nan)
    hi = np.full(len(share), np.nan)
    for i, (p, k) in enumerate(zip(share, n, strict=True)):
        if np.isfinite(p) and np.isfinite(k) and k >= 1:
            ci = binomtest(round(p * k), int(k)).proportion_ci(0.95, method="wilson")
            lo[i], hi[i] = ci.low, ci.high
    return lo, hi


def _tau_panel(
    ax: Axes, data: pd.DataFrame, measures: Mapping[str, str], value: str, shares: bool
) -> pd.DataFrame:
    """Columns ``measures`` (column -> label) of ``data`` vs tau on ``ax``, colour by
    quantity (:data:`QUANTITY_COLORS`), line style by model, Wilson bands for ``shares``;
    one legend entry per quantity, and per model only when there are several. Returns the
    long frame (model, tau, n, measure, ``value``)."""
    long = data.melt(
        id_vars=["model", "tau", "n"], value_vars=list(measures), var_name="measure",
        value_name=value,
    )  # fmt: skip
    long["measure"] = long["measure"].map(measures)
    models = list(dict.fromkeys(data["model"]))
    style = {m: _MODEL_STYLES[i % len(_MODEL_STYLES)] for i, m in enumerate(models)}
    for (label, model), g in long.groupby(["measure", "model"], sort=False):
        g = g.sort_values("tau")
        color = QUANTITY_COLORS[label]
        ax.plot(g["tau"], g[value], color=color, ls=style[model], marker="o", ms=4, lw=1.5)
        if shares:
            _share_band(ax, g["tau"], g[value], g["n"], color)
    handles = [Line2D([], [], color=QUANTITY_COLORS[lab], marker="o", label=lab)
               for lab in measures.values()]  # fmt: skip
    if len(models) > 1:
        handles += [Line2D([], [], color="0.3", ls=style[m], label=m) for m in models]
    handles += [line for line in ax.lines if line.get_gid() == "split"]  # drawn before
    ax.legend(handles=handles, fontsize="small")
    if shares:
        ax.set_ylabel("share of samples")
        ax.set_ylim(-0.02, 1.02)
    return long


def _share_band(ax: Axes, x: pd.Series, p: pd.Series, n: pd.Series, color) -> None:
    lo, hi = wilson_band(p.astype(float).to_numpy(), n.to_numpy(float))
    ok = np.isfinite(lo)
    ax.fill_between(x.to_numpy()[ok], lo[ok], hi[ok], color=color, alpha=0.18, lw=0)


def _models_title(fig: Figure, data: pd.DataFrame) -> None:
    models = list(dict.fromkeys(data["model"]))
    fig.suptitle(f"model {models[0]}" if len(models) == 1 else f"models {', '.join(models)}")


def fig_mixed(
    mixed: pd.DataFrame,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 5, numbers: oracle for t < tau, model after. (a) memorization share
    (||x - NN1|| / ||x - NN2|| < 1/3) and match share (the sample's nearest training sample is
    the oracle's top-1 at the handover) vs tau, with 95 % Wilson bands; (b) mean distance to
    the nearest training sample vs tau. Colours: :data:`QUANTITY_COLORS` (shared with
    :func:`fig_unseen`); line style per model."""
    cols = ["model", "tau", "n", "match_share", "memorization_share", "mean_nn1_dist"]
    _require(mixed, cols, "fig_mixed")
    data = mixed[cols].copy().sort_values(["model", "tau"])
    data["model"] = data["model"].astype(str)
    fig, axes = _figure(2)
    rows: list[dict] = []
    for i, ax in enumerate(axes):
        _vlines(ax, i, split_t, rows)
        _time_axis(ax, TAU_LABEL)
    shares = {"memorization_share": "memorized", "match_share": "NN1 = oracle top-1"}
    long = _tau_panel(axes[0], data, shares, "share", True)
    _tau_panel(axes[1], data, {"mean_nn1_dist": "to nearest training"}, "distance", False)
    axes[1].set_ylabel("mean distance to NN1 (training)")
    axes[0].set_title("(a) memorization")
    axes[1].set_title("(b) nearest training sample")
    _models_title(fig, data)
    return FigureResult(save_figure(fig, stem, dpi), long, _splits_frame(rows), axes)


def fig_unseen(
    unseen: pd.DataFrame,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 6: start from x_tau = (1 - tau) x0 + tau x1_val (validation latents), model from
    tau to 1. (a) mean distance of the sample to its validation source and to its nearest
    training sample vs tau; (b) share of samples closer to their source than to any training
    sample, and memorization share, with 95 % Wilson bands. Colours as :func:`fig_mixed`."""
    cols = ["model", "tau", "n", "mean_dist_to_source", "mean_nn1_dist"]
    cols += ["memorization_share", "closer_to_source_share"]
    _require(unseen, cols, "fig_unseen")
    data = unseen[cols].copy().sort_values(["model", "tau"])
    data["model"] = data["model"].astype(str)
    fig, axes = _figure(2)
    rows: list[dict] = []
    for i, ax in enumerate(axes):
        _vlines(ax, i, split_t, rows)
        _time_axis(ax, TAU_LABEL)
    dists = {
        "mean_dist_to_source": "to source (validation)",
        "mean_nn1_dist": "to nearest training",
    }
    dist = _tau_panel(axes[0], data, dists, "distance", False)
    axes[0].set_ylabel("mean Euclidean distance")
    axes[0].set_title("(a) distances of the sample")
    shares = {"closer_to_source_share": "closer to source", "memorization_share": "memorized"}
    long = _tau_panel(axes[1], data, shares, "share", True)
    axes[1].set_title("(b) shares")
    _models_title(fig, data)
    out = pd.concat([dist.assign(panel=0), long.assign(panel=1)], ignore_index=True)
    return FigureResult(save_figure(fig, stem, dpi), out, _splits_frame(rows), axes)


# ----------------------------------------------------------------------------- Fig. 7, 9


_LOSS_COLS = ["model", "space", "size", "target", "step", "checkpoint", "t", "loss_kind"]
_LOSS_COLS += ["mean", "ci_low", "ci_high"]


def _loss_lines(
    ax: Axes, data: pd.DataFrame, hue: str, order: list[str], colors: dict, legend: bool
) -> None:
    sns.lineplot(
        data=data,
        x="t",
        y="mean",
        hue=hue,
        hue_order=order,
        palette=colors,
        errorbar=None,
        ax=ax,
        legend=legend,
    )
    if legend and ax.get_legend() is not None and hue == "checkpoint_label":
        ax.get_legend().set_title("checkpoint")
    for lab, g in data.groupby(hue):
        g = g.sort_values("t")
        ax.fill_between(g["t"], g["ci_low"], g["ci_high"], color=colors[lab], alpha=0.2, lw=0)


def fig_losses(
    loss_curves: pd.DataFrame,
    model: str,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 7a: CFM loss ||v_theta - (x1 - x0)||^2 / D and oracle loss ||v_theta - v*||^2 / D
    per t of ``model``'s final checkpoint (:func:`final_checkpoints`), model without CFG, with
    95 % confidence bands (ci_low, ci_high)."""
    _require(loss_curves, _LOSS_COLS, "fig_losses")
    rows_m = loss_curves[loss_curves["model"] == model]
    if rows_m.empty:
        raise ValueError(
            f"fig_losses: no loss curves for model {model!r} (have "
            f"{sorted(loss_curves['model'].unique())})"
        )
    data = final_checkpoints(rows_m)
    data = data[data["loss_kind"].isin(["cfm", "oracle"])][_LOSS_COLS].sort_values(
        ["loss_kind", "t"]
    )
    labels = {"cfm": "CFM loss (target x1 − x0)", "oracle": "oracle loss (target v*)"}
    data["loss"] = data["loss_kind"].map(labels)
    order = [labels[k] for k in ("cfm", "oracle") if k in set(data["loss_kind"])]
    colors = dict(zip(order, _palette(2), strict=False))
    fig, axes = _figure(1, w=4.2, h=3.0)
    rows: list[dict] = []
    _loss_lines(axes[0], data, "loss", order, colors, True)
    _vlines(axes[0], 0, split_t, rows)
    axes[0].set_ylabel("loss per dimension (MSE)")
    ck = data["checkpoint"].iloc[0] if len(data) else ""
    axes[0].set_title(f"{model} ({ck}, step {int(data['step'].iloc[0]) if len(data) else 0})")
    _time_axis(axes[0])
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame(rows), axes)


def _one_space(frame: pd.DataFrame, space: str | None, what: str) -> pd.DataFrame:
    spaces = sorted(frame["space"].astype(str).unique())
    if space is None:
        if len(spaces) > 1:
            raise ValueError(f"{what}: loss curves cover spaces {spaces}; pass space=...")
        return frame
    out = frame[frame["space"] == space]
    if out.empty:
        raise ValueError(f"{what}: no loss curves for space {space!r} (have {spaces})")
    return out


def _size_rank(sizes: Sequence[str], size_order: Sequence[str] | None) -> list[str]:
    sizes = sorted({str(s) for s in sizes})
    if size_order is None:
        return sizes
    order = [str(s) for s in size_order]
    return sorted(sizes, key=lambda s: (order.index(s) if s in order else len(order), s))


def _ckpt_label(step: int, checkpoint: str) -> str:
    return f"EMA @ {int(step)}" if checkpoint == "ema" else f"step {int(step)}"


def _step_order(data: pd.DataFrame) -> list[str]:
    keys = data[["step", "checkpoint"]].drop_duplicates()
    keys = keys.assign(_e=(keys["checkpoint"] == "ema").astype(int)).sort_values(["step", "_e"])
    return [_ckpt_label(s, c) for s, c in zip(keys["step"], keys["checkpoint"], strict=True)]


def fig_loss_by_size(
    loss_curves: pd.DataFrame,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    size_order: Sequence[str] | None = None,
    space: str | None = None,
    target: str = "cfm",
    length_model: str | None = None,
    dpi: int = 150,
) -> FigureResult:
    """Fig. 7b: oracle loss per t (a) of each model's final checkpoint, coloured by model size
    (``size_order``, smallest first; several models of one size, e.g. trained for different
    lengths, are told apart by line style), and (b) over the checkpoints of ``length_model``
    (default: the model of the largest size with the most checkpoints), coloured by training
    step. Only models of ``space`` trained on ``target``."""
    _require(loss_curves, _LOSS_COLS, "fig_loss_by_size")
    f = loss_curves[(loss_curves["loss_kind"] == "oracle") & (loss_curves["target"] == target)]
    if f.empty:
        raise ValueError(f"fig_loss_by_size: no oracle-loss rows for models trained on {target!r}")
    f = _one_space(f, space, "fig_loss_by_size")[_LOSS_COLS].copy()
    f["size"] = f["size"].astype(str)
    f["model"] = f["model"].astype(str)
    sizes = _size_rank(f["size"].unique(), size_order)
    fin = final_checkpoints(f).sort_values(["model", "t"])
    colors = dict(zip(sizes, _palette(len(sizes)), strict=True))
    fig, axes = _figure(2, sharey=True)
    rows: list[dict] = []
    sns.lineplot(
        data=fin,
        x="t",
        y="mean",
        hue="size",
        hue_order=sizes,
        palette=colors,
        style="model",
        errorbar=None,
        ax=axes[0],
    )
    for (_m, sz), g in fin.groupby(["model", "size"]):
        axes[0].fill_between(g["t"], g["ci_low"], g["ci_high"], color=colors[sz], alpha=0.15, lw=0)
    axes[0].set_title("(a) model size (final)")
    if length_model is None:
        largest = f[f["size"] == sizes[-1]]
        counts = largest.groupby("model")["step"].nunique().sort_values(ascending=False)
        length_model = str(counts.index[0])
    g2 = f[f["model"] == length_model].copy()
    if g2.empty:
        raise ValueError(f"fig_loss_by_size: no oracle-loss rows for length_model {length_model!r}")
    g2["checkpoint_label"] = [
        _ckpt_label(s, c) for s, c in zip(g2["step"], g2["checkpoint"], strict=True)
    ]
    order = _step_order(g2)
    pal = dict(zip(order, _palette(len(order), sequential=True), strict=True))
    _loss_lines(axes[1], g2.sort_values("t"), "checkpoint_label", order, pal, True)
    axes[1].set_title(f"(b) training ({length_model})")
    for i, ax in enumerate(axes):
        _vlines(ax, i, split_t, rows)
        _time_axis(ax)
    axes[0].set_ylabel("oracle loss  ‖vθ − v*‖² / D")
    data = pd.concat([fin.assign(panel=0), g2.assign(panel=1)], ignore_index=True)
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame(rows), axes)


def fig_loss_by_space(
    loss_curves: pd.DataFrame,
    stem: str | os.PathLike,
    split_t: SplitArg = None,
    *,
    size: str | None = None,
    models: Sequence[str] | None = None,
    target: str = "cfm",
    dpi: int = 150,
) -> FigureResult:
    """Fig. 9: oracle loss per t over training, one panel per latent space, one line per
    checkpoint coloured by training step. The models drawn: ``models`` when given (the
    workflow passes one or more per space, :func:`navref.report.selection.space_models`, so
    every space with a model gets its panel), else those of ``size`` when given, else all;
    always only those trained on ``target``. Several models in one space (e.g. released
    models trained for 64 and 800 epochs) share the panel, their lines named "<model>:
    <checkpoint>". ``split_t`` may map space -> split time to mark each panel with its own
    space's split. Raises ``ValueError`` when no oracle-loss row is left, or a model in
    ``models`` has none."""
    _require(loss_curves, _LOSS_COLS, "fig_loss_by_space")
    f = loss_curves[(loss_curves["loss_kind"] == "oracle") & (loss_curves["target"] == target)]
    if models is not None:
        missing = sorted(set(models) - set(f["model"].astype(str)))
        if missing:
            raise ValueError(
                f"fig_loss_by_space: no oracle-loss rows (target {target!r}) for models "
                f"{missing}; check report settings and the loss-curve probe's models"
            )
        f = f[f["model"].astype(str).isin(list(models))]
    elif size is not None:
        f = f[f["size"].astype(str) == str(size)]
    if f.empty:
        raise ValueError(
            f"fig_loss_by_space: no oracle-loss rows (target {target!r}, size {size!r})"
        )
    f = f[_LOSS_COLS].copy()
    f["space"] = f["space"].astype(str)
    spaces = sorted(f["space"].unique())
    fig, axes = _figure(len(spaces))
    rows: list[dict] = []
    parts = []
    for i, (ax, sp) in enumerate(zip(axes, spaces, strict=True)):
        g = f[f["space"] == sp].copy()
        models = sorted(g["model"].astype(str).unique())
        g["checkpoint_label"] = [
            _ckpt_label(s, c) for s, c in zip(g["step"], g["checkpoint"], strict=True)
        ]
        order = _step_order(g)
        if len(models) > 1:  # e.g. released models of one size trained for different lengths
            g = g.sort_values(["step", "checkpoint"])
            g["checkpoint_label"] = g["model"].astype(str) + ": " + g["checkpoint_label"]
            order = list(dict.fromkeys(g["checkpoint_label"]))
        pal = dict(zip(order, _palette(len(order), sequential=True), strict=True))
        _loss_lines(ax, g.sort_values("t"), "checkpoint_label", order, pal, True)
        if isinstance(split_t, Mapping):
            sp_split = {sp: split_t[sp]} if sp in split_t else None
        else:
            sp_split = split_t
        _vlines(ax, i, sp_split, rows)
        ax.set_title(f"{sp} ({', '.join(models)})")
        ax.set_ylabel("oracle loss  ‖vθ − v*‖² / D")
        _time_axis(ax)
        parts.append(g)
    return FigureResult(
        save_figure(fig, stem, dpi), pd.concat(parts, ignore_index=True), _splits_frame(rows), axes
    )


# ----------------------------------------------------------------------------- training


def _log_axis_if_wide(ax: Axes, values: pd.Series) -> None:
    """A log y axis when ``values`` are positive and span more than a factor 10, ticks at
    1, 2, 5 x 10^k written as plain numbers and no minor labels (no "1.74 x 10^0" clutter);
    a linear axis otherwise."""
    v = values.to_numpy(float)
    v = v[np.isfinite(v)]
    if v.size == 0 or (v <= 0).any() or v.max() <= 10 * v.min():
        return
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def fig_training(
    train_logs: pd.DataFrame,
    stem: str | os.PathLike,
    *,
    window: int = 1,
    dpi: int = 150,
) -> FigureResult:
    """Training curves: (a) CFM (or oracle-target) training loss vs step per model; (b)
    gradient norm before clipping vs step; each on a log axis where its values span more than
    a factor 10 (:func:`_log_axis_if_wide`). The logged values are drawn faint and a
    trailing exponential moving average over ``window`` logged steps (span ``window``,
    ``adjust=True``: each point averages only itself and earlier steps, the first point is
    the raw first value, so neither end is biased) solid. ``FigureResult.data`` holds the
    smoothed values in ``loss`` / ``grad_norm`` and the logged ones in ``*_raw``. An empty
    ``train_logs`` (only released models) gives a figure that says so."""
    _require(train_logs, ["model", "step", "loss", "grad_norm"], "fig_training")
    if window < 1:
        raise ValueError(f"fig_training: window must be >= 1, got {window}")
    data = train_logs[["model", "step", "loss", "grad_norm"]].copy()
    if data.empty:  # released models only: nothing was trained
        fig, axes = _figure(1)
        axes[0].text(0.5, 0.5, "no model trained by the pipeline", ha="center", va="center")
        axes[0].set_axis_off()
        return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame([]), axes)
    data["model"] = data["model"].astype(str)
    data = data.sort_values(["model", "step"])
    for c in ("loss", "grad_norm"):
        data[f"{c}_raw"] = data[c]
        data[c] = data.groupby("model")[c].transform(
            lambda s: s.ewm(span=window, adjust=True).mean()
        )
    models = sorted(data["model"].unique())
    colors = dict(zip(models, _palette(len(models)), strict=True))
    fig, axes = _figure(2)
    for i, (ax, y) in enumerate(zip(axes, ("loss", "grad_norm"), strict=True)):
        for model in models:
            rows = data[data["model"] == model]
            marker = "o" if len(rows) < 20 else None  # a few logged steps stay visible
            ax.plot(rows["step"], rows[f"{y}_raw"], color=colors[model], alpha=0.25, lw=0.8)
            ax.plot(rows["step"], rows[y], color=colors[model], lw=1.6, label=model, ms=4,
                    marker=marker)  # fmt: skip
        if i == 0:
            ax.legend(title="model (faint: logged)", fontsize="small")
        ax.set_xlabel("training step")
        _log_axis_if_wide(ax, data[f"{y}_raw"])
    axes[0].set_ylabel("training loss (MSE per dimension)")
    axes[1].set_ylabel("gradient norm (before clipping)")
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame([]), axes)


# ----------------------------------------------------------------------------- Tab. 1-3 as plots

#: what our FID and the paper's gFID are measured with (they differ in scale: compare trends)
FID_NOTE = "our FID: digits-classifier features; paper gFID@50K: Inception (other scale)"


def _num_col(table: pd.DataFrame, col: str) -> np.ndarray:
    if col not in table.columns:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[col], errors="coerce").to_numpy(float)


def _errorbar(ax: Axes, x, y, yerr, gid: str, **kw) -> None:
    """Points with error bars; the points' line has ``gid``, the caps ``gid + " bar"``."""
    data_line, caps, _ = ax.errorbar(x, y, yerr=yerr, fmt="o", capsize=3, **kw)
    data_line.set_gid(gid)
    for cap in caps:
        cap.set_gid(f"{gid} bar")


def fig_sweep_fid(table: pd.DataFrame, table_name: str, stem: str | os.PathLike) -> FigureResult:
    """Tab. 1, 2 or 3 (``table_name``) as a plot, from the table ``report_sweep_table``
    writes: x is the setting as its sweep kind labels it (``Sweep.plot_labels`` of
    :mod:`navref.sweeps`; Tab. 1: the (stage1, stage2) pair at each tau, one line per tau;
    Tab. 2: the shift s; Tab. 3: the CFG interval), in the table's order.

    Left panel: our FID (mean over seeds, bars ± ``fid_std``, the seed spread, where finite)
    and, on a second y axis, the paper's gFID (``paper_gfid``; left out where the column is
    missing or all NaN). Right panel: the paired difference FID(row) - FID(reference)
    (``fid_diff`` with its 95 % interval ``fid_diff_low`` / ``fid_diff_high``; the
    reference named in ``vs``) and a zero line; empty with a note when the table has no
    finite difference. Returns the plotted data (``label, fid, fid_std, paper_gfid,
    fid_diff, fid_diff_low, fid_diff_high``) and the axes [FID, paper gFID or None, diff].
    Raises ``ValueError`` for an empty table or missing setting columns."""
    sweep = by_table(table_name)
    _require(table, ["fid", *sweep.plot_columns], table_name)
    labels = sweep.plot_labels(table)
    cols = ["fid", "fid_std", "paper_gfid", "fid_diff", "fid_diff_low", "fid_diff_high"]
    data = pd.DataFrame({"label": labels, **{c: _num_col(table, c) for c in cols}})
    x = np.arange(len(data))
    fig, (ax, dax) = _figure(2, w=max(PANEL_W, 0.55 * len(data) + 1.5))
    ours, paper_c = QUANTITY_COLORS["our FID"], QUANTITY_COLORS["paper gFID"]
    for idx in sweep.line_groups(table):
        ax.plot(x[idx], data["fid"].to_numpy()[idx], "-", color=ours, lw=1, alpha=0.6)
    std = np.nan_to_num(data["fid_std"].to_numpy(), nan=0.0)
    _errorbar(ax, x, data["fid"], std, "ours", color=ours, label="our FID (± seed std)")
    ax.set_ylabel("our FID (digits classifier)")
    pax = None
    if np.isfinite(data["paper_gfid"]).any():
        pax = ax.twinx()
        pax.grid(False)
        have = np.isfinite(data["paper_gfid"].to_numpy())
        for idx in sweep.line_groups(table):
            idx = idx[have[idx]]
            pax.plot(x[idx], data["paper_gfid"].to_numpy()[idx], ":", color=paper_c, lw=1)
        pax.plot(x[have], data["paper_gfid"][have], "s", mfc="none", color=paper_c,
                 label="paper gFID@50K", gid="paper")  # fmt: skip
        pax.set_ylabel("paper gFID@50K (Inception)", color=paper_c)
    handles = [h for a in (ax, pax) if a is not None for h in a.get_legend_handles_labels()[0]]
    if pax is None:
        handles.append(Line2D([], [], ls="none", label="paper gFID: no matching rows"))
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize="x-small")
    diff = data["fid_diff"].to_numpy()
    have = np.isfinite(diff)
    dax.axhline(0.0, color="0.4", lw=0.8)
    if have.any():  # the interval as drawn, low to high (its spread
        # comes from the replicates; it need not be symmetric about the point)
        low, high = data["fid_diff_low"].to_numpy(), data["fid_diff_high"].to_numpy()
        bar = have & np.isfinite(low) & np.isfinite(high)
        dax.vlines(x[bar], low[bar], high[bar], color=ours, lw=1.5, gid="diff interval")
        dax.plot(x[have], diff[have], "o", color=ours, gid="diff")
        vs = [str(v) for v in table.get("vs", pd.Series(dtype=str)) if v not in ("reference", "—")]
        dax.set_title(f"vs {vs[0]} (95 % paired interval)" if vs else "", fontsize="small")
    else:
        dax.text(0.5, 0.5, "no paired differences\n(one setting or no reference)",
                 transform=dax.transAxes, ha="center", va="center", fontsize="small")  # fmt: skip
    dax.set_ylabel("FID − FID(reference)")
    for a in (ax, dax):
        a.set_xticks(x, labels, fontsize="x-small", rotation=45 if len(x) > 6 else 0)
        a.set_xlim(-0.5, len(x) - 0.5)
    fig.suptitle(f"{table_name.replace('table', 'Table ')}. {FID_NOTE}", fontsize="small")
    return FigureResult(save_figure(fig, stem), data, _splits_frame([]), [ax, pax, dax])


def sweep_sample_rows(
    samples: Mapping[str, tuple[np.ndarray, np.ndarray]], per_class: int = 2, max_cols: int = 20
) -> np.ndarray:
    """One row of sample images per setting, for a grid (:func:`navref.imgrid.save_grid`):
    ``samples[setting] = (images uint8 (N, H, W, C), labels (N,))``; per setting the first
    ``per_class`` images of each class, classes ascending, at most ``max_cols``; every row cut
    to the shortest. Returns uint8 (settings, cols, H, W, C) in the order of ``samples``.
    Raises ``ValueError`` for no settings, no images or settings of different image shape."""
    if not samples:
        raise ValueError("sweep_sample_rows: no settings given; pass {setting: (images, labels)}")
    rows = []
    for setting, (images, labels) in samples.items():
        images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
        if images.ndim != 4 or images.dtype != np.uint8 or len(images) != len(labels):
            raise ValueError(
                f"setting {setting!r}: want uint8 images (N, H, W, C) and N labels, got "
                f"{images.dtype} {images.shape} and {labels.shape}; is it a sample_sweep file?"
            )
        pick = [i for c in np.unique(labels) for i in np.flatnonzero(labels == c)[:per_class]]
        rows.append(images[pick[:max_cols]])
    shapes = {r.shape[1:] for r in rows}
    cols = min(len(r) for r in rows)
    if len(shapes) > 1 or cols == 0:
        raise ValueError(f"sweep_sample_rows: image shapes {shapes}, {cols} columns; want one shape, >= 1 image")  # fmt: skip
    return np.stack([r[:cols] for r in rows])


def fig_sweep_samples(
    grid_png: str | os.PathLike,
    settings: Sequence[str],
    stem: str | os.PathLike,
    *,
    title: str | None = None,
    dpi: int = 200,
) -> FigureResult:
    """The sample grid of one sweep (``grid_png``: one image row per setting, as
    :func:`sweep_sample_rows` orders them, through :func:`navref.imgrid.save_grid`) with each
    row labelled on the left by its setting id. Returns the labels and row centres (pixels
    of the PNG). Raises ``ValueError`` for no settings."""
    if not settings:
        raise ValueError("fig_sweep_samples: no settings given")
    img = _load_image(grid_png)
    aspect = img.shape[0] / img.shape[1]
    fig, (ax,) = _figure(1, w=6.5, h=max(0.8, 6.5 * aspect + 0.4))
    ax.imshow(img, interpolation="nearest")
    ax.grid(False)
    ax.set_xticks([])
    centers = (np.arange(len(settings)) + 0.5) * img.shape[0] / len(settings)
    ax.set_yticks(centers, list(settings), fontsize="x-small")
    ax.tick_params(length=0)
    ax.set_xlabel(
        "first samples of the first seed, by class (one noise per column)", fontsize="small"
    )
    if title:
        fig.suptitle(title, fontsize="small")
    data = pd.DataFrame({"setting": list(settings), "center": centers})
    return FigureResult(save_figure(fig, stem, dpi), data, _splits_frame([]), [ax])
