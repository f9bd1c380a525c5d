"""Tables 1-3 as plots and the per-setting sample grids (navref.report.figures.fig_sweep_fid,
sweep_sample_rows, fig_sweep_samples; navref.report.build.build_sweep_grid): what is drawn,
from small constructed tables; the grid's pixels against a brute-force layout."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from navref.report import figures as F
from navref.report.build import build_sweep_grid


def _table2(paper: bool = True) -> pd.DataFrame:
    t = pd.DataFrame(
        {
            "shift": [1.0, 0.5, 0.3],
            "fid": [10.0, 8.0, 9.0],
            "fid_std": [math.nan, math.nan, math.nan],  # one seed: no spread
            "paper_gfid": [5.2, 4.1, math.nan],  # the paper has no s = 0.3 row
            "vs": ["reference", "s = 1 (uniform)", "s = 1 (uniform)"],
            "fid_diff": [math.nan, -2.0, -1.0],
            "fid_diff_low": [math.nan, -2.5, -1.8],
            "fid_diff_high": [math.nan, -1.5, -0.2],
        }
    )
    return t if paper else t.drop(columns="paper_gfid")


def _gid_points(ax, gid: str) -> np.ndarray:
    lines = [line for line in ax.lines if line.get_gid() == gid]
    assert len(lines) == 1, [line.get_gid() for line in ax.lines]
    return np.column_stack([lines[0].get_xdata(), lines[0].get_ydata()])


def _ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def test_table2_plot_points_labels_and_paper_axis(tmp_path):
    res = F.fig_sweep_fid(_table2(), "table2", tmp_path / "t2")
    ax, pax, dax = res.axes
    assert [p.name for p in res.paths] == ["t2.png", "t2.pdf"]
    assert all(p.stat().st_size > 1000 for p in res.paths)
    np.testing.assert_array_equal(_gid_points(ax, "ours"), [[0, 10], [1, 8], [2, 9]])
    np.testing.assert_array_equal(_gid_points(pax, "paper"), [[0, 5.2], [1, 4.1]])
    np.testing.assert_array_equal(_gid_points(dax, "diff"), [[1, -2.0], [2, -1.0]])
    assert _ticks(ax) == _ticks(dax) == ["s=1", "s=0.5", "s=0.3"]
    assert "digits classifier" in ax.get_ylabel() and "Inception" in pax.get_ylabel()
    assert "s = 1 (uniform)" in dax.get_title()
    # the interval bars: from fid_diff_low to fid_diff_high
    (bars,) = [c for c in dax.collections if c.get_gid() == "diff interval"]
    ys = sorted(sorted(s[:, 1]) for s in bars.get_segments())
    np.testing.assert_allclose(ys, [[-2.5, -1.5], [-1.8, -0.2]])


def test_missing_paper_column_and_no_differences(tmp_path):
    t = _table2(paper=False).assign(fid_diff=math.nan)
    res = F.fig_sweep_fid(t, "table2", tmp_path / "t2")
    ax, pax, dax = res.axes
    assert pax is None and res.data["paper_gfid"].isna().all()
    assert len(_gid_points(ax, "ours")) == 3
    assert not [line for line in dax.lines if line.get_gid() == "diff"]
    assert "no paired differences" in " ".join(t.get_text() for t in dax.texts)


def test_table1_one_line_per_tau_and_table3_intervals(tmp_path):
    t1 = pd.DataFrame(
        {
            "tau": [0.1, 0.1, 0.2, 0.2],
            "stage1": ["L", "S", "L", "S"],
            "stage2": ["L", "L", "L", "L"],
            "fid": [1.0, 2.0, 3.0, 4.0],
            "paper_gfid": [2.3, 2.5, math.nan, math.nan],
        }
    )
    res = F.fig_sweep_fid(t1, "table1", tmp_path / "t1")
    ax = res.axes[0]
    assert _ticks(ax) == ["τ=0.1\nL→L", "τ=0.1\nS→L", "τ=0.2\nL→L", "τ=0.2\nS→L"]
    joined = [line for line in ax.lines if line.get_gid() is None]
    assert sorted(tuple(line.get_xdata()) for line in joined) == [(0, 1), (2, 3)]
    assert len(_gid_points(res.axes[1], "paper")) == 2
    t3 = pd.DataFrame({"interval": ["none", "[0.1, 0.3]"], "fid": [5.0, 4.0]})
    res = F.fig_sweep_fid(t3, "table3", tmp_path / "t3")
    assert _ticks(res.axes[0]) == ["none", "[0.1, 0.3]"] and res.axes[1] is None


def test_bad_table_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown table"):
        F.fig_sweep_fid(_table2(), "table9", tmp_path / "x")
    with pytest.raises(ValueError, match=r"lacks columns \['interval'\]"):
        F.fig_sweep_fid(_table2(), "table3", tmp_path / "x")
    with pytest.raises(ValueError, match="empty"):
        F.fig_sweep_fid(_table2().iloc[:0], "table2", tmp_path / "x")


def _brute_force(rows: list[np.ndarray], pad: int = 1, scale: int = 2) -> np.ndarray:
    """White canvas, image j of row i at (pad + i (H + pad), pad + j (W + pad))."""
    h, w = rows[0].shape[1:3]
    out = np.full((len(rows) * (h + pad) + pad, len(rows[0]) * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y : y + h, x : x + w] = img
    return out.repeat(scale, axis=0).repeat(scale, axis=1)


def _samples(rng, labels) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, (len(labels), 4, 5, 3), dtype=np.uint8), np.asarray(labels)


def test_sample_rows_pick_first_per_class():
    rng = np.random.default_rng(0)
    a = _samples(rng, [2, 0, 1, 0, 2, 1, 3])
    b = _samples(rng, [1, 1, 0, 0, 2, 2, 3])
    rows = F.sweep_sample_rows({"a": a, "b": b}, per_class=2, max_cols=5)
    assert rows.shape == (2, 5, 4, 5, 3)
    np.testing.assert_array_equal(rows[0], a[0][[1, 3, 2, 5, 0]])  # classes 0, 0, 1, 1, 2
    np.testing.assert_array_equal(rows[1], b[0][[2, 3, 0, 1, 4]])
    with pytest.raises(ValueError, match="no settings"):
        F.sweep_sample_rows({})
    with pytest.raises(ValueError, match="uint8 images"):
        F.sweep_sample_rows({"a": (a[0].astype(float), a[1])})


def test_grid_rows_are_settings_pixel_exact(tmp_path):
    # 2 settings x 3 images (one per class 0, 1, 2), through build_sweep_grid's files
    rng = np.random.default_rng(1)
    sets = {"s1.0": _samples(rng, [2, 0, 1, 2]), "none": _samples(rng, [0, 1, 2, 0])}
    paths = {}
    for name, (images, labels) in sets.items():
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], images=images, labels=labels)
    out = {k: str(tmp_path / f"t3_samples{s}") for k, s in
           [("grid", "_grid.png"), ("figure", ".png"), ("pdf", ".pdf")]}  # fmt: skip
    build_sweep_grid("table3", paths, out, per_class=1, max_cols=3)
    got = np.asarray(Image.open(out["grid"]).convert("RGB"))
    want = _brute_force([sets["s1.0"][0][[1, 2, 0]], sets["none"][0][[0, 1, 2]]])
    np.testing.assert_array_equal(got, want)
    res = F.fig_sweep_samples(out["grid"], list(sets), tmp_path / "fig")
    ax = res.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["s1.0", "none"]
    # each label at the centre of its row of the grid (rows of 2 x (4 + 1) px, 2 px border)
    np.testing.assert_allclose(res.data["center"], [got.shape[0] / 4, 3 * got.shape[0] / 4])
    assert (tmp_path / "t3_samples.pdf").stat().st_size > 1000


@pytest.mark.parametrize("name", ["table1", "table2", "table3"])
def test_build_sweep_table_draws_the_plot_from_the_written_table(tmp_path, name):
    from test_tables import _replicates, _sweeps

    from navref.report.build import build_sweep_table

    kind = {"table1": "stage_swap", "table2": "timestep_shift", "table3": "cfg_interval"}[name]
    own = _sweeps()[_sweeps()["sweep"] == kind].reset_index(drop=True)
    own.to_parquet(tmp_path / "sweep.parquet")
    _replicates(own).to_parquet(tmp_path / "reps.parquet")
    out = {k: str(tmp_path / f"{name}.{k}") for k in ("md", "html")}
    out |= {
        "plot": str(tmp_path / f"{name}_fid.png"),
        "plot_pdf": str(tmp_path / f"{name}_fid.pdf"),
    }
    build_sweep_table(name, tmp_path / "sweep.parquet", [], out, {}, tmp_path / "reps.parquet")
    table = pd.read_parquet(tmp_path / f"{name}.parquet")
    assert Image.open(out["plot"]).size[0] > 300 and (tmp_path / f"{name}_fid.pdf").is_file()
    redrawn = F.fig_sweep_fid(table, name, tmp_path / "again")  # what the rule drew
    assert len(redrawn.data) == len(table) and redrawn.data["fid"].tolist() == table["fid"].tolist()
    have_diff = int(np.isfinite(table["fid_diff"]).sum())
    assert have_diff > 0 and len(_gid_points(redrawn.axes[2], "diff")) == have_diff
