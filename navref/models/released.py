"""Released DiT checkpoints (LightningDiT, SiT) loaded exactly into navref's :class:`DiT`.

Formats (read from the official code, hustvl/LightningDiT ``models/lightningdit.py`` and
willisma/SiT ``models.py``; both descend from facebookresearch/DiT):

- LightningDiT training / release checkpoint: a dict ``{"model", "ema", "opt", "config"}``
  of state dicts (``inference.py`` reads ``ema`` when present);
- SiT release (``SiT-XL-2-256x256.pt``): a bare state dict of the EMA weights.

Both networks take t in [0, 1] unscaled with the linear path x_t = (1 - t) x0 + t x1,
t = 0 noise and t = 1 data (navref's convention, ``navref/path.py``), and predict the
velocity; SiT's head has 2C channels of which the first C are the velocity. Their layer
names differ from navref's only in a few prefixes (:data:`OFFICIAL_TO_NAVREF`); the RoPE
tables ``feat_rope.freqs_cos/sin`` that LightningDiT saves are recomputed by navref and
checked against the file.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import re
import textwrap
from pathlib import Path
from typing import Any

import torch

from navref.models.dit import DiT, DiTConfig, rope_2d_angles
from navref.models.release_archs import FAMILY_FLAGS, RELEASED_ARCHS, release_size

#: Official key prefix -> navref key prefix (first match wins); keys not listed are equal.
OFFICIAL_TO_NAVREF: tuple[tuple[str, str], ...] = (
    ("x_embedder.proj.", "x_embedder."),
    ("t_embedder.mlp.", "t_embedder."),
    ("y_embedder.embedding_table.", "y_embedder."),
    ("final_layer.norm_final.", "final_layer.norm."),
)
#: Wrappers some training scripts leave on keys (DDP, torch.compile).
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
#: Buffers navref recomputes (checked against the file, not loaded).
_DERIVED = ("feat_rope.freqs_cos", "feat_rope.freqs_sin")
#: Non-tensor objects the field's training scripts store beside the weights, unpickled
#: under ``weights_only=True`` (the official SiT / DiT ``train.py`` saves ``"args": args``).
SAFE_GLOBALS = (argparse.Namespace,)

_LOG = logging.getLogger(__name__)


def read_torch_file(path: str | Path, log: logging.Logger | None = None) -> Any:
    """A ``torch.save`` file read with ``torch.load(weights_only=True)`` on the CPU, with
    :data:`SAFE_GLOBALS` (e.g. the ``argparse.Namespace`` of a SiT / DiT training
    checkpoint) allowed; top-level entries that hold no tensors are logged as skipped.

    Raises ValueError naming the file, the global that is not allowed and the fix (re-save
    the state dict as safetensors) when the file pickles any other object.
    """
    log = log or _LOG
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.findall(r"GLOBAL ([\w.]+)", str(err)) or ["(unknown)"]
        raise ValueError(
            f"{path} pickles the object {found[0]}, which navref does not unpickle (only "
            f"tensors, containers and {', '.join(_name(g) for g in SAFE_GLOBALS)} are read, "
            "torch.load weights_only=True). Re-save its weights as a plain state dict, e.g. "
            "safetensors.torch.save_file(torch.load(f, weights_only=False)['ema'], "
            "'ema.safetensors') in a trusted session, or torch.save of the state dict alone"
        ) from None
    if isinstance(obj, dict):
        skipped = sorted(k for k, v in obj.items() if not _holds_tensors(v))
        if skipped:
            log.info("%s: skipped its non-tensor entries %s", path, skipped)
    return obj


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _holds_tensors(value: Any) -> bool:
    if torch.is_tensor(value):
        return True
    if isinstance(value, dict):
        return any(_holds_tensors(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_tensors(v) for v in value)
    return False


def released_config(arch: str, **overrides: Any) -> DiTConfig:
    """The :class:`DiTConfig` of a released architecture, with field overrides (e.g.
    ``input_size=32`` for 512 px, or smaller dims for a test model of the same family).

    Raises ValueError naming the known architectures if ``arch`` is not one of them.
    """
    if arch not in RELEASED_ARCHS:
        raise ValueError(
            f"unknown released architecture {arch!r}; known: {', '.join(sorted(RELEASED_ARCHS))}"
        )
    return DiTConfig.from_dict({**RELEASED_ARCHS[arch], **overrides})


def official_to_navref(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an official LightningDiT / SiT / DiT state dict to navref's key names."""
    out = {}
    for key, value in state.items():
        for wrapper in _WRAPPER_PREFIXES:
            key = key.removeprefix(wrapper)
        for old, new in OFFICIAL_TO_NAVREF:
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        out[key] = value
    return out


