"""Rule oracle_objective: objective gap and posterior statistics per t for one latent space
(Fig. 2), class-conditional (mode=cond) or unconditional (mode=uncond)."""

from pathlib import Path

from navref.analysis.oracle_runs import objective_of_space
from navref.io import save_parquet
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    frame = objective_of_space(
        Path(sm.input.latents).parent,
        sm.params.settings,
        sm.wildcards.mode == "cond",
        sm.params.seed,
        resolve_device(sm.params.device),
        log,
    )
    save_parquet(sm.output[0], frame)
