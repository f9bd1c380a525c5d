"""What a rule books from the scheduler (threads, GPUs, CPUs per GPU, nodes), from its
``resources.<rule>`` config entry: one rule for the Snakefile, the SLURM profile and tests.

A job uses what it books: Snakemake exports ``threads`` as OMP_NUM_THREADS and
:func:`navref.workflow.rule_context` sets ``torch.set_num_threads(threads)``, while SLURM
grants a GPU job ``gpu x cpus_per_gpu`` CPUs (``--cpus-per-gpu``). So a GPU rule's threads
are ``gpu x cpus_per_gpu``, and a job of several GPUs (torchrun ``--standalone``, one node)
asks for one node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from navref.config import ConfigError


@dataclass(frozen=True)
class Booking:
    """Threads and GPU resources of one rule's jobs."""

    threads: int
    gpu: int = 0
    cpus_per_gpu: int | None = None

    def gpu_resources(self) -> dict[str, int]:
        """The Snakemake resources beyond mem_mb/runtime: ``gpu``, ``cpus_per_gpu`` and, for
        several GPUs, ``nodes: 1`` (the SLURM plugin's ``--nodes``); ``{}`` without GPUs."""
        if not self.gpu:
            return {}
        out = {"gpu": self.gpu, "cpus_per_gpu": int(self.cpus_per_gpu or 1)}
        if self.gpu > 1:
            out["nodes"] = 1
        return out


def booking(rule: str, entry: dict[str, Any] | None) -> Booking:
    """The :class:`Booking` of ``rule`` from its ``resources.<rule>`` entry (absent: ``{}``).

    - no GPU: ``threads`` as given, else 1;
    - ``gpu`` > 0: ``cpus_per_gpu`` as given, else ``ceil(threads / gpu)`` when threads are
      given, else 1; threads = ``gpu x cpus_per_gpu`` (what SLURM grants).

    Raises :class:`ConfigError` when ``threads`` and ``cpus_per_gpu`` are both given and
    disagree (the job would use more or fewer CPUs than it is granted)."""
    entry = entry or {}
    gpu, threads = int(entry.get("gpu") or 0), entry.get("threads")
    if not gpu:
        return Booking(int(threads or 1))
    per_gpu = entry.get("cpus_per_gpu")
    if per_gpu is None:
        per_gpu = -(-int(threads) // gpu) if threads else 1
    elif threads is not None and threads != gpu * per_gpu:
        raise ConfigError(
            f"resources.{rule}: threads {threads} != gpu {gpu} x cpus_per_gpu {per_gpu}; "
            f"SLURM grants gpu x cpus_per_gpu CPUs: drop threads (it follows) or set it to "
            f"{gpu * per_gpu}"
        )
    return Booking(gpu * int(per_gpu), gpu, int(per_gpu))


def check_bookings(resources: dict[str, dict[str, Any]]) -> None:
    """:func:`booking` of every rule in the config's ``resources`` section, so that a
    contradiction stops the run before any job (raises :class:`ConfigError`)."""
    for rule, entry in resources.items():
        booking(rule, entry)
