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
def single_thread():
    """torch on one CPU thread during the test, restored after (modules use it with
    ``pytestmark = pytest.mark.usefixtures("single_thread")``): as the CPU jobs run, so a
    DiT's rows are batch-independent; and tiny models gain nothing from threads, whose
    spin-waiting slows every op several-fold on the shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def plan_then_run(config: dict, workdir: Path, what: str, timeout: int = 1500) -> str:
    """A dry run of ``config`` in ``workdir``, then the run on 2 cores; an AssertionError
    naming ``what`` with the tail of Snakemake's output when either fails. Returns the dry
    run's output (its job counts: :func:`job_counts`)."""
    dry = run_snakemake(config, workdir, "-n", timeout=300)
    assert dry.returncode == 0, dry.stderr[-4000:]
    proc = run_snakemake(config, workdir, "--cores", "2", timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return dry.stdout + dry.stderr


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


def xdist_scope(nodeid: str, root: Path = REPO) -> str:
    """The unit of work of test ``nodeid`` when make test runs pytest-xdist (``-n 2 --dist
    loadscope``): its module, so module-scoped fixtures (the SLURM cluster, the paper
    miniature's run) are built once, on one worker; but every module whose code names the
    session fixture ``smoke_run`` (as an argument or through ``getfixturevalue``) shares the
    scope ``smoke_run``, so the smoke pipeline runs once, not once per worker."""
    module = nodeid.split("::", 1)[0]
    path = root / module
    if path.suffix == ".py" and path.is_file() and "smoke_run" in path.read_text():
        return "smoke_run"
    return module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's ``--dist loadscope`` with the scopes of :func:`xdist_scope` (the
    ``xdist_group`` marks of ``--dist loadgroup`` are lost under pytest 9, which ignores
    the node-id suffix pytest-xdist 3.8 writes). Other ``--dist`` modes: xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_scope(nodeid, config.rootpath)

    return ModuleScheduling(config, log)


@pytest.fixture
def benchmark_script():
    """``load(name)``: the module of ``benchmarks/<name>.py`` (not a package: loaded by
    path), executed fresh."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
