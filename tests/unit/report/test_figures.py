"""Tests of navref.report.figures: every figure from small synthetic tables; files are valid
PNG / PDF and the plotted data, lines and split markers are what was asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from navref.report import figures as F

T = [0.0, 0.2, 0.4, 0.6, 0.8, 0.95]
DPI = 40


def _check_files(res: F.FigureResult, stem) -> None:
    assert [p.name for p in res.paths] == [f"{stem.name}.png", f"{stem.name}.pdf"]
    png, pdf = res.paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000
    with Image.open(png) as im:
        im.verify()
    assert not list(stem.parent.glob(f".{stem.name}.*")), "temporary files left behind"


def _split_x(ax) -> list[float]:
    return sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_gid() == "split")


def _data_lines(ax) -> list:
    """Plotted curves: not split markers, not seaborn's empty legend-handle lines."""
    return [line for line in ax.lines if line.get_gid() != "split" and len(line.get_xdata()) > 0]


def test_fig_objective(tmp_path):
    rows = []
    for space in ("pix", "vae"):
        for cond in (True, False):
            for t in T:
                rows.append(
                    {
                        "space": space,
                        "conditional": cond,
                        "t": t,
                        "gap_mse": (1 - t) ** 3,
                        "gap_se": 0.01,
                        "top1_mean": t,
                        "top1_q05": t * 0.5,
                        "top1_q25": t * 0.8,
                        "top1_q50": t,
                        "top1_q75": min(1, t * 1.1),
                        "top1_q95": min(1, t * 1.3),
                    }
                )
    obj = pd.DataFrame(rows)
    splits = pd.DataFrame(
        {
            "curve": ["objective"] * 4 + ["synthetic"],
            "space": ["pix", "pix", "vae", "vae", np.nan],
            "conditional": [True, False, True, False, None],
            "t_split": [0.5, 0.55, 0.3, np.nan, 0.1],
            "reached": [True, True, True, False, True],
        }
    )
    stem = tmp_path / "fig2"
    res = F.fig_objective(obj, splits, stem, dpi=DPI)
    _check_files(res, stem)
    assert len(res.axes) == 2
    for ax in res.axes:
        assert len(_data_lines(ax)) == 4  # 2 spaces x cond/uncond
        assert _split_x(ax) == [0.3, 0.5, 0.55]  # unreached and synthetic not drawn
        assert ax.get_xlabel() == F.TIME_LABEL
    # the plotted gap curve of (pix, cond) is the input
    ys = sorted(tuple(np.round(line.get_ydata(), 6)) for line in _data_lines(res.axes[0]))
    assert tuple(np.round([(1 - t) ** 3 for t in T], 6)) in ys
    assert len(res.splits) == 6 and set(res.splits["panel"]) == {0, 1}


def _synthetic():
    rows = []
    for d in (2, 8, 32):
        for n in (10, 100):
            for t in T:
                v = min(1.0, t * d / 8 / np.log10(n))
                rows.append(
                    {
                        "dim": d,
                        "size": n,
                        "t": t,
                        "top1_mean": v,
                        "top1_q25": v * 0.9,
                        "top1_q75": min(1.0, v * 1.1),
                    }
                )
    syn = pd.DataFrame(rows)
    sp = []
    for d in (2, 8, 32):
        for n in (10, 100):
            reached = not (d == 2 and n == 100)
            sp.append(
                {
                    "curve": "synthetic",
                    "space": np.nan,
                    "conditional": None,
                    "dim": float(d),
                    "size": float(n),
                    "t_split": 0.9 / d * n / 10 if reached else np.nan,
                    "reached": reached,
                }
            )
    return syn, pd.DataFrame(sp)


@pytest.mark.parametrize("facet", ["size", "dim"])
def test_fig_synthetic(tmp_path, facet):
    syn, sp = _synthetic()
    stem = tmp_path / f"fig3_{facet}"
    res = F.fig_synthetic(syn, sp, stem, facet=facet, dpi=DPI)
    _check_files(res, stem)
    if facet == "size":
        assert len(res.axes) == 2 and [a.get_title() for a in res.axes] == ["N = 10", "N = 100"]
        assert [len(_data_lines(a)) for a in res.axes] == [3, 3]
        # N = 100: D = 2 unreached, D = 8 at 0.9 / 8 * 10, D = 32 at 0.9 / 32 * 10
        assert _split_x(res.axes[1]) == pytest.approx(sorted([0.9 / 8 * 10, 0.9 / 32 * 10]))
        assert _split_x(res.axes[0]) == pytest.approx(sorted(0.9 / d for d in (2, 8, 32)))
    else:
        assert len(res.axes) == 3 and [len(_data_lines(a)) for a in res.axes] == [2, 2, 2]
        assert len(_split_x(res.axes[0])) == 1  # D = 2: only N = 10 reached
    assert len(res.splits) == 5
    with pytest.raises(ValueError, match="facet"):
        F.fig_synthetic(syn, sp, stem, facet="t")


