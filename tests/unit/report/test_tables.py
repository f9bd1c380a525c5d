"""Tests of navref.paper and navref.report.tables: the paper's numbers, seed
aggregation, matching to the paper's rows, and the written Parquet / Markdown / LaTeX."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from navref.report import tables
from navref.sweeps import cfg_interval, stage_swap, timestep_shift
from navref.sweeps.cfg_interval import table3
from navref.sweeps.stage_swap import SIZE_ORDER, table1
from navref.sweeps.timestep_shift import table2

NOTES = Path("/work/shared/paper/NOTES.md")

# The paper's numbers, typed again from NOTES.md (independently of navref.paper).
TAB1 = {  # (tau, stage1, stage2) -> gFID
    (0.1, "XL", "XL"): 2.94,
    (0.1, "Base", "XL"): 3.71,
    (0.1, "XL", "Base"): 11.26,
    (0.1, "Base", "Base"): 12.45,
    (0.2, "XL", "XL"): 2.60,
    (0.2, "Base", "XL"): 4.47,
    (0.2, "XL", "Base"): 9.24,
    (0.2, "Base", "Base"): 12.01,
}
TAB2 = {4: 18.89, 2: 14.82, 1: 12.99, 0.7: 12.46, 0.5: 12.23, 0.3: 12.66, 0.1: 19.91}
TAB3_NARROW = [6.33, 5.21, 7.70, 9.39, 10.39, 10.59, 11.06, 11.38, 11.64, 12.20]
TAB3_WIDE = {
    (0.0, 1.0): 10.79,
    (0.1, 0.3): 3.54,
    (0.1, 0.5): 2.82,
    (0.1, 0.6): 2.80,
    (0.1, 0.7): 2.86,
}

SIZE = {"Base": "tiny", "XL": "small"}
METRIC_COLS = ["fid", "kid_mean", "kid_std", "precision", "recall", "memorization_share"]
METRIC_COLS += ["mean_nn1_dist"]


def _metrics(rng, fid):
    return {
        "fid": fid,
        "kid_mean": 0.01 * fid,
        "kid_std": 0.001,
        "precision": rng.uniform(0.5, 0.9),
        "recall": rng.uniform(0.3, 0.6),
        "memorization_share": rng.uniform(0, 0.1),
        "mean_nn1_dist": rng.uniform(1, 2),
    }


def _sweeps() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    base = {"num_samples": 500}
    for (tau, s1, s2), g in TAB1.items():
        for seed in (0, 1, 2):
            rows.append(
                {
                    "sweep": "stage_swap",
                    "setting": f"swap_{tau}_{s1}_{s2}",
                    "seed": seed,
                    **base,
                    "tau": tau,
                    "stage1": f"m-{SIZE[s1]}",
                    "stage2": f"m-{SIZE[s2]}",
                    "stage1_size": SIZE[s1],
                    "stage2_size": SIZE[s2],
                    **_metrics(rng, 10 * g + seed),
                }
            )
    for seed in (0, 1):  # a tau the paper does not have
        rows.append(
            {
                "sweep": "stage_swap",
                "setting": "swap_0.35",
                "seed": seed,
                **base,
                "tau": 0.35,
                "stage1": "m-tiny",
                "stage2": "m-small",
                "stage1_size": "tiny",
                "stage2_size": "small",
                **_metrics(rng, 40.0 + seed),
            }
        )
    for s in [*TAB2, 0.8]:
        for seed in (0, 1):
            rows.append(
                {
                    "sweep": "timestep_shift",
                    "setting": f"shift_{s}",
                    "seed": seed,
                    **base,
                    "shift": float(s),
                    "steps": 50,
                    "share_below_split": 0.2,
                    "split_time": 0.1,  # the paper's split: our times are the paper's
                    **_metrics(rng, 100.0 * s + seed),
                }
            )
    intervals = [
        (None, None),
        (0.0, 0.1),
        (0.1, 0.2),
        (0.9, 1.0),
        (0.0, 1.0),
        (0.1, 0.6),
        (0.2, 0.5),
    ]
    for a, b in intervals:
        for seed in (3, 5):
            rows.append(
                {
                    "sweep": "cfg_interval",
                    "setting": f"cfg_{a}_{b}",
                    "seed": seed,
                    "num_samples": 400 + seed,
                    "cfg_a": a,
                    "cfg_b": b,
                    "cfg_scale": 2.5,
                    "split_time": 0.1,
                    **_metrics(rng, 50.0 + (0 if a is None else 10 * a + b) + seed),
                }
            )
    return pd.DataFrame(rows)


def test_paper_numbers_match_notes():
    t1 = stage_swap.paper_rows()
    assert len(t1) == 8
    for _, r in t1.iterrows():
        assert r["gfid"] == TAB1[(r["tau"], r["stage1"], r["stage2"])]
        assert r["stage1_role"] == {"Base": "small", "XL": "large"}[r["stage1"]]
    t2 = timestep_shift.paper_rows()
    assert dict(zip(t2["shift"], t2["gfid"], strict=True)) == TAB2
    assert t2["share_below_0.2"].tolist() == [0.06, 0.12, 0.22, 0.28, 0.34, 0.46, 0.72]
    t3 = cfg_interval.paper_rows()
    assert len(t3) == 1 + 10 + 11
    assert t3.iloc[0]["interval"] == "none" and t3.iloc[0]["gfid"] == 12.99
    narrow = t3[t3["column"] == "width 0.1"]
    assert narrow["gfid"].tolist() == TAB3_NARROW
    assert narrow["interval"].tolist() == [f"[{a / 10:.1f}, {(a + 1) / 10:.1f}]" for a in range(10)]
    known = t3[(t3["column"] == "wider") & t3["label_known"]]
    assert {(r.cfg_a, r.cfg_b): r.gfid for r in known.itertuples()} == TAB3_WIDE
    unknown = t3[~t3["label_known"]]
    # labels not recovered are kept but never invented
    assert sorted(unknown["gfid"]) == sorted([6.62, 8.03, 9.19, 10.14, 4.16, 2.97])
    assert unknown["interval"].isna().all() and unknown["cfg_b"].isna().all()


@pytest.mark.skipif(not NOTES.is_file(), reason="paper notes not available")
def test_paper_numbers_in_notes_file():
    text = NOTES.read_text()
    for g in [*TAB1.values(), *TAB2.values(), *TAB3_NARROW, *TAB3_WIDE.values()]:
        assert re.search(rf"\b{g:.2f}\b", text), g


def test_table1():
    sweeps = _sweeps()
    tab = table1(sweeps, ["tiny", "small"])
    assert len(tab) == 9
    for c in ["tau", "stage1", "stage2", "stage1_role", "stage2_role", "fid", "fid_std"]:
        assert c in tab.columns
    for c in ["paper_gfid", "kid", "precision", "recall", "memorization", "n_seeds", "seeds"]:
        assert c in tab.columns
    assert tab.columns.get_loc("paper_gfid") == tab.columns.get_loc("fid_std") + 1
    named = tab[tab["tau"] <= 0.2]
    for _, r in named.iterrows():
        key = (r["tau"], r["paper_stage1"], r["paper_stage2"])
        assert r["paper_gfid"] == TAB1[key]
        assert r["fid"] == pytest.approx(10 * TAB1[key] + 1)  # seeds 0, 1, 2
        assert r["fid_std"] == pytest.approx(1.0)  # std of (x, x+1, x+2), ddof = 1
        assert r["n_seeds"] == 3 and r["seeds"] == "0,1,2" and r["num_samples"] == 500
    # paper order within tau: XL/XL, Base/XL, XL/Base, Base/Base
    first = tab[tab["tau"] == 0.1]
    assert list(zip(first["paper_stage1"], first["paper_stage2"], strict=True)) == [
        ("XL", "XL"),
        ("Base", "XL"),
        ("XL", "Base"),
        ("Base", "Base"),
    ]
    other = tab[tab["tau"] == 0.35].iloc[0]
    assert math.isnan(other["paper_gfid"]) and other["n_seeds"] == 2
    # an explicit map from our tau to the paper's
    mapped = table1(sweeps, ["tiny", "small"], tau_map={0.35: 0.2})
    r = mapped[mapped["tau"] == 0.35].iloc[0]
    assert r["paper_tau"] == 0.2 and r["paper_gfid"] == 4.47
    with pytest.raises(ValueError, match="not in size_order"):
        table1(sweeps, ["tiny"])
    with pytest.raises(ValueError, match="no rows with sweep == 'stage_swap'"):
        table1(sweeps[sweeps["sweep"] != "stage_swap"], ["tiny", "small"])
    dup = pd.concat([sweeps, sweeps.iloc[[0]]])
    with pytest.raises(ValueError, match="more than once"):
        table1(dup, ["tiny", "small"])


def test_table2_and_table3():
    sweeps = _sweeps()
    tab = table2(sweeps)
    assert tab["shift"].tolist() == sorted([*TAB2, 0.8], reverse=True)
    for _, r in tab.iterrows():
        assert r["fid"] == pytest.approx(100 * r["shift"] + 0.5)
        assert r["fid_std"] == pytest.approx(math.sqrt(0.5))
        if r["shift"] == 0.8:
            assert math.isnan(r["paper_gfid"]) and math.isnan(r["paper_share_below_0.2"])
        else:
            assert r["paper_gfid"] == TAB2[r["shift"]]
    assert tab.loc[tab["shift"] == 1.0, "paper_share_below_0.2"].item() == 0.22

    tab3 = table3(sweeps)
    assert tab3["interval"].tolist()[0] == "none"
    assert tab3["group"].tolist() == ["none"] + ["width 0.1"] * 3 + ["wider"] * 3
    got = dict(zip(tab3["interval"], tab3["paper_gfid"], strict=True))
    assert got["none"] == 12.99
    assert got["[0.0, 0.1]"] == 6.33 and got["[0.1, 0.2]"] == 5.21 and got["[0.9, 1.0]"] == 12.20
    assert got["[0.0, 1.0]"] == 10.79 and got["[0.1, 0.6]"] == 2.80
    assert math.isnan(got["[0.2, 0.5]"])
    assert set(tab3["seeds"]) == {"3,5"} and set(tab3["num_samples"]) == {403}
    bad = sweeps.copy()
    bad.loc[(bad["sweep"] == "cfg_interval") & (bad["setting"] == "cfg_0.0_0.1"), "cfg_b"] = None
    with pytest.raises(ValueError, match="only one end"):
        table3(bad)


def test_write_table(tmp_path):
    tab = table1(_sweeps(), ["tiny", "small"])
    paths = tables.write_table(tab, tmp_path / "table1")
    assert [p.suffix for p in paths] == [".parquet", ".md", ".tex"]
    back = pd.read_parquet(paths[0])
    pd.testing.assert_frame_equal(back, tab, check_dtype=False)
    md, legend = paths[1].read_text().split("\n\n")  # the table, then what "±" is
    assert legend.startswith("mean ± sample standard deviation over n = 2 or 3 sampling seeds")
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(tab)
    assert lines[0].count("|") == lines[2].count("|")
    header = [c.strip() for c in lines[0].strip().strip("|").split("|")]
    assert (
        "fid" in header
        and "fid_std" not in header
        and len(header) == len(lines[0]) - len(lines[0].replace("|", "")) - 1
    )
    assert "12.45" in md and "125.5 ± 1" in md  # Base/Base tau 0.1: 10 * 12.45 + 1 ± 1
    tex = paths[2].read_text()
    assert "\\begin{tabular}" in tex and "$\\pm$" in tex and "paper\\_gfid" in tex
    assert not list(tmp_path.glob(".table1*"))


def test_split_table(tmp_path):
    sp = pd.DataFrame(
        {
            "curve": ["objective", "objective", "synthetic", "synthetic", "synthetic", "synthetic"],
            "space": ["pix", "pix", np.nan, np.nan, np.nan, np.nan],
            "conditional": [True, False, None, None, None, None],
            "threshold": 0.9,
            "t_split_grid": [0.54, 0.54, 0.5, 0.6, 0.2, np.nan],
            "t_split": [0.531, 0.5301, 0.48, 0.59, 0.19, np.nan],
            "reached": [True, True, True, True, True, False],
            "dim": [np.nan, np.nan, 2.0, 2.0, 8.0, 8.0],
            "size": [np.nan, np.nan, 10.0, 100.0, 10.0, 100.0],
        }
    )
    tab = tables.split_table(sp)
    assert tab["curve"].tolist()[:2] == ["objective", "objective"] and len(tab) == 6
    md = tables.split_markdown(sp)
    assert "| pix | 0.531 | 0.530 |" in md
    assert "| D | N = 10 | N = 100 |" in md
    assert "| 8 | 0.190 | not reached |" in md
    paths = tables.write_split_table(sp, tmp_path / "splits")
    assert paths[0].read_text() == md
    assert len(pd.read_parquet(paths[1])) == 6


# Parquet columns of each table; the claims read these files (keep them stable).
TABLE_COLUMNS = {
    "table1": [
        "tau", "paper_tau", "stage1", "stage2", "stage1_size", "stage2_size", "stage1_role",
        "stage2_role", "paper_stage1", "paper_stage2",
    ],
    "table2": ["shift", "steps", "split_time", "share_below_split", "paper_share_below_0.2"],
    "table3": ["interval", "cfg_a", "cfg_b", "cfg_scale", "group"],
}  # fmt: skip
AGGREGATE = [
    "fid", "fid_std", "paper_gfid", "vs", "fid_diff", "fid_diff_low", "fid_diff_high",
    "fid_diff_by", "kid", "kid_std", "precision", "precision_std", "recall",
    "recall_std", "memorization", "memorization_std", "nn1_dist", "nn1_dist_std", "n_seeds",
    "seeds", "num_samples", "setting",
]  # fmt: skip


def test_build_sweep_table_through_the_sweep_registry(tmp_path):
    from navref.report.build import build_split_table, build_sweep_table

    split = pd.DataFrame(
        {"curve": ["objective"], "space": ["pix"], "conditional": [True], "threshold": 0.9,
         "t_split_grid": [0.2], "t_split": [0.175], "reached": [True]}
    )  # fmt: skip
    split.to_parquet(tmp_path / "split.parquet")
    settings = {"probe_space": "pix", "stage_swap_taus": ["s2.0"], "paper_split": 0.1}
    direct = {
        "table1": table1(_sweeps(), SIZE_ORDER, {0.35: 0.2}),
        "table2": table2(_sweeps()),
        "table3": table3(_sweeps()),
    }
    kinds = {"table1": "stage_swap", "table2": "timestep_shift", "table3": "cfg_interval"}
    for name, cols in TABLE_COLUMNS.items():
        # each table from its own sweep's rows only (results/<run>/metrics/<sweep>.parquet)
        own = _sweeps()[_sweeps()["sweep"] == kinds[name]].reset_index(drop=True)
        own.to_parquet(tmp_path / f"{name}_sweep.parquet")
        out = {k: str(tmp_path / "tables" / f"{name}.{k}") for k in ("md", "html")}
        build_sweep_table(name, tmp_path / f"{name}_sweep.parquet", tmp_path / "split.parquet",
                          out, settings)  # fmt: skip
        back = pd.read_parquet(tmp_path / "tables" / f"{name}.parquet")
        assert list(back.columns) == cols + AGGREGATE, name
        pd.testing.assert_frame_equal(back, direct[name], check_dtype=False)
        note = tables.legend(direct[name])  # the table, then what its "±" is
        assert note.startswith("mean ± sample standard deviation over n = ")
        md = (tmp_path / "tables" / f"{name}.md").read_text()
        assert md == tables.to_markdown(direct[name]) + f"\n{note}\n"
        page = (tmp_path / "tables" / f"{name}.html").read_text()
        first = tables.display_frame(direct[name]).iloc[0]
        assert f"<td>{first['setting']}</td>" in page and "<table" in page
    t1 = pd.read_parquet(tmp_path / "tables" / "table1.parquet")
    assert t1.loc[t1["tau"] == 0.35, "paper_tau"].tolist() == [
        0.2
    ]  # s2.0 of pix (2 x 0.175) -> 2 x the paper split 0.1
    with pytest.raises(ValueError, match="no sweep writes table 'table9'"):
        build_sweep_table("table9", "x", "y", {}, {})
    out = {k: str(tmp_path / "tables" / f"split_times.{k}") for k in ("md", "parquet", "html")}
    build_split_table(tmp_path / "split.parquet", out)
    assert (tmp_path / "tables" / "split_times.md").read_text() == tables.split_markdown(split)
    page = (tmp_path / "tables" / "split_times.html").read_text()
    assert "<td>pix</td>" in page and "<td>0.175</td>" in page


def test_tau_map_by_multiples_of_each_split():
    """s<f> stands for f x the paper's split; an absolute tau for its multiple of ours."""
    from navref.report.build import tau_map_from

    split = pd.DataFrame(
        {"curve": ["objective"], "space": ["pix"], "conditional": [True], "threshold": 0.9,
         "t_split_grid": [0.4], "t_split": [0.36], "reached": [True]}
    )  # fmt: skip
    settings = {"probe_space": "pix", "stage_swap_taus": ["s0.5", "s1.0", 0.72]}
    got = tau_map_from({**settings, "paper_split": 0.1}, split)
    assert got == {0.18: 0.05, 0.36: 0.1, 0.72: 0.2}


