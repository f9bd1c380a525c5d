"""Rule oracle_synthetic: top-1 posterior weight per t for N unit-Gaussian samples in D
dimensions (Fig. 3), one table per N of one D."""

from navref.analysis.oracle_runs import synthetic_of_dim
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    synthetic_of_dim(
        int(sm.wildcards.dim),
        [int(size) for size in sm.params.sizes],
        list(sm.output),
        sm.params.settings,
        seed=sm.params.seed,
        device=resolve_device(sm.params.device),
        log=log,
    )
