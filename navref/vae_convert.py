"""Convert an LDM-format ``AutoencoderKL`` checkpoint (the VA-VAE release) to diffusers.

Source format (CompVis latent-diffusion ``ldm/modules/diffusionmodules/model.py``, which
VA-VAE's ``tokenizer/autoencoder.py`` keeps): ``{"state_dict": {...}}`` with keys
``encoder.down.{i}.block.{j}``, ``encoder.down.{i}.attn.{j}`` (attention at the levels
whose resolution is in ``attn_resolutions``), ``encoder.mid.{block_1,attn_1,block_2}``,
``quant_conv``, ``post_quant_conv`` and the decoder's mirror ``decoder.up.{i}...``
(``up.{i}`` is level i, so the lowest resolution comes first in diffusers'
``up_blocks``). Training-only entries (``loss.*``: discriminator, LPIPS, the vision
foundation model of VA-VAE's alignment loss) are ignored and counted.

The architecture is read from the tensor shapes (no YAML needed). Levels with attention
become diffusers' ``AttnDownEncoderBlock2D`` / ``AttnUpDecoderBlock2D`` (single-head
attention of the channel width, as LDM's ``AttnBlock``). The key renaming is diffusers'
own (``convert_ldm_vae_checkpoint`` and ``update_vae_attentions_ldm_to_diffusers`` from
``diffusers.loaders.single_file_utils``); navref adds the per-level attention, which that
helper does not map. The result is written once with ``save_pretrained`` and loaded by
:func:`navref.vae.load_vae` like any diffusers VAE.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from navref.vae import save_vae

#: Key prefixes of the autoencoder itself; everything else is training-only and ignored.
VAE_PREFIXES = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")
#: Group-norm groups of LDM's ``Normalize`` (fixed in the official code).
LDM_NORM_GROUPS = 32


def split_ldm_state(ckpt: Any) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """(autoencoder state dict, {ignored top-level prefix: key count}) of an LDM checkpoint
    object (``{"state_dict": ...}`` or a bare state dict; a ``first_stage_model.`` prefix,
    as in full LDM checkpoints, is removed).

    Raises ValueError if it holds no encoder / decoder keys.
    """
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise ValueError("LDM VAE checkpoint must be a dict (with a 'state_dict' entry)")
    vae, ignored = {}, Counter()
    for key, value in state.items():
        key = key.removeprefix("first_stage_model.")
        if key.startswith(VAE_PREFIXES):
            vae[key] = value
        else:
            ignored[key.split(".")[0]] += 1
    if not any(k.startswith("encoder.") for k in vae) or "post_quant_conv.weight" not in vae:
        raise ValueError(
            "not an LDM AutoencoderKL checkpoint: no encoder.* / post_quant_conv.* keys "
            f"(top-level prefixes found: {sorted(ignored)})"
        )
    return vae, dict(ignored)


def _indices(state: dict[str, torch.Tensor], pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in state if (m := re.match(pattern, k))})


def ldm_ddconfig(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The LDM ``ddconfig`` of an autoencoder state dict, read from its shapes.

    ``attn_levels`` lists the levels (0 = full resolution) holding attention; with
    ``resolution`` it gives LDM's ``attn_resolutions``. Raises ValueError if encoder and
    decoder disagree on those levels or ``embed_dim`` differs from ``z_channels`` (diffusers
    has one ``latent_channels``).
    """
    levels = _indices(state, r"encoder\.down\.(\d+)\.")
    ch = state["encoder.conv_in.weight"].shape[0]
    out_ch = [state[f"encoder.down.{i}.block.0.conv2.weight"].shape[0] for i in levels]
    enc_attn = _indices(state, r"encoder\.down\.(\d+)\.attn\.")
    dec_attn = _indices(state, r"decoder\.up\.(\d+)\.attn\.")
    if enc_attn != dec_attn:
        raise ValueError(f"attention levels differ: encoder {enc_attn}, decoder {dec_attn}")
    z = state["decoder.conv_in.weight"].shape[1]
    embed = state["post_quant_conv.weight"].shape[1]
    if embed != z:
        raise ValueError(f"embed_dim {embed} != z_channels {z}: diffusers cannot hold this VAE")
    return {
        "ch": ch,
        "ch_mult": [c // ch for c in out_ch],
        "num_res_blocks": len(_indices(state, r"encoder\.down\.0\.block\.(\d+)\.")),
        "attn_levels": enc_attn,
        "in_channels": state["encoder.conv_in.weight"].shape[1],
        "out_ch": state["decoder.conv_out.weight"].shape[0],
        "z_channels": z,
        "embed_dim": embed,
        "double_z": state["encoder.conv_out.weight"].shape[0] == 2 * z,
    }


def diffusers_vae_config(
    dd: dict[str, Any], resolution: int, scaling_factor: float, shift_factor: float | None
) -> dict[str, Any]:
    """``AutoencoderKL`` config of an LDM ``ddconfig`` (from :func:`ldm_ddconfig`), built by
    diffusers' ``create_vae_diffusers_config_from_ldm`` with attention block types added."""
    from diffusers.loaders.single_file_utils import create_vae_diffusers_config_from_ldm

    if not dd["double_z"]:
        raise ValueError("LDM VAE without double_z (no log-variance) is not an AutoencoderKL")
    original = {"model": {"params": {"first_stage_config": {"params": {"ddconfig": dd}}}}}
    conf = create_vae_diffusers_config_from_ldm(original, {}, scaling_factor=scaling_factor)
    n = len(dd["ch_mult"])
    conf["down_block_types"] = [
        "AttnDownEncoderBlock2D" if i in dd["attn_levels"] else "DownEncoderBlock2D"
        for i in range(n)
    ]
    conf["up_block_types"] = [  # up_blocks[i] is LDM level n - 1 - i
        "AttnUpDecoderBlock2D" if n - 1 - i in dd["attn_levels"] else "UpDecoderBlock2D"
        for i in range(n)
    ]
    conf["sample_size"] = resolution
    conf["norm_num_groups"] = LDM_NORM_GROUPS
    conf["shift_factor"] = shift_factor
    return conf


def convert_ldm_vae_state(
    state: dict[str, torch.Tensor], conf: dict[str, Any], attn_levels: list[int]
) -> dict[str, torch.Tensor]:
    """Rename an LDM autoencoder state dict to diffusers' ``AutoencoderKL`` keys."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_vae_checkpoint,
        update_vae_attentions_ldm_to_diffusers,
    )

    out = convert_ldm_vae_checkpoint(state, conf)
    # the helper copies per-level attention keys through unrenamed: replace them
    out = {k: v for k, v in out.items() if not re.search(r"\.(down|up)\.\d+\.attn\.", k)}
    n = len(conf["down_block_types"])
    for i in attn_levels:
        for side, old, new in (
            ("encoder", f"down.{i}.attn.", f"down_blocks.{i}.attentions."),
            ("decoder", f"up.{i}.attn.", f"up_blocks.{n - 1 - i}.attentions."),
        ):
            keys = [k for k in state if k.startswith(f"{side}.{old}")]
            update_vae_attentions_ldm_to_diffusers(keys, out, state, {"old": old, "new": new})
    return out


def ldm_vae(
    ckpt: Any,
    source: str,
    resolution: int = 256,
    scaling_factor: float = 1.0,
    shift_factor: float | None = None,
    log: logging.Logger | None = None,
) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """A diffusers ``AutoencoderKL`` built and loaded strictly from an LDM VAE checkpoint
    object (``{"state_dict": ...}`` or a bare state dict, e.g. a single-file
    ``.safetensors`` VAE), its architecture inferred from the keys; with its ddconfig and
    the ignored training-only key counts. Raises ValueError naming ``source`` when the keys
    do not fit."""
    from diffusers import AutoencoderKL

    log = log or logging.getLogger(__name__)
    state, ignored = split_ldm_state(ckpt)
    log.info("%s: ignored training-only keys %s", source, ignored or "none")
    dd = ldm_ddconfig(state)
    conf = diffusers_vae_config(dd, resolution, scaling_factor, shift_factor)
    vae = AutoencoderKL(**conf)
    result = vae.load_state_dict(
        convert_ldm_vae_state(state, conf, dd["attn_levels"]), strict=False
    )
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{source}: converted keys do not fit AutoencoderKL {dd}: missing "
            f"{result.missing_keys[:8]}, unexpected {result.unexpected_keys[:8]}"
        )
    return vae, dd, ignored


def convert_ldm_vae(
    ckpt: str | Path,
    out_dir: str | Path,
    resolution: int = 256,
    scaling_factor: float = 1.0,
    shift_factor: float | None = None,
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """Convert the LDM-format VAE checkpoint ``ckpt`` to a diffusers directory ``out_dir``.

    ``resolution`` (px) only fills ``sample_size``; ``scaling_factor`` / ``shift_factor``
    go to the config (VA-VAE's latents are normalised by ``latents_stats.pt`` instead,
    hence 1.0 / None by default). The file is read with ``torch.load(weights_only=True)``
    (:func:`navref.models.released.read_torch_file`: a stored ``args`` Namespace is skipped);
    the model is loaded strictly and written with ``save_pretrained`` (safetensors) to a
    temporary directory that is then moved into place. Returns ``{"ddconfig", "ignored"}``
    (ignored: training-only key counts per prefix, also logged).

    Raises FileNotFoundError if ``ckpt`` is missing; ValueError if it is no LDM VAE or its
    keys do not fit the inferred architecture.
    """

    log = log or logging.getLogger(__name__)
    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise FileNotFoundError(f"LDM VAE checkpoint not found: {ckpt}")
    from navref.models.released import read_torch_file

    vae, dd, ignored = ldm_vae(
        read_torch_file(ckpt, log), str(ckpt), resolution, scaling_factor, shift_factor, log
    )
    out = save_vae(vae, out_dir)
    log.info("converted %s (%s) to diffusers AutoencoderKL in %s", ckpt, dd, out)
    return {"ddconfig": dd, "ignored": ignored}


__all__ = [
    "convert_ldm_vae",
    "ldm_vae",
    "convert_ldm_vae_state",
    "diffusers_vae_config",
    "ldm_ddconfig",
    "split_ldm_state",
]
