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


def test_brief_is_one_line_with_the_run_folder_and_the_longest_rule(tmp_path, capsys):
    mod = _load()
    bench = tmp_path / "results" / "default" / "benchmarks"
    _write(bench / "train_model" / "tiny.tsv", 120.0, 900)
    _write(bench / "train_model" / "small.tsv", 306.0, 950)
    _write(bench / "prepare_dataset" / "digits.tsv", 60.0, 800)
    assert mod.main(["--root", str(bench), "--brief"]) == 0
    out = capsys.readouterr().out
    assert out == f"{bench.parent}/: 3 jobs, 8.1 job-minutes, longest rule train_model 7.1\n"
    with pytest.raises(SystemExit, match="run the pipeline first"):
        mod.main(["--run", "absent", "--root", str(tmp_path / "absent"), "--brief"])


def test_clear_errors(tmp_path):
    mod = _load()
    with pytest.raises(SystemExit, match="does not exist"):
        mod.main(["--root", str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="no benchmark files"):
        mod.collect(tmp_path)
    (tmp_path / "bad.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(SystemExit, match="not a benchmark file"):
        mod.collect(tmp_path)


def _log(path: Path, *lines: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = "12:00:00 INFO "
    path.write_text("".join(stamp + line + "\n" for line in lines))


def test_fixed_cost_per_rule_from_the_rule_logs(tmp_path, capsys):
    mod = _load()
    bench, logs = tmp_path / "benchmarks", tmp_path / "logs"
    for name, seconds in [("a", 60.0), ("b", 60.0), ("c", 60.0)]:
        _write(bench / "evaluate_samples" / "sweep" / f"{name}.tsv", seconds, 800)
    _write(bench / "sweep_tables.tsv", 6.0, 500)
    ready = "navref: ready after {} s since process start"
    _log(logs / "evaluate_samples" / "sweep" / "a.log", "rule evaluate_samples {}",
         ready.format("9.00"),  # an earlier run of the same job: its last mark counts
         ready.format("3.00"), "navref: inputs loaded after 4.50 s since process start")  # fmt: skip
    _log(logs / "evaluate_samples" / "sweep" / "b.log", ready.format("5.00"))
    _log(logs / "evaluate_samples" / "sweep" / "c.log", ready.format("4.25"))
    _log(logs / "sweep_tables.log", ready.format("0.60"))
    _log(logs / "other" / "x.log", "no mark here")
    marks = mod.collect_marks(logs)
    assert len(marks) == 4 and "other" not in set(marks["rule"])
    per = mod.fixed_costs(marks)
    assert per.loc["evaluate_samples", "fixed_s"] == pytest.approx(4.25)
    assert per.loc["evaluate_samples", "fixed_minutes"] == pytest.approx(12.25 / 60)
    assert per.loc["evaluate_samples", "loaded_s"] == pytest.approx(4.5)
    assert per.loc["sweep_tables", "fixed_s"] == pytest.approx(0.6)
    assert mod.main(["--root", str(bench)]) == 0
    out = capsys.readouterr().out
    assert "fixed cost: median 3.62 s per job over 4 jobs" in out
    row = next(line for line in out.splitlines() if line.startswith("evaluate_samples"))
    assert "4.25" in row and "4.50" in row


def test_runs_without_marks_still_print_job_minutes(tmp_path, capsys):
    mod = _load()
    _write(tmp_path / "benchmarks" / "train_model" / "tiny.tsv", 120.0, 900)
    assert mod.main(["--root", str(tmp_path / "benchmarks")]) == 0
    out = capsys.readouterr().out
    assert "1 jobs, 2.0 job-minutes" in out and "fixed cost" not in out
