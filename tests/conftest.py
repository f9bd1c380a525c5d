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
