"""Rule convert_vae: an LDM-format VAE checkpoint (the VA-VAE release) to diffusers, once."""

from pathlib import Path

from navref.vae_convert import convert_ldm_vae
from navref.workflow import rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    convert_ldm_vae(sm.params.checkpoint, Path(sm.output.config).parent, log=log)
