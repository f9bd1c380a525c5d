"""Rule oracle_objective: objective gap and posterior statistics per t for one latent space
(Fig. 2), class-conditional (mode=cond) or unconditional (mode=uncond)."""

from pathlib import Path

from navref.analysis.oracle_curves import objective_curves
from navref.io import save_parquet
from navref.latents import LatentSpace
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    settings = sm.params.settings
    space = LatentSpace.load(Path(sm.input.latents).parent)
    data, labels = space.split_arrays("train")
    conditional = sm.wildcards.mode == "cond"
    log.info(
        "oracle data: %s, %d queries, %d times",
        data.shape,
        settings["num_queries"],
        len(settings["t_grid"]),
    )
    frame = objective_curves(
        data,
        labels,
        settings["t_grid"],
        settings["num_queries"],
        seed=sm.params.seed,
        conditional=conditional,
        chunk_size=settings["chunk_size"],
        device=resolve_device(sm.params.device),
    )
    frame.insert(0, "space", sm.wildcards.space)
    save_parquet(sm.output[0], frame)
