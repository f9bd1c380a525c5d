"""Neural networks: the LightningDiT-style velocity model."""

from navref.models.dit import DIT_SIZES, DiT, DiTConfig, build_model, count_params

__all__ = ["DIT_SIZES", "DiT", "DiTConfig", "build_model", "count_params"]
