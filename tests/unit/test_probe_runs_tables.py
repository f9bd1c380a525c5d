"""gather_probe_tables: the tau probes' rows by model, then by absolute tau."""

from __future__ import annotations

import pandas as pd

from navref.probe_runs import gather_probe_tables


def test_tau_probe_rows_sort_by_absolute_tau(tmp_path):
    # specs in the config's (string-sorted) order; their absolute taus are not in that order
    specs = {"b": [("0.0", 0.0), ("1.0", 1.0), ("s0.25", 0.09), ("s1.0", 0.36)],
             "a": [("s2.0", 0.72), ("0.5", 0.5)]}  # fmt: skip
    paths = []
    for model, rows in specs.items():
        for spec, tau in rows:
            path = tmp_path / "mixed" / model / f"tau{spec}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame({"tau_spec": [spec], "tau": [tau], "share": [tau * 2]}).to_parquet(path)
            paths.append(str(path))
    models = {m: {"space": "z", "size": "tiny", "target": "cfm", "steps": 1} for m in specs}
    out = {
        k: str(tmp_path / f"{k}.parquet")
        for k in ("loss_curves", "intermediate", "mixed", "unseen")
    }
    gather_probe_tables(
        {"loss_curves": [], "intermediate": [], "mixed": paths, "unseen": []}, models, out
    )
    got = pd.read_parquet(out["mixed"])
    assert got["model"].tolist() == ["b"] * 4 + ["a"] * 2  # models in the gathered order
    assert got["tau"].tolist() == [0.0, 0.09, 0.36, 1.0, 0.5, 0.72]
    assert got["tau_spec"].tolist() == ["0.0", "s0.25", "s1.0", "1.0", "0.5", "s2.0"]
    assert got["share"].tolist() == [2 * t for t in got["tau"]]  # rows kept whole
