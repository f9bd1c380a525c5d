"""benchmarks/pipeline_time.py sums Snakemake benchmark files per rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HEAD = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _load():
    path = Path(__file__).parents[2] / "benchmarks" / "pipeline_time.py"
    spec = importlib.util.spec_from_file_location("pipeline_time", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(path: Path, seconds: float, rss: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + f"{seconds}\t0:00:00\t{rss}\t0\t0\t0\t0\t0\t50\t{seconds / 2}\n")


def test_sums_per_rule(tmp_path, capsys):
    mod = _load()
    _write(tmp_path / "train_model" / "tiny.tsv", 120.0, 900)
    _write(tmp_path / "train_model" / "small.tsv", 360.0, 950)
    _write(tmp_path / "sample_x" / "a" / "seed0.tsv", 60.0, 800)
    _write(tmp_path / "report_tables.tsv", 6.0, 500)
    per = mod.summarise(mod.collect(tmp_path))
    assert per.loc["train_model", "jobs"] == 2
    assert per.loc["train_model", "job_minutes"] == pytest.approx(8.0)
    assert per.loc["train_model", "max_rss_mb"] == 950
    assert per.loc["report_tables", "job_minutes"] == pytest.approx(0.1)
    assert per["share"].sum() == pytest.approx(1.0)
    assert list(per.index)[0] == "train_model"
    assert mod.main(["--root", str(tmp_path)]) == 0
    assert "4 jobs, 9.1 job-minutes" in capsys.readouterr().out


def test_clear_errors(tmp_path):
    mod = _load()
    with pytest.raises(SystemExit, match="does not exist"):
        mod.main(["--root", str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="no benchmark files"):
        mod.collect(tmp_path)
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(SystemExit, match="not a benchmark file"):
        mod.collect(tmp_path)
