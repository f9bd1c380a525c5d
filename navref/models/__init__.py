"""Neural networks: the LightningDiT-style velocity model (:mod:`navref.models.dit`), the
released architectures (:mod:`navref.models.release_archs`, torch-free, read by the
workflow when it parses the config) and their loaders.

The DiT names below are imported on first use, so importing a torch-free submodule (as the
Snakefile does) does not import torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DIT_SIZES", "DiT", "DiTConfig", "build_model", "count_params"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from navref.models import dit

        return getattr(dit, name)
    raise AttributeError(f"module 'navref.models' has no attribute {name!r}")
