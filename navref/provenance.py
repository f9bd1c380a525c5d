"""Which machine, libraries, threads, code and config produced a result.

navref's numbers are reproducible bitwise only on the same CPU model, thread count and
library versions (float rounding of matrix products differs across CPU models and BLAS
kernels), so every run records what produced it:

- each job's log ends with one line ``navref: provenance {json}`` (:func:`job_record`: CPU
  model, threads, torch version, navref code);
- rule ``provenance`` writes ``results/<run_name>/provenance.json`` after the run's other
  outputs (:func:`run_record`): the machine, library versions and thread settings of that
  job, the code and a digest of the resolved config, and the tally of the job records in
  the run's logs, so a run whose jobs ran on several machines says so;
- ``benchmarks/*`` print :func:`describe_machine` above their figures, and
  ``benchmarks/compare_runs.py`` shows both runs' records.

Nothing here imports torch unless the caller already has (a job's fixed cost).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

__all__ = [
    "CODE_ENV",
    "JOB_PREFIX",
    "code_state",
    "config_digest",
    "describe_machine",
    "job_record",
    "job_records",
    "machine",
    "run_record",
]

#: environment variable the workflow sets at parse time: navref's commit (+ "-dirty")
CODE_ENV = "NAVREF_CODE"
#: prefix of the provenance line in each job's log
JOB_PREFIX = "navref: provenance "
#: CPU flags that decide which kernels run (and so the last bits of fp32 results and speed)
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")
REPO = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, str, tuple[str, ...]]:
    """(model name, vendor id, flags of interest) from /proc/cpuinfo (platform elsewhere)."""
    model, vendor, flags = platform.processor() or platform.machine(), "", ()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, vendor, flags
    fields = dict(re.findall(r"^(model name|vendor_id|flags)\s*:\s*(.*)$", text, re.M))
    present = set(fields.get("flags", "").split())
    return (
        fields.get("model name", model).strip(),
        fields.get("vendor_id", "").strip(),
        tuple(f for f in CPU_FLAGS if f in present),
    )


def machine() -> dict:
    """CPU model, vendor, flags of interest, logical CPUs usable by this process, OS and
    Python; GPU names when torch is imported and sees CUDA."""
    model, vendor, flags = _cpuinfo()
    info = {
        "cpu_model": model,
        "cpu_vendor": vendor,
        "cpu_flags": list(flags),
        "cpus_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info


def libraries() -> dict:
    """Versions of torch, numpy and the BLAS / oneDNN they use (imports torch and numpy)."""
    import numpy as np
    import torch

    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        "torch": torch.__version__,
        "torch_mkl": torch.backends.mkl.is_available(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy": np.__version__,
        "numpy_blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
    }


def threads() -> dict:
    """torch's intra- and inter-op threads (when imported) and the thread variables set."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")
    out: dict = {k: os.environ[k] for k in names if k in os.environ}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        out["torch_interop_threads"] = torch.get_num_interop_threads()
    return out


def code_state(repo: Path = REPO) -> str:
    """navref's commit, with ``-dirty`` when the work tree has uncommitted changes, from
    ``$NAVREF_CODE`` when the workflow set it, else from git; ``unknown`` outside git."""
    if os.environ.get(CODE_ENV):
        return os.environ[CODE_ENV]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def config_digest(config: dict) -> str:
    """SHA-256 of the resolved config as canonical JSON (keys sorted): equal for equal values."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def job_record() -> dict:
    """What one job logs: CPU model, threads, torch version and GPU models (if the job
    imported torch), code."""
    record = {"cpu_model": _cpuinfo()[0], "code": code_state()}
    record.update(threads())
    torch = sys.modules.get("torch")
    if torch is not None:
        record["torch"] = torch.__version__
        if torch.cuda.is_available():
            record["gpus"] = [
                torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
            ]
    return record


def job_records(log_dir: Path, skip: str = "provenance.log") -> list[dict]:
    """Distinct job records in the logs under ``log_dir`` (but ``skip``, the calling job's
    own) with their ``jobs`` count, most frequent first; a log without a record (a job that
    failed, or one written before records existed) counts as ``unrecorded``."""
    tally: Counter[str] = Counter()
    for log in sorted(Path(log_dir).rglob("*.log")):
        if log.name == skip and log.parent == Path(log_dir):
            continue
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if JOB_PREFIX in ln]
        key = lines[-1].split(JOB_PREFIX, 1)[1] if lines else json.dumps({"unrecorded": True})
        tally[key] += 1
    return [{**json.loads(k), "jobs": n} for k, n in tally.most_common()]


def run_record(config: dict, log_dir: Path) -> dict:
    """The run's provenance: this machine, libraries, threads, code, config digest and the
    tally of the jobs' records (:func:`job_records`)."""
    return {
        "machine": machine(),
        "libraries": libraries(),
        "threads": threads(),
        "code": code_state(),
        "config_sha256": config_digest(config),
        "jobs_by_machine": job_records(log_dir),
    }


def describe_machine() -> str:
    """One line for benchmark output: CPU model, vendor flags, usable CPUs, torch, threads."""
    m, lib = machine(), libraries()
    gpus = f", GPU {', '.join(m['gpus'])}" if m.get("gpus") else ""
    return (
        f"# machine: {m['cpu_model']} ({m['cpu_vendor']}; {' '.join(m['cpu_flags'])}), "
        f"{m['cpus_usable']} usable CPUs{gpus}; torch {lib['torch']} "
        f"({lib['torch_cpu_capability']}), numpy {lib['numpy']} ({lib['numpy_blas']}); "
        f"navref {code_state()}"
    )
