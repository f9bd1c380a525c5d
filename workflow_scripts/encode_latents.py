"""Rule encode_latents: a prepared dataset into one latent space (pixel or VAE)."""

from pathlib import Path

from navref.latents import encode_latents
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    encode_latents(
        dict(sm.params.settings),
        Path(sm.input.info).parent,
        Path(sm.output.stats).parent,
        vae_dir=Path(sm.input.vae).parent if "vae" in sm.input.keys() else None,
        batch_size=int(sm.params.settings["batch_size"]),
        device=resolve_device(sm.params.device),
        log=log,
    )