def select_weights(ckpt: Any, weights: str = "ema") -> dict[str, torch.Tensor]:
    """The state dict to load from a checkpoint object: ``ckpt[weights]`` for a training
    checkpoint (``ema`` / ``model`` entries, LightningDiT), the object itself for a bare
    state dict (the SiT release, which holds EMA weights only).

    Raises ValueError if ``weights`` is not "ema" or "model", or names an entry the file lacks.
    """
    if weights not in ("ema", "model"):
        raise ValueError(f"weights must be 'ema' or 'model', got {weights!r}")
    if not isinstance(ckpt, dict):
        raise ValueError(f"checkpoint holds a {type(ckpt).__name__}, expected a dict")
    if "ema" in ckpt or "model" in ckpt:
        if weights not in ckpt:
            raise ValueError(
                f"checkpoint has no {weights!r} weights (entries: {sorted(ckpt)}); "
                f"use weights={'model' if weights == 'ema' else 'ema'!r}"
            )
        return ckpt[weights]
    if weights == "model":
        raise ValueError(
            "checkpoint is a bare state dict (as the SiT release, which holds EMA weights "
            "only); there are no raw 'model' weights in it: use weights='ema'"
        )
    return ckpt


def guess_arch(state: dict[str, torch.Tensor]) -> str:
    """Describe the architecture a (navref-named) state dict fits: the release names that
    match its family, depth, width and patch size, or the inferred numbers when none does."""
    depth = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    emb = state.get("x_embedder.weight")
    if emb is None:
        return "unknown (no patch embedding x_embedder.proj.weight in the file)"
    width, c_in, p = emb.shape[0], emb.shape[1], emb.shape[-1]
    family = "SiT" if any(".mlp.fc1." in k for k in state) else "LightningDiT"
    names = [
        n
        for n, a in RELEASED_ARCHS.items()
        if n.startswith(family + "-")
        and (a["depth"], a["hidden_size"], a["patch_size"]) == (depth, width, p)
    ]
    found = f"{family}-like, depth {depth}, hidden_size {width}, patch {p}, in_channels {c_in}"
    return f"{' or '.join(names)} ({found})" if names else f"no released name ({found})"


def infer_arch(
    state: dict[str, torch.Tensor], derived: dict[str, torch.Tensor] | None = None
) -> dict[str, Any]:
    """The :class:`DiTConfig` fields a (navref-named) state dict's tensor shapes give:
    ``family`` (LightningDiT or SiT), ``depth``, ``hidden_size``, ``patch_size``,
    ``in_channels``, ``mlp_ratio``, ``learn_sigma``, ``qk_norm`` and ``num_heads`` where the
    file shows it (LightningDiT's saved RoPE table ``feat_rope.freqs_cos`` in ``derived``,
    or the q-norm weights: one entry per head dimension); absent keys are left out."""
    out: dict[str, Any] = {}
    emb = state.get("x_embedder.weight")
    if emb is None or emb.dim() != 4:
        return out
    width, c_in, p = int(emb.shape[0]), int(emb.shape[1]), int(emb.shape[-1])
    swiglu = "blocks.0.mlp.w12.weight" in state
    out["family"] = "SiT" if any(".mlp.fc1." in k for k in state) else "LightningDiT"
    out["depth"] = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    out["hidden_size"], out["patch_size"], out["in_channels"] = width, p, c_in
    head_dim = None
    rope = (derived or {}).get("feat_rope.freqs_cos")
    q_norm = state.get("blocks.0.attn.q_norm.weight")
    if rope is not None and rope.dim() >= 1 and rope.shape[-1]:
        head_dim = int(rope.shape[-1])  # (tokens, head_dim): navref's cos repeated in pairs
    elif q_norm is not None and q_norm.dim() == 1:
        head_dim = int(q_norm.shape[0])
    if head_dim and width % head_dim == 0:
        out["num_heads"] = width // head_dim
    mlp = state.get("blocks.0.mlp.w12.weight" if swiglu else "blocks.0.mlp.fc1.weight")
    if mlp is not None:
        hidden = int(mlp.shape[0]) // (2 if swiglu else 1)
        ratio = 3 * hidden / (2 * width) if swiglu else hidden / width
        nice = round(ratio * 4) / 4  # the ratio in quarters whose width rounds to the file's
        fits = int(2 * nice * width / 3) if swiglu else int(nice * width)
        out["mlp_ratio"] = nice if fits == hidden else round(ratio, 4)
    head = state.get("final_layer.linear.weight")
    if head is not None:
        out["learn_sigma"] = int(head.shape[0]) == 2 * p * p * c_in
    out["qk_norm"] = any(".attn.q_norm." in k for k in state)
    return out


