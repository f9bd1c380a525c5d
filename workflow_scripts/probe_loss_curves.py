"""Rule probe_loss_curves: CFM and oracle loss per t of one model checkpoint."""

from pathlib import Path

from navref.io import save_parquet
from navref.probe_runs import run_loss_curves
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    frame = run_loss_curves(
        Path(sm.input.model).parent,
        sm.wildcards.ckpt,
        Path(sm.input.stats).parent,
        sm.params.settings,
        sm.params.seed,
        resolve_device(sm.params.device),
    )
    save_parquet(sm.output[0], frame)
