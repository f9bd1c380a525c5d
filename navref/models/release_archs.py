"""Names, shapes and layer flags of the released LightningDiT / SiT architectures.

Torch-free, so that the workflow can check a config against them when it parses
(``navref.config_relations``); :mod:`navref.models.released` builds and loads the models.
Sources: hustvl/LightningDiT ``models/lightningdit.py`` and willisma/SiT ``models.py``
(their ``*_models`` size tables).
"""

from __future__ import annotations

from typing import Any

#: Layer flags and default shapes of each family as released (ImageNet 256 px; LightningDiT
#: on VA-VAE f16d32 -> 16x16x32 latents, SiT on SD-VAE f8 -> 32x32x4 latents).
FAMILY_FLAGS: dict[str, dict[str, Any]] = {
    "LightningDiT": {
        "norm": "rms", "mlp": "swiglu", "rope": True, "pos_embed": True, "qk_norm": False,
        "learn_sigma": False, "time_scale": 1.0, "input_size": 16, "in_channels": 32,
        "num_classes": 1000,
    },
    "SiT": {
        "norm": "layer", "mlp": "gelu", "rope": False, "pos_embed": True, "qk_norm": False,
        "learn_sigma": True, "time_scale": 1.0, "input_size": 32, "in_channels": 4,
        "num_classes": 1000,
    },
}  # fmt: skip

#: depth / hidden_size / num_heads of the official size tables, and the released patch sizes.
_SIZES: dict[str, dict[str, tuple[int, int, int]]] = {
    "LightningDiT": {
        "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16),
        "1p0B": (24, 1536, 24), "1p6B": (28, 1792, 28),
    },
    "SiT": {"S": (12, 384, 6), "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16)},
}  # fmt: skip
_PATCHES: dict[str, dict[str, tuple[int, ...]]] = {
    "LightningDiT": {"B": (1, 2), "L": (2,), "XL": (1, 2), "1p0B": (1, 2), "1p6B": (1, 2)},
    "SiT": {s: (2, 4, 8) for s in ("S", "B", "L", "XL")},
}


def _arch_table() -> dict[str, dict[str, Any]]:
    table = {}
    for family, sizes in _SIZES.items():
        for size, (depth, width, heads) in sizes.items():
            for p in _PATCHES[family][size]:
                table[f"{family}-{size}/{p}"] = {
                    **FAMILY_FLAGS[family],
                    "depth": depth, "hidden_size": width, "num_heads": heads, "patch_size": p,
                }  # fmt: skip
    return table


#: Architecture name (the releases' own, e.g. ``LightningDiT-XL/1``, ``SiT-XL/2``) ->
#: :class:`DiTConfig` fields.
RELEASED_ARCHS: dict[str, dict[str, Any]] = _arch_table()


def release_size(arch: str) -> str:
    """The size name of a released architecture, as the report tables group models
    (``LightningDiT-XL/1`` -> ``"XL"``, ``SiT-B/2`` -> ``"B"``).

    Raises ValueError naming the known architectures if ``arch`` is not one of them.
    """
    if arch not in RELEASED_ARCHS:
        raise ValueError(
            f"unknown released architecture {arch!r}; known: {', '.join(sorted(RELEASED_ARCHS))}"
        )
    return arch.split("-", 1)[1].split("/")[0]


__all__ = ["FAMILY_FLAGS", "RELEASED_ARCHS", "release_size"]
