"""Rule probe_loss_curves_<model>: CFM and oracle loss per t of every checkpoint of one
model, one table per checkpoint (its name is the output file's stem)."""

from pathlib import Path

from navref.io import save_parquet
from navref.probe_runs import run_loss_curves
from navref.workflow import job_precision, resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    outputs = {Path(p).stem: p for p in sm.output}
    tables = run_loss_curves(
        Path(sm.input.model).parent,
        list(outputs),
        Path(sm.input.stats).parent,
        sm.params.settings,
        sm.params.seed,
        resolve_device(sm.params.device),
        precision=job_precision(sm),
    )
    for ckpt, path in outputs.items():
        save_parquet(path, tables[ckpt])
