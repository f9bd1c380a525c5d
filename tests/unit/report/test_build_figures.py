"""navref.report.build.build_figure: one paper figure per call, from its own inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from navref.analysis.split_times import SplitTimes
from navref.report import build as B


def _split_times(**spaces: float) -> SplitTimes:
    rows = [
        {"curve": "objective", "space": s, "conditional": True, "threshold": 0.9,
         "t_split_grid": t, "t_split": t, "reached": True}
        for s, t in spaces.items()
    ]  # fmt: skip
    return SplitTimes(pd.DataFrame(rows))


def test_split_arg_one_number_for_one_space_else_per_space():
    sp = _split_times(pix=0.3, vae=0.5)
    assert B._split_arg(sp, {"a": "pix", "b": "pix"}) == 0.3
    assert B._split_arg(sp, {"a": "pix", "b": "vae"}) == {"pix": 0.3, "vae": 0.5}
    assert B._split_arg(sp, {"a": "other"}) is None  # no objective curve: nothing marked


def test_build_figure_names_the_known_figures():
    assert set(B.FIGURES) == {"fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig9", "training"}
    with pytest.raises(ValueError, match="known: .*fig5"):
        B.build_figure("fig8", {}, {}, {})


def test_build_training_figure_from_its_own_input(tmp_path):
    logs = pd.DataFrame({"model": ["a"] * 3, "step": [1, 2, 3], "loss": [1.0, 0.5, 0.4],
                         "grad_norm": [1.0, 1.0, 1.0], "lr": [1e-3] * 3})  # fmt: skip
    logs.to_parquet(tmp_path / "logs.parquet")
    out = {"training": str(tmp_path / "training_curves.png")}
    B.build_figure("training", {"train_logs": tmp_path / "logs.parquet"}, {"window": 2}, out)
    assert (tmp_path / "training_curves.png").stat().st_size > 1000
    assert (tmp_path / "training_curves.pdf").is_file()
