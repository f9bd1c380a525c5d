"""navref's named DiT sizes, torch-free (the workflow and the report tables read them
without importing torch; :mod:`navref.models.dit` builds the models)."""

from __future__ import annotations

#: Named architectures: depth / width / heads. S, B and XL are the paper's (Appendix C);
#: "tiny", "small" and "medium" are CPU-scale sizes for 8x8x4 latents or 16x16x1 pixels
#: ("tiny" ~0.24M parameters, "small" ~1.4M, "medium" ~7.6M: clearly different capacities
#: for the stage-swap and capacity experiments).
DIT_SIZES: dict[str, dict[str, int]] = {
    "tiny": {"depth": 2, "hidden_size": 64, "num_heads": 2},
    "small": {"depth": 4, "hidden_size": 128, "num_heads": 4},
    "medium": {"depth": 6, "hidden_size": 256, "num_heads": 4},
    "S": {"depth": 12, "hidden_size": 384, "num_heads": 6},
    "B": {"depth": 12, "hidden_size": 768, "num_heads": 12},
    "XL": {"depth": 28, "hidden_size": 1152, "num_heads": 16},
}