def arch_overrides_hint(inferred: dict[str, Any], arch: str | None = None) -> str:
    """A ready-to-paste ``models.<m>`` snippet (YAML) that loads a checkpoint of no
    released size as a cut-down release of its family: ``arch`` (the configured name when
    it is of that family) and ``arch_overrides`` with the values :func:`infer_arch` read
    from the file; flags are listed only where they differ from the family's release, and
    ``num_heads``, which LightningDiT's RoPE table or q-norm weights show but SiT's tensor
    shapes do not, is marked as a guess to check when it is not in the file."""
    family = inferred["family"]
    names = [n for n in RELEASED_ARCHS if n.startswith(family + "-")]
    if not (arch and arch in names):
        p = inferred["patch_size"]
        arch = next((n for n in names if n.endswith(f"/{p}")), names[0])
    base = RELEASED_ARCHS[arch]
    lines = [f"arch: {arch}", "arch_overrides:"]
    for key in ("depth", "hidden_size"):
        lines.append(f"  {key}: {inferred[key]}")
    if "num_heads" in inferred:
        lines.append(f"  num_heads: {inferred['num_heads']}")
    else:
        width = inferred["hidden_size"]
        guess = max(1, width // 64) if width % 64 == 0 else 1
        lines.append(
            f"  num_heads: {guess}  # a guess (hidden_size / 64): not in the file's shapes; "
            "set the value it was trained with"
        )
    lines.append(f"  patch_size: {inferred['patch_size']}")
    for key in ("mlp_ratio", "learn_sigma", "qk_norm"):
        if key in inferred and inferred[key] != base.get(key, 4.0 if key == "mlp_ratio" else None):
            value = inferred[key]
            lines.append(f"  {key}: {str(value).lower() if isinstance(value, bool) else value}")
    return "\n".join(lines)


def _check_rope(state: dict[str, torch.Tensor], model: DiT) -> None:
    """LightningDiT saves its RoPE table; it must equal navref's (cos/sin, pairs repeated)."""
    if "feat_rope.freqs_cos" not in state or not model.conf.rope:
        return
    conf = model.conf
    ang = rope_2d_angles(model.grid, model.grid, conf.head_dim, conf.rope_theta)
    for name, fn in (("freqs_cos", torch.cos), ("freqs_sin", torch.sin)):
        ours = fn(ang).repeat_interleave(2, dim=-1)
        theirs = state[f"feat_rope.{name}"].float().reshape(ours.shape[0], -1)
        if theirs.shape != ours.shape or not torch.allclose(theirs, ours, atol=1e-5):
            raise ValueError(
                f"feat_rope.{name} of the checkpoint differs from navref's 2D RoPE for "
                f"{conf.num_heads} heads of {conf.head_dim} on a {model.grid}x{model.grid} grid: "
                "check num_heads / input_size / patch_size of the architecture"
            )


def _check_null_class(state: dict[str, torch.Tensor], model: DiT, source: str) -> None:
    """A class table with exactly ``num_classes`` rows where the model has a null row: the
    release was trained without a null class. Raises ValueError saying so and how to load it
    (without CFG); the reverse (a null row the config says is absent) likewise."""
    table = state.get("y_embedder.weight")
    if table is None or "y_embedder.weight" not in model.state_dict():
        return
    k, rows = model.conf.num_classes, table.shape[0]
    if model.conf.null_class and rows == k:
        raise ValueError(
            f"{source}: its class table y_embedder has {rows} rows for {k} classes, no null "
            f"row (index {k}): the release was trained without a null class (no label "
            "dropout), so it has no unconditional velocity and classifier-free guidance is "
            "impossible with it. To load it without CFG set `arch_overrides: {null_class: "
            "false}` in its models entry (or null_class=False in load_released); sweeps that "
            "guide with it are then refused"
        )
    if not model.conf.null_class and rows == k + 1:
        raise ValueError(
            f"{source}: its class table y_embedder has {rows} rows for {k} classes, the last "
            "the null class; drop `null_class: false` from its arch_overrides"
        )


def load_state_into(
    model: DiT, official: dict[str, torch.Tensor], source: str, arch: str | None = None
) -> None:
    """Load an official-named state dict into ``model`` exactly (strict, shapes checked).

    Raises ValueError listing missing / unexpected / mis-shaped keys and the release
    architecture the file fits (:func:`guess_arch`); when it fits no released size, the
    ``arch`` / ``arch_overrides`` YAML that loads it (:func:`arch_overrides_hint`; ``arch``:
    the configured release name, kept when of the file's family).
    """
    state = official_to_navref(official)
    derived = {k: state.pop(k) for k in _DERIVED if k in state}
    own = model.state_dict()
    _check_null_class(state, model, source)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in set(own) & set(state)
        if state[k].shape != own[k].shape
    )
    if missing or unexpected or shapes:
        fits, hint = guess_arch(state), ""
        inferred = infer_arch(state, derived)
        if fits.startswith("no released name") and inferred:
            snippet = arch_overrides_hint(inferred, arch)
            hint = (
                "\n  to load it as a cut-down release, set in its `models` entry (values "
                "read from the file's tensor shapes; in_channels, input_size and num_classes "
                "come from the latent space):\n" + textwrap.indent(snippet, "    ")
            )
        raise ValueError(
            f"{source} does not fit {_describe(model.conf)}:\n"
            f"  missing keys: {_short(missing)}\n  unexpected keys: {_short(unexpected)}\n"
            f"  shape mismatches (file vs model): {_short(shapes)}\n"
            f"  the file fits: {fits}{hint}"
        )
    model.load_state_dict(state, strict=True)
    _check_rope(derived, model)


