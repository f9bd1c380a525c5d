"""Shared fixtures: repository paths and a runner for snakemake on a config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def run_snakemake(config: dict | Path, workdir: Path, *args: str, timeout: int = 600):
    """Run snakemake on ``config`` (a dict is written to ``workdir/config.yaml``) in ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        path = workdir / "config.yaml"
        path.write_text(yaml.safe_dump(config))
    else:
        path = Path(config)
    cmd = [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(path),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir)


@pytest.fixture
def smoke_config() -> dict:
    return yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake (dry) run as {rule: count}."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    except StopIteration:
        return counts
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        if parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """The whole pipeline on configs/smoke.yaml, run once per test session (local executor)."""
    workdir = tmp_path_factory.mktemp("smoke_local")
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    proc = run_snakemake(config, workdir, "--cores", "2", timeout=1500)
    if proc.returncode != 0:
        raise AssertionError(
            f"smoke pipeline failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return workdir
