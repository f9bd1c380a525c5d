"""The generation sweeps of the paper (Tab. 1-3): one module per sweep kind, in a registry.

- :mod:`.plan` (torch-free, the only part the rules import): the base :class:`Sweep` (its
  settings from its block ``sweeps.<kind>`` of the config, validated against
  ``schemas/config.schema.yaml``, which holds every default; the models a setting needs;
  its trajectory as :class:`Segment` s and, per setting, the :class:`Branch` it starts
  from; its :class:`Run` s, one per setting and training replicate), the registry (:data:`REGISTRY`, :func:`get`, :func:`by_table`) and the file names;
- one module per kind, owning for its kind its settings, grid, velocity, table, paper rows,
  plot labels and the inputs its claim reads: :mod:`.stage_swap` (Tab. 1),
  :mod:`.timestep_shift` (Tab. 2), :mod:`.cfg_interval` (Tab. 3);
- :mod:`.sampling`: sample generation (rule ``sample_sweep``) and the state stores of
  shared trajectory prefixes; :mod:`.metrics`: the gathering of the per-seed metrics.

Adding a sweep kind is one module here (imported below, in the registry's order) plus its
block in the schema. The report imports this package, never the reverse.
"""

from navref.sweeps import stage_swap, timestep_shift, cfg_interval  # noqa: I001 (registry order)
from navref.sweeps.cfg_interval import CfgInterval
from navref.sweeps.plan import (
    REGISTRY,
    TIME_TOL,
    Branch,
    Run,
    Segment,
    Sweep,
    by_table,
    get,
    kinds,
    register,
    run_key,
    shared_steps,
)
from navref.sweeps.stage_swap import StageSwap
from navref.sweeps.timestep_shift import TimestepShift

#: the registered kinds, in the registry's order
KINDS: list[str] = kinds()

__all__ = [
    "KINDS",
    "REGISTRY",
    "TIME_TOL",
    "Branch",
    "CfgInterval",
    "Run",
    "Segment",
    "StageSwap",
    "Sweep",
    "TimestepShift",
    "by_table",
    "cfg_interval",
    "get",
    "kinds",
    "register",
    "run_key",
    "shared_steps",
    "stage_swap",
    "timestep_shift",
]
