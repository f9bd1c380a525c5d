"""The model file of a released checkpoint: what rule ``link_pretrained`` writes in place
of training, and how :func:`navref.training.load_model` loads it.

A ``models`` entry with ``pretrained: <file>`` and ``arch: <release name>`` (see
:mod:`navref.models.released`) gets ``results/<run_name>/models/<m>/model.json`` with
``kind: "released"``: the checkpoint path, the architecture, the weights entry, the
overrides filled from the latent space (``in_channels``, ``input_size``, ``num_classes``,
as :func:`navref.training.data.fill_model_conf` does for trained models), the full
:class:`~navref.models.dit.DiTConfig` and the checkpoint's size and mtime. Every probe and
sweep takes that file as its model input, as for a trained model; loading checks that the
checkpoint is still the file that was linked. Time convention: :mod:`navref.path`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from navref.io import file_signature, load_json, save_json
from navref.models.dit import DiT
from navref.models.released import load_released, released_config

#: ``kind`` of a released model's model.json (trained models write ``"model"``).
RELEASED_KIND = "released"


def released_model_meta(settings: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """The model.json content of ``models.<m>`` (``settings``: ``pretrained``, ``arch``,
    optional ``weights``, ``arch_overrides``) on a latent space with ``stats`` (its
    stats.json: ``shape`` [N, C, H, W], ``num_classes``).

    Raises ValueError if the space is not square images, or the architecture does not fit.
    """
    shape = list(stats["shape"])
    if len(shape) != 4 or shape[2] != shape[3]:
        raise ValueError(
            f"released model {settings['arch']}: needs square latent images (N, C, H, H), the "
            f"space has shape {shape}; use an image latent space"
        )
    overrides = {
        **settings.get("arch_overrides", {}),
        "in_channels": int(shape[1]),
        "input_size": int(shape[2]),
        "num_classes": int(stats["num_classes"]),
    }
    conf = released_config(settings["arch"], **overrides)
    path = Path(settings["pretrained"]).expanduser().absolute()
    return {
        "kind": RELEASED_KIND,
        "pretrained": str(path),
        "arch": settings["arch"],
        "weights": settings.get("weights", "ema"),
        "overrides": overrides,
        "model": conf.to_dict(),
        "checkpoint": file_signature(path),
    }


def load_linked(meta: dict[str, Any], device: str = "cpu") -> DiT:
    """The released model a model.json of kind ``"released"`` names, in eval mode.

    Raises FileNotFoundError if the checkpoint is gone; ValueError if it changed (size or
    mtime) since it was linked (rerun the workflow: it relinks and reruns what used it), or
    if it does not fit (see :func:`navref.models.released.load_released`).
    """
    path = meta["pretrained"]
    now = file_signature(path)
    if now is None:
        raise FileNotFoundError(f"released checkpoint not found: {path}")
    if now != meta["checkpoint"]:
        raise ValueError(
            f"released checkpoint {path} changed since it was linked ({meta['checkpoint']} -> "
            f"{now}); rerun snakemake, which relinks it and reruns every job that used it"
        )
    return load_released(path, meta["arch"], meta["weights"], device, **meta["overrides"])


def link_pretrained(
    settings: dict[str, Any],
    stats_path: str | os.PathLike,
    out: str | os.PathLike,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Check that the released checkpoint of ``settings`` (``models.<m>``) loads on the
    latent space whose stats.json is ``stats_path`` and write its model.json to ``out``
    (atomically). Returns the written content.

    Raises FileNotFoundError if the checkpoint is missing; ValueError as
    :func:`released_model_meta` and :func:`load_linked`.
    """
    log = log or logging.getLogger(__name__)
    meta = released_model_meta(settings, load_json(stats_path))
    if meta["checkpoint"] is None:
        raise FileNotFoundError(
            f"released checkpoint not found: {meta['pretrained']} (models.*.pretrained); "
            "download it from the release (see configs/released.yaml) or fix the path"
        )
    model = load_linked(meta, "cpu")
    count = sum(p.numel() for p in model.parameters())
    log.info("%s (%s weights, %d parameters) loads exactly", meta["arch"], meta["weights"], count)
    save_json(out, meta)
    return meta


__all__ = ["RELEASED_KIND", "link_pretrained", "load_linked", "released_model_meta"]
