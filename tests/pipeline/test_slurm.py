"""The SLURM profile on a real (single-node, throw-away) SLURM cluster.

The module fixture starts a cluster on this machine (tests/pipeline/slurm_cluster.py: apt-get installs
munge/slurm if missing, two fake GPUs); without root, apt-get or the packages the cluster
tests are skipped with the reason (shown by ``-ra``). Three workflow runs go at once:

- ``slurm``: the smoke config plus tests/pipeline/configs/slurm_smoke.yaml (train_vae asks for a GPU)
  through ``--profile profiles/slurm``;
- ``local``: the same config and targets through ``--profile profiles/local``;
- ``fail``: tests/pipeline/configs/slurm_fail.yaml (an image folder that does not exist) through the
  SLURM profile.

The slurm run stops after the rules in ``UNTIL`` (with everything upstream: data set, VAE
training on a GPU, latents), which keeps the module at about two minutes however much the
smoke DAG grows; ``NAVREF_SLURM_FULL=1`` runs the whole smoke DAG instead.

Command-line extras a real cluster does not need (see profiles/slurm/config.yaml and
/work/shared/notes/local-slurm.md): the test cluster has no accounting, so status checks use
squeue and jobs carry no account; the partition is the test cluster's; status checks start
after 2 s instead of 20 s.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors import safe_open
from slurm_cluster import PARTITION, ClusterUnavailable, SlurmCluster, start_cluster

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"
OVERLAY = REPO / "tests" / "pipeline" / "configs" / "slurm_smoke.yaml"
CONFIGS = [REPO / "configs" / "smoke.yaml", OVERLAY]
FAIL_CONFIG = REPO / "tests" / "pipeline" / "configs" / "slurm_fail.yaml"
UNTIL = ["encode_latents"]
FULL = bool(os.environ.get("NAVREF_SLURM_FULL"))
RUN_TIMEOUT = 2400 if FULL else 480  # seconds per workflow run (timeout -k 30 ...)
CLUSTER_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--default-resources",
    f"slurm_partition={PARTITION}",
    "--slurm-init-seconds-before-status-checks",
    "2",
]
# Outputs that legitimately differ between two processes: per-run logs and timings; in
# training checkpoints also the process's global RNG state and a random token pairing the
# .json with its .safetensors (the trained weights themselves must be equal).
SKIP_DIRS = ("results/smoke/logs/", "results/smoke/benchmarks/")  # run_name: smoke
SKIP_SUFFIXES = (".pdf", ".html")  # embed a creation date
VOLATILE = re.compile(
    r"^(?:time|elapsed|wall|walltime|duration|timestamp|date|hostname|host|pid|token)"
    r"(?:_(?:s|ms|sec|secs|seconds|min|h))?$"  # not e.g. split_time (a flow time)
    r"|_(?:seconds|secs)$|_per_(?:s|sec|second)$|throughput|^rng\.",
    re.IGNORECASE,
)


@dataclass
class Run:
    workdir: Path
    returncode: int
    log: str  # snakemake's stderr

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.splitlines()[-n:])


def snakemake_jobs(log: str) -> dict[int, dict]:
    """Job blocks of a snakemake log: jobid -> rule, local, wildcards, log files."""
    jobs: dict[int, dict] = {}
    for m in re.finditer(r"^(localrule|rule) (\w+):\n((?:    .*\n?)*)", log, re.M):
        fields = dict(
            line.strip().split(": ", 1) for line in m.group(3).splitlines() if ": " in line
        )
        if "jobid" not in fields:
            continue
        jobs[int(fields["jobid"])] = {
            "rule": m.group(2),
            "local": m.group(1) == "localrule",
            "wildcards": fields.get("wildcards", ""),
            "logs": [p.strip() for p in fields.get("log", "").split(" (")[0].split(",") if p],
        }
    return jobs


def submissions(log: str) -> list[tuple[int, int, str]]:
    """(snakemake jobid, SLURM job id, SLURM log) of every sbatch submission in a log."""
    pat = r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.*)\)\.$"
    return [(int(a), int(b), c) for a, b, c in re.findall(pat, log, re.M)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _snakemake(workdir: Path, configs: list[Path], *args: str) -> list[str]:
    return [
        "timeout",
        "-k",
        "30",
        str(RUN_TIMEOUT),
        *SNAKEMAKE,
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        *map(str, configs),
        *args,
    ]


@pytest.fixture(scope="module")
def cluster():
    try:
        c = start_cluster()
    except ClusterUnavailable as err:
        pytest.skip(f"no local SLURM test cluster: {err}")
    try:
        yield c
    finally:
        c.stop(keep_state=bool(os.environ.get("NAVREF_KEEP_SLURM")))


@pytest.fixture(scope="module")
def runs(cluster: SlurmCluster, tmp_path_factory) -> dict[str, Run]:
    """The three workflow runs (slurm, local, fail), started together and awaited."""
    base = tmp_path_factory.mktemp("slurm_profile")
    targets = [] if FULL else ["--until", *UNTIL]
    slurm_extra = [
        *CLUSTER_ARGS,
        "--resources",
        f"mem_mb={cluster.real_memory_mb}",  # cap per-job --mem at what the node has
        "--max-threads",
        str(cluster.cpus),
    ]
    specs = {
        "slurm": (
            _snakemake(
                base / "slurm", CONFIGS, "--profile", str(SLURM_PROFILE), *slurm_extra, *targets
            ),
            cluster.env,
        ),
        # --cores 2: the overlay's train_vae books 2 GPUs x 1 CPU, so it runs on 2 threads
        # (threads as booked) under SLURM; locally it must get the same 2 threads to be equal
        "local": (
            _snakemake(
                base / "local", CONFIGS, "--profile", str(LOCAL_PROFILE), "--cores", "2", *targets
            ),
            _env(),
        ),
        "fail": (
            _snakemake(
                base / "fail",
                [FAIL_CONFIG],
                "--profile",
                str(SLURM_PROFILE),
                *slurm_extra,
                "--until",
                "prepare_dataset",  # not the config's other (default) analyses
            ),
            cluster.env,
        ),
    }
    procs = {}
    for name, (cmd, env) in specs.items():
        (base / name).mkdir()
        with open(base / f"{name}.stderr", "w") as err:  # files, not pipes: no blocking
            procs[name] = subprocess.Popen(
                cmd,
                cwd=base / name,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
    out = {}
    try:
        for name, proc in procs.items():
            proc.wait(timeout=RUN_TIMEOUT + 90)
            log = (base / f"{name}.stderr").read_text(errors="replace")
            out[name] = Run(base / name, proc.returncode, log)
            print(f"--- {name} run (exit {proc.returncode}) ---\n{out[name].tail(15)}")
    finally:
        for proc in procs.values():  # only after an error: `timeout` ends them otherwise
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # timeout and snakemake: one group
                proc.wait()
    return out


@pytest.mark.slurm  # -m 'not slurm' deselects the cluster tests
@pytest.mark.slow
def test_every_job_is_submitted_with_sbatch_and_completes(runs, cluster):
    run = runs["slurm"]
    assert run.returncode == 0, f"slurm run failed:\n{run.tail()}\n{cluster.diagnostics()}"
    jobs = snakemake_jobs(run.log)
    remote = {j for j, info in jobs.items() if not info["local"]}
    subs = submissions(run.log)
    assert len(remote) >= 4, f"expected the smoke DAG, got jobs {jobs}"
    # each non-local job went through sbatch exactly once; local ones (rule all) never
    assert sorted(s[0] for s in subs) == sorted(remote), (subs, jobs)
    # the controller ran exactly these SLURM jobs in this working directory, all successful
    ctl = {int(j["JobId"]): j for j in cluster.jobs() if j.get("WorkDir") == str(run.workdir)}
    assert sorted(ctl) == sorted(s[1] for s in subs), (ctl, subs)
    allocated = set(
        # the main scheduler logs "sched: Allocate JobId=N", the backfill scheduler
        # "sched/backfill: _start_job: Started JobId=N"; which one starts a job is a matter of timing
        map(
            int,
            re.findall(
                r"(?:Allocate|: Started) JobId=(\d+)",
                cluster.ctld_log.read_text(),
            ),
        )
    )
    for sm_id, slurm_id, _ in subs:
        job = ctl[slurm_id]
        assert job["JobState"] == "COMPLETED" and job["ExitCode"] == "0:0", job
        assert job["Partition"] == PARTITION
        rule = jobs[sm_id]["rule"]
        assert re.fullmatch(rf"rule_{rule}(_wildcards_.*)?", job["Comment"]), job
        assert slurm_id in allocated
    # the same jobs as the local run executed (rule and wildcards)
    local = sorted(
        (j["rule"], j["wildcards"])
        for j in snakemake_jobs(runs["local"].log).values()
        if not (j["rule"] == "all")
    )
    assert sorted((jobs[j]["rule"], jobs[j]["wildcards"]) for j in remote) == local


@pytest.mark.slurm  # -m 'not slurm' deselects the cluster tests
@pytest.mark.slow
def test_gpu_rule_asks_for_and_gets_a_gpu(runs, cluster):
    run = runs["slurm"]
    assert run.returncode == 0, run.tail()
    overlay = yaml.safe_load(OVERLAY.read_text())["resources"]
    gpus = {rule: r["gpu"] for rule, r in overlay.items() if r.get("gpu")}
    jobs = snakemake_jobs(run.log)
    ctl = {int(j["JobId"]): j for j in cluster.jobs()}
    seen_gpu = 0
    for sm_id, slurm_id, _ in submissions(run.log):
        info, job = jobs[sm_id], ctl[slurm_id]
        n = gpus.get(info["rule"], 0)
        # sbatch --gpus=N is recorded as TresPerJob=gres:gpu:N
        assert (
            (job.get("TresPerJob") == f"gres:gpu:{n}")
            if n
            else ("gpu" not in job.get("TresPerJob", ""))
        ), job
        for rel in info["logs"]:
            m = re.search(r"CUDA_VISIBLE_DEVICES=(\S+)", (run.workdir / rel).read_text())
            if m is None:
                continue
            if n:
                seen_gpu += 1
                assert len(m.group(1).split(",")) == n and m.group(1) != "None", (rel, m.group(0))
            else:  # only the allocation sets it: the variable is not inherited
                assert m.group(1) == "None", (rel, m.group(0))
    assert seen_gpu >= 1, f"no log of a GPU rule ({sorted(gpus)}) recorded CUDA_VISIBLE_DEVICES"


def _drop_volatile(obj):
    if isinstance(obj, dict):
        return {k: _drop_volatile(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [_drop_volatile(v) for v in obj]
    return obj


def _outputs(workdir: Path) -> dict[str, Path]:
    files = {}
    for path in sorted((workdir / "results").rglob("*")):
        rel = path.relative_to(workdir).as_posix()
        if path.is_file() and not rel.startswith(SKIP_DIRS) and not rel.endswith(SKIP_SUFFIXES):
            files[rel] = path
    return files


def assert_same_output(a: Path, b: Path) -> None:
    """Byte-equal, or equal content (.npy, .parquet, .json, .safetensors) without volatile fields."""
    if a.suffix == ".npy":
        x, y = np.load(a), np.load(b)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"), a
    elif a.suffix == ".parquet":
        x, y = pd.read_parquet(a), pd.read_parquet(b)
        x = x[[c for c in x.columns if not VOLATILE.search(str(c))]]
        y = y[[c for c in y.columns if not VOLATILE.search(str(c))]]
        pd.testing.assert_frame_equal(x, y, check_exact=True, obj=str(a))
    elif a.suffix == ".safetensors":
        with safe_open(a, "pt") as x, safe_open(b, "pt") as y:
            assert _drop_volatile(x.metadata() or {}) == _drop_volatile(y.metadata() or {}), a
            keys = sorted(k for k in x.keys() if not VOLATILE.search(k))
            assert keys == sorted(k for k in y.keys() if not VOLATILE.search(k)), a
            for k in keys:
                assert torch.equal(x.get_tensor(k), y.get_tensor(k)), f"{a}: tensor {k}"
    elif a.suffix == ".json":
        assert _drop_volatile(json.loads(a.read_text())) == _drop_volatile(
            json.loads(b.read_text())
        ), a
    else:
        assert a.read_bytes() == b.read_bytes(), a


@pytest.mark.slurm  # -m 'not slurm' deselects the cluster tests
@pytest.mark.slow
def test_outputs_equal_local_run(runs):
    slurm, local = runs["slurm"], runs["local"]
    assert slurm.returncode == 0, slurm.tail()
    assert local.returncode == 0, local.tail()
    a, b = _outputs(slurm.workdir), _outputs(local.workdir)
    assert sorted(a) == sorted(b)
    assert any(p.endswith(".npy") for p in a), sorted(a)
    for rel in a:
        assert_same_output(a[rel], b[rel])


@pytest.mark.slurm  # -m 'not slurm' deselects the cluster tests
@pytest.mark.slow
def test_failing_job_is_reported_and_its_logs_kept(runs, cluster):
    run = runs["fail"]
    assert run.returncode != 0, run.tail()
    assert re.search(r"Error in rule prepare_dataset", run.log), run.tail()
    subs = submissions(run.log)
    retries = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text()).get("retries", 0)
    assert len(subs) == retries + 1, subs  # the profile's retries: resubmitted, failed again
    ctl = {int(j["JobId"]): j for j in cluster.jobs()}
    for _, slurm_id, slurm_log in subs:
        assert ctl[slurm_id]["JobState"] == "FAILED", ctl[slurm_id]
        assert f"SLURM-job '{slurm_id}' failed" in run.log
        assert Path(slurm_log).is_file(), f"SLURM log of a failed job deleted: {slurm_log}"
    rule_log = run.workdir / "results" / "default" / "logs" / "prepare_dataset" / "missing.log"
    text = rule_log.read_text()
    assert (
        "navref: rule prepare_dataset" in text and "/nonexistent/navref-slurm-test/images" in text
    ), text
    assert not (run.workdir / "results" / "default" / "data" / "missing" / "info.json").exists()


@pytest.mark.parametrize("profile", ["slurm", "local"])
def test_profile_dry_run(profile, tmp_path):
    """The profiles parse and plan the paper config (no cluster needed)."""
    config = REPO / "configs" / "paper.yaml"
    if not config.exists():
        config = REPO / "configs" / "smoke.yaml"
    cmd = [*SNAKEMAKE, "-n", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    cmd += ["--profile", str(REPO / "profiles" / profile), "--configfile", str(config)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Job stats:" in res.stdout + res.stderr