def _png(path, w, h, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def test_fig_intermediate(tmp_path):
    ts = [0.0, 0.25, 0.5, 0.75]  # the probe's grid adds the final sample as a 5th column
    inter = pd.DataFrame(
        [
            {"model": m, "t": t, "mse": (1 - t) + 0.01, "rel_l2": 1 - t, "rel_l2_std": 0.1, "n": 8}
            for m in ("a", "b")
            for t in ts
        ]
    )
    imgs = {m: _png(tmp_path / f"{m}.png", 80, 32, i) for i, m in enumerate(("a", "b"))}
    stem = tmp_path / "fig4_grid"
    res = F.fig_intermediate_grid(inter, imgs, stem, split_t=0.3, dpi=DPI)
    _check_files(res, stem)
    assert len(res.axes) == 2
    ax = res.axes[1]
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{t:.2f}" for t in ts] + ["final"]
    assert list(ax.get_xticks()) == pytest.approx([8, 24, 40, 56, 72])  # column centres
    # 0.3 lies 1/5 of the way from t = 0.25 (x = 24) to t = 0.5 (x = 40)
    assert _split_x(ax) == pytest.approx([24 + 0.2 * 16])
    assert len(res.data) == 8
    res = F.fig_intermediate_grid(inter, imgs, stem, split_t=0.3, final_column=False, dpi=DPI)
    assert list(res.axes[0].get_xticks()) == pytest.approx([10, 30, 50, 70])
    assert _split_x(res.axes[0]) == pytest.approx([30 + 0.2 * 20])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        F.fig_intermediate_grid(inter, {"a": tmp_path / "nope.png"}, stem)

    stem = tmp_path / "fig4_curve"
    res = F.fig_intermediate_curve(inter, stem, split_t=0.3, dpi=DPI)
    _check_files(res, stem)
    for ax in res.axes:
        assert len(_data_lines(ax)) == 2 and _split_x(ax) == [0.3]
    ys = [tuple(line.get_ydata()) for line in _data_lines(res.axes[0])]
    assert tuple(1 - t for t in ts) in ys


def test_fig_mixed_and_unseen(tmp_path):
    taus = [0.0, 0.2, 0.5, 0.8, 1.0]
    mixed = pd.DataFrame(
        [
            {
                "model": m,
                "tau": tau,
                "n": 50,
                "match_share": np.nan if tau == 0 else tau,
                "memorization_share": tau**2,
                "mean_nn1_dist": 1 - tau,
            }
            for m in ("a", "b")
            for tau in taus
        ]
    )
    stem = tmp_path / "fig5"
    res = F.fig_mixed(mixed, stem, split_t=0.4, dpi=DPI)
    _check_files(res, stem)
    assert len(_data_lines(res.axes[0])) == 4  # 2 measures x 2 models
    assert len(_data_lines(res.axes[1])) == 2
    assert all(_split_x(ax) == [0.4] for ax in res.axes)
    mem = res.data[(res.data["measure"] == "memorized") & (res.data["model"] == "a")]
    assert mem.sort_values("tau")["share"].tolist() == pytest.approx([t**2 for t in taus])

    grids = {tau: _png(tmp_path / f"tau{tau}.png", 64, 16, i) for i, tau in enumerate(taus)}
    stem = tmp_path / "fig5_grid"
    res = F.fig_mixed_grid(grids, stem, split_t=0.4, title="model a", dpi=DPI)
    _check_files(res, stem)
    assert len(res.axes) == 5 and res.data["tau"].tolist() == taus
    assert res.data["stage"].tolist() == ["navigation"] * 2 + ["refinement"] * 3
    assert res.axes[0].get_ylabel().startswith("τ = 0.00")

    unseen = pd.DataFrame(
        [
            {
                "model": "a",
                "tau": tau,
                "steps": 10,
                "n": 40,
                "mean_dist_to_source": 1 - tau,
                "mean_rel_dist_to_source": 1 - tau,
                "mean_nn1_dist": 1.0,
                "memorization_share": 0.0,
                "closer_to_source_share": tau,
            }
            for tau in taus
        ]
    )
    stem = tmp_path / "fig6"
    res = F.fig_unseen(unseen, stem, split_t=0.4, dpi=DPI)
    _check_files(res, stem)
    assert [len(_data_lines(ax)) for ax in res.axes] == [2, 2]
    assert all(_split_x(ax) == [0.4] for ax in res.axes)
    assert res.axes[0].get_xlabel() == F.TAU_LABEL
    with pytest.raises(ValueError, match="lacks columns"):
        F.fig_unseen(unseen.drop(columns="mean_nn1_dist"), stem)


def _loss_curves():
    rows = []
    specs = [  # model, space, size, steps
        ("pix-tiny", "pix", "tiny", [100, 200]),
        ("pix-small", "pix", "small", [100, 200, 400]),
        ("vae-small", "vae", "small", [100, 200]),
    ]
    for model, space, size, steps in specs:
        for ck in [("step", s) for s in steps] + [("ema", steps[-1])]:
            for t in T:
                for kind in ("cfm", "oracle"):
                    m = (1.5 if kind == "cfm" else 0.5) * t + ck[1] / 1000
                    rows.append(
                        {
                            "model": model,
                            "space": space,
                            "size": size,
                            "target": "cfm",
                            "step": ck[1],
                            "checkpoint": ck[0],
                            "t": t,
                            "loss_kind": kind,
                            "mean": m,
                            "std": 0.1,
                            "n": 100,
                            "ci_low": m - 0.02,
                            "ci_high": m + 0.02,
                        }
                    )
    return pd.DataFrame(rows)


def test_fig_losses(tmp_path):
    lc = _loss_curves()
    stem = tmp_path / "fig7a"
    res = F.fig_losses(lc, "pix-small", stem, split_t=0.35, dpi=DPI)
    _check_files(res, stem)
    assert len(_data_lines(res.axes[0])) == 2 and _split_x(res.axes[0]) == [0.35]
    assert set(res.data["checkpoint"]) == {"ema"} and set(res.data["step"]) == {400}
    orc = res.data[res.data["loss_kind"] == "oracle"].sort_values("t")
    assert orc["mean"].tolist() == pytest.approx([0.5 * t + 0.4 for t in T])
    with pytest.raises(ValueError, match="no loss curves"):
        F.fig_losses(lc, "nope", stem)

    stem = tmp_path / "fig7b"
    res = F.fig_loss_by_size(
        lc, stem, split_t=0.35, size_order=["tiny", "small"], space="pix", dpi=DPI
    )
    _check_files(res, stem)
    assert len(_data_lines(res.axes[0])) == 2  # two models (sizes) of space pix
    assert len(_data_lines(res.axes[1])) == 4  # pix-small: 3 step checkpoints + EMA
    assert all(_split_x(ax) == [0.35] for ax in res.axes)
    with pytest.raises(ValueError, match="pass space"):
        F.fig_loss_by_size(lc, stem)

    stem = tmp_path / "fig9"
    res = F.fig_loss_by_space(lc, stem, split_t={"pix": 0.5, "vae": 0.3}, size="small", dpi=DPI)
    _check_files(res, stem)
    assert [a.get_title() for a in res.axes] == ["pix (pix-small)", "vae (vae-small)"]
    assert [len(_data_lines(a)) for a in res.axes] == [4, 3]
    assert _split_x(res.axes[0]) == [0.5] and _split_x(res.axes[1]) == [0.3]
    res = F.fig_loss_by_space(lc, tmp_path / "fig9_all", dpi=DPI)  # several models a space
    assert res.axes[0].get_title() == "pix (pix-small, pix-tiny)"
    orc = lc[(lc["space"] == "pix") & (lc["loss_kind"] == "oracle")]
    curves = orc[["model", "step", "checkpoint"]].drop_duplicates()
    assert len(_data_lines(res.axes[0])) == len(curves) > 4
    labels = set(res.data.loc[res.data["space"] == "pix", "checkpoint_label"])
    assert {lab.split(": ")[0] for lab in labels} == {"pix-small", "pix-tiny"}


def test_fig_training_and_split_time(tmp_path):
    logs = pd.DataFrame(
        [
            {"model": m, "step": s, "loss": 1 / (s + 1) + k, "grad_norm": 1.0, "lr": 1e-4}
            for k, m in enumerate(("a", "b"))
            for s in range(0, 50, 5)
        ]
    )
    stem = tmp_path / "train"
    res = F.fig_training(logs, stem, window=1, dpi=DPI)
    _check_files(res, stem)
    assert [len(_data_lines(ax)) for ax in res.axes] == [4, 4]  # logged + smoothed per model
    assert res.axes[0].get_xlabel() == "training step"
    a = res.data[res.data["model"] == "a"].sort_values("step")
    assert a["loss"].tolist() == pytest.approx([1 / (s + 1) for s in range(0, 50, 5)])
    # window 3: trailing EMA, alpha = 2 / (3 + 1), weights (1 - alpha)^(t - i) over i <= t only
    res = F.fig_training(logs, stem, window=3, dpi=DPI)
    raw = np.array([1 / (s + 1) for s in range(0, 50, 5)])
    w = 0.5 ** np.arange(len(raw))
    want = [np.dot(w[: t + 1][::-1], raw[: t + 1]) / w[: t + 1].sum() for t in range(len(raw))]
    a = res.data[res.data["model"] == "a"].sort_values("step")
    assert a["loss"].tolist() == pytest.approx(want)
    assert a["loss"].iloc[0] == raw[0]  # the first point is the logged value, not biased


def test_wilson_band_matches_closed_form_and_is_wide_at_0_and_1():
    from scipy.stats import norm

    from navref.report.figures import wilson_band

    share = np.array([0.0, 0.25, 0.5, 1.0, np.nan])
    n = np.array([20.0, 40.0, 10.0, 20.0, 10.0])
    lo, hi = wilson_band(share, n)
    z = norm.ppf(0.975)
    for i in range(4):  # Wilson (1927), closed form in float64
        p, k = share[i], n[i]
        centre = (p + z * z / (2 * k)) / (1 + z * z / k)
        half = z / (1 + z * z / k) * np.sqrt(p * (1 - p) / k + z * z / (4 * k * k))
        assert lo[i] == pytest.approx(max(centre - half, 0.0), abs=1e-9)
        assert hi[i] == pytest.approx(min(centre + half, 1.0), abs=1e-9)
    assert hi[0] > 0.1 and lo[3] < 0.9  # the Wald band has zero width there
    assert np.isnan(lo[4]) and np.isnan(hi[4])


def _tau_tables(models=("a",)):
    taus = [0.0, 0.2, 0.5, 1.0]
    rows = [
        {"model": m, "tau": t, "n": 50, "match_share": t, "memorization_share": t**2,
         "mean_nn1_dist": 1 - t, "mean_dist_to_source": 1 - t, "closer_to_source_share": t}
        for m in models
        for t in taus
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _line_colors(ax) -> dict[str, tuple]:
    """Legend label -> colour of its handle (the legend is the figure's key to colour)."""
    leg = ax.get_legend()
    return {
        t.get_text(): h.get_color()
        for t, h in zip(leg.get_texts(), leg.legend_handles, strict=True)
    }


def test_fig5_and_fig6_share_one_colour_per_quantity_and_no_spurious_legend(tmp_path):
    from matplotlib.colors import to_rgb

    data = _tau_tables()
    fig5 = F.fig_mixed(data, tmp_path / "fig5", split_t=0.4, dpi=DPI)
    fig6 = F.fig_unseen(data, tmp_path / "fig6", split_t=0.4, dpi=DPI)
    legends = [_line_colors(ax) for res in (fig5, fig6) for ax in res.axes]
    seen: dict[str, tuple] = {}
    for legend in legends:
        for label, color in legend.items():
            if label.startswith("split"):
                continue
            assert to_rgb(color) == to_rgb(F.QUANTITY_COLORS[label]), label
            seen[label] = to_rgb(color)
    assert seen["memorized"] != seen["to nearest training"] != seen["closer to source"]
    assert len({seen["memorized"], seen["NN1 = oracle top-1"], seen["to nearest training"]}) == 3
    # every drawn curve has its quantity's colour: the nearest-training distance of Fig. 5 (b)
    # is the colour of Fig. 6 (a)'s, memorization in Fig. 5 (a) that of Fig. 6 (b)
    assert {to_rgb(line.get_color()) for line in _data_lines(fig5.axes[1])} == {
        to_rgb(F.QUANTITY_COLORS["to nearest training"])
    }
    # one model: the legend names quantities and the split only, no "model" / "measure" rows
    for legend in legends:
        assert all(not k.startswith(("model", "measure", "a")) for k in legend), legend
        assert sum(k.startswith("split") for k in legend) == 1
    assert fig5.axes[0].figure.get_suptitle() == "model a"
    two = F.fig_mixed(_tau_tables(("a", "b")), tmp_path / "fig5b", split_t=0.4, dpi=DPI)
    assert {"a", "b"} <= set(_line_colors(two.axes[0]))  # line styles named when several
    assert len(_data_lines(two.axes[0])) == 4


def test_tau_grids_label_taus_stages_and_image_rows(tmp_path):
    split = 0.4
    taus = [1.0, 0.0, 0.2, 0.6]  # given in any order, drawn in increasing tau
    grids = {t: _png(tmp_path / f"m{t}.png", 64, 32, i) for i, t in enumerate(taus)}
    res = F.fig_mixed_grid(grids, tmp_path / "g5", split_t=split, title="model a", dpi=DPI)
    _check_files(res, tmp_path / "g5")
    assert res.data["tau"].tolist() == sorted(taus)
    assert res.data["stage"].tolist() == ["navigation", "navigation", "refinement", "refinement"]
    assert res.data["label"].tolist() == [
        "τ = 0.00 (0 × split)", "τ = 0.20 (0.5 × split)", "τ = 0.60 (1.5 × split)",
        "τ = 1.00 (2.5 × split)",
    ]  # fmt: skip
    assert res.axes[2].get_ylabel() == "τ = 0.60 (1.5 × split)\nrefinement"
    right = [c for c in res.axes[0].child_axes]  # the row names on the right
    assert [t.get_text() for t in right[0].get_yticklabels()] == list(F.MIXED_GRID_ROWS)
    assert right[0].get_yticks() == pytest.approx([8, 24])  # centres of 2 stacked rows
    assert res.axes[-1].get_xlabel().startswith("one column per class")

    res = F.fig_unseen_grid(grids, tmp_path / "g6", split_t=None, dpi=DPI)
    right = res.axes[0].child_axes[0]
    assert [t.get_text() for t in right.get_yticklabels()] == [
        "validation source",
        "result",
        "nearest training",
    ]
    assert res.data["stage"].isna().all() and res.data["label"][0] == "τ = 0.00"
    with pytest.raises(ValueError, match="no images"):
        F.fig_unseen_grid({}, tmp_path / "g6")


def test_fig9_draws_the_models_asked_for_one_panel_per_space(tmp_path):
    lc = _loss_curves()
    res = F.fig_loss_by_space(lc, tmp_path / "fig9", models=["pix-small", "vae-small"], dpi=DPI)
    assert [a.get_title() for a in res.axes] == ["pix (pix-small)", "vae (vae-small)"]
    res = F.fig_loss_by_space(lc, tmp_path / "fig9", models=["pix-tiny", "vae-small"], dpi=DPI)
    assert [a.get_title() for a in res.axes] == ["pix (pix-tiny)", "vae (vae-small)"]
    with pytest.raises(ValueError, match="nope"):
        F.fig_loss_by_space(lc, tmp_path / "fig9", models=["nope"], dpi=DPI)


def test_intermediate_grid_marks_each_models_own_split(tmp_path):
    ts = [0.0, 0.5]
    inter = pd.DataFrame([{"model": m, "t": t} for m in ("a", "b") for t in ts])
    imgs = {m: _png(tmp_path / f"{m}.png", 60, 20, i) for i, m in enumerate(("a", "b"))}
    res = F.fig_intermediate_grid(inter, imgs, tmp_path / "g", {"a": 0.25, "b": 0.5}, dpi=DPI)
    assert res.splits["t"].tolist() == [0.25, 0.5]
    assert _split_x(res.axes[0]) == pytest.approx([20.0])  # halfway between 10 and 30


def test_training_axis_is_log_only_over_a_wide_range(tmp_path):
    steps = range(0, 200, 10)
    wide = pd.DataFrame(
        [{"model": "a", "step": s, "loss": 10 / (s + 1), "grad_norm": 1.5 + s / 1e3} for s in steps]
    )
    res = F.fig_training(wide, tmp_path / "tr", window=3, dpi=DPI)
    assert res.axes[0].get_yscale() == "log"  # loss spans 10 .. 0.05
    assert res.axes[1].get_yscale() == "linear"  # grad norm 1.5 .. 1.69: no log clutter
    minor = [t.get_text() for t in res.axes[0].get_yticklabels(minor=True)]
    assert all(text == "" for text in minor)
    few = wide.iloc[:1]  # one logged step (a short run): still drawn, as a marker
    res = F.fig_training(few, tmp_path / "tr1", window=3, dpi=DPI)
    assert all(line.get_marker() == "o" for line in res.axes[0].lines if line.get_alpha() is None)