def load_released(
    path: str | Path, arch: str, weights: str = "ema", device: str = "cpu", **overrides: Any
) -> DiT:
    """Load a released LightningDiT / SiT checkpoint into navref's :class:`DiT`, in eval mode.

    ``arch`` is a name of :data:`RELEASED_ARCHS`; ``overrides`` change its fields (e.g.
    ``input_size``, ``num_classes``). ``weights``: "ema" (default) or "model". The model
    maps (B, C, H, W) latents, t (B,) in [0, 1] (0 noise, 1 data) and labels (B,) (null
    class = ``num_classes``; with ``null_class=False`` a release without one, no CFG) to the
    velocity (B, C, H, W). The file is read by :func:`read_torch_file`
    (``torch.load(..., weights_only=True)``; a training checkpoint's ``args`` Namespace is
    allowed and skipped).

    Raises FileNotFoundError if ``path`` is missing, ValueError for an unknown ``arch``, an
    absent ``weights`` entry, or keys / shapes that do not fit (listing them and the
    architecture the file fits).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"released checkpoint not found: {path}")
    conf = released_config(arch, **overrides)
    ckpt = read_torch_file(path)
    model = DiT(conf)
    load_state_into(model, select_weights(ckpt, weights), f"{path} ({weights} weights)", arch)
    return model.to(device).eval()


def _describe(conf: DiTConfig) -> str:
    return (
        f"depth {conf.depth}, hidden_size {conf.hidden_size}, heads {conf.num_heads}, "
        f"patch {conf.patch_size}, input {conf.input_size}x{conf.input_size}x{conf.in_channels}, "
        f"{conf.num_classes} classes, norm {conf.norm}, mlp {conf.mlp}"
    )


def _short(items: list[str], n: int = 8) -> str:
    if not items:
        return "none"
    more = f" ... ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


__all__ = [
    "FAMILY_FLAGS",
    "OFFICIAL_TO_NAVREF",
    "RELEASED_ARCHS",
    "arch_overrides_hint",
    "guess_arch",
    "infer_arch",
    "load_released",
    "load_state_into",
    "official_to_navref",
    "read_torch_file",
    "release_size",
    "released_config",
    "select_weights",
]