def _replicates(sweeps: pd.DataFrame, n_reps: int = 50) -> pd.DataFrame:
    """Replicate k of every setting of a seed = its FID + a resampling effect shared by all
    settings of that seed (spread 2) + 0.01 k for settings above FID 150."""
    rng = np.random.default_rng(7)
    shared = {seed: rng.normal(0, 2.0, n_reps) for seed in sweeps["seed"].unique()}
    rows = []
    for r in sweeps.itertuples():
        for k in range(n_reps):
            fid = r.fid + shared[r.seed][k] + 0.01 * k * (r.fid > 150)
            rows.append({"sweep": r.sweep, "setting": r.setting, "seed": r.seed,
                         "replicate": k, "fid": fid})  # fmt: skip
    return pd.DataFrame(rows)


def test_paired_differences_to_each_tables_reference():
    sweeps = _sweeps()
    reps = _replicates(sweeps)
    t2 = table2(sweeps, reps).set_index("shift")
    assert t2.loc[1.0, "vs"] == "reference" and np.isnan(t2.loc[1.0, "fid_diff"])
    # at the paper's split (0.1) our s = 1 is the paper's uniform, found through the mapping
    assert (t2.drop(index=1.0)["vs"] == "paper's s = 1 (uniform), mapped").all()
    assert (t2.drop(index=1.0)["fid_diff_by"] == "paired bootstrap").all()
    # fid = 100 s + seed: the difference to s = 1 is 100 (s - 1), in both seeds
    assert t2.loc[4.0, "fid_diff"] == pytest.approx(300.0)
    assert t2.loc[0.5, "fid_diff"] == pytest.approx(-50.0)
    # the interval: percentiles 2.5 / 97.5 of 0.01 k, k = 0..49 (s = 4 only; s = 1 has none),
    # moved by the full sets' difference minus the replicates' mean (300 - 300.245)
    lo, hi = t2.loc[4.0, ["fid_diff_low", "fid_diff_high"]]
    assert lo == pytest.approx(300.01225 - 0.245) and hi == pytest.approx(300.47775 - 0.245)
    assert t2.loc[0.5, "fid_diff_low"] == pytest.approx(-50.0) == t2.loc[0.5, "fid_diff_high"]
    # without replicates: the paired t interval over the two seeds (differences constant)
    t2t = table2(sweeps).set_index("shift")
    assert t2t.loc[4.0, "fid_diff_by"] == "paired t"
    assert t2t.loc[4.0, "fid_diff_low"] == pytest.approx(300.0)
    one = sweeps[sweeps["seed"] == 0]
    t2one = table2(one).set_index("shift")
    assert t2one.loc[4.0, "fid_diff_by"] == "one run, no interval"
    assert np.isnan(t2one.loc[4.0, "fid_diff_low"])
    assert re.search(r"\| 300.0 \[299.8, 300.2\] +\|", tables.to_markdown(table2(sweeps, reps)))

    t1 = table1(sweeps, ["tiny", "small"], replicates=reps)
    ref = t1[(t1["stage1_role"] == "large") & (t1["stage2_role"] == "large")]
    assert (ref["vs"] == "reference").all()
    r = t1[(t1["tau"] == 0.1) & (t1["paper_stage1"] == "Base") & (t1["paper_stage2"] == "Base")]
    assert r["fid_diff"].item() == pytest.approx(10 * (12.45 - 2.94))
    assert r["vs"].item() == "(large, large), same tau"
    assert t1.loc[t1["tau"] == 0.35, "vs"].item() == "—"  # no (large, large) at tau 0.35

    t3 = table3(sweeps, reps).set_index("interval")
    assert t3.loc["none", "vs"] == "reference"
    assert t3.loc["[0.1, 0.6]", "fid_diff"] == pytest.approx(10 * 0.1 + 0.6)
    assert t3.loc["[0.1, 0.6]", "fid_diff_by"] == "paired bootstrap"


def test_build_sweep_table_reads_replicates(tmp_path):
    from navref.report.build import build_sweep_table

    own = _sweeps()[_sweeps()["sweep"] == "timestep_shift"].reset_index(drop=True)
    own.to_parquet(tmp_path / "sweep.parquet")
    _replicates(own).to_parquet(tmp_path / "reps.parquet")
    out = {k: str(tmp_path / f"table2.{k}") for k in ("md", "html")}
    build_sweep_table("table2", tmp_path / "sweep.parquet", [], out, {}, tmp_path / "reps.parquet")
    back = pd.read_parquet(tmp_path / "table2.parquet")
    assert set(back["fid_diff_by"]) == {"paired bootstrap", "—"}
