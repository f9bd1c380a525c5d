"""Loading a model by its model file: a trained DiT (training output directory, its model
file or a checkpoint) or a released checkpoint linked by rule ``link_pretrained``
(:mod:`navref.models.pretrained`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from navref.checkpoint import checkpoint_stem, find_resume_checkpoint, read_meta, unprefixed
from navref.models.dit import DiT, DiTConfig
from navref.models.pretrained import RELEASED_KIND, load_linked


def _released_meta(p: Path) -> dict | None:
    """The model.json of a released model at ``p`` (its directory, model.json or
    model.safetensors path), None for anything else."""
    json_path = p / "model.json" if p.is_dir() else checkpoint_stem(p).with_suffix(".json")
    if not json_path.is_file():
        return None
    meta = json.loads(json_path.read_text())
    return meta if meta.get("kind") == RELEASED_KIND else None


def load_model(
    path_or_dir: str | os.PathLike,
    which: str = "ema",
    device: str | torch.device = "cpu",
) -> DiT:
    """Load a model in eval mode.

    ``path_or_dir`` is a training output directory (``which="ema"``: its
    ``model.safetensors``; ``which="model"``: the raw weights of its newest checkpoint),
    a final ``model.safetensors``/``.json`` (EMA only), or a checkpoint file
    ``checkpoints/step_XXXXXXXX.safetensors``/``.json`` (EMA or raw weights). When the
    model.json is a released model's (``kind: "released"``), the checkpoint it names is
    loaded with the weights entry it names (``models.<m>.weights``, "ema" by default);
    ``which`` must then be "ema" (the model's final weights) or that entry.

    Raises ValueError for a bad ``which``; FileNotFoundError for missing files.
    """
    if which not in ("ema", "model"):
        raise ValueError(f"which must be 'ema' or 'model', got {which!r}")
    p = Path(path_or_dir)
    released = _released_meta(p)
    if released is not None:
        if which not in ("ema", released["weights"]):
            raise ValueError(
                f"{p} is a released model linked with its {released['weights']!r} weights; "
                f"which={which!r} is not available (set models.<m>.weights instead)"
            )
        return load_linked(released, str(device))
    if p.is_dir():
        if which == "ema" and (p / "model.safetensors").is_file():
            stem = p / "model"
        else:
            stem = find_resume_checkpoint(p / "checkpoints")
            if stem is None:
                raise FileNotFoundError(
                    f"{p} holds no model.safetensors (which={which!r}) and no complete "
                    "checkpoint under checkpoints/; train a model there first"
                )
    else:
        stem = checkpoint_stem(p)
    st_path = stem.with_name(stem.name + ".safetensors")
    if not st_path.is_file():
        raise FileNotFoundError(f"model weights {st_path} not found")
    meta = read_meta(stem)
    tensors = load_file(str(st_path), device=str(device))
    if meta.get("kind") == "model":
        if which != meta.get("weights", "ema"):
            raise ValueError(
                f"{st_path} holds only {meta.get('weights', 'ema')} weights; for "
                f"which={which!r} load a checkpoint under {stem.parent / 'checkpoints'}"
            )
        state = tensors
    else:
        state = unprefixed(tensors, which + ".")
        if not state:
            raise ValueError(f"{st_path} holds no '{which}.*' weights")
    conf = DiTConfig.from_dict(meta["model"])
    with torch.device("meta"):
        model = DiT(conf)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()
