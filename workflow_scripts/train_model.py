"""Rule train_model: a DiT trained with rectified flow on its latent space's train split
(one process, or DDP under torchrun with ``resources: gpu: N > 1``; see
``navref.training.run_training``)."""

from pathlib import Path

from navref.training import run_training
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    run_training(
        sm.params.settings,
        Path(sm.input.stats).parent,
        Path(sm.output.weights).parent,
        gpus=int(getattr(sm.resources, "gpu", 0) or 0),
        device=sm.params.device,
        logger=log,
    )
