"""benchmarks/compare_runs.py --paired: two runs' FIDs compared setting by setting with the paired
bootstrap, checked on constructed runs where the answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file


def _run(
    root: Path, shift: dict[str, float], verdicts: dict[str, str], weight: float, own: int = 0
) -> Path:
    """A run with settings a, b, c of sweep s (3 seeds, 50 replicates): FID 10 + setting
    offset + seed noise + ``shift`` of the setting; replicates = that FID + 1 (the bootstrap's
    bias) + a replicate effect shared by the runs (the same resampled indices) + a run's own
    replicate noise (seed ``own``; none for 0)."""
    rng = np.random.default_rng(0)  # the same draws in both runs: what the runs share
    rep_effect = rng.normal(0, 0.3, size=(3, 50))
    if own:
        rep_effect = rep_effect + np.random.default_rng(own).normal(0, 0.3, size=(3, 50))
    for i, setting in enumerate("abc"):
        fid = 10 + i + rng.normal(0, 0.5, size=3) + shift.get(setting, 0.0)
        d = root / "metrics" / "s"
        d.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"seed": [0, 1, 2], "fid": fid}).to_parquet(d / f"{setting}.parquet")
        reps = [{"seed": s, "replicate": r, "fid": fid[s] + 1.0 + rep_effect[s, r]}
                for s in range(3) for r in range(50)]  # fmt: skip
        pd.DataFrame(reps).to_parquet(d / f"{setting}_bootstrap.parquet")
    pd.DataFrame({"claim_id": list(verdicts), "verdict": list(verdicts.values())}).to_parquet(
        root / "claims.parquet"
    )
    (root / "models" / "m").mkdir(parents=True)
    save_file({"w": torch.full((2,), weight)}, str(root / "models" / "m" / "model.safetensors"))
    return root


def test_a_moved_setting_a_changed_verdict_and_changed_weights_are_found(
    tmp_path, capsys, benchmark_script
):
    rd = benchmark_script("compare_runs")
    a = _run(tmp_path / "a", {}, {"1": "reproduced", "2": "inconclusive"}, 1.0)
    b = _run(
        tmp_path / "b",
        {"b": 2.0, "c": 0.001},
        {"1": "reproduced", "2": "not reproduced"},
        1.0,
        own=1,
    )
    table = rd.fid_differences(a, b).set_index("setting")
    assert table.loc["a", "diff"] == 0 and table.loc["a", "within"]  # only replicate noise
    assert table.loc["b", "diff"] == pytest.approx(2.0) and not table.loc["b", "within"]
    assert table.loc["c", "within"] and table.loc["c", "diff"] > 0
    assert list(rd.verdict_changes(a, b).index) == ["2"]
    assert rd.upstream_differences(a, b) == []
    c = _run(tmp_path / "c", {}, {"1": "reproduced", "2": "inconclusive"}, 2.0)
    assert rd.upstream_differences(a, c) == [str(Path("models/m/model.safetensors"))]
    rd.paired_report(a, b)
    out = capsys.readouterr().out
    assert "bitwise equal" in out and "outside its 95 % paired interval: 1;" in out
    assert "claims with another verdict: 1" in out


def test_table_shifts_and_checkpoint_rng_state(tmp_path, benchmark_script):
    rd = benchmark_script("compare_runs")
    runs = []
    for name, diffs, rng in (("a", [0.0, -1.0, 0.5], 1.0), ("b", [0.0, -0.8, 0.9], 2.0)):
        root = tmp_path / name
        (root / "tables").mkdir(parents=True)
        table = pd.DataFrame({"fid_diff": diffs, "fid_diff_low": [np.nan, -1.4, 0.2],
                              "fid_diff_high": [np.nan, -0.6, 0.8]})  # fmt: skip
        table.to_parquet(root / "tables" / "table9.parquet")
        (root / "models" / "m" / "checkpoints").mkdir(parents=True)
        state = {"w": torch.ones(2), "rng.torch_cpu": torch.full((2,), rng)}
        save_file(state, str(root / "models" / "m" / "checkpoints" / "last.safetensors"))
        runs.append(root)
    shifts = rd.table_shifts(*runs).set_index("table")
    # the reference row has no interval; -0.8 lies in [-1.4, -0.6], 0.9 outside [0.2, 0.8]
    assert shifts.loc["table9", "rows"] == 2 and shifts.loc["table9", "inside"] == 1
    assert shifts.loc["table9", "max_shift_over_half_width"] == pytest.approx(0.4 / 0.3)
    assert rd.upstream_differences(*runs) == []  # only the RNG state differs
