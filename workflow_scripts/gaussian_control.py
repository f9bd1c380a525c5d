"""Rule gaussian_control: the stage-free control of claims 4 and 10 of one latent space (class
means and the pooled within-class covariance of its training latents, eigendecomposed)."""

from pathlib import Path

from navref.probe_runs import run_gaussian_control
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm):
    run_gaussian_control(
        Path(sm.input.stats).parent,
        sm.output.control,
        sm.output.meta,
        resolve_device(sm.params.device),
    )
