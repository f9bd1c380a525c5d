"""Rule oracle_synthetic: top-1 posterior weight per t for N unit-Gaussian samples in D
dimensions (Fig. 3)."""

from navref.analysis.oracle_curves import synthetic_top1_curve
from navref.io import save_parquet
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    settings = sm.params.settings
    frame = synthetic_top1_curve(
        int(sm.wildcards.dim),
        int(sm.wildcards.size),
        settings["t_grid"],
        settings["num_queries"],
        seed=sm.params.seed,
        chunk_size=settings["chunk_size"],
        device=resolve_device(sm.params.device),
    )
    save_parquet(sm.output[0], frame)
