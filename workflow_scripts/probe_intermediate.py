"""Rule probe_intermediate: one-step predictions x1_hat along sampling trajectories."""

from pathlib import Path

from navref.io import save_parquet
from navref.probe_runs import run_intermediate
from navref.workflow import job_precision, resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    table = run_intermediate(
        Path(sm.input.model).parent,
        Path(sm.input.stats).parent,
        sm.params.settings,
        sm.params.seed,
        resolve_device(sm.params.device),
        Path(sm.output.grid),
        sm.input.gaussian_control,
        precision=job_precision(sm),
    )
    save_parquet(sm.output.table, table)
