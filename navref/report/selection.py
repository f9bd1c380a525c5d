"""Which models a figure shows, and how a handover time tau is labelled; torch-free and light
(the workflow imports it when it parses the config, ``rules/functions/report.smk``).

- :func:`block_params`: a model's transformer-block parameter count from its config entry,
  to rank models by size (Fig. 7a shows the largest, as the paper shows LightningDiT-XL).
- :func:`largest_model`: the largest of some models by that count.
- :func:`space_models`: per latent space, the models Fig. 9 compares (every space with a
  probed model gets a panel).
- :func:`tau_text`: ``"0.54 (1.5 × split)"``, the absolute tau with its multiple of the
  space's split time, in figures and report labels (its text sorts as the number does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from navref.config_relations import model_size
from navref.models.release_archs import RELEASED_ARCHS
from navref.models.sizes import DIT_SIZES

__all__ = ["block_params", "largest_model", "space_models", "tau_text"]


def block_params(model: Mapping[str, Any]) -> int:
    """Parameters of the transformer blocks of a ``models`` config entry, depth x 12 d^2 +
    adaLN 6 d^2 per block (attention 4 d^2, MLP 2 x 4 d^2 at ratio 4; d = hidden_size), for
    ranking models by size only (embedding and final layers are left out: they are small and
    the same across sizes of one family).

    A released model (``arch`` a string such as ``"LightningDiT-XL/1"``) takes its depth and
    width from :data:`navref.models.release_archs.RELEASED_ARCHS` (with ``arch_overrides``), a
    trained one from :data:`navref.models.sizes.DIT_SIZES` ``[arch.size]`` overridden by
    ``arch.depth`` / ``arch.hidden_size``. Raises ``ValueError`` naming the entry's arch when
    neither gives a depth and a width."""
    arch = model.get("arch", {})
    if isinstance(arch, str):
        if arch not in RELEASED_ARCHS:
            raise ValueError(f"unknown released arch {arch!r}; known: {sorted(RELEASED_ARCHS)}")
        dims = {**RELEASED_ARCHS[arch], **model.get("arch_overrides", {})}
    else:
        dims = {**DIT_SIZES.get(str(arch.get("size")), {}), **arch}
    if "depth" not in dims or "hidden_size" not in dims:
        raise ValueError(
            f"model arch {arch!r} has no depth / hidden_size: give arch.size (one of "
            f"{sorted(DIT_SIZES)}) or arch.depth and arch.hidden_size"
        )
    return int(dims["depth"]) * 18 * int(dims["hidden_size"]) ** 2


def largest_model(models: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The name of the model with the most :func:`block_params` among ``models`` (name ->
    config entry); ties go to the first in order; None for no models."""
    best = None
    for name, entry in models.items():
        if best is None or block_params(entry) > block_params(models[best]):
            best = name
    return best


def space_models(
    models: Mapping[str, Mapping[str, Any]], size: str | None = None
) -> dict[str, list[str]]:
    """Fig. 9's models: {latent space: model names}, every space of ``models`` (name -> config
    entry with ``space``) in first-seen order. Per space, its models of size ``size``
    (``navref.config_relations.model_size``) when it has any, else its largest
    (:func:`largest_model`), so a space is never left out for lacking that size."""
    by_space: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name, entry in models.items():
        by_space.setdefault(str(entry["space"]), {})[name] = entry
    out = {}
    for space, entries in by_space.items():
        same = [m for m, e in entries.items() if size is not None and model_size(e) == size]
        out[space] = same or [largest_model(entries)]
    return out


def tau_text(tau: float, split: float | None = None, digits: int = 2) -> str:
    """A handover time as shown in figures and labels: absolute tau with ``digits`` decimals
    and, when the split time ``split`` is known and positive, its multiple of it, e.g.
    ``tau_text(0.54, 0.36) == "0.54 (1.5 × split)"``. Time convention: t = 0 noise, t = 1
    data. Fixed decimals keep text order equal to numeric order for tau in [0, 1]."""
    text = f"{float(tau):.{digits}f}"
    if split is not None and math.isfinite(split) and split > 0:
        text += f" ({float(tau) / split:.2g} × split)"
    return text
