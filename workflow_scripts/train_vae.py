"""Rule train_vae: a small AutoencoderKL trained on the train split of its dataset."""

from pathlib import Path

import numpy as np

from navref.data import load_prepared
from navref.vae import train_vae
from navref.workflow import resolve_device, rule_context

sm = snakemake  # noqa: F821 (injected by script:)
with rule_context(sm) as log:
    ds = load_prepared(Path(sm.input.info).parent)
    if ds.modality != "image":
        raise ValueError(f"train_vae needs an image dataset; {sm.input.info} holds vectors")
    split = ds.meta["split"].to_numpy()
    train = np.asarray(ds.data[split == "train"])
    val = np.asarray(ds.data[split == "val"])
    train_vae(
        train,
        dict(sm.params.cfg),
        Path(sm.output.config).parent,
        val_images=val,
        log=log,
        device=resolve_device(sm.params.device),
    )
