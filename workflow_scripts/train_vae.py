"""Rule train_vae: a small AutoencoderKL trained on the train split of its dataset (aligned
to the feature net given as input when its config has an `align` block)."""

from pathlib import Path

from navref.vae import train_vae_on_dataset
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    train_vae_on_dataset(
        Path(sm.input.info).parent,
        dict(sm.params.settings),
        Path(sm.output.config).parent,
        device=resolve_device(sm.params.device),
        log=log,
        feature_net=sm.input.feature_net if "feature_net" in sm.input.keys() else None,
    )
